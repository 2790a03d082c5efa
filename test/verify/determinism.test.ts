import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, TerraformOutput, TerraformStack } from "cdktf";
import { describe, expect, it } from "vitest";
import { constructPaths, synthTwiceAndDiff } from "./determinism";
import { synthFixture } from "./fixtures/app";

describe("determinism helper", () => {
  it("finds two synths of the fixture app byte-identical", () => {
    expect(synthTwiceAndDiff((outdir) => synthFixture(outdir))).toEqual([]);
  });

  it("reports the file and line that differ between two synths", () => {
    let run = 0;
    const differences = synthTwiceAndDiff((outdir) => {
      const app = new App({ outdir });
      const stack = new TerraformStack(app, "drift");
      new TerraformOutput(stack, "built", { value: `build-${++run}` });
      app.synth();
    });
    expect(differences).toHaveLength(1);
    expect(differences[0]).toMatchObject({ file: "stacks/drift/cdk.tf.json", kind: "differs" });
    expect(differences[0].line?.first).toContain("build-1");
    expect(differences[0].line?.second).toContain("build-2");
  });

  it("reports files present in only one synth", () => {
    let run = 0;
    const differences = synthTwiceAndDiff((outdir) => {
      const app = new App({ outdir });
      new TerraformStack(app, run++ === 0 ? "first" : "second");
      app.synth();
    });
    expect(differences.map((d) => `${d.kind} ${d.file}`)).toEqual([
      "differs manifest.json",
      "only-in-first stacks/first/cdk.tf.json",
      "only-in-second stacks/second/cdk.tf.json",
    ]);
  });
});

describe("construct path snapshot", () => {
  it("lists every resource and data source of the fixture with its construct path", () => {
    const outdir = mkdtempSync(join(tmpdir(), "htc-paths-"));
    try {
      synthFixture(outdir);
      expect(constructPaths(outdir)).toEqual([
        "cluster helm_release.agent cluster/agent",
        "cluster kubernetes_config_map_v1.agent-config cluster/agent-config",
        "infra aws_cloudwatch_log_group.logs infra/logs",
        "infra aws_iam_role.role infra/role",
        "infra aws_iam_role_policy.role-policy infra/role-policy",
        "infra aws_kms_key.key infra/key",
        "infra aws_launch_template.template infra/template",
        "infra aws_s3_bucket.bucket infra/bucket",
        "infra aws_s3_bucket_policy.bucket-policy infra/bucket-policy",
        "infra aws_sqs_queue.queue infra/queue",
        "infra aws_sqs_queue_policy.queue-policy infra/queue-policy",
        "infra data.aws_iam_policy_document.access infra/access",
        "infra data.aws_iam_policy_document.assume infra/assume",
        "infra data.aws_iam_policy_document.bucket-tls infra/bucket-tls",
      ]);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });
});
