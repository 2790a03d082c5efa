// The agent configuration document (upstream `Agent_config.tfvars.json`): upstream's 45 fields and one of ours that
// agents, clients and submission jobs read from AGENT_CONFIG_FILE. The infrastructure writes it (modules/agent/agent-config.ts),
// `npm run outputs` and `npm run local` write it to a file, pods assemble it from a ConfigMap and a Secret.

/** Environment variable naming the document's path (upstream's name). */
export const AGENT_CONFIG_ENV = "AGENT_CONFIG_FILE";
/** File name of the document (upstream's name; also the ConfigMap key). */
export const AGENT_CONFIG_FILE_NAME = "Agent_config.tfvars.json";
/** Where pods mount the assembled document. */
export const AGENT_CONFIG_MOUNT_PATH = "/etc/agent";
/** The path used when AGENT_CONFIG_FILE is unset (upstream's default). */
export const DEFAULT_AGENT_CONFIG_PATH = `${AGENT_CONFIG_MOUNT_PATH}/${AGENT_CONFIG_FILE_NAME}`;

type FieldType = "string" | "number";

/**
 * The fields and their JSON types: upstream's 45 in upstream's order (it writes its 0/1 switches as "0"/"1" strings),
 * then ours, which upstream's readers ignore and which a document without them leaves at upstream's behaviour.
 */
export const AGENT_CONFIG_FIELDS = {
  region: "string",
  sqs_endpoint: "string",
  sqs_queue: "string",
  sqs_dlq: "string",
  redis_url: "string",
  redis_password: "string",
  cluster_name: "string",
  ddb_state_table: "string",
  empty_task_queue_backoff_timeout_sec: "number",
  work_proc_status_pull_interval_sec: "number",
  task_ttl_expiration_offset_sec: "number",
  task_ttl_refresh_interval_sec: "number",
  dynamodb_results_pull_interval_sec: "number",
  agent_task_visibility_timeout_sec: "number",
  task_input_passed_via_external_storage: "number",
  lambda_name_ttl_checker: "string",
  lambda_name_submit_tasks: "string",
  lambda_name_get_results: "string",
  lambda_name_cancel_tasks: "string",
  s3_bucket: "string",
  s3_kms_key_id: "string",
  grid_storage_service: "string",
  task_queue_service: "string",
  task_queue_config: "string",
  state_table_service: "string",
  state_table_config: "string",
  htc_path_logs: "string",
  tasks_queue_name: "string",
  error_log_group: "string",
  error_logging_stream: "string",
  metrics_are_enabled: "string",
  metrics_grafana_private_ip: "string",
  metrics_submit_tasks_lambda_connection_string: "string",
  metrics_cancel_tasks_lambda_connection_string: "string",
  metrics_get_results_lambda_connection_string: "string",
  metrics_ttl_checker_lambda_connection_string: "string",
  metrics_pre_agent_connection_string: "string",
  metrics_post_agent_connection_string: "string",
  agent_use_congestion_control: "string",
  user_pool_id: "string",
  cognito_userpool_client_id: "string",
  public_api_gateway_url: "string",
  private_api_gateway_url: "string",
  api_gateway_key: "string",
  enable_xray: "string",
  /** Ours: seconds before a task's data-plane keys expire from Redis (0: never, as upstream writes them). */
  redis_data_expiration_sec: "number",
} as const satisfies Record<string, FieldType>;

export type AgentConfigField = keyof typeof AGENT_CONFIG_FIELDS;
type TypeOf<T extends FieldType> = T extends "number" ? number : string;

/** The whole document, every field typed. */
export type AgentConfigDocument = {
  -readonly [K in AgentConfigField]: TypeOf<(typeof AGENT_CONFIG_FIELDS)[K]>;
};

/** The only secret fields: they never enter a ConfigMap, an output or a file unless the user opts in. */
export const AGENT_SECRET_FIELDS = ["redis_password", "api_gateway_key"] as const;
export type AgentSecretField = (typeof AGENT_SECRET_FIELDS)[number];
/** The document without its secrets: what a ConfigMap, the `agent_config` output and SSM carry. */
export type PublicAgentConfig = Omit<AgentConfigDocument, AgentSecretField>;

/** Fields each reader cannot do without (the rest may be missing or empty). */
export const AGENT_CONFIG_REQUIRED: Readonly<Record<"agent" | "client", readonly AgentConfigField[]>> = {
  agent: [
    "region",
    "ddb_state_table",
    "task_queue_service",
    "grid_storage_service",
    "task_ttl_expiration_offset_sec",
    "task_ttl_refresh_interval_sec",
    "agent_task_visibility_timeout_sec",
  ],
  client: ["region", "grid_storage_service", "task_input_passed_via_external_storage"],
};

/** Defaults for fields a document may omit (upstream's variable defaults). */
const DEFAULTS: Partial<AgentConfigDocument> = {
  empty_task_queue_backoff_timeout_sec: 0.5,
  work_proc_status_pull_interval_sec: 0.5,
  task_ttl_expiration_offset_sec: 30,
  task_ttl_refresh_interval_sec: 5,
  dynamodb_results_pull_interval_sec: 0.5,
  agent_task_visibility_timeout_sec: 3600,
  task_input_passed_via_external_storage: 1,
  task_queue_config: "{}",
  state_table_config: "{}",
  metrics_are_enabled: "0",
  agent_use_congestion_control: "0",
  enable_xray: "0",
  redis_data_expiration_sec: 0,
};

/** A document that cannot be used: one line per problem, naming the field, the value and what is allowed. */
export class AgentConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`${source}: ${problems.join("; ")}`);
    this.name = "AgentConfigError";
  }
}

const show = (value: unknown): string => {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
};

/**
 * Reads a document (parsed JSON) into typed fields. Numbers may arrive as numeric strings and strings as numbers
 * (upstream's tfvars are loose about it); unknown fields are ignored; fields missing from the document take
 * upstream's defaults or "". Throws AgentConfigError listing every problem, including the fields `role` needs.
 */
export function parseAgentConfig(
  raw: unknown,
  role: keyof typeof AGENT_CONFIG_REQUIRED,
  source = "agent configuration",
): AgentConfigDocument {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new AgentConfigError(source, [`must be a JSON object, got ${show(raw)}`]);
  }
  const input = raw as Record<string, unknown>;
  const problems: string[] = [];
  const out: Record<string, string | number> = {};
  for (const [field, type] of Object.entries(AGENT_CONFIG_FIELDS) as [AgentConfigField, FieldType][]) {
    const value = input[field];
    if (value === undefined || value === null) {
      out[field] = DEFAULTS[field] ?? (type === "number" ? Number.NaN : "");
      continue;
    }
    if (type === "number") {
      const n = typeof value === "number" ? value : typeof value === "string" ? Number(value) : Number.NaN;
      if (!Number.isFinite(n) || (typeof value === "string" && value.trim() === "")) {
        problems.push(`${field} = ${show(value)} is not a number`);
      }
      out[field] = n;
    } else if (typeof value === "string" || typeof value === "number") {
      out[field] = String(value);
    } else {
      problems.push(`${field} = ${show(value)} must be a string`);
    }
  }
  const expiration = out.redis_data_expiration_sec;
  if (
    typeof expiration === "number" &&
    Number.isFinite(expiration) &&
    !(Number.isInteger(expiration) && expiration >= 0)
  ) {
    problems.push(
      `redis_data_expiration_sec = ${show(input.redis_data_expiration_sec)} must be a whole number of seconds >= 0 (0: keys never expire)`,
    );
  }
  for (const field of AGENT_CONFIG_REQUIRED[role]) {
    const value = out[field];
    if (value === "" || (typeof value === "number" && Number.isNaN(value))) {
      problems.push(`${field} is missing (required by the ${role})`);
    }
  }
  if (problems.length > 0) throw new AgentConfigError(source, problems);
  return out as AgentConfigDocument;
}

/**
 * A JSON-object setting carried as a string (`task_queue_config`, `state_table_config`). Strict JSON, or the
 * Python-literal form upstream's templates write (`{'priorities': 3}`).
 */
export function parseJsonSetting(field: string, text: string): Record<string, unknown> {
  if (text.trim() === "") return {};
  const attempts = [
    text,
    text
      .replace(/'/g, '"')
      .replace(/\bTrue\b/g, "true")
      .replace(/\bFalse\b/g, "false"),
  ];
  for (const attempt of attempts) {
    try {
      const parsed: unknown = JSON.parse(attempt);
      if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) {
        return parsed as Record<string, unknown>;
      }
    } catch {
      // try the next form
    }
  }
  throw new Error(`${field} = ${show(text)} must be a JSON object, e.g. {"priorities": 3}`);
}
