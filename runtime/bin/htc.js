#!/usr/bin/env node
// `htc`, the grid's command line (runtime/src/client/cli.ts). Compiles runtime/dist first when the sources changed.
"use strict";
// The SDK warns on Node 20 about its releases after January 2027; this project pins its SDK versions.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
try {
  require("../scripts/build.js").ensureBuilt();
} catch (error) {
  process.stderr.write(
    `htc: cannot compile the client (${error.message.split("\n")[0]}); run \`npm ci\` in the repository\n`,
  );
  process.exit(1);
}
require("../dist/client/cli.js").run();
