import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { synthFixtureToTemp, type FixtureOutput } from "./fixtures/synth";
import { requireTerraform } from "./terraform-bin";
import { preparePluginDir, requiredProviders, validateSynthOutput } from "./tf-validate";

let fixture: FixtureOutput;

beforeAll(() => {
  fixture = synthFixtureToTemp();
});
afterAll(() => fixture.dispose());

describe("plugin dir for offline terraform init", () => {
  it("installs one schema-server executable per provider version the stacks pin", () => {
    const work = mkdtempSync(join(tmpdir(), "htc-plugin-dir-"));
    try {
      const files = ["infra", "cluster"].map((s) => join(fixture.outdir, "stacks", s, "cdk.tf.json"));
      const dir = preparePluginDir(files, work);
      const platform = `linux_${process.arch === "x64" ? "amd64" : process.arch}`;
      for (const [type, version] of [
        ["aws", "6.25.0"],
        ["kubernetes", "2.38.0"],
        ["helm", "3.1.1"],
      ]) {
        expect(
          existsSync(
            join(
              dir,
              "registry.terraform.io/hashicorp",
              type,
              version,
              platform,
              `terraform-provider-${type}_v${version}`,
            ),
          ),
        ).toBe(true);
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it("refuses a provider version range, which a plugin dir cannot satisfy reproducibly", () => {
    expect(() =>
      requiredProviders({ terraform: { required_providers: { aws: { source: "aws", version: "~> 6.0" } } } }),
    ).toThrow(/exact version/);
  });
});

// Needs Terraform 1.11.4, which `npm test` builds into .tmp/bin first when it is not on PATH.
describe("terraform validate against the jsii-derived schemas", () => {
  let terraform: string;
  beforeAll(() => {
    terraform = requireTerraform();
  });

  it("validates the fixture stacks with no diagnostics", async () => {
    const results = await validateSynthOutput(fixture.outdir, terraform);
    expect(results.map((r) => [r.stack, r.valid, r.diagnostics])).toEqual([
      ["cluster", true, []],
      ["infra", true, []],
    ]);
  }, 240_000);

  it("reports Terraform's own errors for broken stacks", async () => {
    const infra = fixture.stack("infra");
    infra.resource.aws_kms_key.key.enable_key_rotation = "yes";
    infra.output["bucket-arn"].value = "${aws_s3_bucket.bucket.arnn}";
    const options = infra.resource.aws_launch_template.template.metadata_options;
    infra.resource.aws_launch_template.template.metadata_options = [options, options];
    const cluster = fixture.stack("cluster");
    delete cluster.resource.helm_release.agent.chart;
    cluster.resource.kubernetes_config_map_v1["agent-config"].binaryData = {};
    const results = await validateSynthOutput(fixture.writeVariant({ infra, cluster }), terraform);
    const summaries = results.map((r) => [r.stack, r.valid, r.diagnostics.map((d) => d.summary).sort()]);
    expect(summaries).toEqual([
      ["cluster", false, ["Extraneous JSON object property", "Missing required argument"]],
      [
        "infra",
        false,
        ["Incorrect attribute value type", "Too many metadata_options blocks", "Unsupported attribute"],
      ],
    ]);
  }, 240_000);

  it("lets an ephemeral value into a write-only argument and refuses it anywhere else", async () => {
    const infra = fixture.stack("infra");
    infra.ephemeral = {
      aws_secretsmanager_random_password: { token: { password_length: 32, exclude_punctuation: true } },
    };
    const token = "${ephemeral.aws_secretsmanager_random_password.token.random_password}";
    infra.resource.aws_secretsmanager_secret = { s: { name: "s" } };
    infra.resource.aws_secretsmanager_secret_version = {
      wo: {
        secret_id: "${aws_secretsmanager_secret.s.id}",
        secret_string_wo: token,
        secret_string_wo_version: 1,
      },
    };
    const [accepted] = await validateSynthOutput(fixture.writeVariant({ infra }), terraform ?? "terraform");
    expect(accepted.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    infra.resource.aws_secretsmanager_secret_version.stored = {
      secret_id: "${aws_secretsmanager_secret.s.id}",
      secret_string: token,
    };
    const [refused] = await validateSynthOutput(fixture.writeVariant({ infra }), terraform ?? "terraform");
    expect(refused.diagnostics.map((d) => d.summary)).toContain("Invalid use of ephemeral value");
  }, 240_000);

  it("validates a cross-stack remote-state lookup on the s3 backend", async () => {
    const infra = fixture.stack("infra");
    infra.data.terraform_remote_state = {
      base: { backend: "s3", config: { bucket: "b", key: "k", region: "eu-west-1" } },
    };
    infra.output.remote = { value: "${data.terraform_remote_state.base.outputs.name}" };
    const [result] = await validateSynthOutput(fixture.writeVariant({ infra }), terraform);
    expect(result.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    expect(result.valid).toBe(true);
  }, 240_000);
});
