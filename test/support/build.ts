// vitest global setup: compile the app once so tests that run `node dist/...` exercise the current sources, and the
// client (runtime/dist, which `npm ci` builds) when runtime/src changed since: otherwise the first `htc` a test runs
// compiles it and says so on stderr, which tests of htc's stderr read as its output.
import { execFileSync } from "node:child_process";
import * as path from "node:path";

export default function setup(): void {
  const root = path.resolve(__dirname, "..", "..");
  execFileSync(
    process.execPath,
    [path.join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json"],
    {
      cwd: root,
      stdio: "inherit",
    },
  );
  execFileSync(process.execPath, [path.join(root, "runtime", "scripts", "build.js")], {
    cwd: root,
    stdio: "inherit",
  });
}
