// The agent configuration document of a grid running on local servers: every field, with the
// local names and endpoints (what `npm run outputs` writes for a deployed grid).

import type { AgentConfigDocument, GridStorageService, TaskQueueService } from "../contract";
import { queueName } from "../contract";

export interface LocalAgentConfigInputs {
  readonly region: string;
  readonly stateTable: string;
  readonly queueBase: string;
  readonly dlqBase: string;
  readonly taskQueueService: TaskQueueService;
  readonly priorities: number;
  readonly storage: GridStorageService;
  readonly bucket: string;
  readonly kmsKeyArn: string;
  /** `redis://127.0.0.1:<port>` (plain TCP) when the grid uses Redis. */
  readonly redisUrl?: string;
  readonly redisPassword?: string;
  /** Seconds before task keys expire from Redis (the grid configuration's redis_data_expiration_hours; 0: never). */
  readonly redisExpirationSec?: number;
  readonly errorLogGroup: string;
  readonly errorLogStream: string;
  readonly externalStorage: 0 | 1;
  /** Base URL of the local API (`http://127.0.0.1:<port>/<stage>`). */
  readonly apiUrl?: string;
  readonly apiKey?: string;
  readonly clusterName?: string;
  /** Timing overrides (seconds), e.g. short heartbeats for tests. */
  readonly tuning?: Partial<
    Pick<
      AgentConfigDocument,
      | "empty_task_queue_backoff_timeout_sec"
      | "work_proc_status_pull_interval_sec"
      | "task_ttl_expiration_offset_sec"
      | "task_ttl_refresh_interval_sec"
      | "dynamodb_results_pull_interval_sec"
      | "agent_task_visibility_timeout_sec"
    >
  >;
}

export function localAgentConfig(i: LocalAgentConfigInputs): AgentConfigDocument {
  const metrics = (measurement: string) => `influxdb 8086 measurementsdb ${measurement}`;
  return {
    region: i.region,
    sqs_endpoint: "",
    sqs_queue: i.queueBase,
    sqs_dlq: i.dlqBase,
    redis_url: i.redisUrl ?? "",
    redis_password: i.redisPassword ?? "",
    cluster_name: i.clusterName ?? "htc-local",
    ddb_state_table: i.stateTable,
    empty_task_queue_backoff_timeout_sec: 0.5,
    work_proc_status_pull_interval_sec: 0.5,
    task_ttl_expiration_offset_sec: 30,
    task_ttl_refresh_interval_sec: 5,
    dynamodb_results_pull_interval_sec: 0.5,
    agent_task_visibility_timeout_sec: 3600,
    ...i.tuning,
    task_input_passed_via_external_storage: i.externalStorage,
    lambda_name_ttl_checker: "ttl_checker-local",
    lambda_name_submit_tasks: "submit_task-local",
    lambda_name_get_results: "get_results-local",
    lambda_name_cancel_tasks: "cancel_tasks-local",
    s3_bucket: i.storage === "REDIS" ? "" : i.bucket,
    s3_kms_key_id: i.storage === "REDIS" ? "" : i.kmsKeyArn,
    grid_storage_service: i.storage,
    task_queue_service: i.taskQueueService,
    task_queue_config: JSON.stringify({ priorities: i.priorities }),
    state_table_service: "DynamoDB",
    state_table_config: JSON.stringify({ retries: { max_attempts: 5, mode: "standard" } }),
    htc_path_logs: "logs/",
    tasks_queue_name: queueName(i.queueBase, 0),
    error_log_group: i.errorLogGroup,
    error_logging_stream: i.errorLogStream,
    metrics_are_enabled: "0",
    metrics_grafana_private_ip: "influxdb.influxdb",
    metrics_submit_tasks_lambda_connection_string: metrics("submit_tasks"),
    metrics_cancel_tasks_lambda_connection_string: metrics("cancel_tasks"),
    metrics_get_results_lambda_connection_string: metrics("get_results"),
    metrics_ttl_checker_lambda_connection_string: metrics("ttl_checker"),
    metrics_pre_agent_connection_string: metrics("agent_pre"),
    metrics_post_agent_connection_string: metrics("agent_post"),
    agent_use_congestion_control: "0",
    user_pool_id: "",
    cognito_userpool_client_id: "",
    public_api_gateway_url: i.apiUrl ?? "",
    private_api_gateway_url: i.apiUrl ?? "",
    api_gateway_key: i.apiKey ?? "",
    enable_xray: "0",
    redis_data_expiration_sec: i.redisExpirationSec ?? 0,
  };
}
