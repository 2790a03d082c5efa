// The bootstrap stack: remote-state bucket with its own key and locking, the workload bucket, their outputs, and
// the one derivation of the workload bucket name shared with the grid stack.
import { beforeAll, describe, expect, it } from "vitest";
import type { GridConfig } from "../../modules/config/model";
import { SEED_GRID_CONFIG } from "../../modules/config/seed";
import { GridNames } from "../../modules/naming/names";
import {
  WORKER_ZIP_KEY,
  defaultWorkerZipLocation,
  workloadBucketName,
} from "../../modules/state-bootstrap/workload";
import { BootstrapStack } from "../../stacks/bootstrap-stack";
import { GridStack } from "../../stacks/grid-stack";
import {
  gridConfig,
  oneResource,
  referenceOf,
  resourcesOf,
  synthStack,
  type TfBlock,
  type TfJson,
} from "../support/grid-synth";

interface Scenario {
  config: GridConfig;
  stack: BootstrapStack;
  json: TfJson;
}

function scenario(overrides: Record<string, unknown>): Scenario {
  const config = gridConfig(overrides);
  let stack: BootstrapStack | undefined;
  const { json } = synthStack((app) => (stack = new BootstrapStack(app, "bootstrap", { config })));
  return { config, stack: stack!, json };
}

/** The bucket-scoped resources (versioning, encryption, ...) of the bucket whose logical name contains `which`. */
function bucketParts(json: TfJson, which: string): Record<string, TfBlock> {
  const types = [
    "aws_s3_bucket",
    "aws_s3_bucket_versioning",
    "aws_s3_bucket_server_side_encryption_configuration",
    "aws_s3_bucket_public_access_block",
    "aws_s3_bucket_ownership_controls",
    "aws_s3_bucket_policy",
  ];
  return Object.fromEntries(types.map((t) => [t, oneResource(json, t, `${which}_`)]));
}

describe("bootstrap with S3 native locking (default)", () => {
  let s: Scenario;
  beforeAll(() => {
    s = scenario({});
  });

  it("keeps its own state locally (it creates the remote state's home)", () => {
    expect(Object.keys(s.json.terraform.backend)).toEqual(["local"]);
  });

  it("creates no lock table and no lock-table output", () => {
    expect(s.config.stateLocking).toBe("s3-lockfile");
    expect(resourcesOf(s.json, "aws_dynamodb_table")).toEqual({});
    expect(s.json.output.lock_table_name).toBeUndefined();
  });

  for (const [which, keyPrefix] of [
    ["state-bucket", "state_state-key_"],
    ["workload-bucket", "state_workload-key_"],
  ]) {
    it(`hardens the ${which}: versioned, SSE-KMS with its own key, private, TLS-only`, () => {
      const parts = bucketParts(s.json, which);
      expect(parts.aws_s3_bucket_versioning.versioning_configuration.status).toBe("Enabled");
      const sse = parts.aws_s3_bucket_server_side_encryption_configuration.rule[0];
      expect(sse.bucket_key_enabled).toBe(true);
      expect(sse.apply_server_side_encryption_by_default.sse_algorithm).toBe("aws:kms");
      const keyRef = referenceOf(sse.apply_server_side_encryption_by_default.kms_master_key_id)!;
      expect(keyRef[0]).toBe("aws_kms_key");
      expect(keyRef[1].startsWith(keyPrefix)).toBe(true);
      expect(parts.aws_s3_bucket_public_access_block).toMatchObject({
        block_public_acls: true,
        block_public_policy: true,
        ignore_public_acls: true,
        restrict_public_buckets: true,
      });
      expect(parts.aws_s3_bucket_ownership_controls.rule.object_ownership).toBe("BucketOwnerEnforced");
      const statements = JSON.parse(parts.aws_s3_bucket_policy.policy).Statement;
      expect(statements).toContainEqual(
        expect.objectContaining({
          Effect: "Deny",
          Condition: { Bool: { "aws:SecureTransport": "false" } },
        }),
      );
      expect(parts.aws_s3_bucket.force_destroy).toBe(false);
    });
  }

  it("rotates both keys and lets them be used only through S3", () => {
    const keys = Object.values(resourcesOf(s.json, "aws_kms_key"));
    expect(keys).toHaveLength(2);
    for (const key of keys) {
      expect(key.enable_key_rotation).toBe(true);
      const vias = JSON.parse(key.policy)
        .Statement.filter((st: { Sid: string }) => st.Sid.startsWith("UseVia"))
        .map((st: { Sid: string }) => st.Sid);
      expect(vias).toEqual(["UseVias3"]);
    }
  });

  it("names the buckets with the account id and region", () => {
    const account = /\$\{data\.aws_caller_identity\.[^}]+\.account_id\}/.source;
    expect(oneResource(s.json, "aws_s3_bucket", "state-bucket").bucket).toMatch(
      new RegExp(`^htc-tfstate-main-${account}-eu-west-1$`),
    );
    expect(oneResource(s.json, "aws_s3_bucket", "workload-bucket").bucket).toMatch(
      new RegExp(`^htc-workload-main-${account}-eu-west-1$`),
    );
  });

  it("outputs the state bucket, its key, the workload bucket and the default worker zip location", () => {
    const out = s.json.output;
    const stateBucket = Object.keys(resourcesOf(s.json, "aws_s3_bucket")).find((n) =>
      n.includes("state-bucket"),
    );
    const workloadBucket = Object.keys(resourcesOf(s.json, "aws_s3_bucket")).find((n) =>
      n.includes("workload-bucket"),
    );
    expect(out.state_bucket_name.value).toBe(`\${aws_s3_bucket.${stateBucket}.bucket}`);
    expect(out.state_key_arn.value).toMatch(/^\$\{aws_kms_key\.state_state-key_[A-F0-9]+\.arn\}$/);
    expect(out.workload_bucket_name.value).toBe(`\${aws_s3_bucket.${workloadBucket}.bucket}`);
    expect(out.workload_key_arn.value).toMatch(/^\$\{aws_kms_key\.state_workload-key_[A-F0-9]+\.arn\}$/);
    expect(out.worker_zip_location.value).toBe(`s3://\${aws_s3_bucket.${workloadBucket}.bucket}/lambda.zip`);
  });
});

describe("bootstrap with a DynamoDB lock table", () => {
  let s: Scenario;
  beforeAll(() => {
    s = scenario({ state_locking: "dynamodb" });
  });

  it("creates a LockID table with PITR, encrypted with the state key", () => {
    const table = oneResource(s.json, "aws_dynamodb_table");
    expect(table.hash_key).toBe("LockID");
    expect(table.attribute).toEqual([{ name: "LockID", type: "S" }]);
    expect(table.point_in_time_recovery).toEqual({ enabled: true });
    expect(table.server_side_encryption.enabled).toBe(true);
    expect(referenceOf(table.server_side_encryption.kms_key_arn)?.[1]).toMatch(/^state_state-key_/);
    expect(table.name).toBe("htc-tfstate-lock-main");
  });

  it("lets the state key be used through DynamoDB too, and outputs the table name", () => {
    const key = oneResource(s.json, "aws_kms_key", "state-key");
    const sids = JSON.parse(key.policy).Statement.map((st: { Sid: string }) => st.Sid);
    expect(sids).toEqual(expect.arrayContaining(["UseVias3", "UseViadynamodb"]));
    expect(s.json.output.lock_table_name.value).toMatch(/^\$\{aws_dynamodb_table\.state_lock-table_/);
  });
});

describe("workload bucket name shared with the grid stack", () => {
  it("is derived by the same helper in both stacks", () => {
    const config = gridConfig({});
    let grid: GridStack | undefined;
    const { json } = synthStack((app) => (grid = new GridStack(app, "grid", { config })));
    expect(json).toBeDefined();
    const names = new GridNames(config.projectName);
    expect(grid!.workloadBucketName).toBe(workloadBucketName(names, grid!.account));
    expect(grid!.workerZipLocation).toBe(defaultWorkerZipLocation(grid!.workloadBucketName));
    expect(grid!.workerZipLocation.endsWith(`/${WORKER_ZIP_KEY}`)).toBe(true);

    const boot = scenario({});
    const bootName = oneResource(boot.json, "aws_s3_bucket", "workload-bucket").bucket as string;
    // Same literal shape; only the account-id reference differs between the two stacks' data sources.
    const shape = (name: string) => name.replace(/\$\{[^}]+\}/g, "<account>");
    expect(shape(bootName)).toBe(shape(grid!.workloadBucketName));
  });

  it("uses a configured worker zip location instead when one is given", () => {
    const agent = structuredClone(SEED_GRID_CONFIG.agent_configuration);
    const config = gridConfig({
      agent_configuration: { ...agent, lambda: { ...agent.lambda, location: "s3://my-bucket/worker.zip" } },
    });
    let grid: GridStack | undefined;
    synthStack((app) => (grid = new GridStack(app, "grid", { config })));
    expect(grid!.workerZipLocation).toBe("s3://my-bucket/worker.zip");
  });
});
