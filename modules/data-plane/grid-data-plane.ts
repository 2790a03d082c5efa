// Where task payloads live (upstream `grid_storage_service`): an S3 bucket, an ElastiCache Redis/Valkey
// replication group, or both. Only what the configured mode needs is synthesized.
import { Construct } from "constructs";
import { DataAwsSecretsmanagerSecretVersion } from "@cdktf/provider-aws/lib/data-aws-secretsmanager-secret-version";
import { ElasticacheParameterGroup } from "@cdktf/provider-aws/lib/elasticache-parameter-group";
import { ElasticacheReplicationGroup } from "@cdktf/provider-aws/lib/elasticache-replication-group";
import { ElasticacheSubnetGroup } from "@cdktf/provider-aws/lib/elasticache-subnet-group";
import type { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { SecretsmanagerSecret } from "@cdktf/provider-aws/lib/secretsmanager-secret";
import { SecretsmanagerSecretVersion } from "@cdktf/provider-aws/lib/secretsmanager-secret-version";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { VpcSecurityGroupEgressRule } from "@cdktf/provider-aws/lib/vpc-security-group-egress-rule";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import type { AccountContext } from "../account/account-context";
import type { DataPlaneConfig, GridStorageService } from "../config/model";
import { ephemeralRandomPassword } from "../ephemeral/ephemeral-resource";
import type { GridKey } from "../kms/grid-key";
import type { GridNames } from "../naming/names";
import type { NetworkHandoff } from "../network/handoff";
import { redisMaxmemoryPolicy } from "../../runtime/src/contract";
import { GridBucket } from "../s3/grid-bucket";
import type { DataPlaneHandoff } from "./handoff";

export const REDIS_PORT = 6379;

const REDIS_DEFAULTS = {
  /** AUTH token length: alphanumerics only (ElastiCache refuses some punctuation), 32 chars = 190 bits. */
  authTokenLength: 32,
  /** Daily snapshot kept one day, as upstream: the cache is rebuildable, the snapshot is a convenience. */
  snapshotRetentionDays: 1,
  /**
   * The secret has a fixed name; a recovery window would block re-creating the grid under the same name for
   * that many days. The token is regenerated with the replication group anyway, so nothing is lost.
   */
  secretRecoveryWindowDays: 0,
  /**
   * Revision of the generated AUTH token: bump it to have Terraform generate a new token, write it into the secret
   * and set it on the replication group (which keeps the old one valid until clients reconnect).
   */
  authTokenRevision: 1,
} as const;

/** true when the storage mode keeps payloads in S3. */
export function usesS3(storage: GridStorageService): boolean {
  return storage === "S3" || storage === "S3+REDIS";
}

/** true when the storage mode keeps payloads in Redis. */
export function usesRedis(storage: GridStorageService): boolean {
  return storage === "REDIS" || storage === "S3+REDIS";
}

export interface GridDataPlaneProps {
  /** The data-plane slice of the grid config. */
  readonly dataPlane: DataPlaneConfig;
  /** Data bucket base name (upstream `s3_bucket`). */
  readonly dataBucketBaseName: string;
  /** Extra CIDRs allowed to reach Redis besides the VPC (`allowed_access_cidr_blocks`). */
  readonly allowedAccessCidrBlocks: string[];
  readonly network: NetworkHandoff;
  readonly names: GridNames;
  readonly account: AccountContext;
  /** `GridKeys.dataBucket`: the data bucket's objects. */
  readonly dataBucketKey: GridKey;
  /** `GridKeys.redis`: Redis at rest. */
  readonly redisKey: GridKey;
  /** `GridKeys.secrets`: the AUTH token secret. */
  readonly secretsKey: GridKey;
}

/** The grid's payload stores. */
export class GridDataPlane extends Construct implements DataPlaneHandoff {
  public readonly storage: GridStorageService;
  public readonly dataBucket?: S3Bucket;
  /** The data bucket with its policy and encryption (S3 and S3+REDIS). */
  public readonly dataBucketStore?: GridBucket;
  public readonly redis?: ElasticacheReplicationGroup;
  public readonly redisAuthSecret?: SecretsmanagerSecret;
  public readonly redisSecurityGroup?: SecurityGroup;
  public readonly redisClientSecurityGroup?: SecurityGroup;
  /** Primary endpoint host of Redis (token), clients connect with TLS on REDIS_PORT. */
  public readonly redisEndpoint?: string;
  /** The AUTH token (read back from the secret): only for opt-in sensitive outputs. */
  public readonly redisAuthToken?: string;

  constructor(scope: Construct, id: string, props: GridDataPlaneProps) {
    super(scope, id);
    const { dataPlane, names, account } = props;
    this.storage = dataPlane.storage;

    if (usesS3(dataPlane.storage)) {
      this.dataBucketStore = new GridBucket(this, "data-bucket", {
        bucketName: names.bucketName(props.dataBucketBaseName, account.accountId, account.region),
        key: props.dataBucketKey,
        // Task payloads are transient working data (upstream also force-destroys this bucket).
        forceDestroy: true,
        expirationDays: dataPlane.payloadExpirationDays,
      });
      this.dataBucket = this.dataBucketStore.bucket;
    }

    if (usesRedis(dataPlane.storage)) {
      const redis = this.redisCache(props);
      this.redis = redis.group;
      this.redisAuthSecret = redis.secret;
      this.redisSecurityGroup = redis.securityGroup;
      this.redisClientSecurityGroup = redis.clientSecurityGroup;
      this.redisEndpoint = redis.group.primaryEndpointAddress;
      this.redisAuthToken = redis.authToken;
    }
  }

  private redisCache(props: GridDataPlaneProps) {
    const { names, network } = props;
    const config = props.dataPlane.redis;
    const family = config.parameterGroupFamily;
    const scope = new Construct(this, "redis");
    const cacheId = names.name("elasticacheId", "htc-data-cache");

    // The AUTH token is generated by Secrets Manager for one run only (an ephemeral resource) and written into the
    // secret through a write-only argument, so neither the generator nor the secret version keeps it in state. The
    // replication group has no write-only argument for it (AWS provider 6.25), so it reads the secret back: that
    // read and the group's auth_token are the two places the token stays in the grid state. Changing the secret
    // value and applying rotates it (the read picks up the new value). It is never a Terraform output unless
    // agent_config_include_secrets asks for one.
    const authSecret = new SecretsmanagerSecret(scope, "auth-secret", {
      name: names.name("secret", "htc-redis-auth-token"),
      description: `AUTH token of the ${cacheId} ElastiCache replication group`,
      kmsKeyId: props.secretsKey.arn,
      recoveryWindowInDays: REDIS_DEFAULTS.secretRecoveryWindowDays,
    });
    const generated = ephemeralRandomPassword(scope, "auth-token", {
      length: REDIS_DEFAULTS.authTokenLength,
      excludePunctuation: true,
    });
    const authVersion = new SecretsmanagerSecretVersion(scope, "auth-secret-value", {
      secretId: authSecret.id,
      secretStringWo: generated,
      secretStringWoVersion: REDIS_DEFAULTS.authTokenRevision,
    });
    const authToken = new DataAwsSecretsmanagerSecretVersion(scope, "auth-token-current", {
      secretId: authSecret.id,
      dependsOn: [authVersion],
    }).secretString;

    const securityGroup = new SecurityGroup(scope, "security-group", {
      name: names.name("securityGroup", "htc-redis"),
      description: "Redis (TLS) from the grid VPC and allowed CIDRs",
      vpcId: network.vpc.id,
      tags: { Name: names.name("securityGroup", "htc-redis") },
    });
    const clientSecurityGroup = new SecurityGroup(scope, "client-security-group", {
      name: names.name("securityGroup", "htc-redis-clients"),
      description: "Clients of the grid's Redis: may open connections to it",
      vpcId: network.vpc.id,
      tags: { Name: names.name("securityGroup", "htc-redis-clients") },
    });
    const port = { ipProtocol: "tcp", fromPort: REDIS_PORT, toPort: REDIS_PORT };
    const sources = [
      { id: "from-vpc", cidr: network.vpc.cidrBlock, description: "Redis from the grid VPC" },
      ...props.allowedAccessCidrBlocks.map((cidr, i) => ({
        id: `from-allowed-${i}`,
        cidr,
        description: `Redis from allowed_access_cidr_blocks[${i}]`,
      })),
    ];
    for (const source of sources) {
      new VpcSecurityGroupIngressRule(scope, source.id, {
        securityGroupId: securityGroup.id,
        cidrIpv4: source.cidr,
        description: source.description,
        ...port,
      });
    }
    new VpcSecurityGroupIngressRule(scope, "from-clients", {
      securityGroupId: securityGroup.id,
      referencedSecurityGroupId: clientSecurityGroup.id,
      description: "Redis from members of the client security group",
      ...port,
    });
    // Egress only for replication between the group's own nodes (no allow-all default).
    new VpcSecurityGroupEgressRule(scope, "to-vpc", {
      securityGroupId: securityGroup.id,
      cidrIpv4: network.vpc.cidrBlock,
      description: "Replication between the group's nodes",
      ...port,
    });
    new VpcSecurityGroupEgressRule(scope, "clients-to-redis", {
      securityGroupId: clientSecurityGroup.id,
      referencedSecurityGroupId: securityGroup.id,
      description: "Clients to Redis",
      ...port,
    });

    const subnetGroup = new ElasticacheSubnetGroup(scope, "subnet-group", {
      name: cacheId,
      description: "Private subnets of the grid",
      subnetIds: network.privateSubnets.map((s) => s.id),
    });
    // REDIS storage holds the only copy of live inputs and outputs: when full it refuses writes rather than evict
    // them (keys leave by their expiry, redis_data_expiration_hours). In front of S3 it is a cache and evicts.
    const policy = redisMaxmemoryPolicy(props.dataPlane.storage);
    const parameterGroup = new ElasticacheParameterGroup(scope, "parameter-group", {
      // The family and the policy are part of the name, so an engine upgrade or a change of storage mode (the
      // description cannot be changed in place) creates the new group before dropping the old.
      name: names
        .name(
          "generic",
          `htc-data-cache-${family.replace(/\./g, "-")}-${policy === "noeviction" ? "noevict" : "lru"}`,
        )
        .toLowerCase(),
      family,
      description:
        policy === "noeviction"
          ? "HTC-Grid data store: refuse writes when full, never evict live task data"
          : "HTC-Grid data cache in front of S3: evict least recently used keys when full",
      parameter: [{ name: "maxmemory-policy", value: policy }],
      lifecycle: { createBeforeDestroy: true },
    });

    const group = new ElasticacheReplicationGroup(scope, "replication-group", {
      replicationGroupId: cacheId,
      description: `HTC-Grid ${names.projectName} task payload cache`,
      engine: config.engine,
      engineVersion: config.engineVersion,
      nodeType: config.nodeType,
      port: REDIS_PORT,
      numCacheClusters: 1 + config.replicas,
      automaticFailoverEnabled: config.multiAz,
      multiAzEnabled: config.multiAz,
      parameterGroupName: parameterGroup.name,
      // A deploy's changes take effect when it ends, not in the next maintenance window: a new parameter group
      // (engine family, storage mode) is attached at once, so the old one can be deleted (it cannot while in use).
      applyImmediately: true,
      subnetGroupName: subnetGroup.name,
      securityGroupIds: [securityGroup.id],
      atRestEncryptionEnabled: "true",
      kmsKeyId: props.redisKey.arn,
      transitEncryptionEnabled: true,
      transitEncryptionMode: "required",
      authToken,
      snapshotRetentionLimit: REDIS_DEFAULTS.snapshotRetentionDays,
    });
    return { group, secret: authSecret, authToken, securityGroup, clientSecurityGroup };
  }
}
