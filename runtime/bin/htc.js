#!/usr/bin/env node
// `htc`, the grid's command line (runtime/src/client/cli.ts). Compiles runtime/dist first when the sources changed.
"use strict";
try {
  require("../scripts/build.js").ensureBuilt();
} catch (error) {
  process.stderr.write(
    `htc: cannot compile the client (${error.message.split("\n")[0]}); run \`npm ci\` in the repository\n`,
  );
  process.exit(1);
}
require("../dist/client/cli.js").run();
