// Environment contract, response shapes, queue batching, SSE-KMS uploads and the Redis secret.

import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { describe, expect, it } from "vitest";
import { S3DataPlane } from "../../../runtime/src/aws/data-plane";
import { LAMBDA_ENV, queueName } from "../../../runtime/src/contract";
import { parseRedisUrl } from "../../../runtime/src/aws/data-plane";
import {
  ConfigError,
  readDataPlaneEnv,
  readMaxRetries,
  readScalingMetricsEnv,
  readStateTableEnv,
  readTaskQueueEnv,
} from "../../../runtime/src/control-plane/env";
import {
  QUERY_ERROR_STATUS,
  SUBMIT_ERROR_STATUS,
  fail,
  ok,
} from "../../../runtime/src/control-plane/response";
import { fetchRedisAuthToken, tokenFromSecretString } from "../../../runtime/src/aws/secrets";
import { packBatches } from "../../../runtime/src/aws/task-queue";

describe("environment contract", () => {
  it("documents every variable the infra sets", () => {
    for (const name of [
      "STATE_TABLE_NAME",
      "STATE_TABLE_CONFIG",
      "TASK_QUEUE_SERVICE",
      "TASK_QUEUE_CONFIG",
      "SQS_QUEUE",
      "SQS_DLQ",
      "GRID_STORAGE_SERVICE",
      "S3_BUCKET",
      "S3_KMS_KEY_ID",
      "REDIS_URL",
      "REDIS_AUTH_SECRET_ARN",
      "REDIS_TLS",
      "ERROR_LOG_GROUP",
      "ERROR_LOGGING_STREAM",
      "TASK_INPUT_PASSED_VIA_EXTERNAL_STORAGE",
      "MAX_RETRIES",
      "REGION",
      "NAMESPACE",
      "DIMENSION_NAME",
      "DIMENSION_VALUE",
      "METRICS_NAME",
      "PERIOD",
    ]) {
      expect(LAMBDA_ENV[name as keyof typeof LAMBDA_ENV]?.description.length, name).toBeGreaterThan(0);
    }
  });

  it("reads queue settings: one queue for SQS, N for PrioritySQS", () => {
    expect(
      readTaskQueueEnv({
        TASK_QUEUE_SERVICE: "SQS",
        TASK_QUEUE_CONFIG: '{"priorities":3}',
        SQS_QUEUE: "q",
        SQS_DLQ: "d",
      }).priorities,
    ).toBe(1);
    expect(
      readTaskQueueEnv({
        TASK_QUEUE_SERVICE: "PrioritySQS",
        TASK_QUEUE_CONFIG: '{"priorities":3}',
        SQS_QUEUE: "q",
        SQS_DLQ: "d",
      }).priorities,
    ).toBe(3);
    expect(queueName("htc_task_queue-abc", 2)).toBe("htc_task_queue-abc__2");
    expect(() => readTaskQueueEnv({ TASK_QUEUE_SERVICE: "Kafka", SQS_QUEUE: "q", SQS_DLQ: "d" })).toThrow(
      /TASK_QUEUE_SERVICE="Kafka".*SQS, PrioritySQS/,
    );
    // Upstream's templates write Python-literal settings; agents and Lambdas read both forms the same way.
    expect(
      readTaskQueueEnv({
        TASK_QUEUE_SERVICE: "PrioritySQS",
        TASK_QUEUE_CONFIG: "{'priorities': 3}",
        SQS_QUEUE: "q",
        SQS_DLQ: "d",
      }).priorities,
    ).toBe(3);
    expect(() =>
      readTaskQueueEnv({
        TASK_QUEUE_SERVICE: "PrioritySQS",
        TASK_QUEUE_CONFIG: "priorities=3",
        SQS_QUEUE: "q",
        SQS_DLQ: "d",
      }),
    ).toThrow(/TASK_QUEUE_CONFIG.*must be a JSON object/);
    expect(() =>
      readTaskQueueEnv({
        TASK_QUEUE_SERVICE: "PrioritySQS",
        TASK_QUEUE_CONFIG: '{"priorities": 17}',
        SQS_QUEUE: "q",
        SQS_DLQ: "d",
      }),
    ).toThrow(/priorities = 17 must be an integer 1-16/);
  });

  it("maps STATE_TABLE_CONFIG retries onto the SDK", () => {
    expect(
      readStateTableEnv({
        STATE_TABLE_NAME: "t",
        STATE_TABLE_CONFIG: '{"retries":{"max_attempts":10,"mode":"adaptive"}}',
      }),
    ).toEqual({ tableName: "t", maxAttempts: 10, retryMode: "adaptive" });
    expect(() => readStateTableEnv({})).toThrow(ConfigError);
  });

  it("requires the KMS key for S3 storage and uses REDIS_PASSWORD only without a secret ARN", () => {
    expect(() => readDataPlaneEnv({ GRID_STORAGE_SERVICE: "S3", S3_BUCKET: "b" })).toThrow(/S3_KMS_KEY_ID/);
    const withSecret = readDataPlaneEnv({
      GRID_STORAGE_SERVICE: "REDIS",
      REDIS_URL: "cache.local",
      REDIS_AUTH_SECRET_ARN: "arn:x",
      REDIS_PASSWORD: "p",
    });
    expect(withSecret.redis).toEqual({
      host: "cache.local",
      port: 6379,
      tls: true,
      authSecretArn: "arn:x",
      password: undefined,
    });
    expect(
      readDataPlaneEnv({
        GRID_STORAGE_SERVICE: "REDIS",
        REDIS_URL: "h:7000",
        REDIS_PASSWORD: "p",
        REDIS_TLS: "0",
      }).redis,
    ).toMatchObject({ port: 7000, tls: false, password: "p" });
    expect(() => readDataPlaneEnv({ GRID_STORAGE_SERVICE: "S3 htc-data-bucket-1" })).toThrow(
      /GRID_STORAGE_SERVICE/,
    );
    expect(parseRedisUrl("rediss://host.example:6380")).toEqual({
      host: "host.example",
      port: 6380,
      tls: true,
    });
    expect(parseRedisUrl("redis://127.0.0.1:7001")).toEqual({ host: "127.0.0.1", port: 7001, tls: false });
    expect(parseRedisUrl("cache.local", false)).toEqual({ host: "cache.local", port: 6379, tls: false });
    expect(() => parseRedisUrl("http://x:1")).toThrow(/must be host/);
  });

  it("reads MAX_RETRIES (default 5) and the scaling metric settings", () => {
    expect(readMaxRetries({})).toBe(5);
    expect(() => readMaxRetries({ MAX_RETRIES: "two" })).toThrow(/MAX_RETRIES/);
    expect(() =>
      readScalingMetricsEnv({
        NAMESPACE: "n",
        DIMENSION_NAME: "d",
        DIMENSION_VALUE: "v",
        METRICS_NAME: "m",
        PERIOD: "5",
      }),
    ).toThrow(/PERIOD/);
  });
});

describe("responses", () => {
  it("answers 200 with a JSON body and errors with the plain message, each labelled with its content type", () => {
    expect(ok({ session_id: "s", task_ids: [] })).toEqual({
      statusCode: 200,
      headers: { "Content-Type": "application/json" },
      body: '{"session_id":"s","task_ids":[]}',
    });
    expect(fail(SUBMIT_ERROR_STATUS, "bad")).toEqual({
      statusCode: 543,
      headers: { "Content-Type": "text/plain; charset=utf-8" },
      body: "bad",
    });
    expect(QUERY_ERROR_STATUS).toBe(542);
  });
});

describe("queue batching", () => {
  it("packs at most 10 messages and 256 KiB per batch", () => {
    const small = Array.from({ length: 25 }, (_, i) => ({ id: `t_${i}`, body: "x" }));
    expect(packBatches(small).map((b) => b.length)).toEqual([10, 10, 5]);
    const big = Array.from({ length: 5 }, (_, i) => ({ id: `t_${i}`, body: "x".repeat(100 * 1024) }));
    expect(packBatches(big).map((b) => b.length)).toEqual([2, 2, 1]);
  });
});

describe("S3 uploads", () => {
  it("use SSE-KMS with the grid key and never AES256 (upstream defect 6)", async () => {
    const sent: unknown[] = [];
    const fakeS3 = { send: async (command: unknown) => void sent.push(command) } as unknown as S3Client;
    await new S3DataPlane(fakeS3, "bucket", "arn:aws:kms:eu-west-1:1:key/k").put("t_0-output", "b64");
    const command = sent[0] as PutObjectCommand;
    expect(command).toBeInstanceOf(PutObjectCommand);
    expect(command.input).toMatchObject({
      Bucket: "bucket",
      Key: "t_0-output",
      ServerSideEncryption: "aws:kms",
      SSEKMSKeyId: "arn:aws:kms:eu-west-1:1:key/k",
    });
  });
});

describe("Redis AUTH secret", () => {
  it("accepts a raw token or a JSON object with auth_token", async () => {
    expect(tokenFromSecretString("abc!&#$")).toBe("abc!&#$");
    expect(tokenFromSecretString('{"auth_token":"xyz"}')).toBe("xyz");
    expect(() => tokenFromSecretString('{"user":"x"}')).toThrow(/auth_token/);
    const client = {
      send: async () => ({ SecretString: '{"password":"pw"}' }),
    } as unknown as SecretsManagerClient;
    expect(await fetchRedisAuthToken(client, "arn")).toBe("pw");
  });
});
