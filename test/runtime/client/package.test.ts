// The client library as another Node.js project uses it, exactly as the README says: `npm install <clone>/runtime`
// (after `npm ci` in the clone), then `import { GridClient } from "@htc-grid/runtime"`, type-checked by tsc against
// the package's declarations and run by node, from TypeScript (CommonJS) and from an ES module.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findRepoRoot } from "../../../modules/runtime-bundle/bundle";

const ROOT = findRepoRoot(__dirname);
let project: string;

const run = (cmd: string, args: string[]) =>
  spawnSync(cmd, args, {
    cwd: project,
    encoding: "utf8",
    timeout: 120_000,
    env: { ...process.env, NO_COLOR: "1" },
  });

beforeAll(() => {
  expect(spawnSync(process.execPath, [join(ROOT, "runtime", "scripts", "build.js")]).status).toBe(0);
  project = mkdtempSync(join(tmpdir(), "htc-consumer-"));
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({ name: "consumer", version: "1.0.0", private: true }),
  );
  const install = run("npm", ["install", join(ROOT, "runtime"), "--offline", "--no-audit", "--no-fund"]);
  expect(install.status, install.stderr).toBe(0);
}, 120_000);
afterAll(() => rmSync(project, { recursive: true, force: true }));

describe("the client library in another Node.js project", () => {
  it("is installed as @htc-grid/runtime, a link to the clone's runtime/ folder", () => {
    const manifest = JSON.parse(readFileSync(join(project, "package.json"), "utf8"));
    expect(Object.keys(manifest.dependencies)).toEqual(["@htc-grid/runtime"]);
    const installed = JSON.parse(
      readFileSync(join(project, "node_modules", "@htc-grid", "runtime", "package.json"), "utf8"),
    );
    expect(installed).toMatchObject({ main: "dist/client/index.js", types: "dist/client/index.d.ts" });
  });

  it("type-checks TypeScript against the package's declarations, and runs", () => {
    writeFileSync(
      join(project, "consumer.ts"),
      `import { GridClient, UsageError, type Submission, type SessionResults } from "@htc-grid/runtime";

const client = GridClient.fromConfig(
  {
    region: "eu-west-1",
    grid_storage_service: "S3",
    task_input_passed_via_external_storage: 1,
    private_api_gateway_url: "https://abc.execute-api.eu-west-1.amazonaws.com/v1",
    api_gateway_key: "key",
  },
  { api: "private" },
);
async function later(): Promise<number> {
  const submission: Submission = await client.submit([{ worker_arguments: ["1000", "1", "1"] }], { priority: 1 });
  const results: SessionResults = await client.wait(submission, { timeoutMs: 60_000 });
  return results.finished;
}
function wrong(): void {
  // @ts-expect-error: the declarations are real types, so a wrong argument does not compile.
  void client.cancel("not-a-list");
}
void later;
void wrong;
client.submit([]).catch((error: unknown) => {
  console.log(JSON.stringify({ usage: error instanceof UsageError, api: client.api, storage: client.storage }));
});
`,
    );
    const tsc = run(process.execPath, [
      join(ROOT, "node_modules", "typescript", "bin", "tsc"),
      "consumer.ts",
      "--strict",
      "--target",
      "ES2022",
      "--module",
      "commonjs",
      "--moduleResolution",
      "node",
      "--skipLibCheck",
      "--typeRoots",
      join(ROOT, "node_modules", "@types"),
      "--types",
      "node",
    ]);
    expect(tsc.status, `${tsc.stdout}${tsc.stderr}`).toBe(0);
    const node = run(process.execPath, ["consumer.js"]);
    expect(node.status, node.stderr).toBe(0);
    expect(JSON.parse(node.stdout)).toEqual({ usage: true, api: "private", storage: "S3" });
  }, 60_000);

  it("imports from an ES module too", () => {
    writeFileSync(
      join(project, "consumer.mjs"),
      `import { GridClient, GridTimeoutError } from "@htc-grid/runtime";\nconsole.log(typeof GridClient.fromFile, GridTimeoutError.name);\n`,
    );
    const node = run(process.execPath, ["consumer.mjs"]);
    expect(node.status, node.stderr).toBe(0);
    expect(node.stdout.trim()).toBe("function GridTimeoutError");
  });
});
