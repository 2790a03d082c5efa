// `npm run synth` as a user sees it: the cdktf invocation of package.json's synth script (scripts/cdktf.sh synth,
// on the app that the test setup has just compiled), on a machine where HashiCorp's checkpoint host is unreachable,
// a terraform binary is on PATH and TF_CLI_CONFIG_FILE names a missing file. It must print only the config line
// and the stacks written: no red [ERROR] blocks from cdktf's telemetry or from `terraform version`.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireTerraform } from "../verify/terraform-bin";
import { REPO_ROOT, TOOLS_BIN } from "../support/tools";

const STACKS = ["bootstrap", "grid", "grid-k8s", "images"];

describe("npm run synth's cdktf invocation", () => {
  let outdir: string;
  let output: string;
  let status: number | null;

  beforeAll(() => {
    const script = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")).scripts.synth as string;
    const cdktf = script.split("&&").pop()!.trim().split(/\s+/);
    requireTerraform(REPO_ROOT); // the `terraform version` warning only shows where a terraform runs
    outdir = mkdtempSync(join(tmpdir(), "htc-synth-command-"));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PATH: [join(REPO_ROOT, "node_modules/.bin"), TOOLS_BIN, process.env.PATH].join(delimiter),
      TF_CLI_CONFIG_FILE: join(outdir, "no-such.terraformrc"),
      HTCGRID_CONFIG: "",
      HTCGRID_BACKEND: "",
    };
    delete env.CHECKPOINT_DISABLE; // .ci/run sets it; the script must not rely on that
    const result = spawnSync(cdktf[0]!, [...cdktf.slice(1), "--output", outdir], {
      cwd: REPO_ROOT,
      env,
      encoding: "utf8",
      timeout: 110_000,
    });
    status = result.status;
    output = (result.stdout + result.stderr).replace(/\x1b\[[0-9;]*[A-Za-z]/g, ""); // eslint-disable-line no-control-regex
  }, 120_000);
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  it("writes every stack and says which configuration it used", () => {
    expect(output).toContain("htc-grid: using grid configuration from built-in default");
    expect(output).toContain(`Generated Terraform code for the stacks: ${STACKS.join(", ")}`);
    for (const stack of STACKS)
      expect(existsSync(join(outdir, "stacks", stack, "cdk.tf.json")), stack).toBe(true);
    expect(status).toBe(0);
  });

  it("prints no [ERROR], unreachable-host or missing-CLI-configuration lines", () => {
    const noisy = output
      .split("\n")
      .filter((line) => /\[ERROR\]|ENOTFOUND|checkpoint-api|does not exist|CLI configuration/.test(line));
    expect(noisy).toEqual([]);
  });
});
