// The agent's settings: the agent configuration document (AGENT_CONFIG_FILE) plus the few environment variables
// upstream's agent also reads (MY_POD_NAME, LAMBDA_ENDPOINT_URL, LAMBDA_FONCTION_NAME) and the agent's own
// HTC_AGENT_* knobs. Bad input gives one line naming the setting, the value and what is allowed.

import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import {
  AGENT_CONFIG_ENV,
  DEFAULT_AGENT_CONFIG_PATH,
  GRID_STORAGE_SERVICES,
  SQS_LIMITS,
  TASK_QUEUE_SERVICES,
  parseAgentConfig,
  parseJsonSetting,
  priorityCount,
  queueBaseOf,
  type AgentConfigDocument,
  type GridStorageService,
  type TaskQueueService,
} from "../contract";
import { dynamoSettings, type DynamoSettings } from "../aws/clients";
import { parseRedisUrl, type RedisSettings } from "../aws/data-plane";
import type { TaskQueueSettings } from "../aws/task-queue";

export class AgentSettingsError extends Error {}

export interface AgentSettings {
  readonly configPath: string;
  /** `task_owner` of the tasks this agent holds (the pod name). */
  readonly agentId: string;
  readonly region: string;
  readonly stateTable: { readonly name: string } & DynamoSettings;
  readonly queues: TaskQueueSettings;
  readonly storage: GridStorageService;
  readonly s3?: { readonly bucket: string; readonly kmsKeyId: string };
  readonly redis?: RedisSettings;
  /** Expiry of the outputs and errors it writes to Redis (redis_data_expiration_sec; 0: none). */
  readonly redisExpirationSec: number;
  readonly errorLog: { readonly group?: string; readonly stream?: string };
  /** Seconds a heartbeat keeps a task (task_ttl_expiration_offset_sec). */
  readonly heartbeatOffsetSec: number;
  /** Seconds between heartbeats (task_ttl_refresh_interval_sec). */
  readonly heartbeatIntervalSec: number;
  /** Visibility of a claimed task's message (agent_task_visibility_timeout_sec). */
  readonly claimedVisibilitySec: number;
  /** Back-off after a failed receive (empty_task_queue_backoff_timeout_sec). */
  readonly backoffSec: number;
  /** Long-poll wait when every queue is empty. */
  readonly longPollSec: number;
  /**
   * How long it takes no new task after the data plane refused a write because it is full (Redis at its memory
   * limit): every task it took meanwhile would only fail its write and spend one of its retries.
   */
  readonly fullPauseSec: number;
  readonly worker: {
    readonly endpoint: string;
    readonly functionName: string;
    /** How an abandoned invocation is ended: see worker.ts. */
    readonly restart: "none" | "kill-by-name" | "child";
    /** Process names for "kill-by-name". */
    readonly processNames: readonly string[];
    /** For "child": the worker host script and its arguments (from HTC_WORKER_CODE/_HANDLER/_TIMEOUT_SEC). */
    readonly hostScript?: string;
    readonly hostArgs: readonly string[];
  };
}

type Env = Readonly<Record<string, string | undefined>>;

function oneOf<T extends string>(field: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new AgentSettingsError(
      `${field} = ${JSON.stringify(value)} is not allowed; use one of ${allowed.join(", ")}`,
    );
  }
  return value as T;
}

function seconds(field: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new AgentSettingsError(
      `${field} = ${JSON.stringify(raw)} must be a number of seconds from ${min} to ${max}`,
    );
  }
  return value;
}

function positive(field: string, value: number): number {
  if (!(value > 0)) throw new AgentSettingsError(`${field} = ${value} must be a positive number of seconds`);
  return value;
}

/** Reads and checks the agent configuration document. */
export function readAgentConfigFile(path: string): AgentConfigDocument {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new AgentSettingsError(
      `cannot read the agent configuration ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)}); set ${AGENT_CONFIG_ENV} to its path`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new AgentSettingsError(`the agent configuration ${path} is not JSON: ${(error as Error).message}`);
  }
  try {
    return parseAgentConfig(raw, "agent", path);
  } catch (error) {
    throw new AgentSettingsError((error as Error).message);
  }
}

export function agentSettings(env: Env): AgentSettings {
  const configPath = env[AGENT_CONFIG_ENV] || DEFAULT_AGENT_CONFIG_PATH;
  const c = readAgentConfigFile(configPath);
  const storage = oneOf("grid_storage_service", c.grid_storage_service, GRID_STORAGE_SERVICES);
  const service = oneOf<TaskQueueService>("task_queue_service", c.task_queue_service, TASK_QUEUE_SERVICES);
  let priorities: number;
  let stateConfig: Record<string, unknown>;
  try {
    priorities = priorityCount(service, parseJsonSetting("task_queue_config", c.task_queue_config));
    stateConfig = parseJsonSetting("state_table_config", c.state_table_config);
  } catch (error) {
    throw new AgentSettingsError((error as Error).message);
  }
  const queueBase = c.sqs_queue || queueBaseOf(c.tasks_queue_name);
  if (!queueBase)
    throw new AgentSettingsError("sqs_queue (or tasks_queue_name) is missing from the agent configuration");
  const dlqBase = c.sqs_dlq || `${queueBase.replace(/^htc_task_queue/, "htc_task_queue_dlq")}`;

  let s3: AgentSettings["s3"];
  if (storage !== "REDIS") {
    if (!c.s3_bucket)
      throw new AgentSettingsError(`s3_bucket is missing; grid_storage_service ${storage} needs it`);
    if (!c.s3_kms_key_id)
      throw new AgentSettingsError(
        `s3_kms_key_id is missing; outputs are written with SSE-KMS under the grid key`,
      );
    s3 = { bucket: c.s3_bucket, kmsKeyId: c.s3_kms_key_id };
  }
  let redis: RedisSettings | undefined;
  if (storage !== "S3") {
    if (!c.redis_url)
      throw new AgentSettingsError(`redis_url is missing; grid_storage_service ${storage} needs it`);
    try {
      const address = parseRedisUrl(c.redis_url, true);
      redis = { ...address, password: c.redis_password || undefined };
    } catch (error) {
      throw new AgentSettingsError(`redis_url: ${(error as Error).message}`);
    }
  }

  const heartbeatOffsetSec = positive("task_ttl_expiration_offset_sec", c.task_ttl_expiration_offset_sec);
  const heartbeatIntervalSec = positive("task_ttl_refresh_interval_sec", c.task_ttl_refresh_interval_sec);
  if (heartbeatIntervalSec >= heartbeatOffsetSec) {
    throw new AgentSettingsError(
      `task_ttl_refresh_interval_sec = ${heartbeatIntervalSec} must be below task_ttl_expiration_offset_sec = ${heartbeatOffsetSec}, or heartbeats arrive after the task expired`,
    );
  }

  const restart = oneOf(
    "HTC_AGENT_WORKER_RESTART",
    env.HTC_AGENT_WORKER_RESTART || (env.HTC_WORKER_HOST ? "child" : "none"),
    ["none", "kill-by-name", "child"] as const,
  );
  if (restart === "child" && !(env.HTC_WORKER_HOST && env.HTC_WORKER_CODE)) {
    throw new AgentSettingsError(
      "HTC_AGENT_WORKER_RESTART = child needs HTC_WORKER_HOST (the worker host script) and HTC_WORKER_CODE (a zip or folder)",
    );
  }
  const hostArgs: string[] = [];
  if (restart === "child") {
    hostArgs.push(
      "--code",
      env.HTC_WORKER_CODE ?? "",
      "--handler",
      env.HTC_WORKER_HANDLER || "index.handler",
    );
    if (env.HTC_WORKER_TIMEOUT_SEC) hostArgs.push("--timeout", env.HTC_WORKER_TIMEOUT_SEC);
  }
  return {
    configPath,
    agentId: env.MY_POD_NAME || `${hostname()}-${process.pid}`,
    region: c.region,
    stateTable: { name: c.ddb_state_table, ...dynamoSettings(stateConfig) },
    queues: { service, priorities, queueBase, dlqBase },
    storage,
    s3,
    redis,
    redisExpirationSec: c.redis_data_expiration_sec,
    errorLog: { group: c.error_log_group || undefined, stream: c.error_logging_stream || undefined },
    heartbeatOffsetSec,
    heartbeatIntervalSec,
    claimedVisibilitySec: Math.min(
      Math.max(c.agent_task_visibility_timeout_sec, 1),
      SQS_LIMITS.maxVisibilityTimeoutSec,
    ),
    backoffSec: Math.max(c.empty_task_queue_backoff_timeout_sec, 0.05),
    longPollSec: seconds(
      "HTC_AGENT_LONG_POLL_SEC",
      env.HTC_AGENT_LONG_POLL_SEC,
      priorities > 1 ? 2 : SQS_LIMITS.maxWaitTimeSec,
      0,
      SQS_LIMITS.maxWaitTimeSec,
    ),
    fullPauseSec: seconds("HTC_AGENT_FULL_PAUSE_SEC", env.HTC_AGENT_FULL_PAUSE_SEC, 30, 0, 3600),
    worker: {
      endpoint: env.LAMBDA_ENDPOINT_URL || "http://localhost:8080",
      // Misspelt on purpose: upstream's agent reads exactly this name.
      functionName: env.LAMBDA_FONCTION_NAME || "function",
      restart,
      processNames: (env.HTC_WORKER_PROCESS_NAMES || "aws-lambda-rie,htc-worker-host")
        .split(",")
        .map((name) => name.trim())
        .filter(Boolean),
      hostScript: env.HTC_WORKER_HOST || undefined,
      hostArgs,
    },
  };
}
