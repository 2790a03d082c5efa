// The client pods' AWS identity (the submission jobs and the `helm test` pod, service account htc-client-sa): the
// client role may read the client bundle the grid-k8s stack uploads (under the workload key) and, when the grid
// stores data in S3, the data bucket's objects under the grid's key. Exactly these actions, nothing else.
import { beforeAll, describe, expect, it } from "vitest";
import { gridConfig, resourcesOf, synthApp, type TfJson } from "../support/grid-synth";

type Statement = { Sid: string; Effect: string; Action: string[]; Resource: string[] };

function clientPolicy(grid: TfJson): Statement[] {
  const policies = Object.entries(resourcesOf(grid, "aws_iam_role_policy")).filter(([id]) =>
    id.startsWith("compute_client-role_"),
  );
  expect(policies).toHaveLength(1);
  const [, policy] = policies[0]!;
  expect(policy.role).toMatch(/^\$\{aws_iam_role\.compute_client-role_\w+\.name\}$/);
  return JSON.parse(policy.policy).Statement as Statement[];
}

/** `htc-workload-<project>-<account>-<region>` with the account as the stack's own caller-identity lookup. */
const WORKLOAD_BUCKET = /^htc-workload-main-\$\{data\.aws_caller_identity\.[\w-]+\.account_id\}-eu-west-1$/;

describe("client pods' permissions, Redis-only storage (the default)", () => {
  let stacks: Record<string, TfJson>;
  beforeAll(() => {
    stacks = synthApp(gridConfig());
  });

  it("grants reading the client bundle (exact versions) and decrypting it with the workload key, and nothing else", () => {
    const statements = clientPolicy(stacks.grid);
    expect(statements.map((s) => [s.Sid, s.Effect, s.Action])).toEqual([
      ["ClientCode", "Allow", ["s3:GetObject", "s3:GetObjectVersion"]],
      ["ClientCodeKey", "Allow", ["kms:Decrypt"]],
    ]);
    const [code, key] = statements;
    expect(code!.Resource).toHaveLength(1);
    expect(code!.Resource[0]).toMatch(
      /^arn:\$\{data\.aws_partition\.[\w-]+\.partition\}:s3:::htc-workload-main-\$\{.*\}-eu-west-1\/runtime\/client\.js$/,
    );
    const alias = /^\$\{data\.aws_kms_alias\.([\w-]+)\.target_key_arn\}$/.exec(key!.Resource[0]!);
    expect(key!.Resource).toHaveLength(1);
    expect(stacks.grid.data.aws_kms_alias[alias![1]!].name).toBe("alias/htc/main/workload");
  });

  it("names the object the grid-k8s stack uploads: same bucket and key, SSE-KMS under the same alias's key", () => {
    const uploads = Object.values(resourcesOf(stacks["grid-k8s"], "aws_s3_object"));
    const client = uploads.find((o) => o.key === "runtime/client.js")!;
    expect(client).toBeDefined();
    expect(client.bucket).toMatch(WORKLOAD_BUCKET);
    const [code] = clientPolicy(stacks.grid);
    const arn = code!.Resource[0]!;
    const bucketAndKey = arn.slice(arn.indexOf(":s3:::") + ":s3:::".length);
    // The account comes from each stack's own lookup; the rest of the name is the same derivation.
    const normalize = (text: string) =>
      text.replace(/\$\{data\.aws_caller_identity\.[\w-]+\.account_id\}/, "ACCOUNT");
    expect(normalize(bucketAndKey)).toBe(normalize(`${client.bucket}/${client.key}`));
    expect(client.server_side_encryption).toBe("aws:kms");
    const alias = Object.values(stacks["grid-k8s"].data.aws_kms_alias as Record<string, { name: string }>);
    expect(alias.map((a) => a.name)).toContain("alias/htc/main/workload");
  });

  it("is the role EKS Pod Identity hands to <agent namespace>/htc-client-sa", () => {
    const associations = Object.values(resourcesOf(stacks.grid, "aws_eks_pod_identity_association"));
    const client = associations.find((a) => a.service_account === "htc-client-sa")!;
    expect(client.namespace).toBe("default");
    expect(client.role_arn).toMatch(/^\$\{aws_iam_role\.compute_client-role_\w+\.arn\}$/);
  });
});

describe.each([["S3"], ["S3+REDIS"]])("client pods' permissions, %s storage", (storage) => {
  let statements: Statement[];
  let grid: TfJson;
  beforeAll(() => {
    grid = synthApp(gridConfig({ grid_storage_service: storage })).grid;
    statements = clientPolicy(grid);
  });

  it("adds the data bucket's objects (write inputs, read outputs) and the grid's data key, and nothing else", () => {
    expect(statements.map((s) => [s.Sid, s.Action])).toEqual([
      ["ClientCode", ["s3:GetObject", "s3:GetObjectVersion"]],
      ["ClientCodeKey", ["kms:Decrypt"]],
      ["DataBucketObjects", ["s3:GetObject", "s3:PutObject"]],
      ["DataBucketList", ["s3:ListBucket"]],
      ["DataBucketKey", ["kms:Decrypt", "kms:GenerateDataKey"]],
    ]);
    const bySid = Object.fromEntries(statements.map((s) => [s.Sid, s]));
    const bucket = Object.entries(resourcesOf(grid, "aws_s3_bucket")).find(([id]) => id.includes("data"))!;
    expect(bySid.DataBucketObjects!.Resource).toEqual([`\${aws_s3_bucket.${bucket[0]}.arn}/*`]);
    expect(bySid.DataBucketList!.Resource).toEqual([`\${aws_s3_bucket.${bucket[0]}.arn}`]);
    expect(bySid.DataBucketKey!.Resource).toEqual([
      expect.stringMatching(/^\$\{aws_kms_key\.keys_data-bucket_key_\w+\.arn\}$/),
    ]);
    for (const s of statements) expect(s.Effect).toBe("Allow");
  });
});
