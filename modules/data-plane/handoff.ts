// What the data plane hands to the control plane and the agents.
import type { ElasticacheReplicationGroup } from "@cdktf/provider-aws/lib/elasticache-replication-group";
import type { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import type { SecretsmanagerSecret } from "@cdktf/provider-aws/lib/secretsmanager-secret";
import type { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import type { GridStorageService } from "../config/model";

export interface DataPlaneHandoff {
  readonly storage: GridStorageService;
  /** Present for S3 and S3+REDIS. */
  readonly dataBucket?: S3Bucket;
  /** Present for REDIS and S3+REDIS. */
  readonly redis?: ElasticacheReplicationGroup;
  /** Secret whose value is the Redis AUTH token (REDIS and S3+REDIS). */
  readonly redisAuthSecret?: SecretsmanagerSecret;
  /** Security group clients of Redis join (REDIS and S3+REDIS). */
  readonly redisClientSecurityGroup?: SecurityGroup;
}
