// A grid on local servers with real agent processes: the agent, worker host and sample workers are bundled the
// way they ship (esbuild, cached) and run as separate Node processes; submissions go through the real
// submit_tasks code, retries through the real TTL checker, and every AWS call of the agents passes through
// counting proxies (which can also drop responses).

import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetItemCommand } from "@aws-sdk/client-dynamodb";
import { DeleteMessageBatchCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import {
  inputKey,
  outputKey,
  errorKey,
  fromBase64,
  payloadKey,
  stateOf,
  toBase64,
  type AgentConfigDocument,
  type GridStorageService,
  type TaskRow,
} from "../../../runtime/src/contract";
import { openDataPlane, type DataPlaneHandle } from "../../../runtime/src/aws/data-plane";
import { ErrorLogger } from "../../../runtime/src/aws/error-log";
import { StateTable, itemToRow } from "../../../runtime/src/aws/state-table";
import { TaskQueue } from "../../../runtime/src/aws/task-queue";
import { submitTasks } from "../../../runtime/src/control-plane/handlers/submit-tasks";
import { checkTtl, type TtlSummary } from "../../../runtime/src/control-plane/handlers/ttl-checker";
import { localAgentConfig } from "../../../runtime/src/local/agent-config";
import { startAwsProxy, type AwsProxy } from "../../../runtime/src/local/proxy";
import { LOCAL_CREDENTIALS } from "../../../runtime/src/local/servers";
import { bundleRuntime } from "../../../modules/runtime-bundle/bundle";
import { b64, newSessionId } from "../control-plane/integration/fixtures";
import {
  BUCKET,
  DLQ_BASE,
  KMS_KEY_ARN,
  LOG_GROUP,
  LOG_STREAM,
  QUEUE_BASE,
  REGION,
  TABLE,
  startLocalGrid,
  type LocalGrid,
} from "../control-plane/integration/local-grid";

export interface HarnessOptions {
  readonly storage?: GridStorageService;
  readonly priorities?: number;
  /** 1: inputs in the data plane (default); 0: inline task definitions. */
  readonly externalStorage?: 0 | 1;
  /** TTL checker retry limit. */
  readonly maxRetries?: number;
  readonly tuning?: Parameters<typeof localAgentConfig>[0]["tuning"];
  /** Document written for the agents (default: localAgentConfig of this grid). */
  readonly config?: (grid: LocalGrid, base: AgentConfigDocument) => Record<string, unknown>;
}

export interface AgentProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly output: () => string;
  /** Resolves with the exit code (or the signal name). */
  readonly exited: Promise<number | string>;
}

export interface SpawnOptions {
  /** Worker code: a folder or zip (default: the mock compute engine bundle). */
  readonly workerCode?: string;
  readonly handler?: string;
  readonly timeoutSec?: number;
  readonly env?: Record<string, string>;
  /** The agent script to run (default: the agent bundle built here). */
  readonly agentScript?: string;
}

export interface Harness {
  readonly grid: LocalGrid;
  readonly dir: string;
  readonly configPath: string;
  readonly proxies: { readonly dynamodb: AwsProxy; readonly sqs: AwsProxy; readonly s3: AwsProxy };
  readonly bundles: {
    readonly agent: string;
    readonly workerHost: string;
    readonly mock: string;
    readonly monteCarlo: string;
  };
  readonly dataPlane: DataPlaneHandle["dataPlane"];
  spawnAgent(name: string, options?: SpawnOptions): AgentProcess;
  /** Submits one session through submit_tasks; returns its id and task ids. */
  submit(
    tasks: readonly unknown[],
    options?: { priority?: number; inputs?: "store" | "skip"; inlineOutputs?: boolean },
  ): Promise<{ sessionId: string; taskIds: string[] }>;
  row(taskId: string): Promise<TaskRow | undefined>;
  rows(taskIds: readonly string[]): Promise<TaskRow[]>;
  /** The decoded output (or error) text of a task, or undefined. */
  output(taskId: string, kind?: "output" | "error"): Promise<string | undefined>;
  ttl(): Promise<TtlSummary>;
  /** Waits until `check` is true (polling), failing with `what` after `timeoutMs`. */
  waitFor(what: string, check: () => Promise<boolean>, timeoutMs?: number): Promise<void>;
  /** Receives and deletes everything left in a queue (or its DLQ); returns the bodies. */
  drain(priority: number, dlq?: boolean): Promise<string[]>;
  stop(): Promise<void>;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const storage = options.storage ?? "S3";
  const priorities = options.priorities ?? 1;
  // A short queue visibility: a message handed to a long poll whose agent was killed comes back within 10 s.
  const grid = await startLocalGrid({
    priorities,
    withRedis: storage !== "S3",
    maxReceiveCount: 10,
    visibilityTimeoutSec: 10,
  });
  const dir = mkdtempSync(join(tmpdir(), "htc-agent-test-"));
  const bundle = (name: Parameters<typeof bundleRuntime>[0]) => {
    const out = join(dir, "bundles", name);
    mkdirSync(out, { recursive: true });
    bundleRuntime(name, out);
    return out;
  };
  const bundles = {
    agent: join(bundle("agent"), "index.js"),
    workerHost: join(bundle("worker-host"), "index.js"),
    mock: bundle("mock-compute-engine"),
    monteCarlo: bundle("monte-carlo"),
  };
  // The agents' requests are signature-checked as AWS checks them: a refusal fails the agent's call.
  const signed = (service: string) => ({
    signatures: { region: REGION, services: [service], credentials: [LOCAL_CREDENTIALS] },
  });
  const proxies = {
    dynamodb: await startAwsProxy("dynamodb", grid.env.AWS_ENDPOINT_URL_DYNAMODB, 0, signed("dynamodb")),
    sqs: await startAwsProxy("sqs", grid.env.AWS_ENDPOINT_URL_SQS, 0, signed("sqs")),
    s3: await startAwsProxy("s3", grid.env.AWS_ENDPOINT_URL_S3, 0, signed("s3")),
  };
  const externalStorage = options.externalStorage ?? 1;
  const base = localAgentConfig({
    region: REGION,
    stateTable: TABLE,
    queueBase: QUEUE_BASE,
    dlqBase: DLQ_BASE,
    taskQueueService: priorities > 1 ? "PrioritySQS" : "SQS",
    priorities,
    storage,
    bucket: BUCKET,
    kmsKeyArn: KMS_KEY_ARN,
    redisUrl: grid.redisUrl ? `redis://${grid.redisUrl}` : undefined,
    errorLogGroup: LOG_GROUP,
    errorLogStream: LOG_STREAM,
    externalStorage,
    tuning: { task_ttl_expiration_offset_sec: 4, task_ttl_refresh_interval_sec: 1, ...options.tuning },
  });
  const configPath = join(dir, "Agent_config.tfvars.json");
  writeFileSync(configPath, JSON.stringify(options.config ? options.config(grid, base) : base));

  const data = openDataPlane({
    storage,
    s3: storage === "REDIS" ? undefined : { client: grid.s3, bucket: BUCKET, kmsKeyId: KMS_KEY_ARN },
    redis: grid.redis,
  });
  const logger = new ErrorLogger(undefined, {}, "test");
  const stateTable = new StateTable(grid.ddb, TABLE);
  const taskQueue = new TaskQueue(grid.sqs, {
    service: priorities > 1 ? "PrioritySQS" : "SQS",
    priorities,
    queueBase: QUEUE_BASE,
    dlqBase: DLQ_BASE,
  });
  const agents: AgentProcess[] = [];

  const harness: Harness = {
    grid,
    dir,
    configPath,
    proxies,
    bundles,
    dataPlane: data.dataPlane,
    spawnAgent(name, spawnOptions = {}) {
      const env: Record<string, string> = {
        PATH: process.env.PATH ?? "",
        AWS_ACCESS_KEY_ID: grid.env.AWS_ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY: grid.env.AWS_SECRET_ACCESS_KEY,
        AWS_REGION: REGION,
        AWS_ENDPOINT_URL_DYNAMODB: proxies.dynamodb.endpoint,
        AWS_ENDPOINT_URL_SQS: proxies.sqs.endpoint,
        AWS_ENDPOINT_URL_S3: proxies.s3.endpoint,
        AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: grid.env.AWS_ENDPOINT_URL_CLOUDWATCH_LOGS,
        S3_FORCE_PATH_STYLE: "1",
        NODE_NO_WARNINGS: "1",
        AGENT_CONFIG_FILE: configPath,
        MY_POD_NAME: name,
        HTC_AGENT_LONG_POLL_SEC: "1",
        HTC_WORKER_HOST: bundles.workerHost,
        HTC_WORKER_CODE: spawnOptions.workerCode ?? bundles.mock,
        HTC_WORKER_HANDLER: spawnOptions.handler ?? "index.handler",
        ...(spawnOptions.timeoutSec ? { HTC_WORKER_TIMEOUT_SEC: String(spawnOptions.timeoutSec) } : {}),
        ...spawnOptions.env,
      };
      const child = spawn(process.execPath, [spawnOptions.agentScript ?? bundles.agent], {
        env,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let text = "";
      child.stdout?.on("data", (c: Buffer) => (text += c.toString()));
      child.stderr?.on("data", (c: Buffer) => (text += c.toString()));
      const exited = new Promise<number | string>((resolve) =>
        child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")),
      );
      const agent = { name, child, output: () => text, exited };
      agents.push(agent);
      return agent;
    },
    async submit(tasks, submitOptions = {}) {
      const sessionId = newSessionId();
      const payload: Record<string, unknown> = {
        session_id: sessionId,
        scheduler_data: {
          task_timeout_sec: 3600,
          retry_count: 5,
          ...(submitOptions.inlineOutputs ? { inline_outputs: true } : {}),
        },
        stats: {},
        context: { tasks_priority: submitOptions.priority ?? 0 },
      };
      let content: string;
      if (externalStorage === 1) {
        const ids = tasks.map((_, i) => `${sessionId}_${i}`);
        if (submitOptions.inputs !== "skip") {
          await Promise.all(
            ids.map((id, i) => data.dataPlane.put(inputKey(id), toBase64(JSON.stringify(tasks[i])))),
          );
        }
        payload.tasks_list = { tasks: ids };
        await data.dataPlane.put(payloadKey(sessionId), b64(payload));
        content = sessionId;
      } else {
        payload.tasks_list = { tasks };
        content = b64(payload);
      }
      const response = await submitTasks(
        { queryStringParameters: { submission_content: content } },
        { stateTable, taskQueue, dataPlane: data.dataPlane, externalStorage: externalStorage === 1, logger },
      );
      if (response.statusCode !== 200)
        throw new Error(`submit failed: ${response.statusCode} ${response.body}`);
      const body = JSON.parse(response.body) as { session_id: string; task_ids: string[] };
      return { sessionId: body.session_id, taskIds: body.task_ids };
    },
    async row(taskId) {
      const out = await grid.ddb.send(
        new GetItemCommand({ TableName: TABLE, Key: { task_id: { S: taskId } }, ConsistentRead: true }),
      );
      return out.Item ? itemToRow(out.Item) : undefined;
    },
    async rows(taskIds) {
      const rows = await Promise.all(taskIds.map((id) => harness.row(id)));
      return rows.map((row, i) => {
        if (!row) throw new Error(`no row for ${taskIds[i]}`);
        return row;
      });
    },
    async output(taskId, kind = "output") {
      const stored = await data.dataPlane.get(kind === "output" ? outputKey(taskId) : errorKey(taskId));
      return stored === undefined ? undefined : fromBase64(stored).toString("utf8");
    },
    ttl() {
      return checkTtl({
        stateTable,
        taskQueue,
        maxRetries: options.maxRetries ?? 5,
        logger,
        startPartition: 0,
      });
    },
    async waitFor(what, check, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (!(await check())) {
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    async drain(priority, dlq = false) {
      const url = await grid.queueUrl(priority, dlq);
      const bodies: string[] = [];
      for (;;) {
        const out = await grid.sqs.send(
          new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10 }),
        );
        if (!out.Messages?.length) return bodies;
        bodies.push(...out.Messages.map((m) => m.Body ?? ""));
        await grid.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: url,
            Entries: out.Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
          }),
        );
      }
    },
    async stop() {
      for (const agent of agents)
        if (agent.child.exitCode === null && agent.child.signalCode === null) agent.child.kill("SIGKILL");
      await Promise.all(agents.map((a) => a.exited));
      await data.close().catch(() => undefined);
      await Promise.all(Object.values(proxies).map((p) => p.stop()));
      await grid.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return harness;
}

/** Sends a termination signal and resolves with the exit code. */
export async function stopAgent(
  agent: AgentProcess,
  signal: NodeJS.Signals = "SIGTERM",
): Promise<number | string> {
  agent.child.kill(signal);
  return agent.exited;
}

/**
 * Applied transitions into a final state, per task id, counted from the state-table UpdateItems the agents' proxy
 * answered 200 (so a task finishing twice shows as two entries). Sets the DynamoDB proxy's hook.
 */
export function recordFinals(h: Harness): Map<string, string[]> {
  const finals = new Map<string, string[]>();
  h.proxies.dynamodb.setHook(({ operation, body, status }) => {
    if (operation !== "UpdateItem" || status !== 200) return;
    const input = JSON.parse(body) as {
      Key: { task_id: { S: string } };
      ExpressionAttributeValues?: Record<string, { S?: string }>;
    };
    const to = input.ExpressionAttributeValues?.[":to"]?.S;
    const state = to ? stateOf(to) : undefined;
    if (state === "finished" || state === "failed") {
      const id = input.Key.task_id.S;
      finals.set(id, [...(finals.get(id) ?? []), state]);
    }
  });
  return finals;
}
