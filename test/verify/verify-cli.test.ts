import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { buildSync } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FIXTURE_TAGS } from "./fixtures/app";
import { synthFixtureToTemp, type FixtureOutput } from "./fixtures/synth";

const run = promisify(execFile);
let fixture: FixtureOutput;
let bundleDir: string;
let cli: string;

beforeAll(() => {
  fixture = synthFixtureToTemp();
  bundleDir = mkdtempSync(join(tmpdir(), "htc-verify-cli-"));
  cli = join(bundleDir, "verify.js");
  buildSync({
    entryPoints: [join(__dirname, "verify-cli.ts")],
    bundle: true,
    platform: "node",
    packages: "external",
    outfile: cli,
    logLevel: "warning",
  });
});
afterAll(() => {
  fixture.dispose();
  rmSync(bundleDir, { recursive: true, force: true });
});

async function verify(...args: string[]): Promise<{ code: number; stdout: string }> {
  const env = { ...process.env, NODE_PATH: join(process.cwd(), "node_modules") };
  try {
    return { code: 0, stdout: (await run(process.execPath, [cli, ...args], { env })).stdout };
  } catch (e) {
    const err = e as { code: number; stdout: string };
    return { code: err.code, stdout: err.stdout };
  }
}

const tagArgs = Object.entries(FIXTURE_TAGS).flatMap(([k, v]) => ["--require-tag", `${k}=${v}`]);

describe("verify CLI (schema + policy gates)", () => {
  it("exits 0 on the compliant fixture", async () => {
    const result = await verify(fixture.outdir, "--no-terraform", ...tagArgs);
    expect(result.stdout).toContain("schema: 2 stacks, 0 issues");
    expect(result.stdout).toContain("policy: 0 violations");
    expect(result.code).toBe(0);
  });

  it("exits 1 and names each finding on a broken stack", async () => {
    const infra = fixture.stack("infra");
    infra.resource.aws_kms_key.key.enable_key_rotation = false;
    infra.resource.aws_s3_bucket.bucket.bucket_name = "x";
    const result = await verify(
      fixture.writeVariant({ infra }),
      "--no-terraform",
      ...tagArgs,
      "--require-tag",
      "htc:owner",
    );
    expect(result.stdout).toContain(
      'infra: resource.aws_s3_bucket.bucket.bucket_name: [unknown-attribute] unknown attribute "bucket_name"',
    );
    expect(result.stdout).toContain(
      "infra: aws_kms_key.key: [kms-key-rotation] enable_key_rotation must be true",
    );
    expect(result.stdout).toContain('infra: aws_s3_bucket.bucket: [required-tags] missing tag "htc:owner"');
    expect(result.code).toBe(1);
  });

  it("exits 2 when there is nothing to verify", async () => {
    const result = await verify(join(bundleDir, "missing"), "--no-terraform");
    expect(result.code).toBe(2);
  });
});
