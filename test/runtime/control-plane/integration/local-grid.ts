// Starts the grid's backing services for real on 127.0.0.1 (runtime/src/local/servers.ts: patched dynalite,
// local-aws-sqs, s3rver, Debian's redis-server, a recorder for CloudWatch, CloudWatch Logs and Secrets Manager),
// creates the table, queues (with DLQs) and bucket like the infrastructure does and returns the environment the
// handlers read. Every test file starts its own grid on free ports.

import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SQSClient,
  type Message,
} from "@aws-sdk/client-sqs";
import { Redis } from "ioredis";
import {
  LOCAL_CREDENTIALS,
  createStateTable,
  localQueueArn,
  startDynamo,
  startRecorder,
  startRedis,
  startS3,
  startSqs,
  type LocalServer,
  type RecordedCall,
} from "../../../../runtime/src/local/servers";

import { requireTool } from "../../../support/tools";

export { freePort, type RecordedCall } from "../../../../runtime/src/local/servers";

export const REGION = "us-east-1";
export const TABLE = "htc_tasks_state_table-test";
export const QUEUE_BASE = "htc_task_queue-test";
export const DLQ_BASE = "htc_task_queue_dlq-test";
export const BUCKET = "htc-data-bucket-test";
export const KMS_KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555";
export const LOG_GROUP = "grid_errors-test";
export const LOG_STREAM = "lambda_errors-test";

export interface LocalGrid {
  /** Environment for the handlers (merge into process.env). */
  readonly env: Record<string, string>;
  readonly ddb: DynamoDBClient;
  readonly sqs: SQSClient;
  readonly s3: S3Client;
  /** Undefined when redis-server is not installed (and CI is unset). */
  readonly redis?: Redis;
  readonly redisUrl?: string;
  /** The redis-server process (fault tests stop and continue it). */
  readonly redisPid?: number;
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
  /** Queue visibility timeout of a received message (seconds). @default 40 (upstream's) */
  readonly visibilityTimeoutSec?: number;
}

/** Starts redis-server on a free port without persistence (tests that need their own instance). */
export async function startRedisServer(requirePass?: string): Promise<LocalServer> {
  return startRedis({ password: requirePass, binary: requireTool("redis-server") });
}

export async function startLocalGrid(options: LocalGridOptions = {}): Promise<LocalGrid> {
  const priorities = options.priorities ?? 1;
  const maxReceiveCount = options.maxReceiveCount ?? 10;
  const credentials = LOCAL_CREDENTIALS;
  const dynamo = await startDynamo();
  const dlqs = Array.from({ length: priorities }, (_, p) => ({ name: `${DLQ_BASE}__${p}` }));
  const queues = Array.from({ length: priorities }, (_, p) => ({
    name: `${QUEUE_BASE}__${p}`,
    attributes: {
      VisibilityTimeout: String(options.visibilityTimeoutSec ?? 40),
      RedrivePolicy: JSON.stringify({
        deadLetterTargetArn: localQueueArn(REGION, `${DLQ_BASE}__${p}`),
        maxReceiveCount,
      }),
    },
  }));
  const sqsServer = await startSqs([...dlqs, ...queues], REGION);
  const s3Server = await startS3([BUCKET]);
  const recorder = await startRecorder();
  const recorded = recorder.calls;

  let redisServer: LocalServer | undefined;
  let redis: Redis | undefined;
  let redisUrl: string | undefined;
  if (options.withRedis) {
    // Debian's redis-server, which `npm test` installs first; a missing one fails with the command that installs it.
    redisServer = await startRedis({ binary: requireTool("redis-server") });
    redisUrl = `127.0.0.1:${redisServer.port}`;
    redis = new Redis({ host: "127.0.0.1", port: redisServer.port, maxRetriesPerRequest: 1 });
  }

  const ddb = new DynamoDBClient({ region: REGION, endpoint: dynamo.endpoint, credentials });
  const sqs = new SQSClient({ region: REGION, endpoint: sqsServer.endpoint, credentials });
  const s3 = new S3Client({
    region: REGION,
    endpoint: s3Server.endpoint,
    credentials,
    forcePathStyle: true,
    requestChecksumCalculation: "WHEN_REQUIRED",
  });
  await createStateTable(ddb, TABLE);

  const env: Record<string, string> = {
    AWS_ACCESS_KEY_ID: "S3RVER",
    AWS_SECRET_ACCESS_KEY: "S3RVER",
    AWS_REGION: REGION,
    REGION,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ENDPOINT_URL_SQS: sqsServer.endpoint,
    AWS_ENDPOINT_URL_S3: s3Server.endpoint,
    AWS_ENDPOINT_URL_CLOUDWATCH: recorder.endpoint,
    AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: recorder.endpoint,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: recorder.endpoint,
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
    redisPid: redisServer?.pid,
    recorded,
    setThrottledRequests: (sum) => recorder.setThrottledRequests(sum),
    setSecretString: (value) => recorder.setSecretString(value),
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
      await Promise.all([
        dynamo.stop(),
        sqsServer.stop(),
        recorder.stop(),
        s3Server.stop(),
        redisServer?.stop(),
      ]);
    },
  };
}
