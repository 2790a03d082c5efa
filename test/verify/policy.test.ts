import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FIXTURE_TAGS } from "./fixtures/app";
import { synthFixtureToTemp, type FixtureOutput, type StackJson } from "./fixtures/synth";
import { parseJsonencode } from "./hcl-value";
import {
  checkPolicies,
  iamWildcards,
  isWriteAction,
  kmsKeyRotation,
  launchTemplateImdsv2,
  logGroupRetentionAndKms,
  noPlainTextSecrets,
  requiredTags,
  tlsOnlyPolicies,
} from "./policy";

let fixture: FixtureOutput;
let infra: StackJson;
let cluster: StackJson;
const TAGGABLE = new Set([
  "aws_kms_key",
  "aws_s3_bucket",
  "aws_sqs_queue",
  "aws_cloudwatch_log_group",
  "aws_iam_role",
  "aws_launch_template",
  "aws_iam_policy",
]);

beforeAll(() => {
  fixture = synthFixtureToTemp();
  infra = fixture.stack("infra");
  cluster = fixture.stack("cluster");
});
afterAll(() => fixture.dispose());

/** A fresh copy of the infra stack with `mutate` applied. */
function broken(mutate: (s: StackJson) => void): StackJson {
  const s = structuredClone(infra);
  mutate(s);
  return s;
}
const rules = (v: { rule: string; address: string }[]) => v.map((x) => `${x.rule} ${x.address}`);

describe("policy rules pass the compliant fixture", () => {
  it("finds no violation in either fixture stack", () => {
    for (const doc of [infra, cluster]) {
      expect(checkPolicies(doc, { requiredTags: FIXTURE_TAGS, taggable: TAGGABLE })).toEqual([]);
    }
  });
});

describe("kms key rotation", () => {
  it("flags a key without rotation", () => {
    const doc = broken((s) => delete s.resource.aws_kms_key.key.enable_key_rotation);
    expect(rules(kmsKeyRotation(doc))).toEqual(["kms-key-rotation aws_kms_key.key"]);
  });
});

describe("log groups", () => {
  it("flags a log group without retention or customer key", () => {
    const doc = broken((s) => {
      delete s.resource.aws_cloudwatch_log_group.logs.retention_in_days;
      delete s.resource.aws_cloudwatch_log_group.logs.kms_key_id;
    });
    expect(rules(logGroupRetentionAndKms(doc))).toEqual([
      "log-group-retention aws_cloudwatch_log_group.logs",
      "log-group-kms aws_cloudwatch_log_group.logs",
    ]);
  });
});

describe("launch templates", () => {
  it("flags a template that allows IMDSv1", () => {
    const doc = broken(
      (s) => (s.resource.aws_launch_template.template.metadata_options.http_tokens = "optional"),
    );
    expect(rules(launchTemplateImdsv2(doc))).toEqual(["launch-template-imdsv2 aws_launch_template.template"]);
  });

  it("flags a template without metadata options", () => {
    const doc = broken((s) => delete s.resource.aws_launch_template.template.metadata_options);
    expect(launchTemplateImdsv2(doc)).toHaveLength(1);
  });
});

describe("IAM wildcards", () => {
  it("classifies read and write actions", () => {
    expect(["s3:GetObject", "sqs:ReceiveMessage", "dynamodb:Query", "s3:List*"].map(isWriteAction)).toEqual([
      false,
      true,
      false,
      false,
    ]);
    expect(["s3:*", "*", "dynamodb:PutItem"].map(isWriteAction)).toEqual([true, true, true]);
  });

  it("flags a policy document that allows every action", () => {
    const doc = broken((s) =>
      s.data.aws_iam_policy_document.access.statement.push({ actions: ["*"], resources: ["arn:aws:s3:::x"] }),
    );
    expect(iamWildcards(doc).map((v) => v.message)).toEqual([
      'a statement without sid allows every action ("*")',
    ]);
  });

  it("flags write actions on every resource but not reads", () => {
    const doc = broken((s) =>
      s.data.aws_iam_policy_document.access.statement.push(
        { sid: "Describe", actions: ["ec2:DescribeInstances"], resources: ["*"] },
        { sid: "Scale", actions: ["autoscaling:SetDesiredCapacity"], resources: ["*"] },
      ),
    );
    expect(iamWildcards(doc).map((v) => v.message)).toEqual([
      'statement "Scale" allows write actions autoscaling:SetDesiredCapacity on every resource ("*")',
    ]);
  });

  it('reads Resource "*" in a KMS key policy as the key itself, but still flags every-action grants', () => {
    const keyPolicy = (statement: Record<string, unknown>) =>
      broken((s) => {
        s.resource.aws_kms_key = {
          grid: {
            enable_key_rotation: true,
            policy: JSON.stringify({ Version: "2012-10-17", Statement: [statement] }),
          },
        };
      });
    const use = {
      Sid: "Use",
      Effect: "Allow",
      Principal: { AWS: "arn:aws:iam::1:root" },
      Action: ["kms:Encrypt"],
      Resource: "*",
    };
    expect(iamWildcards(keyPolicy(use))).toEqual([]);
    const all = { ...use, Sid: "All", Action: "kms:*" };
    expect(iamWildcards(keyPolicy(all)).map((v) => v.rule)).toEqual([]);
    const star = { ...use, Sid: "Star", Action: "*" };
    expect(iamWildcards(keyPolicy(star)).map((v) => v.rule)).toEqual(["iam-wildcard-action"]);
  });

  it("accepts an allow-listed sid and demands a reason for it", () => {
    const doc = broken((s) =>
      s.data.aws_iam_policy_document.access.statement.push({
        sid: "Scale",
        actions: ["autoscaling:SetDesiredCapacity"],
        resources: ["*"],
      }),
    );
    expect(
      iamWildcards(doc, { Scale: "autoscaling actions do not support resource-level permissions" }),
    ).toEqual([]);
    expect(() => iamWildcards(doc, { Scale: "" })).toThrow(/needs a written reason/);
  });

  it("flags wildcards in inline JSON policy strings and in jsonencode policies", () => {
    const doc = broken((s) => {
      s.resource.aws_iam_policy = {
        admin: {
          name: "admin",
          policy: JSON.stringify({
            Version: "2012-10-17",
            Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }],
          }),
        },
      };
      s.resource.aws_kms_key.key.policy =
        '${jsonencode({"Statement" = [{"Sid" = "Root", "Effect" = "Allow", "Action" = "*", "Resource" = "*"}]})}';
    });
    expect(rules(iamWildcards(doc))).toEqual([
      "iam-wildcard-action aws_iam_policy.admin.policy",
      "iam-wildcard-action aws_kms_key.key.policy",
    ]);
  });

  it("flags NotAction allows and inline policies it cannot read", () => {
    const doc = broken((s) => {
      s.resource.aws_iam_role.role.inline_policy = [
        {
          name: "x",
          policy: JSON.stringify({ Statement: [{ Effect: "Allow", NotAction: "iam:*", Resource: "*" }] }),
        },
      ];
      s.resource.aws_iam_role_policy["role-policy"].policy = '${replace(local.doc, "a", "b")}';
    });
    expect(rules(iamWildcards(doc))).toEqual([
      "iam-unreadable-policy aws_iam_role_policy.role-policy",
      "iam-wildcard-action aws_iam_role.role.inline_policy",
    ]);
  });

  it("ignores deny statements", () => {
    expect(iamWildcards(infra)).toEqual([]);
    expect(infra.data.aws_iam_policy_document["bucket-tls"].statement[0].actions).toEqual(["*"]);
  });
});

describe("TLS-only policies", () => {
  it("flags a bucket whose policy lacks the SecureTransport deny", () => {
    const doc = broken(
      (s) => (s.data.aws_iam_policy_document["bucket-tls"].statement[0].condition[0].values = ["true"]),
    );
    expect(rules(tlsOnlyPolicies(doc))).toEqual(["tls-only-policy aws_s3_bucket.bucket"]);
  });

  it("flags a queue without any policy and a bucket whose policy is attached elsewhere", () => {
    const doc = broken((s) => {
      delete s.resource.aws_sqs_queue_policy;
      s.resource.aws_s3_bucket_policy["bucket-policy"].bucket = "other-bucket";
    });
    expect(rules(tlsOnlyPolicies(doc))).toEqual([
      "tls-only-policy aws_s3_bucket.bucket",
      "tls-only-policy aws_sqs_queue.queue",
    ]);
  });

  it("reads the jsonencode policy of the fixture queue", () => {
    const value = parseJsonencode(infra.resource.aws_sqs_queue_policy["queue-policy"].policy);
    expect(value).toMatchObject({
      Statement: [
        {
          Effect: "Deny",
          Resource: "${aws_sqs_queue.queue.arn}",
          Condition: { Bool: { "aws:SecureTransport": "false" } },
        },
      ],
    });
  });
});

describe("plain-text secrets", () => {
  it("flags a secret-named key inside a ConfigMap JSON document", () => {
    const doc = structuredClone(cluster);
    doc.resource.kubernetes_config_map_v1["agent-config"].data["agent_config.json"] = JSON.stringify({
      redis: { password: "hunter2" },
      redis_password_secret_arn: "arn:x",
    });
    expect(noPlainTextSecrets(doc).map((v) => v.message)).toEqual([
      'data.agent_config.json.redis.password looks like a secret (key "password")',
    ]);
  });

  it("flags secret material and copied secret attributes in a ConfigMap", () => {
    const doc = structuredClone(cluster);
    doc.resource.kubernetes_config_map_v1["agent-config"].data = {
      key: "-----BEGIN RSA PRIVATE KEY-----\nabc",
      conn: "redis://${aws_elasticache_replication_group.r.auth_token}@host",
    };
    expect(rules(noPlainTextSecrets(doc))).toEqual([
      "secret-in-configmap kubernetes_config_map_v1.agent-config",
      "secret-in-configmap kubernetes_config_map_v1.agent-config",
    ]);
  });

  it("flags a non-sensitive output that exposes a secret but not a sensitive one", () => {
    const doc = broken((s) => {
      s.output.token = { value: "${aws_iam_access_key.k.secret}" };
      s.output.hidden = { value: "${aws_iam_access_key.k.secret}", sensitive: true };
    });
    expect(rules(noPlainTextSecrets(doc))).toEqual(["secret-in-output output.token"]);
  });
});

describe("required tags", () => {
  it("counts the provider's default_tags", () => {
    expect(requiredTags(infra, FIXTURE_TAGS, TAGGABLE)).toEqual([]);
  });

  it("flags resources when default_tags are missing and a wrong tag value", () => {
    const doc = broken((s) => {
      delete s.provider.aws[0].default_tags;
      s.resource.aws_kms_key.key.tags = { ...FIXTURE_TAGS, "htc:grid": "other" };
    });
    const v = requiredTags(doc, FIXTURE_TAGS, TAGGABLE);
    expect(v.find((x) => x.address === "aws_kms_key.key")?.message).toBe(
      'tag "htc:grid" is "other", expected "fixture"',
    );
    expect(v.filter((x) => x.address === "aws_s3_bucket.bucket").map((x) => x.message)).toEqual([
      'missing tag "htc:grid"',
      'missing tag "htc:managed-by"',
    ]);
  });

  it("uses the default_tags of the aliased provider a resource names", () => {
    const doc = broken((s) => {
      s.provider.aws.push({ alias: "east", region: "us-east-1" });
      s.resource.aws_kms_key.key.provider = "aws.east";
    });
    expect(rules(requiredTags(doc, { "htc:grid": undefined }, TAGGABLE))).toEqual([
      "required-tags aws_kms_key.key",
    ]);
  });
});
