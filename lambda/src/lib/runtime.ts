// Builds the SDK clients and grid services once per cold start from the environment contract.
// Endpoints come from the SDK's own AWS_ENDPOINT_URL_<SERVICE> variables, so tests and production
// run the same code against different servers.

import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SQSClient } from "@aws-sdk/client-sqs";
import { Redis } from "ioredis";
import { RedisDataPlane, S3DataPlane, WriteThroughDataPlane, type DataPlane } from "./data-plane";
import {
  readDataPlaneEnv,
  readErrorLogEnv,
  readRegion,
  readStateTableEnv,
  readTaskQueueEnv,
  type Env,
  type RedisEnv,
} from "./env";
import { ErrorLogger } from "./error-log";
import { fetchRedisAuthToken } from "./secrets";
import { StateTable } from "./state-table";
import { TaskQueue } from "./task-queue";

export function dynamoClient(env: Env): DynamoDBClient {
  const config = readStateTableEnv(env);
  return new DynamoDBClient({
    region: readRegion(env),
    maxAttempts: config.maxAttempts,
    retryMode: config.retryMode,
  });
}

export function stateTable(env: Env, ddb = dynamoClient(env)): StateTable {
  return new StateTable(ddb, readStateTableEnv(env).tableName);
}

export function taskQueue(env: Env, sqs = new SQSClient({ region: readRegion(env) })): TaskQueue {
  return new TaskQueue(sqs, readTaskQueueEnv(env));
}

export function errorLogger(env: Env, source: string): ErrorLogger {
  const config = readErrorLogEnv(env);
  const logs =
    config.group && config.stream
      ? new CloudWatchLogsClient({ region: readRegion(env), maxAttempts: 2 })
      : undefined;
  return new ErrorLogger(logs, config, source);
}

export function cloudWatchClient(env: Env): CloudWatchClient {
  return new CloudWatchClient({ region: readRegion(env) });
}

async function connectRedis(env: Env, redis: RedisEnv): Promise<Redis> {
  let password = redis.password;
  if (redis.authSecretArn) {
    password = await fetchRedisAuthToken(
      new SecretsManagerClient({ region: readRegion(env) }),
      redis.authSecretArn,
    );
  }
  return new Redis({
    host: redis.host,
    port: redis.port,
    password,
    tls: redis.tls ? { servername: redis.host } : undefined,
    // Fail the invocation instead of hanging it when the cache is unreachable.
    connectTimeout: 5_000,
    maxRetriesPerRequest: 2,
    lazyConnect: false,
  });
}

export interface DataPlaneHandle {
  readonly dataPlane: DataPlane;
  /** Closes the Redis connection, if any (tests; a Lambda keeps it for the next invocation). */
  close(): Promise<void>;
}

export async function dataPlane(env: Env): Promise<DataPlaneHandle> {
  const config = readDataPlaneEnv(env);
  const s3 = config.s3
    ? new S3DataPlane(
        new S3Client({
          region: readRegion(env),
          forcePathStyle: config.s3.forcePathStyle,
          // Payloads are small single-part objects; flexible checksums break some S3-compatible servers.
          requestChecksumCalculation: "WHEN_REQUIRED",
          responseChecksumValidation: "WHEN_REQUIRED",
        }),
        config.s3.bucket,
        config.s3.kmsKeyId,
      )
    : undefined;
  const redis = config.redis ? await connectRedis(env, config.redis) : undefined;
  const redisPlane = redis ? new RedisDataPlane(redis) : undefined;
  const close = async (): Promise<void> => {
    if (redis) await redis.quit().catch(() => redis.disconnect());
  };
  if (s3 && redisPlane) return { dataPlane: new WriteThroughDataPlane(s3, redisPlane), close };
  const only = s3 ?? redisPlane;
  if (!only) throw new Error("no data plane configured");
  return { dataPlane: only, close };
}

/** Memoizes an async factory per cold start; a failed attempt is retried on the next call. */
export function once<T>(factory: () => Promise<T>): { get(): Promise<T>; reset(): void } {
  let value: Promise<T> | undefined;
  return {
    get() {
      if (!value) {
        value = factory();
        value.catch(() => (value = undefined));
      }
      return value;
    },
    reset() {
      value = undefined;
    },
  };
}
