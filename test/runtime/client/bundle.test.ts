// The client as the pods run it: `runtime/client.js`, one esbuild bundle of the `htc` command, copied alone into an
// empty folder outside the repository and run by node with an empty environment. It must need neither runtime/dist
// nor the workspace's node_modules (a stock Node.js image has neither).

import { spawnSync } from "node:child_process";
import { builtinModules } from "node:module";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleRuntime, findRepoRoot } from "../../../modules/runtime-bundle/bundle";
import { POD_RUNTIME_BUNDLES } from "../../../modules/runtime-delivery/runtime-delivery";

let dir: string;
let clientJs: string;

const node = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [clientJs, ...args], {
    cwd: dir,
    encoding: "utf8",
    timeout: 30_000,
    env: { PATH: process.env.PATH ?? "", ...env },
  });

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "htc-client-bundle-"));
  const build = join(dir, "build");
  bundleRuntime("client", build);
  clientJs = join(dir, "client.js");
  copyFileSync(join(build, "index.js"), clientJs);
  rmSync(build, { recursive: true, force: true });
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the client bundle (runtime/client.js)", () => {
  it("is one of the bundles the grid uploads for the pods", () => {
    expect(POD_RUNTIME_BUNDLES).toContain("client");
  });

  it("prints htc's usage with `node client.js --help`, alone in an empty folder", () => {
    const r = node(["--help"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^usage: htc <command> \[options\]/);
    expect(r.stdout).toContain("submit   --file FILE | --count N");
  });

  it("requires only Node built-ins (and the SDK's optional CRT signer, loaded in a try/catch)", () => {
    const code = readFileSync(clientJs, "utf8");
    const required = [...code.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
    const external = required.filter((id) => !builtinModules.includes(id.replace(/^node:/, "")));
    expect([...new Set(external)]).toEqual(["@aws-sdk/signature-v4-crt"]);
    expect(code.includes(findRepoRoot())).toBe(false);
  });

  it("fails with htc's one-line messages and exit codes (usage 2, configuration 3)", () => {
    const usage = node(["submit"]);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toBe("htc: submit needs --file FILE or --count N (see htc --help)\n");
    const config = node(["submit", "--count", "1"], {
      INTRA_VPC: "1",
      AGENT_CONFIG_FILE: join(dir, "missing.json"),
    });
    expect(config.status).toBe(3);
    expect(config.stderr).toMatch(/^htc: .*missing\.json/);
    writeFileSync(join(dir, "bad.json"), "{}");
    expect(
      node(["results", "s-1"], { INTRA_VPC: "1", AGENT_CONFIG_FILE: join(dir, "bad.json") }).status,
    ).toBe(3);
  });
});
