// TEST-ONLY STAND-IN FOR THE HTC AGENT. The client's tests need tasks to finish fast, with an echo worker whose
// outputs they can predict; the real agent (runtime/src/agent/) and its faults are tested in test/runtime/agent,
// test/local-grid and test/e2e. This plays the agent's part of the contract and nothing more:
//   receive a task message (highest priority queue first) -> claim the row with the agent's conditional update
//   (status pending<p> AND owner "None" -> processing, owner, heartbeat, receipt handle) -> read the input
//   (`<task_id>-input`, base64 JSON, or the row's inline task_definition) -> run a tiny built-in worker ->
//   write `<task_id>-output` or `<task_id>-error` (base64 text) -> mark the row finished or failed, conditional on
//   still owning it -> delete the message. A message whose claim fails (cancelled task) is deleted. A task whose
//   message says `inline_outputs: 1` has an output of up to MAX_INLINE_OUTPUT_BYTES kept in its row instead, set
//   by the finish (`task_output`).
// The worker: `{"fail": "<message>"}` fails with that message; `{"sleep_ms": n}` waits first; anything else
// answers `{"echo": <input>}`. No heartbeats, no retries, no TTL: the tests that need those use the real pieces.

import { UpdateItemCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  type SQSClient,
  type Message,
} from "@aws-sdk/client-sqs";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { SHARE_ENV, Worker } from "node:worker_threads";
import { buildSync } from "esbuild";
import { findRepoRoot } from "../../../../modules/runtime-bundle/bundle";
import type { DataPlane } from "../../../../runtime/src/aws/data-plane";
import {
  MAX_INLINE_OUTPUT_BYTES,
  errorKey,
  fromBase64,
  inputKey,
  outputKey,
  stateKeyForTask,
  toBase64,
} from "../../../../runtime/src/contract";

export interface StandInAgentOptions {
  readonly sqs: SQSClient;
  readonly ddb: DynamoDBClient;
  readonly tableName: string;
  readonly dataPlane: DataPlane;
  /** Task queue URLs, highest priority first. */
  readonly queueUrls: readonly string[];
  /** Inputs come from `<task_id>-input` (true) or the row's task_definition (false). */
  readonly externalStorage: boolean;
  /** Receive loops running at once. @default 4 */
  readonly loops?: number;
  readonly agentId?: string;
}

/** What a stand-in agent in a worker thread needs: endpoints instead of clients. */
export interface StandInAgentThreadData {
  readonly region: string;
  readonly ddbEndpoint: string;
  readonly sqsEndpoint: string;
  readonly s3Endpoint: string;
  readonly tableName: string;
  readonly bucket: string;
  readonly kmsKeyId: string;
  readonly redis: { readonly host: string; readonly port: number };
  readonly storage: "S3" | "REDIS" | "S3+REDIS";
  readonly queueUrls: readonly string[];
  readonly externalStorage: boolean;
  readonly loops: number;
}

export interface StandInAgent {
  readonly stats: { finished: number; failed: number; skipped: number };
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function work(
  input: unknown,
): Promise<{ output?: string; error?: string }> | { output?: string; error?: string } {
  const task = (typeof input === "object" && input !== null ? input : {}) as {
    fail?: unknown;
    sleep_ms?: unknown;
  };
  const answer = () =>
    typeof task.fail === "string" ? { error: task.fail } : { output: JSON.stringify({ echo: input }) };
  return typeof task.sleep_ms === "number" ? sleep(task.sleep_ms).then(answer) : answer();
}

export function startStandInAgent(options: StandInAgentOptions): StandInAgent {
  const agentId = options.agentId ?? "stand-in-agent";
  const stats = { finished: 0, failed: 0, skipped: 0 };
  let running = true;

  const update = (taskId: string, set: string, condition: string, values: Record<string, string | number>) =>
    options.ddb.send(
      new UpdateItemCommand({
        TableName: options.tableName,
        Key: { task_id: { S: taskId } },
        UpdateExpression: `SET ${set}`,
        ConditionExpression: condition,
        ExpressionAttributeValues: Object.fromEntries(
          Object.entries(values).map(([k, v]) => [k, typeof v === "number" ? { N: String(v) } : { S: v }]),
        ),
      }),
    );

  const conditionFailed = (error: unknown) =>
    (error as { name?: string }).name === "ConditionalCheckFailedException";

  async function handle(message: Message): Promise<void> {
    const body = JSON.parse(message.Body ?? "{}") as {
      task_id: string;
      task_definition?: string;
      inline_outputs?: number;
    };
    const taskId = body.task_id;
    try {
      await update(
        taskId,
        "task_status = :processing, task_owner = :me, heartbeat_expiration_timestamp = :hb, sqs_handler_id = :rh",
        "task_status = :pending AND task_owner = :none",
        {
          ":processing": stateKeyForTask("processing", taskId),
          ":me": agentId,
          ":hb": Math.floor(Date.now() / 1000) + 60,
          ":rh": message.ReceiptHandle ?? "None",
          ":pending": stateKeyForTask("pending", taskId),
          ":none": "None",
        },
      );
    } catch (error) {
      if (!conditionFailed(error)) throw error;
      stats.skipped++;
      return;
    }
    const stored = options.externalStorage
      ? await options.dataPlane.get(inputKey(taskId))
      : toBase64(body.task_definition ?? "null");
    const input = stored === undefined ? null : (JSON.parse(fromBase64(stored).toString("utf8")) as unknown);
    const result = await work(input);
    const output = toBase64(result.output ?? "");
    const inline =
      result.error === undefined && body.inline_outputs === 1 && output.length <= MAX_INLINE_OUTPUT_BYTES;
    if (result.error !== undefined) await options.dataPlane.put(errorKey(taskId), toBase64(result.error));
    else if (!inline) await options.dataPlane.put(outputKey(taskId), output);
    const state = result.error !== undefined ? "failed" : "finished";
    try {
      await update(
        taskId,
        `task_status = :done, task_completion_timestamp = :now${inline ? ", task_output = :output" : ""}`,
        "task_status = :processing AND task_owner = :me",
        {
          ":done": stateKeyForTask(state, taskId),
          ":now": Date.now(),
          ":processing": stateKeyForTask("processing", taskId),
          ":me": agentId,
          ...(inline ? { ":output": output } : {}),
        },
      );
      stats[state]++;
    } catch (error) {
      if (!conditionFailed(error)) throw error;
      stats.skipped++; // cancelled while running
    }
  }

  async function loop(): Promise<void> {
    while (running) {
      // All queues at once (the local SQS server holds an empty receive for 40 ms), highest priority first.
      const received = (
        await Promise.all(
          options.queueUrls.map(async (url) => {
            const out = await options.sqs.send(
              new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 60 }),
            );
            return { url, messages: out.Messages ?? [] };
          }),
        )
      ).filter((r) => r.messages.length > 0);
      if (received.length === 0) {
        await sleep(25);
        continue;
      }
      for (const { url, messages } of received) {
        await Promise.all(messages.map(handle));
        await options.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: url,
            Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
          }),
        );
      }
    }
  }

  const loops = Array.from({ length: options.loops ?? 4 }, () =>
    loop().catch((error: unknown) => {
      running = false;
      throw error;
    }),
  );
  return {
    stats,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

let threadEntry: string | undefined;

/** The stand-in agent in a worker thread (its own core); bundles the thread entry with esbuild once per process. */
export function startStandInAgentThread(data: StandInAgentThreadData): StandInAgent {
  if (!threadEntry) {
    // Inside the repository, so the bundle's require() finds the SDK and ioredis in its node_modules.
    const root = findRepoRoot(__dirname);
    const dir = join(root, "node_modules", ".cache", "htc-test");
    mkdirSync(dir, { recursive: true });
    threadEntry = join(dir, `stand-in-agent-${process.pid}.js`);
    buildSync({
      entryPoints: [join(root, "test", "runtime", "client", "support", "stand-in-agent-thread.ts")],
      bundle: true,
      platform: "node",
      packages: "external",
      outfile: threadEntry,
      logLevel: "warning",
    });
  }
  const worker = new Worker(threadEntry, { workerData: data, env: SHARE_ENV });
  let stats = { finished: 0, failed: 0, skipped: 0 };
  let stopped: Promise<void> | undefined;
  return {
    get stats() {
      return stats;
    },
    stop() {
      stopped ??= new Promise<void>((resolve, reject) => {
        worker.once("message", (message: typeof stats & { error?: string }) => {
          void worker.terminate();
          if (message.error) reject(new Error(message.error));
          else {
            stats = message;
            resolve();
          }
        });
        worker.postMessage("stop");
      });
      return stopped;
    },
  };
}
