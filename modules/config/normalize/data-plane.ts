// Data-plane area: where task payloads live (S3, Redis or both) and the ElastiCache replication group.
import type { DataPlaneConfig, GridStorageService } from "../model";
import type { RawGridConfig } from "../schema";
import { show, type IssueSink } from "./issues";

const STORAGE: readonly GridStorageService[] = ["S3", "REDIS", "S3+REDIS"];

export function normalizeDataPlane(raw: RawGridConfig, issue: IssueSink): DataPlaneConfig {
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
  if (raw.redis_multi_az && raw.redis_replicas < 1) {
    issue("redis_multi_az", `true needs redis_replicas >= 1 (got redis_replicas ${raw.redis_replicas})`);
  }
  return {
    storage,
    payloadExpirationDays: raw.data_bucket_expiration_days,
    redis: {
      engine: raw.redis_engine,
      engineVersion: raw.redis_engine_version,
      nodeType: raw.redis_node_type,
      replicas: raw.redis_replicas,
      multiAz: raw.redis_multi_az,
    },
  };
}
