// Reads the handlers' environment (the contract is runtime/src/contract/lambda-env.ts) into typed settings, once
// per cold start. Nothing else in the control plane reads process.env.

import {
  GRID_STORAGE_SERVICES,
  LAMBDA_ENV,
  TASK_QUEUE_SERVICES,
  parseJsonSetting,
  priorityCount,
  type GridStorageService,
  type LambdaEnvVar,
  type TaskQueueService,
} from "../contract";
import { dynamoSettings, type DynamoSettings } from "../aws/clients";
import type { ErrorLogTarget } from "../aws/error-log";
import { parseRedisUrl, type RedisSettings } from "../aws/data-plane";
import type { TaskQueueSettings } from "../aws/task-queue";

export type Env = Readonly<Record<string, string | undefined>>;

/** A configuration error: names the variable, shows the value, says what is allowed. */
export class ConfigError extends Error {}

function required(env: Env, name: LambdaEnvVar): string {
  const value = env[name];
  if (value === undefined || value === "")
    throw new ConfigError(`environment variable ${name} is required (${LAMBDA_ENV[name].description})`);
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

function jsonObject(env: Env, name: LambdaEnvVar): Record<string, unknown> {
  try {
    return parseJsonSetting(`environment variable ${name}`, env[name] ?? "");
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
}

function positiveInt(env: Env, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min)
    throw new ConfigError(`environment variable ${name}=${JSON.stringify(raw)} must be an integer >= ${min}`);
  return n;
}

export interface StateTableEnv extends DynamoSettings {
  readonly tableName: string;
}

export function readStateTableEnv(env: Env): StateTableEnv {
  return {
    tableName: required(env, "STATE_TABLE_NAME"),
    ...dynamoSettings(jsonObject(env, "STATE_TABLE_CONFIG")),
  };
}

export function readTaskQueueEnv(env: Env): TaskQueueSettings {
  const service = oneOf<TaskQueueService>(env, "TASK_QUEUE_SERVICE", TASK_QUEUE_SERVICES);
  let priorities: number;
  try {
    priorities = priorityCount(service, jsonObject(env, "TASK_QUEUE_CONFIG"));
  } catch (error) {
    throw new ConfigError(`environment variable TASK_QUEUE_CONFIG: ${(error as Error).message}`);
  }
  return { service, priorities, queueBase: required(env, "SQS_QUEUE"), dlqBase: required(env, "SQS_DLQ") };
}

export interface DataPlaneEnv {
  readonly storage: GridStorageService;
  readonly s3?: { readonly bucket: string; readonly kmsKeyId: string };
  readonly redis?: RedisSettings;
}

export function readDataPlaneEnv(env: Env): DataPlaneEnv {
  const storage = oneOf<GridStorageService>(env, "GRID_STORAGE_SERVICE", GRID_STORAGE_SERVICES);
  const s3 =
    storage === "REDIS"
      ? undefined
      : { bucket: required(env, "S3_BUCKET"), kmsKeyId: required(env, "S3_KMS_KEY_ID") };
  let redis: RedisSettings | undefined;
  if (storage !== "S3") {
    const authSecretArn = env.REDIS_AUTH_SECRET_ARN || undefined;
    const tls = oneOf(env, "REDIS_TLS", ["0", "1"], "1") === "1";
    let address: { host: string; port: number };
    try {
      address = parseRedisUrl(required(env, "REDIS_URL"), tls);
    } catch (error) {
      throw new ConfigError(`environment variable REDIS_URL: ${(error as Error).message}`);
    }
    redis = {
      host: address.host,
      port: address.port,
      tls,
      authSecretArn,
      password: authSecretArn ? undefined : env.REDIS_PASSWORD || undefined,
    };
  }
  return { storage, s3, redis };
}

export function readErrorLogEnv(env: Env): ErrorLogTarget {
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
