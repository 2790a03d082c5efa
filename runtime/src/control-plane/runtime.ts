// Builds the SDK clients and grid services once per cold start from the environment contract.

import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SQSClient } from "@aws-sdk/client-sqs";
import {
  cloudWatchClient as newCloudWatchClient,
  cloudWatchLogsClient,
  dynamoClient as newDynamoClient,
  s3Client,
  secretsManagerClient,
  sqsClient,
} from "../aws/clients";
import { connectRedis, openDataPlane, type DataPlaneHandle } from "../aws/data-plane";
import { ErrorLogger } from "../aws/error-log";
import { fetchRedisAuthToken } from "../aws/secrets";
import { StateTable } from "../aws/state-table";
import { TaskQueue } from "../aws/task-queue";
import {
  readDataPlaneEnv,
  readErrorLogEnv,
  readRegion,
  readStateTableEnv,
  readTaskQueueEnv,
  type Env,
} from "./env";
import type { CloudWatchClient } from "@aws-sdk/client-cloudwatch";

export type { DataPlaneHandle } from "../aws/data-plane";

export function dynamoClient(env: Env): DynamoDBClient {
  return newDynamoClient(readRegion(env), readStateTableEnv(env));
}

export function stateTable(env: Env, ddb = dynamoClient(env)): StateTable {
  return new StateTable(ddb, readStateTableEnv(env).tableName);
}

export function taskQueue(env: Env, sqs: SQSClient = sqsClient(readRegion(env))): TaskQueue {
  return new TaskQueue(sqs, readTaskQueueEnv(env));
}

export function errorLogger(env: Env, source: string): ErrorLogger {
  const target = readErrorLogEnv(env);
  const logs = target.group && target.stream ? cloudWatchLogsClient(readRegion(env)) : undefined;
  return new ErrorLogger(logs, target, source);
}

export function cloudWatchClient(env: Env): CloudWatchClient {
  return newCloudWatchClient(readRegion(env));
}

export async function dataPlane(env: Env): Promise<DataPlaneHandle> {
  const config = readDataPlaneEnv(env);
  const region = readRegion(env);
  let redis;
  if (config.redis) {
    const password = config.redis.authSecretArn
      ? await fetchRedisAuthToken(secretsManagerClient(region), config.redis.authSecretArn)
      : config.redis.password;
    redis = connectRedis(config.redis, password);
  }
  return openDataPlane({
    storage: config.storage,
    s3: config.s3 ? { client: s3Client(region, env), ...config.s3 } : undefined,
    redis,
  });
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
