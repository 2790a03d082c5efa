import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { synthFixtureToTemp, type FixtureOutput } from "./fixtures/synth";

const run = promisify(execFile);
const script = join(__dirname, "checkov.sh");
const fixtureSkips = join(__dirname, "fixtures/checkov-skips-fixture.txt");
let fixture: FixtureOutput;
let scratch: string;

beforeAll(() => {
  fixture = synthFixtureToTemp();
  scratch = mkdtempSync(join(tmpdir(), "htc-checkov-"));
});
afterAll(() => {
  fixture.dispose();
  rmSync(scratch, { recursive: true, force: true });
});

async function checkov(target: string, skips: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run("bash", [script, target, skips], {
      maxBuffer: 16 * 1024 * 1024,
      timeout: 240_000,
    });
    return { code: 0, output: stdout + stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, output: err.stdout + err.stderr };
  }
}

// checkov.sh installs the pinned venv when it is missing (`npm test` has done so already).
describe("checkov gate", () => {
  it("passes the fixture when its known findings are skipped with reasons", async () => {
    const result = await checkov(fixture.outdir, fixtureSkips);
    expect(result.output).toContain("Passed checks: 58, Failed checks: 0");
    expect(result.code).toBe(0);
  }, 240_000);

  it("hard-fails on a finding that is not skipped", async () => {
    const skips = join(scratch, "skips-without-k8s.txt");
    writeFileSync(skips, "CKV_AWS_338 fixture\n");
    const result = await checkov(join(fixture.outdir, "stacks", "cluster"), skips);
    expect(result.output).toContain('CKV_K8S_21: "The default namespace should not be used"');
    expect(result.code).toBe(1);
  }, 240_000);

  it("rejects a skip entry without a reason", async () => {
    const skips = join(scratch, "skips-bare.txt");
    writeFileSync(skips, "CKV_K8S_21\n");
    const result = await checkov(fixture.outdir, skips);
    expect(result.output).toContain("have no reason");
    expect(result.code).toBe(2);
  }, 240_000);
});
