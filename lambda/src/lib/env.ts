// The environment-variable contract between the infrastructure (which sets these on each Lambda)
// and the handlers (which read them once per cold start). Nothing else in lambda/ reads process.env.

import type { GridStorageService, TaskQueueService } from "./types";

/** Which handlers read a variable. */
type HandlerName = "submit_tasks" | "get_results" | "cancel_tasks" | "ttl_checker" | "scaling_metrics";
const ALL: readonly HandlerName[] = [
  "submit_tasks",
  "get_results",
  "cancel_tasks",
  "ttl_checker",
  "scaling_metrics",
];
const TASK_HANDLERS: readonly HandlerName[] = ["submit_tasks", "get_results", "cancel_tasks", "ttl_checker"];

export interface EnvVarDoc {
  readonly usedBy: readonly HandlerName[];
  readonly required: boolean;
  readonly description: string;
}

/**
 * The documented contract. The infra sets exactly the variables marked for each handler.
 * `REDIS_PASSWORD`, `S3_FORCE_PATH_STYLE` and the SDK's `AWS_ENDPOINT_URL_<SERVICE>` variables are
 * for local servers (tests, benchmark) only: the infra never sets them.
 */
export const ENV_VARS: Readonly<Record<string, EnvVarDoc>> = {
  REGION: { usedBy: ALL, required: true, description: "AWS region of the grid." },
  STATE_TABLE_NAME: {
    usedBy: TASK_HANDLERS,
    required: true,
    description: "DynamoDB state table name (ttl_checker also uses it as the throttling-metric dimension).",
  },
  STATE_TABLE_CONFIG: {
    usedBy: TASK_HANDLERS,
    required: false,
    description:
      'Strict JSON SDK retry settings, e.g. {"retries":{"max_attempts":10,"mode":"adaptive"}}. Default {}.',
  },
  TASK_QUEUE_SERVICE: {
    usedBy: ALL,
    required: true,
    description: "SQS (one queue, <base>__0) or PrioritySQS (one queue per priority).",
  },
  TASK_QUEUE_CONFIG: {
    usedBy: ALL,
    required: false,
    description: 'Strict JSON, e.g. {"priorities":3}. Default {} (1 priority).',
  },
  SQS_QUEUE: {
    usedBy: ALL,
    required: true,
    description: "Task queue base name; the queue of priority p is <base>__<p>.",
  },
  SQS_DLQ: {
    usedBy: ALL,
    required: true,
    description: "Dead-letter queue base name (<base>__<p>). No handler consumes it.",
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
    description:
      "Local testing only, honoured only when REDIS_AUTH_SECRET_ARN is unset. Never set by the infra.",
  },
  REDIS_TLS: {
    usedBy: ["submit_tasks"],
    required: false,
    description: '"1" (default): TLS to Redis; "0": plain TCP (local tests).',
  },
  S3_FORCE_PATH_STYLE: {
    usedBy: ["submit_tasks"],
    required: false,
    description: '"1": path-style S3 URLs (local S3 server only). Never set by the infra.',
  },
  ERROR_LOG_GROUP: {
    usedBy: ALL,
    required: false,
    description: "Central error log group (grid_errors-<tag>). Unset: errors go to the function log only.",
  },
  ERROR_LOGGING_STREAM: {
    usedBy: ALL,
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
};

export type Env = Readonly<Record<string, string | undefined>>;

/** A configuration error: names the variable, shows the value, says what is allowed. */
export class ConfigError extends Error {}

function required(env: Env, name: string): string {
  const value = env[name];
  if (value === undefined || value === "")
    throw new ConfigError(`environment variable ${name} is required (${ENV_VARS[name]?.description ?? ""})`);
  return value;
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback?: T): T {
  const value = env[name] ?? fallback;
  if (value === undefined || !(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(
      `environment variable ${name}=${JSON.stringify(value)} is invalid; allowed: ${allowed.join(", ")}`,
    );
  }
  return value as T;
}

function jsonObject(env: Env, name: string): Record<string, unknown> {
  const raw = env[name];
  if (raw === undefined || raw === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError(`environment variable ${name}=${JSON.stringify(raw)} is not strict JSON`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new ConfigError(`environment variable ${name} must be a JSON object`);
  return parsed as Record<string, unknown>;
}

function positiveInt(env: Env, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min)
    throw new ConfigError(`environment variable ${name}=${JSON.stringify(raw)} must be an integer >= ${min}`);
  return n;
}

export interface StateTableEnv {
  readonly tableName: string;
  /** SDK max attempts from STATE_TABLE_CONFIG.retries.max_attempts. */
  readonly maxAttempts?: number;
  readonly retryMode?: "standard" | "adaptive";
}

export function readStateTableEnv(env: Env): StateTableEnv {
  const config = jsonObject(env, "STATE_TABLE_CONFIG");
  const retries = (config.retries ?? {}) as { max_attempts?: unknown; mode?: unknown };
  const maxAttempts = typeof retries.max_attempts === "number" ? retries.max_attempts : undefined;
  const retryMode = retries.mode === "adaptive" || retries.mode === "standard" ? retries.mode : undefined;
  return { tableName: required(env, "STATE_TABLE_NAME"), maxAttempts, retryMode };
}

export interface TaskQueueEnv {
  readonly service: TaskQueueService;
  /** Priority levels: always 1 for SQS. */
  readonly priorities: number;
  readonly queueBase: string;
  readonly dlqBase: string;
}

export function readTaskQueueEnv(env: Env): TaskQueueEnv {
  const service = oneOf<TaskQueueService>(env, "TASK_QUEUE_SERVICE", ["SQS", "PrioritySQS"]);
  const config = jsonObject(env, "TASK_QUEUE_CONFIG");
  let priorities = 1;
  if (service === "PrioritySQS") {
    const p = config.priorities ?? 1;
    if (typeof p !== "number" || !Number.isInteger(p) || p < 1 || p > 16) {
      throw new ConfigError(`TASK_QUEUE_CONFIG.priorities=${JSON.stringify(p)} must be an integer 1-16`);
    }
    priorities = p;
  }
  return { service, priorities, queueBase: required(env, "SQS_QUEUE"), dlqBase: required(env, "SQS_DLQ") };
}

export interface RedisEnv {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  readonly authSecretArn?: string;
  /** Local testing only (see ENV_VARS.REDIS_PASSWORD). */
  readonly password?: string;
}

export interface DataPlaneEnv {
  readonly storage: GridStorageService;
  readonly s3?: { readonly bucket: string; readonly kmsKeyId: string; readonly forcePathStyle: boolean };
  readonly redis?: RedisEnv;
}

export function parseRedisUrl(url: string): { host: string; port: number } {
  const match = /^(?:rediss?:\/\/)?([^:/\s]+)(?::(\d{1,5}))?\/?$/.exec(url);
  if (!match) throw new ConfigError(`REDIS_URL=${JSON.stringify(url)} must be host or host:port`);
  return { host: match[1], port: match[2] ? Number(match[2]) : 6379 };
}

export function readDataPlaneEnv(env: Env): DataPlaneEnv {
  const storage = oneOf<GridStorageService>(env, "GRID_STORAGE_SERVICE", ["S3", "REDIS", "S3+REDIS"]);
  const s3 =
    storage === "REDIS"
      ? undefined
      : {
          bucket: required(env, "S3_BUCKET"),
          kmsKeyId: required(env, "S3_KMS_KEY_ID"),
          forcePathStyle: env.S3_FORCE_PATH_STYLE === "1",
        };
  let redis: RedisEnv | undefined;
  if (storage !== "S3") {
    const authSecretArn = env.REDIS_AUTH_SECRET_ARN || undefined;
    redis = {
      ...parseRedisUrl(required(env, "REDIS_URL")),
      tls: oneOf(env, "REDIS_TLS", ["0", "1"], "1") === "1",
      authSecretArn,
      password: authSecretArn ? undefined : env.REDIS_PASSWORD || undefined,
    };
  }
  return { storage, s3, redis };
}

export interface ErrorLogEnv {
  readonly group?: string;
  readonly stream?: string;
}

export function readErrorLogEnv(env: Env): ErrorLogEnv {
  return { group: env.ERROR_LOG_GROUP || undefined, stream: env.ERROR_LOGGING_STREAM || undefined };
}

export function readRegion(env: Env): string {
  return required(env, "REGION");
}

export function readExternalStorageFlag(env: Env): boolean {
  return oneOf(env, "TASK_INPUT_PASSED_VIA_EXTERNAL_STORAGE", ["0", "1"], "1") === "1";
}

export function readMaxRetries(env: Env): number {
  return positiveInt(env, "MAX_RETRIES", 5, 0);
}

export interface ScalingMetricsEnv {
  readonly namespace: string;
  readonly dimensionName: string;
  readonly dimensionValue: string;
  readonly metricName: string;
  readonly storageResolution: 1 | 60;
}

export function readScalingMetricsEnv(env: Env): ScalingMetricsEnv {
  const period = positiveInt(env, "PERIOD", 1, 1);
  if (period !== 1 && period !== 60)
    throw new ConfigError(
      `environment variable PERIOD=${period} must be 1 or 60 (CloudWatch StorageResolution)`,
    );
  return {
    namespace: required(env, "NAMESPACE"),
    dimensionName: required(env, "DIMENSION_NAME"),
    dimensionValue: required(env, "DIMENSION_VALUE"),
    metricName: required(env, "METRICS_NAME"),
    storageResolution: period,
  };
}
