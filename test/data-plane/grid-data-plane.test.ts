// The data plane per storage mode: a hardened S3 bucket, an encrypted Redis with a Secrets Manager AUTH token,
// or both, and nothing a mode does not need.
import { beforeAll, describe, expect, it } from "vitest";
import { Testing } from "cdktf";
import type { GridConfig } from "../../modules/config/model";
import { GridStack } from "../../stacks/grid-stack";
import {
  dataOf,
  gridConfig,
  oneResource,
  referenceOf,
  resourcesOf,
  synthStack,
  type TfJson,
} from "../support/grid-synth";

interface Scenario {
  config: GridConfig;
  stack: GridStack;
  json: TfJson;
  text: string;
}

function scenario(overrides: Record<string, unknown>): Scenario {
  const config = gridConfig(overrides);
  let stack: GridStack | undefined;
  const { json, text } = synthStack((app) => (stack = new GridStack(app, "grid", { config })));
  return { config, stack: stack!, json, text };
}

const S3_TYPES = [
  "aws_s3_bucket",
  "aws_s3_bucket_versioning",
  "aws_s3_bucket_server_side_encryption_configuration",
  "aws_s3_bucket_public_access_block",
  "aws_s3_bucket_ownership_controls",
  "aws_s3_bucket_policy",
  "aws_s3_bucket_lifecycle_configuration",
];
const REDIS_TYPES = [
  "aws_elasticache_replication_group",
  "aws_elasticache_parameter_group",
  "aws_elasticache_subnet_group",
  "aws_secretsmanager_secret",
  "aws_secretsmanager_secret_version",
];

/** Resources of a type created by the data plane (the grid stack holds other secrets and buckets too). */
function dataPlaneResources(json: Parameters<typeof resourcesOf>[0], type: string) {
  return Object.fromEntries(
    Object.entries(resourcesOf(json, type)).filter(([name]) => name.startsWith("data-plane_")),
  );
}

function keyArnOf(value: unknown): string {
  const ref = referenceOf(value);
  expect(ref?.[0]).toBe("aws_kms_key");
  return ref![1];
}

describe("storage S3", () => {
  let s: Scenario;
  beforeAll(() => {
    s = scenario({ grid_storage_service: "S3" });
  });

  it("synthesizes the bucket and no Redis, secret or Redis security group", () => {
    for (const type of S3_TYPES) expect(Object.keys(dataPlaneResources(s.json, type)), type).toHaveLength(1);
    for (const type of REDIS_TYPES) expect(dataPlaneResources(s.json, type), type).toEqual({});
    expect(dataOf(s.json, "aws_secretsmanager_random_password")).toEqual({});
    expect(s.stack.dataPlane.redis).toBeUndefined();
    expect(s.stack.dataPlane.dataBucket).toBeDefined();
  });

  it("names the bucket <base>-<project>-<account>-<region>", () => {
    const bucket = oneResource(s.json, "aws_s3_bucket");
    expect(bucket.bucket).toMatch(
      /^htc-data-bucket-main-\$\{data\.aws_caller_identity\.[^}]+\.account_id\}-eu-west-1$/,
    );
  });

  it("encrypts with the data-bucket grid key and a bucket key", () => {
    const sse = oneResource(s.json, "aws_s3_bucket_server_side_encryption_configuration");
    const rule = sse.rule[0];
    expect(rule.bucket_key_enabled).toBe(true);
    expect(rule.apply_server_side_encryption_by_default.sse_algorithm).toBe("aws:kms");
    expect(keyArnOf(rule.apply_server_side_encryption_by_default.kms_master_key_id)).toMatch(
      /^keys_data-bucket_key_/,
    );
  });

  it("versions the bucket, blocks all public access and disables ACLs", () => {
    expect(oneResource(s.json, "aws_s3_bucket_versioning").versioning_configuration.status).toBe("Enabled");
    expect(oneResource(s.json, "aws_s3_bucket_public_access_block")).toMatchObject({
      block_public_acls: true,
      block_public_policy: true,
      ignore_public_acls: true,
      restrict_public_buckets: true,
    });
    expect(oneResource(s.json, "aws_s3_bucket_ownership_controls").rule.object_ownership).toBe(
      "BucketOwnerEnforced",
    );
  });

  it("denies non-TLS access and puts that ask for another encryption or another key", () => {
    const policy = oneResource(s.json, "aws_s3_bucket_policy");
    const doc = JSON.parse(policy.policy);
    const bySid = Object.fromEntries(doc.Statement.map((st: { Sid: string }) => [st.Sid, st]));
    expect(bySid.DenyInsecureTransport).toMatchObject({
      Effect: "Deny",
      Action: "s3:*",
      Condition: { Bool: { "aws:SecureTransport": "false" } },
    });
    expect(bySid.DenyEncryptionOtherThanKms).toMatchObject({
      Effect: "Deny",
      Action: "s3:PutObject",
      Condition: { StringNotEquals: { "s3:x-amz-server-side-encryption": "aws:kms" } },
    });
    const keyCondition = bySid.DenyOtherKmsKeys.Condition.StringNotEquals;
    expect(keyArnOf(keyCondition["s3:x-amz-server-side-encryption-aws-kms-key-id"])).toMatch(
      /^keys_data-bucket_key_/,
    );
    expect(policy.depends_on).toEqual([expect.stringMatching(/^aws_s3_bucket_public_access_block\./)]);
  });

  it("expires payloads and their old versions after data_bucket_expiration_days and aborts stale uploads", () => {
    const rules = oneResource(s.json, "aws_s3_bucket_lifecycle_configuration").rule;
    const byId = Object.fromEntries(rules.map((r: { id: string }) => [r.id, r]));
    expect(byId["expire-objects"].expiration).toEqual([{ days: s.config.dataPlane.payloadExpirationDays }]);
    expect(byId["expire-objects"].noncurrent_version_expiration).toEqual([
      { noncurrent_days: s.config.dataPlane.payloadExpirationDays },
    ]);
    expect(byId["abort-incomplete-multipart-uploads"].abort_incomplete_multipart_upload).toEqual([
      { days_after_initiation: 7 },
    ]);
  });
});

describe("storage S3 with data_bucket_expiration_days 0", () => {
  it("keeps payloads (no expiration rule) but still aborts stale uploads", () => {
    const s = scenario({ grid_storage_service: "S3", data_bucket_expiration_days: 0 });
    const rules = oneResource(s.json, "aws_s3_bucket_lifecycle_configuration").rule;
    expect(rules.map((r: { id: string }) => r.id)).toEqual(["abort-incomplete-multipart-uploads"]);
  });
});

describe("storage REDIS (seed default)", () => {
  let s: Scenario;
  beforeAll(() => {
    s = scenario({});
  });

  it("synthesizes Redis and no bucket", () => {
    expect(s.config.dataPlane.storage).toBe("REDIS");
    for (const type of REDIS_TYPES)
      expect(Object.keys(dataPlaneResources(s.json, type)), type).toHaveLength(1);
    for (const type of S3_TYPES) expect(dataPlaneResources(s.json, type), type).toEqual({});
    expect(s.stack.dataPlane.dataBucket).toBeUndefined();
  });

  it("encrypts in transit (required) and at rest with the redis grid key", () => {
    const group = oneResource(s.json, "aws_elasticache_replication_group");
    expect(group).toMatchObject({
      transit_encryption_enabled: true,
      transit_encryption_mode: "required",
      at_rest_encryption_enabled: "true",
      engine: "redis",
      engine_version: "7.1",
      node_type: "cache.r7g.large",
      port: 6379,
      num_cache_clusters: 1,
      automatic_failover_enabled: false,
      multi_az_enabled: false,
    });
    expect(keyArnOf(group.kms_key_id)).toMatch(/^keys_redis_key_/);
  });

  it("generates the AUTH token for one run and writes it to its secret write-only", () => {
    const [id, version] = Object.entries(resourcesOf(s.json, "aws_secretsmanager_secret_version")).find(
      ([name]) => name.startsWith("data-plane"),
    )!;
    expect(version).not.toHaveProperty("secret_string");
    expect(version.secret_string_wo).toMatch(
      /^\$\{ephemeral\.aws_secretsmanager_random_password\.[\w-]+\.random_password\}$/,
    );
    // A constant version: the token is written once and stays the same across plans.
    expect(version.secret_string_wo_version).toBe(1);
    const generator = Object.values(s.json.ephemeral.aws_secretsmanager_random_password)[0] as Record<
      string,
      unknown
    >;
    expect(generator.password_length).toBeGreaterThanOrEqual(16);
    expect(generator.exclude_punctuation).toBe(true);
    expect(dataOf(s.json, "aws_secretsmanager_random_password")).toEqual({});
    // The random provider is never needed.
    expect(JSON.stringify(s.json.terraform.required_providers)).not.toContain("random");
    // The group reads the token back from the secret, after the version is written.
    const group = oneResource(s.json, "aws_elasticache_replication_group");
    const read = referenceOf(group.auth_token)!;
    expect(read[0]).toBe("data.aws_secretsmanager_secret_version");
    expect(dataOf(s.json, "aws_secretsmanager_secret_version")[read[1]].depends_on).toEqual([
      `aws_secretsmanager_secret_version.${id}`,
    ]);
  });

  it("encrypts the secret with the secrets grid key", () => {
    const secret = oneResource(s.json, "aws_secretsmanager_secret", "data-plane");
    expect(keyArnOf(secret.kms_key_id)).toMatch(/^keys_secrets_key_/);
  });

  it("never exposes the token in an output", () => {
    const outputs = JSON.stringify(s.json.output ?? {});
    expect(outputs).not.toMatch(/secretsmanager_secret_version|random_password|auth_token/);
  });

  it("refuses writes when full instead of evicting (the only copy), through a parameter group of the engine's family", () => {
    const group = oneResource(s.json, "aws_elasticache_parameter_group");
    expect(group.family).toBe("redis7");
    expect(group.parameter).toEqual([{ name: "maxmemory-policy", value: "noeviction" }]);
    expect(group.name).toBe("htc-data-cache-redis7-noevict-main");
    expect(group.lifecycle.create_before_destroy).toBe(true);
    // The replacement is attached when the deploy runs, not in the maintenance window, so the old one can go.
    expect(oneResource(s.json, "aws_elasticache_replication_group").apply_immediately).toBe(true);
  });

  it("places Redis in the private subnets", () => {
    const subnetGroup = oneResource(s.json, "aws_elasticache_subnet_group");
    expect(subnetGroup.subnet_ids).toHaveLength(3);
    for (const id of subnetGroup.subnet_ids)
      expect(id).toMatch(/^\$\{aws_subnet\.network_az-\d_private-subnet_/);
  });

  it("admits 6379 only from the VPC and the client group, and sends only to the VPC on 6379", () => {
    const redisSg = Object.keys(resourcesOf(s.json, "aws_security_group")).find((n) =>
      n.startsWith("data-plane_redis_security-group"),
    )!;
    const onRedis = (type: string) =>
      Object.values(resourcesOf(s.json, type)).filter(
        (r) => r.security_group_id === `\${aws_security_group.${redisSg}.id}`,
      );
    const ingress = onRedis("aws_vpc_security_group_ingress_rule");
    expect(ingress).toHaveLength(2);
    for (const rule of ingress)
      expect(rule).toMatchObject({ ip_protocol: "tcp", from_port: 6379, to_port: 6379 });
    expect(ingress.map((r) => r.cidr_ipv4 ?? r.referenced_security_group_id).sort()).toEqual([
      expect.stringMatching(/^\$\{aws_security_group\.data-plane_redis_client-security-group_/),
      expect.stringMatching(/^\$\{aws_vpc\.network_vpc_[A-F0-9]+\.cidr_block\}$/),
    ]);
    const egress = onRedis("aws_vpc_security_group_egress_rule");
    expect(egress).toHaveLength(1);
    expect(egress[0]).toMatchObject({ from_port: 6379, to_port: 6379 });
    expect(egress[0].cidr_ipv4).toMatch(/^\$\{aws_vpc\./);
  });

  it("hands the client security group and the auth secret to other constructs", () => {
    expect(s.stack.dataPlane.redisClientSecurityGroup).toBeDefined();
    expect(s.stack.dataPlane.redisAuthSecret).toBeDefined();
    expect(s.stack.dataPlane.redis).toBeDefined();
  });
});

describe("storage S3+REDIS with Multi-AZ Valkey and allowed CIDRs", () => {
  let s: Scenario;
  beforeAll(() => {
    s = scenario({
      grid_storage_service: "S3+REDIS",
      redis_engine: "valkey",
      redis_engine_version: "8.0",
      redis_replicas: 2,
      redis_multi_az: true,
      allowed_access_cidr_blocks: ["172.16.0.0/16"],
    });
  });

  it("synthesizes both stores", () => {
    for (const type of [...S3_TYPES, ...REDIS_TYPES]) {
      expect(Object.keys(dataPlaneResources(s.json, type)), type).toHaveLength(1);
    }
  });

  it("runs one primary plus the replicas with automatic failover across AZs", () => {
    expect(oneResource(s.json, "aws_elasticache_replication_group")).toMatchObject({
      engine: "valkey",
      engine_version: "8.0",
      num_cache_clusters: 3,
      automatic_failover_enabled: true,
      multi_az_enabled: true,
    });
    expect(oneResource(s.json, "aws_elasticache_parameter_group").family).toBe("valkey8");
  });

  it("evicts least recently used keys: Redis is a cache in front of S3 here", () => {
    const group = oneResource(s.json, "aws_elasticache_parameter_group");
    expect(group.parameter).toEqual([{ name: "maxmemory-policy", value: "allkeys-lru" }]);
    expect(group.name).toBe("htc-data-cache-valkey8-lru-main");
  });

  it("admits allowed_access_cidr_blocks on 6379", () => {
    expect(
      Testing.toHaveResourceWithProperties(s.text, "aws_vpc_security_group_ingress_rule", {
        cidr_ipv4: "172.16.0.0/16",
        from_port: 6379,
      }),
    ).toBe(true);
  });
});

describe("parameter group family", () => {
  it("is the family the config layer resolved for the engine version", () => {
    const v9 = scenario({ redis_engine: "valkey", redis_engine_version: "9.0" });
    expect(oneResource(v9.json, "aws_elasticache_parameter_group").family).toBe("valkey9");
  });
});
