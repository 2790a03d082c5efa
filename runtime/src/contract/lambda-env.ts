// The environment contract between the infrastructure (which sets these on each control-plane Lambda) and the
// handlers (which read them once per cold start). The infrastructure builds each function's variables with
// `lambdaEnvironment`, so every Lambda gets exactly the variables its handler reads.

export const LAMBDA_HANDLERS = [
  "submit_tasks",
  "get_results",
  "cancel_tasks",
  "ttl_checker",
  "scaling_metrics",
] as const;
export type LambdaHandler = (typeof LAMBDA_HANDLERS)[number];

export interface EnvVarDoc {
  /** Handlers whose cold start reads the variable (test/runtime/control-plane/env-contract.test.ts checks it). */
  readonly usedBy: readonly LambdaHandler[];
  /** A handler fails its cold start without it. */
  readonly required: boolean;
  readonly description: string;
  /** Set only by local servers (tests, `npm run local`), never by the infrastructure. */
  readonly localOnly?: true;
}

const STATE_READERS: readonly LambdaHandler[] = [
  "submit_tasks",
  "get_results",
  "cancel_tasks",
  "ttl_checker",
];
const QUEUE_READERS: readonly LambdaHandler[] = ["submit_tasks", "ttl_checker", "scaling_metrics"];
const LOGGERS: readonly LambdaHandler[] = ["submit_tasks", "get_results", "cancel_tasks", "ttl_checker"];

export const LAMBDA_ENV = {
  REGION: { usedBy: LAMBDA_HANDLERS, required: true, description: "AWS region of the grid." },
  STATE_TABLE_NAME: {
    usedBy: STATE_READERS,
    required: true,
    description: "DynamoDB state table name (ttl_checker also uses it as the throttling-metric dimension).",
  },
  STATE_TABLE_CONFIG: {
    usedBy: STATE_READERS,
    required: false,
    description:
      'Strict JSON SDK retry settings, e.g. {"retries":{"max_attempts":10,"mode":"adaptive"}}. Default {}.',
  },
  TASK_QUEUE_SERVICE: {
    usedBy: QUEUE_READERS,
    required: true,
    description: "SQS (one queue, <base>__0) or PrioritySQS (one queue per priority).",
  },
  TASK_QUEUE_CONFIG: {
    usedBy: QUEUE_READERS,
    required: false,
    description: 'Strict JSON, e.g. {"priorities":3}. Default {} (1 priority).',
  },
  SQS_QUEUE: {
    usedBy: QUEUE_READERS,
    required: true,
    description: "Task queue base name; the queue of priority p is <base>__<p>.",
  },
  SQS_DLQ: {
    usedBy: QUEUE_READERS,
    required: true,
    description:
      "Dead-letter queue base name (<base>__<p>). The TTL checker moves pending tasks' messages back.",
  },
  GRID_STORAGE_SERVICE: {
    usedBy: ["submit_tasks"],
    required: true,
    description: "S3, REDIS or S3+REDIS (write-through, read from Redis with S3 back-fill).",
  },
  S3_BUCKET: {
    usedBy: ["submit_tasks"],
    required: false,
    description: "Data bucket (required when storage uses S3).",
  },
  S3_KMS_KEY_ID: {
    usedBy: ["submit_tasks"],
    required: false,
    description: "KMS key ARN for SSE-KMS uploads (required when storage uses S3). Uploads never use AES256.",
  },
  REDIS_URL: {
    usedBy: ["submit_tasks"],
    required: false,
    description: "host:port or host (port 6379); required when storage uses REDIS.",
  },
  REDIS_AUTH_SECRET_ARN: {
    usedBy: ["submit_tasks"],
    required: false,
    description: "Secrets Manager secret holding the Redis AUTH token; read once per cold start.",
  },
  REDIS_PASSWORD: {
    usedBy: ["submit_tasks"],
    required: false,
    localOnly: true,
    description: "Local testing only, honoured only when REDIS_AUTH_SECRET_ARN is unset.",
  },
  REDIS_TLS: {
    usedBy: ["submit_tasks"],
    required: false,
    description: '"1" (default): TLS to Redis; "0": plain TCP (local servers).',
  },
  S3_FORCE_PATH_STYLE: {
    usedBy: ["submit_tasks"],
    required: false,
    localOnly: true,
    description: '"1": path-style S3 URLs (local S3 server only).',
  },
  ERROR_LOG_GROUP: {
    usedBy: LOGGERS,
    required: false,
    description: "Central error log group (grid_errors-<tag>). Unset: errors go to the function log only.",
  },
  ERROR_LOGGING_STREAM: {
    usedBy: LOGGERS,
    required: false,
    description: "Stream in ERROR_LOG_GROUP (lambda_errors-<tag>).",
  },
  TASK_INPUT_PASSED_VIA_EXTERNAL_STORAGE: {
    usedBy: ["submit_tasks"],
    required: false,
    description:
      '"1" (default): submission_content is a session id and the payload is <session_id>-payload; "0": inline.',
  },
  MAX_RETRIES: {
    usedBy: ["ttl_checker"],
    required: false,
    description: "Times an expired task goes back to pending before it is failed (default 5).",
  },
  NAMESPACE: {
    usedBy: ["scaling_metrics"],
    required: true,
    description: "CloudWatch namespace of the scaling metric.",
  },
  DIMENSION_NAME: {
    usedBy: ["scaling_metrics"],
    required: true,
    description: "Metric dimension name (cluster_name).",
  },
  DIMENSION_VALUE: {
    usedBy: ["scaling_metrics"],
    required: true,
    description: "Metric dimension value (the cluster name).",
  },
  METRICS_NAME: {
    usedBy: ["scaling_metrics"],
    required: true,
    description: "Metric name (pending_tasks_ddb-<tag>).",
  },
  PERIOD: {
    usedBy: ["scaling_metrics"],
    required: false,
    description: "StorageResolution in seconds: 1 (high resolution, default) or 60.",
  },
} as const satisfies Record<string, EnvVarDoc>;

export type LambdaEnvVar = keyof typeof LAMBDA_ENV;

/** The variables a handler reads (the infrastructure may set only these). */
export function lambdaEnvVars(handler: LambdaHandler, options: { local?: boolean } = {}): LambdaEnvVar[] {
  return (Object.entries(LAMBDA_ENV) as [LambdaEnvVar, EnvVarDoc][])
    .filter(([, doc]) => doc.usedBy.includes(handler) && (options.local || !doc.localOnly))
    .map(([name]) => name);
}

/**
 * The environment of one handler's function: exactly the variables it reads, taken from `values` (values for
 * other handlers are left out). Throws when a required variable has no value or a local-only one is given.
 */
export function lambdaEnvironment(
  handler: LambdaHandler,
  values: Partial<Record<LambdaEnvVar, string>>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of lambdaEnvVars(handler)) {
    const value = values[name];
    if (value !== undefined) env[name] = value;
    else if (LAMBDA_ENV[name].required)
      throw new Error(
        `${handler}: environment variable ${name} has no value (${LAMBDA_ENV[name].description})`,
      );
  }
  return env;
}
