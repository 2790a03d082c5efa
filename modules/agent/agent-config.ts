// Builds the agent configuration document (upstream `Agent_config.tfvars.json`: its 45 fields and one of ours) read by
// agents, clients and submission jobs. Pure: no cdktf import, so resource references arrive as strings
// (Terraform tokens at synth time) and are copied verbatim, never parsed.
import type { AgentConfig, ControlPlaneConfig, DataPlaneConfig } from "../config/model";
import {
  AGENT_CONFIG_FILE_NAME,
  AGENT_CONFIG_MOUNT_PATH,
  AGENT_SECRET_FIELDS,
  type AgentConfigDocument as FullAgentConfig,
  type AgentSecretField,
  type PublicAgentConfig,
} from "../../runtime/src/contract";

export { AGENT_CONFIG_FILE_NAME, AGENT_CONFIG_MOUNT_PATH, AGENT_SECRET_FIELDS, type AgentSecretField };
/** Name of the ConfigMap holding the non-secret part (upstream name, read by existing job manifests). */
export const AGENT_CONFIG_MAP_NAME = "agent-configmap";
/** Name of the Kubernetes Secret holding the secret fields, one key per field. */
export const AGENT_SECRET_NAME = "htc-agent-secrets";

/**
 * In-cluster InfluxDB sink of the performance counters (upstream defaults): `<host> <port> <db> <measurement>`.
 * Kept verbatim because agents and Lambdas parse this format.
 */
const METRICS_SINK = {
  host: "influxdb",
  port: 8086,
  database: "measurementsdb",
  serviceDns: "influxdb.influxdb",
} as const;

/** Physical names and endpoints of deployed resources; strings (usually Terraform tokens), copied as is. */
export interface AgentConfigResources {
  readonly region: string;
  /** `https://sqs.<region>.<dns suffix>`. */
  readonly sqsEndpoint: string;
  /** Task queue base name (`htc_task_queue-<tag>`); agents append `__<priority>`. */
  readonly taskQueueBaseName: string;
  /** DLQ base name (`htc_task_queue_dlq-<tag>`). */
  readonly taskDlqBaseName: string;
  /** Name of the priority-0 queue (`htc_task_queue-<tag>__0`). */
  readonly tasksQueueName: string;
  /** Redis primary endpoint (empty string when the data plane has no Redis). */
  readonly redisUrl: string;
  /** Redis AUTH token (secret; empty string when the data plane has no Redis). */
  readonly redisPassword: string;
  /** EKS cluster name (`htc-<tag>`). */
  readonly clusterName: string;
  readonly stateTableName: string;
  /** Suffixed Lambda function names. */
  readonly lambdaNames: {
    readonly ttlChecker: string;
    readonly submitTasks: string;
    readonly getResults: string;
    readonly cancelTasks: string;
  };
  readonly dataBucketName: string;
  /** ARN of the data bucket's KMS key. */
  readonly dataBucketKmsKeyArn: string;
  /** Suffixed central error log group and stream names. */
  readonly errorLogGroupName: string;
  readonly errorLogStreamName: string;
  readonly userPoolId: string;
  readonly userPoolClientId: string;
  readonly publicApiUrl: string;
  readonly privateApiUrl: string;
  /** Value of the private API key (secret). */
  readonly privateApiKey: string;
}

/** Everything `buildAgentConfig` reads: config slices (literal values) plus deployed resources (tokens). */
export interface AgentConfigInputs {
  readonly controlPlane: Pick<
    ControlPlaneConfig,
    "stateTable" | "taskQueue" | "taskInputPassedViaExternalStorage" | "lambdaNames"
  >;
  readonly dataPlane: Pick<DataPlaneConfig, "storage" | "redisExpirationHours">;
  readonly agent: Pick<
    AgentConfig,
    "tuning" | "metricsAreEnabled" | "enableXray" | "agentUseCongestionControl" | "htcPathLogs"
  >;
  readonly resources: AgentConfigResources;
}

/** The agent configuration split by sensitivity: `public` goes to the ConfigMap, `secret` to the Secret. */
export interface AgentConfigDocument {
  readonly public: PublicAgentConfig;
  readonly secret: Record<AgentSecretField, string>;
}

/** Upstream writes its 0/1 switches as the strings "0"/"1". */
const flag = (on: boolean): string => (on ? "1" : "0");

const metricsConnection = (measurement: string): string =>
  `${METRICS_SINK.host} ${METRICS_SINK.port} ${METRICS_SINK.database} ${measurement}`;

/** The agent's timing knobs under their upstream field names (the stacks' document and the local grid's). */
export function agentTimings(t: AgentConfig["tuning"]) {
  return {
    empty_task_queue_backoff_timeout_sec: t.emptyTaskQueueBackoffTimeoutSec,
    work_proc_status_pull_interval_sec: t.workProcStatusPullIntervalSec,
    task_ttl_expiration_offset_sec: t.taskTtlExpirationOffsetSec,
    task_ttl_refresh_interval_sec: t.taskTtlRefreshIntervalSec,
    dynamodb_results_pull_interval_sec: t.dynamodbResultsPullIntervalSec,
    agent_task_visibility_timeout_sec: t.agentTaskVisibilityTimeoutSec,
  };
}

/**
 * Builds every field of the upstream agent configuration. Field names and value types (string or
 * number) match upstream exactly; the two secret fields are returned apart so they can be stored in
 * a Secret and merged into the file only inside the pod.
 */
export function buildAgentConfig(inputs: AgentConfigInputs): AgentConfigDocument {
  const { controlPlane, dataPlane, agent, resources: r } = inputs;
  const publicPart: PublicAgentConfig = {
    region: r.region,
    sqs_endpoint: r.sqsEndpoint,
    sqs_queue: r.taskQueueBaseName,
    sqs_dlq: r.taskDlqBaseName,
    redis_url: r.redisUrl,
    cluster_name: r.clusterName,
    ddb_state_table: r.stateTableName,
    ...agentTimings(agent.tuning),
    task_input_passed_via_external_storage: controlPlane.taskInputPassedViaExternalStorage,
    lambda_name_ttl_checker: r.lambdaNames.ttlChecker,
    lambda_name_submit_tasks: r.lambdaNames.submitTasks,
    lambda_name_get_results: r.lambdaNames.getResults,
    lambda_name_cancel_tasks: r.lambdaNames.cancelTasks,
    s3_bucket: r.dataBucketName,
    s3_kms_key_id: r.dataBucketKmsKeyArn,
    grid_storage_service: dataPlane.storage,
    task_queue_service: controlPlane.taskQueue.service,
    task_queue_config: controlPlane.taskQueue.rawConfig,
    state_table_service: controlPlane.stateTable.service,
    state_table_config: controlPlane.stateTable.sdkConfig,
    htc_path_logs: agent.htcPathLogs,
    tasks_queue_name: r.tasksQueueName,
    error_log_group: r.errorLogGroupName,
    error_logging_stream: r.errorLogStreamName,
    metrics_are_enabled: flag(agent.metricsAreEnabled),
    metrics_grafana_private_ip: METRICS_SINK.serviceDns,
    // Measurement names are the Lambdas' base names, as upstream's defaults.
    metrics_submit_tasks_lambda_connection_string: metricsConnection(controlPlane.lambdaNames.submitTasks),
    metrics_cancel_tasks_lambda_connection_string: metricsConnection(controlPlane.lambdaNames.cancelTasks),
    metrics_get_results_lambda_connection_string: metricsConnection(controlPlane.lambdaNames.getResults),
    metrics_ttl_checker_lambda_connection_string: metricsConnection(controlPlane.lambdaNames.ttlChecker),
    metrics_pre_agent_connection_string: metricsConnection("agent_pre"),
    metrics_post_agent_connection_string: metricsConnection("agent_post"),
    agent_use_congestion_control: flag(agent.agentUseCongestionControl),
    user_pool_id: r.userPoolId,
    cognito_userpool_client_id: r.userPoolClientId,
    public_api_gateway_url: r.publicApiUrl,
    private_api_gateway_url: r.privateApiUrl,
    enable_xray: flag(agent.enableXray),
    redis_data_expiration_sec: dataPlane.redisExpirationHours * 3600,
  };
  return {
    public: publicPart,
    secret: { redis_password: r.redisPassword, api_gateway_key: r.privateApiKey },
  };
}

/**
 * The complete document as one object (public fields + secret fields), for the rare case where the
 * operator asked for a local file with secrets (`includeSecretsInGeneratedConfig`).
 */
export function mergeAgentConfig(doc: AgentConfigDocument): FullAgentConfig {
  return { ...doc.public, ...doc.secret };
}
