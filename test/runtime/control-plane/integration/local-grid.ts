// Starts the grid's backing services for real on 127.0.0.1 (dynalite, local-aws-sqs, s3rver,
// Debian's redis-server) plus a small recorder speaking the AWS JSON protocol for CloudWatch,
// CloudWatch Logs and Secrets Manager, which have no local emulator here. Creates the table,
// queues (with DLQs) and bucket like the infrastructure does and returns the environment the
// handlers read. Every test file starts its own grid on free ports. (s3rver only accepts the
// S3RVER/S3RVER key pair, so every client uses it.)

// The typings of dynalite/s3rver must come along into any program that imports this file (the
// benchmark is compiled by the root tsconfig, which does not include test/).
// eslint-disable-next-line @typescript-eslint/triple-slash-reference
/// <reference path="./local-servers.d.ts" />
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SQSClient,
  type Message,
} from "@aws-sdk/client-sqs";
import dynalite from "dynalite";
import { createSqsServer } from "local-aws-sqs";
import S3rver from "s3rver";
import { Redis } from "ioredis";
import { requireTool } from "../../../support/tools";

export const REGION = "us-east-1";
export const TABLE = "htc_tasks_state_table-test";
export const QUEUE_BASE = "htc_task_queue-test";
export const DLQ_BASE = "htc_task_queue_dlq-test";
export const BUCKET = "htc-data-bucket-test";
export const KMS_KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555";
export const LOG_GROUP = "grid_errors-test";
export const LOG_STREAM = "lambda_errors-test";

export interface RecordedCall {
  readonly target: string;
  readonly body: Record<string, unknown>;
}

export interface LocalGrid {
  /** Environment for the handlers (merge into process.env). */
  readonly env: Record<string, string>;
  readonly ddb: DynamoDBClient;
  readonly sqs: SQSClient;
  readonly s3: S3Client;
  /** Undefined when redis-server is not installed (and CI is unset). */
  readonly redis?: Redis;
  readonly redisUrl?: string;
  /** CloudWatch / CloudWatch Logs JSON calls received by the recorder. */
  readonly recorded: RecordedCall[];
  /** Sum returned for GetMetricStatistics (DynamoDB ThrottledRequests). */
  setThrottledRequests(sum: number): void;
  /** SecretString returned for Secrets Manager GetSecretValue (AWS_ENDPOINT_URL_SECRETS_MANAGER). */
  setSecretString(value: string): void;
  queueUrl(priority: number, dlq?: boolean): Promise<string>;
  /** Receives every currently visible message of a queue (visibility timeout `hideSec`). */
  drain(priority: number, options?: { dlq?: boolean; hideSec?: number }): Promise<Message[]>;
  /**
   * Messages in a queue per ApproximateNumberOfMessages. local-aws-sqs counts in-flight messages
   * there too (real SQS does not), so tests delete what they drained with `purge`.
   */
  visibleCount(priority: number, dlq?: boolean): Promise<number>;
  /** Receives and deletes every visible message of a queue. */
  purge(priority: number, dlq?: boolean): Promise<void>;
  stop(): Promise<void>;
}

export interface LocalGridOptions {
  readonly priorities?: number;
  /** SQS redrive maxReceiveCount (infra sets it > MAX_RETRIES + 1). */
  readonly maxReceiveCount?: number;
  readonly withRedis?: boolean;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  });
}

/** Starts redis-server on a free port without persistence; resolves once it accepts connections. */
export async function startRedisServer(
  requirePass?: string,
): Promise<{ port: number; process: ChildProcess }> {
  const port = await freePort();
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
  if (requirePass) args.push("--requirepass", requirePass);
  // Debian's redis-server, which `npm test` installs first; a missing one fails with the command that installs it.
  const child = spawn(requireTool("redis-server"), args, { stdio: ["ignore", "pipe", "pipe"] });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("redis-server did not start within 10 s")), 10_000);
    child.stdout?.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("Ready to accept connections")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}`));
    });
  });
  return { port, process: child };
}

/** Stops a redis-server started by startRedisServer and waits for it to exit. */
export async function stopRedisServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
}

export async function startLocalGrid(options: LocalGridOptions = {}): Promise<LocalGrid> {
  const priorities = options.priorities ?? 1;
  const maxReceiveCount = options.maxReceiveCount ?? 10;
  const credentials = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

  const dynamo = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const ddbPort = await listen(dynamo);

  const sqsPort = await freePort();
  const dlqs = Array.from({ length: priorities }, (_, p) => ({ QueueName: `${DLQ_BASE}__${p}` }));
  const queues = Array.from({ length: priorities }, (_, p) => ({
    QueueName: `${QUEUE_BASE}__${p}`,
    Attributes: {
      VisibilityTimeout: "40",
      RedrivePolicy: JSON.stringify({
        deadLetterTargetArn: `arn:aws:sqs:${REGION}:123456789012:${DLQ_BASE}__${p}`,
        maxReceiveCount,
      }),
    },
  }));
  const sqsServer = await createSqsServer({
    port: sqsPort,
    hostname: "127.0.0.1",
    region: REGION,
    queues: [...dlqs, ...queues],
  });

  const s3Dir = mkdtempSync(join(tmpdir(), "htc-s3rver-"));
  const s3Port = await freePort();
  const s3rver = new S3rver({
    address: "127.0.0.1",
    port: s3Port,
    silent: true,
    directory: s3Dir,
    configureBuckets: [{ name: BUCKET }],
  });
  await s3rver.run();

  const recorded: RecordedCall[] = [];
  let throttled = 0;
  let secretString = "";
  const recorder = createServer((req, res) => {
    void readBody(req).then((text) => {
      const target = String(req.headers["x-amz-target"] ?? "");
      recorded.push({ target, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} });
      let reply: unknown = {};
      if (target.endsWith(".GetSecretValue"))
        reply = {
          ARN: String(recorded.at(-1)?.body.SecretId),
          Name: "redis-auth",
          SecretString: secretString,
        };
      else if (target.endsWith(".GetMetricStatistics"))
        reply = {
          Label: "ThrottledRequests",
          Datapoints: [{ Timestamp: Math.floor(Date.now() / 1000), Sum: throttled, Unit: "Count" }],
        };
      res.writeHead(200, {
        "content-type": target.startsWith("Logs_")
          ? "application/x-amz-json-1.1"
          : "application/x-amz-json-1.0",
      });
      res.end(JSON.stringify(reply));
    });
  });
  const recorderPort = await listen(recorder);

  let redisProcess: ChildProcess | undefined;
  let redis: Redis | undefined;
  let redisUrl: string | undefined;
  if (options.withRedis) {
    const started = await startRedisServer();
    redisProcess = started.process;
    redisUrl = `127.0.0.1:${started.port}`;
    redis = new Redis({ host: "127.0.0.1", port: started.port, maxRetriesPerRequest: 1 });
  }

  const endpoint = (port: number): string => `http://127.0.0.1:${port}`;
  const ddb = new DynamoDBClient({ region: REGION, endpoint: endpoint(ddbPort), credentials });
  const sqs = new SQSClient({ region: REGION, endpoint: endpoint(sqsPort), credentials });
  const s3 = new S3Client({
    region: REGION,
    endpoint: endpoint(s3Port),
    credentials,
    forcePathStyle: true,
    requestChecksumCalculation: "WHEN_REQUIRED",
  });

  const projection = (attrs: string[]) => ({ ProjectionType: "INCLUDE" as const, NonKeyAttributes: attrs });
  await ddb.send(
    new CreateTableCommand({
      TableName: TABLE,
      AttributeDefinitions: [
        { AttributeName: "task_id", AttributeType: "S" },
        { AttributeName: "session_id", AttributeType: "S" },
        { AttributeName: "task_status", AttributeType: "S" },
        { AttributeName: "heartbeat_expiration_timestamp", AttributeType: "N" },
      ],
      KeySchema: [{ AttributeName: "task_id", KeyType: "HASH" }],
      BillingMode: "PAY_PER_REQUEST",
      GlobalSecondaryIndexes: [
        {
          IndexName: "gsi_ttl_index",
          KeySchema: [
            { AttributeName: "task_status", KeyType: "HASH" },
            { AttributeName: "heartbeat_expiration_timestamp", KeyType: "RANGE" },
          ],
          Projection: projection(["task_id", "task_owner", "task_priority"]),
        },
        {
          IndexName: "gsi_session_index",
          KeySchema: [
            { AttributeName: "session_id", KeyType: "HASH" },
            { AttributeName: "task_status", KeyType: "RANGE" },
          ],
          Projection: projection(["task_id"]),
        },
      ],
    }),
  );

  const env: Record<string, string> = {
    AWS_ACCESS_KEY_ID: "S3RVER",
    AWS_SECRET_ACCESS_KEY: "S3RVER",
    AWS_REGION: REGION,
    REGION,
    AWS_ENDPOINT_URL_DYNAMODB: endpoint(ddbPort),
    AWS_ENDPOINT_URL_SQS: endpoint(sqsPort),
    AWS_ENDPOINT_URL_S3: endpoint(s3Port),
    AWS_ENDPOINT_URL_CLOUDWATCH: endpoint(recorderPort),
    AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: endpoint(recorderPort),
    AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoint(recorderPort),
    S3_FORCE_PATH_STYLE: "1",
    STATE_TABLE_NAME: TABLE,
    STATE_TABLE_CONFIG: '{"retries":{"max_attempts":3,"mode":"standard"}}',
    TASK_QUEUE_SERVICE: priorities > 1 ? "PrioritySQS" : "SQS",
    TASK_QUEUE_CONFIG: JSON.stringify({ priorities }),
    SQS_QUEUE: QUEUE_BASE,
    SQS_DLQ: DLQ_BASE,
    GRID_STORAGE_SERVICE: "S3",
    S3_BUCKET: BUCKET,
    S3_KMS_KEY_ID: KMS_KEY_ARN,
    REDIS_TLS: "0",
    ERROR_LOG_GROUP: LOG_GROUP,
    ERROR_LOGGING_STREAM: LOG_STREAM,
    TASK_INPUT_PASSED_VIA_EXTERNAL_STORAGE: "1",
    MAX_RETRIES: "2",
    NAMESPACE: "CloudGrid/HTC/Scaling/",
    DIMENSION_NAME: "cluster_name",
    DIMENSION_VALUE: "htc-test",
    METRICS_NAME: "pending_tasks_ddb-test",
    PERIOD: "1",
    ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
  };

  const urls = new Map<string, string>();
  const queueUrl = async (priority: number, dlq = false): Promise<string> => {
    const name = `${dlq ? DLQ_BASE : QUEUE_BASE}__${priority}`;
    if (!urls.has(name))
      urls.set(name, (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl ?? "");
    return urls.get(name) ?? "";
  };

  return {
    env,
    ddb,
    sqs,
    s3,
    redis,
    redisUrl,
    recorded,
    setThrottledRequests: (sum) => (throttled = sum),
    setSecretString: (value) => (secretString = value),
    queueUrl,
    async drain(priority, opts = {}) {
      const url = await queueUrl(priority, opts.dlq);
      const all: Message[] = [];
      for (;;) {
        const out = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: url,
            MaxNumberOfMessages: 10,
            VisibilityTimeout: opts.hideSec ?? 30,
            MessageAttributeNames: ["All"],
            MessageSystemAttributeNames: ["ApproximateReceiveCount"],
          }),
        );
        if (!out.Messages || out.Messages.length === 0) return all;
        all.push(...out.Messages);
      }
    },
    async visibleCount(priority, dlq = false) {
      const out = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: await queueUrl(priority, dlq),
          AttributeNames: ["ApproximateNumberOfMessages"],
        }),
      );
      return Number(out.Attributes?.ApproximateNumberOfMessages ?? "0");
    },
    async purge(priority, dlq = false) {
      const url = await queueUrl(priority, dlq);
      for (;;) {
        const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10 }));
        if (!out.Messages?.length) return;
        await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: url,
            Entries: out.Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
          }),
        );
      }
    },
    async stop() {
      ddb.destroy();
      sqs.destroy();
      s3.destroy();
      if (redis) redis.disconnect();
      if (redisProcess) await stopRedisServer(redisProcess);
      await Promise.all([closeServer(dynamo), closeServer(sqsServer), closeServer(recorder), s3rver.close()]);
      rmSync(s3Dir, { recursive: true, force: true });
    },
  };
}
