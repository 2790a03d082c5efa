// The normalized, typed grid configuration. `parseGridConfig` turns either accepted JSON key set
// (the workshop's or current upstream's) into this one shape; constructs only ever see slices of it.

/** Where task payloads live (upstream `grid_storage_service`). */
export type GridStorageService = "S3" | "REDIS" | "S3+REDIS";
/** Upstream `task_queue_service`: one queue, or one queue per priority. */
export type TaskQueueService = "SQS" | "PrioritySQS";
export type CapacityType = "SPOT" | "ON_DEMAND";
export type BillingMode = "PROVISIONED" | "PAY_PER_REQUEST";

/** A subnet layout: explicit CIDRs (one per AZ) or a netmask carved from the VPC range. */
export type SubnetLayout = { kind: "cidrs"; cidrs: string[] } | { kind: "mask"; mask: number };

export interface NetworkConfig {
  /** VPC range. */
  readonly vpcCidr: string;
  /** How many availability zones the grid spans (one public and one private subnet each). */
  readonly azCount: number;
  /** Public subnets, one per AZ, in AZ order (already carved: always explicit CIDRs). */
  readonly publicSubnetCidrs: string[];
  /** Private subnets, one per AZ, in AZ order. */
  readonly privateSubnetCidrs: string[];
  /** true: no NAT, VPC endpoints for everything; false: internet gateway + NAT egress. */
  readonly enablePrivateSubnet: boolean;
  /** One NAT gateway per AZ instead of one for the VPC (only when enablePrivateSubnet is false). */
  readonly natGatewayPerAz: boolean;
  /** Extra CIDRs allowed to reach the grid (Redis, endpoints) besides the VPC. */
  readonly allowedAccessCidrBlocks: string[];
}

export interface KmsConfig {
  /** Days a deleted key waits before it is gone (7-30). */
  readonly deletionWindowDays: number;
  /** Extra IAM role ARNs that administer every key. May contain `{{account_id}}`. */
  readonly adminRoleArns: string[];
}

export interface RedisConfig {
  /** "redis" or "valkey". */
  readonly engine: "redis" | "valkey";
  readonly engineVersion: string;
  /** Parameter-group family of the engine version (e.g. "redis7", "valkey8"). */
  readonly parameterGroupFamily: string;
  readonly nodeType: string;
  /** Read replicas per shard (0-5). */
  readonly replicas: number;
  /** Multi-AZ with automatic failover (needs replicas >= 1). */
  readonly multiAz: boolean;
}

export interface DataPlaneConfig {
  readonly storage: GridStorageService;
  /** Days after which task payload objects expire from the data bucket (0 = never). */
  readonly payloadExpirationDays: number;
  /** Hours after which a task's keys expire from Redis (0 = never). */
  readonly redisExpirationHours: number;
  readonly redis: RedisConfig;
}

export interface StateTableConfig {
  readonly billingMode: BillingMode;
  readonly readCapacity: number;
  readonly writeCapacity: number;
  readonly autoscaling: boolean;
  readonly deletionProtection: boolean;
  /** Upstream `state_table_service` (only DynamoDB exists). */
  readonly service: "DynamoDB";
  /** Upstream `state_table_config`: SDK retry settings, passed to agents verbatim. */
  readonly sdkConfig: string;
  /** Table base name (upstream `ddb_state_table`); the table is `<base>-<project>`. */
  readonly baseName: string;
}

export interface TaskQueueConfig {
  readonly service: TaskQueueService;
  /** Number of priority levels: 1 for SQS, task_queue_config.priorities for PrioritySQS. */
  readonly priorities: number;
  /** Upstream `task_queue_config`, re-serialized as strict JSON for agents and Lambdas. */
  readonly rawConfig: string;
  /** Initial visibility timeout of task messages (agents extend it after a claim). */
  readonly visibilityTimeoutSec: number;
  /** Times the TTL checker re-queues an expired task before failing it. */
  readonly maxRetries: number;
  /** SQS redrive maxReceiveCount; always > maxRetries + 1 so a retried task never reaches the DLQ. */
  readonly maxReceiveCount: number;
  /** Queue base name (upstream `sqs_queue`); queues are `<base>-<project>__<priority>`. */
  readonly baseName: string;
  /** Dead-letter queue base name (upstream `sqs_dlq`). */
  readonly dlqBaseName: string;
}

export interface ControlPlaneConfig {
  readonly stateTable: StateTableConfig;
  readonly taskQueue: TaskQueueConfig;
  /** API Gateway stage name (upstream `api_gateway_version`). */
  readonly apiStageName: string;
  readonly apiThrottlingRateLimit: number;
  readonly apiThrottlingBurstLimit: number;
  /** 1: clients pass task payloads through the data plane (upstream default); 0: inline. */
  readonly taskInputPassedViaExternalStorage: 0 | 1;
  /** Lambda function base names (upstream `lambda_name_*`). */
  readonly lambdaNames: {
    readonly submitTasks: string;
    readonly getResults: string;
    readonly cancelTasks: string;
    readonly ttlChecker: string;
    readonly scalingMetrics: string;
  };
  readonly errorLogGroup: string;
  readonly errorLoggingStream: string;
  /** Scaling metric published by scaling_metrics and read by KEDA. */
  readonly metrics: {
    readonly namespace: string;
    readonly dimensionName: string;
    readonly name: string;
    readonly periodSec: number;
    readonly scheduleExpression: string;
  };
}

export interface WorkerGroup {
  readonly name: string;
  readonly instanceTypes: string[];
  readonly capacityType: CapacityType;
  readonly minSize: number;
  readonly maxSize: number;
  readonly desiredSize: number;
}

export interface InputRole {
  /** IAM role ARN (may contain `{{account_id}}`, resolved in Terraform). */
  readonly roleArn: string;
  readonly username: string;
  readonly groups: string[];
}

export interface ComputePlaneConfig {
  readonly kubernetesVersion: string;
  readonly workerGroups: WorkerGroup[];
  readonly coreGroup: { instanceTypes: string[]; minSize: number; maxSize: number; desiredSize: number };
  readonly nodeVolumeSizeGb: number;
  readonly inputRoles: InputRole[];
  /** Public API-server endpoint; private access is always on. */
  readonly publicEndpoint: boolean;
  readonly publicEndpointCidrs: string[];
  /** The deployer reaches the VPC, so grid-k8s may talk to a private-only endpoint. */
  readonly deployerInsideVpc: boolean;
  /** cluster-autoscaler image tag: `k8s_ca_version`, else the pinned tag of the cluster's minor. */
  readonly clusterAutoscalerImageTag: string;
  readonly kedaChartVersion?: string;
  readonly monitoring: { enabled: boolean; grafanaAllowedCidrs: string[] };
}

export type PullPolicy = "Always" | "IfNotPresent" | "Never";

/** A custom image (upstream's), as a repository under the registry and a tag. */
export interface ImageRef {
  readonly repository: string;
  readonly tag: string;
  readonly pullPolicy: PullPolicy;
}

export interface AgentConfig {
  readonly name: string;
  readonly namespace: string;
  readonly minAgents: number;
  readonly maxAgents: number;
  /** Backlog per agent that KEDA aims for. */
  readonly targetValue: number;
  readonly gracefulTerminationDelaySec: number;
  /** Registry prefix; undefined = `<account>.dkr.ecr.<region>.<dnsSuffix>`, resolved in Terraform. */
  readonly ecrRegistry?: string;
  readonly agent: {
    /** Upstream's agent image; undefined = the stock Node.js image running the agent bundle. */
    readonly image?: ImageRef;
    readonly pullPolicy: PullPolicy;
    readonly cpuRequestMilli: number;
    readonly cpuLimitMilli: number;
    readonly memoryRequestMi: number;
    readonly memoryLimitMi: number;
  };
  readonly lambda: {
    /** Custom worker image (tag = runtime); undefined = AWS's Lambda base image for the runtime. */
    readonly image?: ImageRef;
    readonly pullPolicy: PullPolicy;
    /** A WORKER_RUNTIMES key for the stock image, any tag with a custom image. */
    readonly runtime: string;
    readonly cpuRequestMilli: number;
    readonly cpuLimitMilli: number;
    readonly memoryRequestMi: number;
    readonly memoryLimitMi: number;
    /** `s3://bucket/key` of the user's worker zip, used as is. */
    readonly s3Source?: string;
    /** Absolute path of the user's worker zip, uploaded to the workload bucket's lambda.zip. */
    readonly localZip?: string;
    readonly s3SourceKmsKeyArn?: string;
    readonly functionName: string;
    /** Handler passed to the Lambda runtime container (e.g. `mock_compute_engine.lambda_handler`). */
    readonly handler: string;
  };
  /** Upstream's worker-zip init container; undefined = the grid's fetch step downloads the zip. */
  readonly getLayer?: ImageRef;
  /** Upstream's submitter image for `helm test`; undefined = the grid's client on the stock Node.js image. */
  readonly test?: ImageRef;
  /** Agent timing knobs written verbatim into the agent configuration (upstream names in parentheses). */
  readonly tuning: {
    readonly emptyTaskQueueBackoffTimeoutSec: number;
    readonly workProcStatusPullIntervalSec: number;
    readonly taskTtlExpirationOffsetSec: number;
    readonly taskTtlRefreshIntervalSec: number;
    readonly dynamodbResultsPullIntervalSec: number;
    readonly agentTaskVisibilityTimeoutSec: number;
  };
  readonly metricsAreEnabled: boolean;
  readonly enableXray: boolean;
  readonly agentUseCongestionControl: boolean;
  readonly htcPathLogs: string;
  /** Write secrets (Redis AUTH token, private API key) into generated/agent_config.json. */
  readonly includeSecretsInGeneratedConfig: boolean;
}

export type BackendConfig =
  | { type: "local" }
  | {
      type: "s3";
      bucket: string;
      keyPrefix: string;
      region: string;
      kmsKeyId?: string;
      dynamodbTable?: string;
    }
  | { type: "cloud"; organization: string; hostname: string; workspacePrefix: string };

export interface GridConfig {
  /** The grid's tag: suffix of every physical name (upstream `project_name`). */
  readonly projectName: string;
  readonly region: string;
  /** EKS cluster / VPC name: `<cluster_name>-<project_name>`. */
  readonly clusterName: string;
  readonly network: NetworkConfig;
  readonly kms: KmsConfig;
  readonly dataPlane: DataPlaneConfig;
  readonly controlPlane: ControlPlaneConfig;
  readonly computePlane: ComputePlaneConfig;
  readonly agent: AgentConfig;
  /** Data bucket base name (upstream `s3_bucket`). */
  readonly dataBucketBaseName: string;
  /** Days every CloudWatch log group keeps its events. */
  readonly logRetentionDays: number;
  /** ECR: immutable tags on the grid's repositories. */
  readonly ecrImmutableTags: boolean;
  /** Name of the Secrets Manager secret ECR's pull-through cache authenticates to ghcr.io with. */
  readonly ghcrCredentialSecret: string;
  /**
   * Teardown switch: when true, nothing that holds data blocks `cdktf destroy` (deletion protection off, buckets
   * and repositories emptied on destroy). False keeps every safeguard.
   */
  readonly allowDestroy: boolean;
  /** Bootstrap state locking: S3 native lockfile or a DynamoDB lock table. */
  readonly stateLocking: "s3-lockfile" | "dynamodb";
  readonly backend: BackendConfig;
  /** Extra tags on every resource (merged under the grid's own tags). */
  readonly tags: Record<string, string>;
}
