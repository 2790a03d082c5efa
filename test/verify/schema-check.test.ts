import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, Fn, TerraformStack } from "cdktf";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { LaunchTemplate } from "@cdktf/provider-aws/lib/launch-template";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadDefaultSchemas, type ProviderSchema } from "./provider-schema";
import { checkSynthOutput, SchemaChecker, type Issue } from "./schema-check";
import { synthFixtureToTemp, type FixtureOutput, type StackJson } from "./fixtures/synth";

let fixture: FixtureOutput;
let schemas: ProviderSchema[];
let checker: SchemaChecker;

beforeAll(() => {
  schemas = loadDefaultSchemas();
  checker = new SchemaChecker(schemas);
  fixture = synthFixtureToTemp();
});
afterAll(() => fixture.dispose());

/** Checks the infra stack after `mutate` changed it. */
function infraIssues(mutate: (s: StackJson) => void): Issue[] {
  const stack = fixture.stack("infra");
  mutate(stack);
  return checker.checkStack("infra", stack);
}
const kinds = (issues: Issue[]) => issues.map((i) => `${i.kind} ${i.path}`);

describe("schema gate on the fixture app", () => {
  it("derives the three provider schemas at the versions the bindings pin", () => {
    expect(schemas.map((s) => `${s.source}@${s.version}`)).toEqual([
      "hashicorp/aws@6.25.0",
      "hashicorp/kubernetes@2.38.0",
      "hashicorp/helm@3.1.1",
    ]);
    expect(Object.keys(schemas[0].resources).length).toBeGreaterThan(1500);
  });

  it("passes the valid fixture stacks with no issue", () => {
    const result = checkSynthOutput(fixture.outdir, schemas);
    expect(result.stacks).toEqual(["cluster", "infra"]);
    expect(result.issues).toEqual([]);
  });

  it("refuses to pass a directory without any stack", () => {
    const empty = mkdtempSync(join(tmpdir(), "htc-verify-empty-"));
    try {
      expect(() => checkSynthOutput(empty, schemas)).toThrow(/no cdk.tf.json/);
    } finally {
      rmSync(empty, { recursive: true });
    }
  });
});

describe("schema gate catches broken JSON", () => {
  it("flags an unknown resource type", () => {
    const issues = infraIssues((s) => {
      s.resource.aws_s3_bukket = s.resource.aws_s3_bucket;
    });
    expect(kinds(issues)).toContain("unknown-resource-type resource.aws_s3_bukket");
  });

  it("flags a camelCase key and names the Terraform attribute", () => {
    const issues = infraIssues((s) => {
      s.resource.aws_cloudwatch_log_group.logs.retentionInDays = 7;
    });
    expect(issues).toHaveLength(1);
    expect(issues[0].message).toBe('unknown attribute "retentionInDays" (did you mean "retention_in_days"?)');
  });

  it("flags a missing required attribute", () => {
    const cluster = fixture.stack("cluster");
    delete cluster.resource.helm_release.agent.chart;
    expect(kinds(checker.checkStack("cluster", cluster))).toEqual([
      "missing-required resource.helm_release.agent.chart",
    ]);
  });

  it("flags values of the wrong type", () => {
    const issues = infraIssues((s) => {
      s.resource.aws_cloudwatch_log_group.logs.retention_in_days = "thirty";
      s.resource.aws_kms_key.key.enable_key_rotation = "yes";
      s.resource.aws_sqs_queue.queue.tags = ["a"];
      s.resource.aws_launch_template.template.metadata_options.http_put_response_hop_limit = { n: 2 };
    });
    expect(kinds(issues).sort()).toEqual([
      "wrong-type resource.aws_cloudwatch_log_group.logs.retention_in_days",
      "wrong-type resource.aws_kms_key.key.enable_key_rotation",
      "wrong-type resource.aws_launch_template.template.metadata_options.http_put_response_hop_limit",
      "wrong-type resource.aws_sqs_queue.queue.tags",
    ]);
  });

  it("accepts strings Terraform converts and expressions of any type", () => {
    const issues = infraIssues((s) => {
      s.resource.aws_cloudwatch_log_group.logs.retention_in_days = "30";
      s.resource.aws_kms_key.key.enable_key_rotation = "${true}";
      s.resource.aws_sqs_queue.queue.tags = "${local.tags}";
      s.locals = { tags: {} };
    });
    expect(issues).toEqual([]);
  });

  it("flags a block that allows one item given two", () => {
    const issues = infraIssues((s) => {
      const m = s.resource.aws_launch_template.template.metadata_options;
      s.resource.aws_launch_template.template.metadata_options = [m, m];
    });
    expect(kinds(issues)).toEqual(["block-count resource.aws_launch_template.template.metadata_options"]);
  });

  it("flags a block given as an expression string", () => {
    const issues = infraIssues((s) => {
      s.resource.aws_launch_template.template.metadata_options = "${local.opts}";
      s.locals = { opts: {} };
    });
    expect(kinds(issues)).toEqual(["wrong-type resource.aws_launch_template.template.metadata_options"]);
  });

  it("flags a provider-computed attribute set in config", () => {
    const issues = infraIssues((s) => {
      s.resource.aws_s3_bucket.bucket.arn = "arn:aws:s3:::x";
    });
    expect(kinds(issues)).toEqual(["computed-attribute resource.aws_s3_bucket.bucket.arn"]);
  });

  it("flags references to missing resources, attributes, data sources and variables", () => {
    const issues = infraIssues((s) => {
      s.output["bucket-arn"].value = "${aws_s3_bucket.bucket.arnn}";
      s.output["role-arn"].value = "${aws_iam_role.nope.arn}";
      s.resource.aws_iam_role_policy["role-policy"].policy = "${data.aws_iam_policy_document.missing.json}";
      s.resource.aws_sqs_queue.queue.name = "q-${var.suffix}";
    });
    expect(issues.map((i) => i.message).sort()).toEqual([
      '${aws_iam_role.nope.arn}: resource "aws_iam_role.nope" is not declared in this stack',
      '${aws_s3_bucket.bucket.arnn}: "aws_s3_bucket" has no attribute "arnn"',
      '${data.aws_iam_policy_document.missing.json}: data source "aws_iam_policy_document.missing" is not declared in this stack',
      '${var.suffix}: variable "suffix" is not declared',
    ]);
  });

  it("checks references inside raw jsonencode expressions", () => {
    const issues = infraIssues((s) => {
      const p = s.resource.aws_sqs_queue_policy["queue-policy"];
      p.policy = p.policy.replace("aws_sqs_queue.queue.arn", "aws_sqs_queue.queue.amr");
    });
    expect(kinds(issues)).toEqual(["bad-reference resource.aws_sqs_queue_policy.queue-policy.policy"]);
  });

  it("checks attribute paths through nested blocks", () => {
    const ok = infraIssues((s) => {
      s.output["bucket-arn"].value = "${aws_launch_template.template.metadata_options[0].http_tokens}";
    });
    expect(ok).toEqual([]);
    const bad = infraIssues((s) => {
      s.output["bucket-arn"].value = "${aws_launch_template.template.metadata_options[0].http_token}";
    });
    expect(bad[0].message).toContain('"aws_launch_template.metadata_options" has no attribute "http_token"');
  });

  it("flags depends_on and provider meta-arguments that name nothing", () => {
    const issues = infraIssues((s) => {
      s.resource.aws_s3_bucket.bucket.depends_on = ["aws_kms_key.key", "aws_kms_key.other"];
      s.resource.aws_kms_key.key.provider = "aws.us_east_1";
    });
    expect(kinds(issues).sort()).toEqual([
      "bad-meta-argument resource.aws_kms_key.key.provider",
      "bad-reference resource.aws_s3_bucket.bucket.depends_on",
    ]);
  });

  it("flags a required_providers version that differs from the bindings' schema", () => {
    const issues = infraIssues((s) => {
      s.terraform.required_providers.aws.version = "6.30.0";
    });
    expect(kinds(issues)).toEqual(["provider-version terraform.required_providers.aws"]);
  });

  it("checks provider blocks against the provider schema", () => {
    const cluster = fixture.stack("cluster");
    cluster.provider.helm[0].kubernetes.exec.apiVersion = "v1";
    cluster.provider.kubernetes[0].exec.push(cluster.provider.kubernetes[0].exec[0]);
    expect(kinds(checker.checkStack("cluster", cluster))).toEqual([
      "unknown-attribute provider.helm[0].kubernetes.exec.apiVersion",
    ]);
  });

  it("allows meta-arguments, dynamic blocks and Terraform built-ins", () => {
    const issues = infraIssues((s) => {
      const bucket = s.resource.aws_s3_bucket.bucket;
      bucket.count = 2;
      bucket.lifecycle = { prevent_destroy: true };
      bucket.tags = { upstream: "${data.terraform_remote_state.base.outputs.name}", n: "${count.index}" };
      s.data.terraform_remote_state = { base: { backend: "local", config: { path: "/x" } } };
      s.resource.terraform_data = { marker: { input: "${[for b in aws_s3_bucket.bucket : b.arn]}" } };
      s.resource.aws_s3_bucket.bucket.dynamic = {
        cors_rule: {
          for_each: "${local.origins}",
          content: { allowed_methods: ["GET"], allowed_origins: ["${cors_rule.value}"] },
        },
      };
      s.locals = { origins: [] };
      s.output["role-arn"].value = "${terraform_data.marker.output}";
    });
    expect(issues).toEqual([]);
  });

  it("catches mistakes made through cdktf escape hatches in a real synth", () => {
    const outdir = mkdtempSync(join(tmpdir(), "htc-verify-hatch-"));
    try {
      const app = new App({ outdir });
      const stack = new TerraformStack(app, "hatch");
      new AwsProvider(stack, "aws", { region: "eu-west-1" });
      const bucket = new S3Bucket(stack, "bucket", {});
      const template = new LaunchTemplate(stack, "template", { namePrefix: "x-" });
      template.addOverride("metadata_options.httpTokens", "required");
      // A raw expression string, as a hand-written escape hatch would produce it.
      template.addOverride("description", '${join("-", ["a", aws_s3_bucket.bucket.bucket_arn])}');
      template.addOverride("name_prefix", Fn.join("-", ["a", bucket.arn]));
      app.synth();
      const { issues } = checkSynthOutput(outdir, schemas);
      expect(issues.map((i) => i.message)).toEqual([
        'unknown attribute "httpTokens" (did you mean "http_tokens"?)',
        '${aws_s3_bucket.bucket.bucket_arn}: "aws_s3_bucket" has no attribute "bucket_arn"',
      ]);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });
});

describe("schema gate cost", () => {
  it("checks a stack of 18,000 resources within a few seconds", () => {
    const stack = fixture.stack("infra");
    for (const [type, instances] of Object.entries(
      stack.resource as Record<string, Record<string, unknown>>,
    )) {
      for (const [name, config] of Object.entries(instances)) {
        for (let i = 0; i < 2000; i++) instances[`${name}-${i}`] = structuredClone(config);
      }
      expect(Object.keys(stack.resource[type]).length).toBeGreaterThan(2000);
    }
    const count = Object.values(stack.resource as Record<string, object>).reduce(
      (n, r) => n + Object.keys(r).length,
      0,
    );
    const started = performance.now();
    const issues = checker.checkStack("big", stack);
    const seconds = (performance.now() - started) / 1000;
    console.log(`schema-check: ${count} resources in ${seconds.toFixed(2)} s`);
    expect(issues).toEqual([]);
    expect(seconds).toBeLessThan(10);
  });
});
