import { describe, expect, it } from "vitest";
import {
  AGENT_SECRET_FIELDS,
  buildAgentConfig,
  mergeAgentConfig,
  type AgentConfigInputs,
} from "../../modules/agent/agent-config";
import { AGENT_CONFIG_FIELDS, parseAgentConfig } from "../../runtime/src/contract";
import { seedGridConfig } from "./fixtures/seed-grid-config";
import { API_KEY, REDIS_PASSWORD, agentConfigResources } from "./fixtures/resources";

// The 45 fields of upstream's agent configuration (reference section 3), with upstream's value types.
const UPSTREAM_NUMBER_FIELDS = [
  "empty_task_queue_backoff_timeout_sec",
  "work_proc_status_pull_interval_sec",
  "task_ttl_expiration_offset_sec",
  "task_ttl_refresh_interval_sec",
  "dynamodb_results_pull_interval_sec",
  "agent_task_visibility_timeout_sec",
  "task_input_passed_via_external_storage",
];
const UPSTREAM_STRING_FIELDS = [
  "region",
  "sqs_endpoint",
  "sqs_queue",
  "sqs_dlq",
  "redis_url",
  "redis_password",
  "cluster_name",
  "ddb_state_table",
  "lambda_name_ttl_checker",
  "lambda_name_submit_tasks",
  "lambda_name_get_results",
  "lambda_name_cancel_tasks",
  "s3_bucket",
  "s3_kms_key_id",
  "grid_storage_service",
  "task_queue_service",
  "task_queue_config",
  "state_table_service",
  "state_table_config",
  "htc_path_logs",
  "tasks_queue_name",
  "error_log_group",
  "error_logging_stream",
  "metrics_are_enabled",
  "metrics_grafana_private_ip",
  "metrics_submit_tasks_lambda_connection_string",
  "metrics_cancel_tasks_lambda_connection_string",
  "metrics_get_results_lambda_connection_string",
  "metrics_ttl_checker_lambda_connection_string",
  "metrics_pre_agent_connection_string",
  "metrics_post_agent_connection_string",
  "agent_use_congestion_control",
  "user_pool_id",
  "cognito_userpool_client_id",
  "public_api_gateway_url",
  "private_api_gateway_url",
  "api_gateway_key",
  "enable_xray",
];

// Ours, after upstream's: upstream's readers ignore them, and a document without them keeps upstream's behaviour.
const OUR_NUMBER_FIELDS = ["redis_data_expiration_sec"];

const inputs: AgentConfigInputs = {
  controlPlane: seedGridConfig.controlPlane,
  dataPlane: seedGridConfig.dataPlane,
  agent: seedGridConfig.agent,
  resources: agentConfigResources,
};
const doc = buildAgentConfig(inputs);
const full = mergeAgentConfig(doc);

describe("buildAgentConfig", () => {
  it("produces exactly upstream's 45 fields, then ours", () => {
    expect(UPSTREAM_NUMBER_FIELDS.length + UPSTREAM_STRING_FIELDS.length).toBe(45);
    expect(Object.keys(full).sort()).toEqual(
      [...UPSTREAM_NUMBER_FIELDS, ...UPSTREAM_STRING_FIELDS, ...OUR_NUMBER_FIELDS].sort(),
    );
  });

  it("keeps upstream's value type for every field", () => {
    const values = full as Record<string, unknown>;
    for (const field of [...UPSTREAM_NUMBER_FIELDS, ...OUR_NUMBER_FIELDS])
      expect(typeof values[field], field).toBe("number");
    for (const field of UPSTREAM_STRING_FIELDS) expect(typeof values[field], field).toBe("string");
  });

  it("carries redis_data_expiration_hours in seconds", () => {
    expect(seedGridConfig.dataPlane.redisExpirationHours).toBe(72);
    expect(full.redis_data_expiration_sec).toBe(72 * 3600);
  });

  it("matches the runtime contract's field list and types, which agents and clients parse with", () => {
    const types = Object.fromEntries([
      ...UPSTREAM_NUMBER_FIELDS.map((f) => [f, "number"]),
      ...UPSTREAM_STRING_FIELDS.map((f) => [f, "string"]),
      ...OUR_NUMBER_FIELDS.map((f) => [f, "number"]),
    ]);
    expect({ ...AGENT_CONFIG_FIELDS }).toEqual(types);
    // What the infrastructure writes is what an agent accepts.
    expect(parseAgentConfig(JSON.parse(JSON.stringify(full)), "agent")).toEqual(full);
  });

  it("puts only the Redis AUTH token and the private API key in the secret part", () => {
    expect(Object.keys(doc.secret).sort()).toEqual([...AGENT_SECRET_FIELDS].sort());
    expect(doc.secret).toEqual({ redis_password: REDIS_PASSWORD, api_gateway_key: API_KEY });
  });

  it("never lets a secret value into the public part", () => {
    const publicText = JSON.stringify(doc.public);
    expect(publicText).not.toContain(REDIS_PASSWORD);
    expect(publicText).not.toContain(API_KEY);
    for (const field of AGENT_SECRET_FIELDS) expect(doc.public).not.toHaveProperty(field);
  });

  it("copies resource references verbatim (Terraform tokens are not parsed)", () => {
    expect(doc.public.redis_url).toBe(agentConfigResources.redisUrl);
    expect(doc.public.tasks_queue_name).toBe("htc_task_queue-main__0");
    expect(doc.public.sqs_queue).toBe("htc_task_queue-main");
    expect(doc.public.s3_kms_key_id).toBe(agentConfigResources.dataBucketKmsKeyArn);
  });

  it("writes upstream's switches as the strings 0/1 and the tuning knobs as numbers", () => {
    expect(doc.public.metrics_are_enabled).toBe("0");
    expect(doc.public.enable_xray).toBe("0");
    expect(doc.public.agent_use_congestion_control).toBe("0");
    expect(doc.public.empty_task_queue_backoff_timeout_sec).toBe(0.5);
    expect(doc.public.agent_task_visibility_timeout_sec).toBe(3600);
    expect(doc.public.task_input_passed_via_external_storage).toBe(1);
  });

  it("passes the config strings agents parse unchanged", () => {
    expect(doc.public.grid_storage_service).toBe("REDIS");
    expect(doc.public.task_queue_service).toBe("SQS");
    expect(doc.public.task_queue_config).toBe(seedGridConfig.controlPlane.taskQueue.rawConfig);
    expect(doc.public.state_table_service).toBe("DynamoDB");
    expect(doc.public.metrics_grafana_private_ip).toBe("influxdb.influxdb");
    expect(doc.public.metrics_submit_tasks_lambda_connection_string).toBe(
      "influxdb 8086 measurementsdb submit_task",
    );
    expect(doc.public.metrics_pre_agent_connection_string).toBe("influxdb 8086 measurementsdb agent_pre");
  });
});
