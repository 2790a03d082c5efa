// Data-plane area: where task payloads live (S3, Redis or both), the data bucket's name and the ElastiCache
// replication group (engine, version, node type).
import { bucketNameProblem } from "../../naming/names";
import type { DataPlaneConfig, GridStorageService } from "../model";
import type { RawGridConfig } from "../schema";
import { show, type IssueSink } from "./issues";

const STORAGE: readonly GridStorageService[] = ["S3", "REDIS", "S3+REDIS"];

/**
 * Engine versions ElastiCache offers for a replication group with AUTH and `transit_encryption_mode` "required"
 * (Redis OSS 7.0.5 and later; every Valkey version), as of 2026-11, with their parameter-group family.
 */
export const ELASTICACHE_ENGINE_VERSIONS: Readonly<Record<"redis" | "valkey", Record<string, string>>> = {
  redis: { "7.0": "redis7", "7.1": "redis7" },
  valkey: { "7.2": "valkey7", "8.0": "valkey8", "8.1": "valkey8", "8.2": "valkey8", "9.0": "valkey9" },
};

/**
 * ElastiCache node families that take this grid's replication group: current generation, in-transit and at-rest
 * encryption. r6gd is left out: it needs data tiering, which the grid does not configure.
 */
const NODE_FAMILIES = ["t3", "t4g", "m5", "m6g", "m7g", "r5", "r6g", "r7g", "c7gn"] as const;
const NODE_TYPE = /^cache\.([a-z0-9]+)\.(micro|small|medium|large|xlarge|\d+xlarge)$/;

export function normalizeDataPlane(raw: RawGridConfig, issue: IssueSink): DataPlaneConfig | undefined {
  let storage: GridStorageService = "REDIS";
  const storageText = raw.grid_storage_service.trim();
  if ((STORAGE as readonly string[]).includes(storageText)) {
    storage = storageText as GridStorageService;
  } else if (/^S3 \S+$/.test(storageText)) {
    issue(
      "grid_storage_service",
      `${show(raw.grid_storage_service)} is upstream's malformed default (a bucket name after the mode); allowed: "S3", "REDIS", "S3+REDIS" (the data bucket is created by the grid)`,
    );
  } else {
    issue(
      "grid_storage_service",
      `${show(raw.grid_storage_service)} is not allowed; allowed: "S3", "REDIS", "S3+REDIS"`,
    );
  }

  const bucketProblem = bucketNameProblem(raw.s3_bucket, raw.project_name, raw.region);
  if (bucketProblem) issue("s3_bucket", `${show(raw.s3_bucket)} is not allowed: ${bucketProblem}`);

  if (raw.redis_multi_az && raw.redis_replicas < 1) {
    issue("redis_multi_az", `true needs redis_replicas >= 1 (got redis_replicas ${raw.redis_replicas})`);
  }
  const versions = ELASTICACHE_ENGINE_VERSIONS[raw.redis_engine];
  const family = versions[raw.redis_engine_version];
  if (family === undefined) {
    const other = raw.redis_engine === "redis" ? "valkey" : "redis";
    const elsewhere = raw.redis_engine_version in ELASTICACHE_ENGINE_VERSIONS[other];
    issue(
      "redis_engine_version",
      `${show(raw.redis_engine_version)} is not a ${raw.redis_engine} version this grid can deploy${elsewhere ? ` (it is a ${other} version: set redis_engine "${other}")` : /^[3-6](\.|$)/.test(raw.redis_engine_version) ? " (required TLS with AUTH needs Redis OSS 7.0.5 or later)" : ""}; allowed for ${raw.redis_engine}: ${Object.keys(
        versions,
      )
        .map((v) => `"${v}"`)
        .join(", ")}`,
    );
  }
  const node = NODE_TYPE.exec(raw.redis_node_type);
  if (!node || !(NODE_FAMILIES as readonly string[]).includes(node[1])) {
    issue(
      "redis_node_type",
      `${show(raw.redis_node_type)} is not an ElastiCache node type this grid can use${!raw.redis_node_type.startsWith("cache.") ? ' (ElastiCache node types start with "cache.", e.g. "cache.m5.large")' : ""}; allowed: cache.<family>.<size> with family ${NODE_FAMILIES.join(", ")}, e.g. "cache.r7g.large"`,
    );
  }
  if (family === undefined) return undefined;
  return {
    storage,
    payloadExpirationDays: raw.data_bucket_expiration_days,
    redisExpirationHours: raw.redis_data_expiration_hours,
    redis: {
      engine: raw.redis_engine,
      engineVersion: raw.redis_engine_version,
      parameterGroupFamily: family,
      nodeType: raw.redis_node_type,
      replicas: raw.redis_replicas,
      multiAz: raw.redis_multi_az,
    },
  };
}
