// Finds the external programs tests run (helm, terraform, redis-server): first in .tmp/bin, where
// scripts/ci/ensure-test-tools.sh builds them (`npm test` runs it first), then on PATH. A missing tool is a test
// failure that says how to install it, never a skip.
import { existsSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";

/** The checkout this file belongs to, also when it runs compiled under dist/ (the control-plane benchmark). */
export const REPO_ROOT = (() => {
  let dir = __dirname;
  while (!existsSync(join(dir, "package.json")) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
})();
/** Where ensure-test-tools.sh puts the binaries it builds. */
export const TOOLS_BIN = join(REPO_ROOT, ".tmp", "bin");
/** The command that installs every tool the suite needs; `npm test` runs it first. */
export const ENSURE_TOOLS = "bash scripts/ci/ensure-test-tools.sh";

/** Every place a tool may be, in order of preference. */
export function toolCandidates(name: string): string[] {
  const onPath = (process.env.PATH ?? "")
    .split(delimiter)
    .filter(Boolean)
    .map((dir) => join(dir, name));
  return [join(TOOLS_BIN, name), ...onPath];
}

export function findTool(name: string): string | undefined {
  return toolCandidates(name).find((path) => existsSync(path));
}

/** The tool's path, or an error naming the tool and the command that installs it. */
export function requireTool(name: string, found: string | undefined = findTool(name)): string {
  if (!found) throw new Error(missingToolMessage(name));
  return found;
}

export function missingToolMessage(name: string): string {
  return `${name} is not in .tmp/bin or on PATH: run \`${ENSURE_TOOLS}\` (npm test runs it first)`;
}
