// The grid in a box: the whole grid on one machine, from a layout derived from the same grid configuration the
// stacks use (modules/local-grid/layout.ts). Local AWS-compatible servers with the table, queues, DLQs and bucket
// created as Terraform would; the control-plane handlers behind a local API with API Gateway's proxy semantics
// and API-key check; the TTL checker and scaling metrics on schedules; N agent processes, each running its own
// worker host with the chosen worker code. Every AWS request of the handlers, agents and clients passes through a
// counting proxy (with an optional added delay), which also checks that no task reaches a final state twice.

import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from "@aws-sdk/client-sqs";
import {
  LAMBDA_HANDLERS,
  lambdaEnvVars,
  outputKey,
  queueName,
  redisMaxmemoryPolicy,
  stateOf,
  type AgentConfigDocument,
  type GridStorageService,
  type LambdaEnvVar,
  type TaskQueueService,
} from "../contract";
import { localAgentConfig } from "./agent-config";
import { startLocalApiGateway, type LocalApiGateway } from "./api-gateway";
import { startAwsProxy, type AwsProxy, type AwsProxyOptions, type AwsService } from "./proxy";
import { startMemoryS3 } from "./s3";
import {
  LOCAL_CREDENTIALS,
  LOCAL_PROCESS_GROUP,
  createStateTable,
  localQueueArn,
  startDynamo,
  startDynamoProcess,
  startRecorder,
  startRedis,
  startS3,
  startSqs,
  stopProcess,
  type LocalServer,
} from "./servers";

/** Names and settings of one grid, as the stacks would create them (see modules/local-grid/layout.ts). */
export interface LocalGridLayout {
  readonly projectName: string;
  readonly region: string;
  readonly stateTable: string;
  readonly queueBase: string;
  readonly dlqBase: string;
  readonly taskQueueService: TaskQueueService;
  readonly priorities: number;
  /** Queue visibility of a received message (seconds). */
  readonly visibilityTimeoutSec: number;
  /** Redrive to the DLQ after this many receives. */
  readonly maxReceiveCount: number;
  /** TTL checker retry limit. */
  readonly maxRetries: number;
  readonly storage: GridStorageService;
  /** Seconds before task keys expire from Redis (0: never). */
  readonly redisExpirationSec: number;
  readonly bucket: string;
  readonly errorLogGroup: string;
  readonly errorLogStream: string;
  readonly externalStorage: 0 | 1;
  readonly apiStage: string;
  readonly clusterName: string;
  readonly stateTableConfig: string;
  readonly metrics: { readonly namespace: string; readonly dimensionName: string; readonly name: string };
  /** Agent timings from the configuration (seconds). */
  readonly tuning: NonNullable<Parameters<typeof localAgentConfig>[0]["tuning"]>;
}

export interface LocalGridOptions {
  readonly layout: LocalGridLayout;
  /** Agent processes to start. */
  readonly agents: number;
  /** Bundled agent (`index.js`) and worker host scripts. */
  readonly agentScript: string;
  readonly workerHostScript: string;
  /**
   * Bundled `local-dynamodb` script: DynamoDB (dynalite) then runs in a process of its own, off this process's
   * event loop, as the real service is off the grid's machines. Without it, dynalite runs in this process.
   */
  readonly dynamoScript?: string;
  /** Worker code (zip or folder) and its handler. */
  readonly workerCode: string;
  readonly workerHandler: string;
  /** Per-invocation timeout of the worker (seconds). */
  readonly workerTimeoutSec?: number;
  /** Where the client configuration and logs go. */
  readonly dir: string;
  /** Port of the local API (0: a free one). */
  readonly apiPort?: number;
  /** Milliseconds added to every AWS request (stands for the network). */
  readonly delayMs?: number;
  /** Seconds between TTL checker runs. @default 5 */
  readonly ttlIntervalSec?: number;
  /** Seconds between scaling-metric runs. @default 60 */
  readonly metricsIntervalSec?: number;
  /** The S3 server: the in-memory one (default) or s3rver. */
  readonly s3?: "memory" | "s3rver";
  /**
   * Start an agent again after its process exits, as the kubelet restarts a pod's container: after 1 s, doubling
   * up to 30 s for an agent that keeps exiting within a minute of its start. @default false (the benchmark wants
   * an exit to end the run)
   */
  readonly restartAgents?: boolean;
  /** Where agent output goes. @default a log file per agent in `dir` */
  readonly agentOutput?: "files" | "inherit" | "ignore";
  /**
   * Check every AWS request's SigV4 signature as AWS does, and refuse the ones AWS would refuse. @default true (the
   * benchmark turns it off: AWS checks signatures on its own machines, not the grid's)
   */
  readonly checkSignatures?: boolean;
}

export interface LocalAgent {
  readonly name: string;
  /** The agent's current process (a new one after each restart). */
  readonly child: ChildProcess;
  /** How its first process ended (exit code or signal). */
  readonly exited: Promise<number | string>;
  /** Times it was started again after its process exited (restartAgents). */
  readonly restarts: number;
}

/** Delay before an exited agent is started again: 1 s, doubling to 30 s while it keeps exiting. */
export const AGENT_RESTART_DELAY_MS = { first: 1_000, max: 30_000 } as const;
/** An agent that ran this long before exiting is restarted after the first delay again. */
const AGENT_RESTART_RESET_MS = 60_000;

/**
 * One task's way from its claim to its final state, as the proxies saw it (ms, performance.now()): the claim's answer,
 * the output write's arrival and answer (S3 data planes), and the final transition's arrival and answer.
 */
export interface TaskTimes {
  claimed?: number;
  outputSent?: number;
  outputWritten?: number;
  endSent?: number;
  ended?: number;
}

/** Refused requests `startGrid` reports on stderr before it only counts them. */
const MAX_REPORTED_REJECTIONS = 20;

/** What outputKey() appends to a task id. */
const OUTPUT_SUFFIX = outputKey("");

export interface LocalGridStatus {
  readonly agentsAlive: number;
  readonly agents: number;
  /** Agent processes started again after they exited (restartAgents). */
  readonly agentRestarts: number;
  /** Messages waiting (ApproximateNumberOfMessages summed over the priority queues). */
  readonly queued: number;
  /** Tasks that reached finished / failed / cancelled since start. */
  readonly finished: number;
  readonly failed: number;
  readonly cancelled: number;
  /** Tasks that reached a final state more than once (must stay 0). */
  readonly duplicateFinals: number;
  /** AWS requests refused for their signature (must stay 0; each is also reported on stderr). */
  readonly badSignatures: number;
}

export interface LocalGrid {
  readonly apiUrl: string;
  readonly apiKey: string;
  /** The agent configuration document clients read (AGENT_CONFIG_FILE). */
  readonly configPath: string;
  readonly config: AgentConfigDocument;
  /** Environment a client process needs to reach the local servers (endpoints, credentials). */
  readonly clientEnv: Record<string, string>;
  /** The client configuration file (`{config, env}`) `htc --local` reads. */
  readonly clientFile: string;
  readonly agents: LocalAgent[];
  /** Processes of the local servers that run in their own (DynamoDB with `dynamoScript`, redis-server). */
  readonly serverPids: number[];
  /**
   * Resolves with one line naming the server, if a local server in a process of its own (DynamoDB with
   * `dynamoScript`, redis-server) exits while the grid runs: the state it held is gone, so the grid cannot go on.
   */
  readonly serverLost: Promise<string>;
  readonly proxies: Record<AwsService, AwsProxy | undefined>;
  readonly endpoints: Record<string, string>;
  /** Applied final transitions per task (for tests and the exactly-once check). */
  readonly finals: Map<string, string[]>;
  /** When each task's last claim and its final transition were applied (ms, performance.now()), and its steps between. */
  readonly taskTimes: Map<string, TaskTimes>;
  /**
   * AWS billing units since start (or the last reset) by `<service>:<operation>`: requests counted at the proxies,
   * items for DynamoDB batch writes, and `apigateway` / `lambda` for the local API's invocations.
   */
  usage(): Map<string, number>;
  /**
   * AWS requests since start (or the last reset) by `<service>:<operation>`, as counted at the proxies (a DynamoDB
   * batch write is one request however many items it carries), plus `apigateway` for the local API's calls.
   */
  requests(): Map<string, number>;
  /** Mean time the local server took per request since start (or the last reset), by `<service>:<operation>` (ms). */
  serverMs(): Map<string, number>;
  resetUsage(): void;
  status(): Promise<LocalGridStatus>;
  setDelayMs(ms: number): void;
  stop(): Promise<void>;
}

/**
 * Runs `run` every `seconds` (never two at once), as EventBridge schedules the Lambdas. `stop()` waits for a run in
 * flight, so the grid stops its servers only after the run is done (it would otherwise fail against them), but not
 * longer than `graceMs`: a run against a server that died (each request retried, then the next partition's) would
 * hold the grid's stop for minutes.
 */
export function scheduleEvery(
  seconds: number,
  run: () => Promise<unknown>,
  graceMs = 5_000,
): { stop(): Promise<void> } {
  let inFlight: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (inFlight) return;
    inFlight = run()
      .then(
        () => undefined,
        (error: unknown) => console.error(`local grid: scheduled run failed: ${String(error)}`),
      )
      .finally(() => (inFlight = undefined));
  }, seconds * 1000);
  return {
    async stop() {
      clearInterval(timer);
      let grace: NodeJS.Timeout | undefined;
      await Promise.race([inFlight, new Promise((resolve) => (grace = setTimeout(resolve, graceMs)))]);
      clearTimeout(grace);
    },
  };
}

/** Name of the client configuration file `npm run local` writes in its directory. */
export const LOCAL_CLIENT_FILE = "client.json";

/**
 * A folder for NODE_PATH holding only `@aws-sdk` (a link to this project's AWS SDK for JavaScript v3): Lambda's
 * Node.js runtime has the SDK on its module path, so worker code may require or import it unbundled; here the clients
 * this project installs (S3, DynamoDB, SQS, CloudWatch, CloudWatch Logs, Secrets Manager) resolve, and nothing else of
 * this project's node_modules does, as nothing else would in a pod. It is `worker-modules/node_modules`: the worker
 * host's runtime searches NODE_PATH for import() only in folders of that name (runner.ts).
 */
function awsSdkForWorkers(dir: string): string {
  rmSync(join(dir, "worker-modules"), { recursive: true, force: true });
  const folder = join(dir, "worker-modules", "node_modules");
  mkdirSync(folder, { recursive: true });
  let sdk = dirname(require.resolve("@aws-sdk/client-s3"));
  while (basename(sdk) !== "@aws-sdk" && dirname(sdk) !== sdk) sdk = dirname(sdk);
  symlinkSync(sdk, join(folder, "@aws-sdk"), "dir");
  return folder;
}

export async function startGrid(options: LocalGridOptions): Promise<LocalGrid> {
  const { layout } = options;
  const started: { stop(): Promise<void> }[] = [];
  const stopAll = async () => {
    for (const item of started.reverse()) await item.stop().catch(() => undefined);
  };
  try {
    return await start(options, layout, started, stopAll);
  } catch (error) {
    await stopAll();
    throw error;
  }
}

async function start(
  options: LocalGridOptions,
  layout: LocalGridLayout,
  started: { stop(): Promise<void> }[],
  stopAll: () => Promise<void>,
): Promise<LocalGrid> {
  mkdirSync(options.dir, { recursive: true });
  const track = <T extends { stop(): Promise<void> }>(item: T): T => {
    started.push(item);
    return item;
  };

  // --- Servers and the resources Terraform would create ---------------------------------------------------
  const dynamo = track(
    options.dynamoScript ? await startDynamoProcess(options.dynamoScript) : await startDynamo(),
  );
  const queues = [];
  for (let p = 0; p < layout.priorities; p++) {
    queues.push({ name: queueName(layout.dlqBase, p) });
    queues.push({
      name: queueName(layout.queueBase, p),
      attributes: {
        VisibilityTimeout: String(layout.visibilityTimeoutSec),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: localQueueArn(layout.region, queueName(layout.dlqBase, p)),
          maxReceiveCount: layout.maxReceiveCount,
        }),
      },
    });
  }
  const sqsServer = track(await startSqs(queues, layout.region));
  // The in-memory S3 enforces the data bucket's SSE-KMS policy and is answered in this process, without a second
  // loopback HTTP hop; s3rver (the tests' other S3) stores files and is reached over HTTP.
  const s3Target =
    options.s3 === "s3rver"
      ? track(await startS3([layout.bucket])).endpoint
      : track(await startMemoryS3([{ name: layout.bucket, requireKmsKey: localKmsKeyArn(layout.region) }]))
          .dispatch;
  const recorder = track(await startRecorder());
  let redisServer: LocalServer | undefined;
  if (layout.storage !== "S3")
    redisServer = track(await startRedis({ maxmemoryPolicy: redisMaxmemoryPolicy(layout.storage) }));

  const direct = new DynamoDBClient({
    region: layout.region,
    endpoint: dynamo.endpoint,
    credentials: LOCAL_CREDENTIALS,
  });
  await createStateTable(direct, layout.stateTable);
  direct.destroy();

  // --- Proxies every AWS request goes through --------------------------------------------------------------
  let reportedRejections = 0;
  const proxyOptions = (services: string[]): AwsProxyOptions =>
    options.checkSignatures === false
      ? {}
      : {
          signatures: { region: layout.region, services, credentials: [LOCAL_CREDENTIALS] },
          onRejected: (operation, userAgent, reason) => {
            // One line each, up to a limit: a client that signs wrongly sends many.
            if (++reportedRejections > MAX_REPORTED_REJECTIONS) return;
            console.error(
              `local grid: refused ${operation} (${userAgent.split(" ")[0] || "no user-agent"}): ${reason}` +
                (reportedRejections === MAX_REPORTED_REJECTIONS
                  ? " (further refusals are only counted)"
                  : ""),
            );
          },
        };
  const proxies: Record<AwsService, AwsProxy | undefined> = {
    dynamodb: track(
      await startAwsProxy("dynamodb", dynamo.endpoint, options.delayMs, proxyOptions(["dynamodb"])),
    ),
    sqs: track(await startAwsProxy("sqs", sqsServer.endpoint, options.delayMs, proxyOptions(["sqs"]))),
    s3: track(await startAwsProxy("s3", s3Target, options.delayMs, proxyOptions(["s3"]))),
    cloudwatch: track(
      await startAwsProxy(
        "cloudwatch",
        recorder.endpoint,
        options.delayMs,
        proxyOptions(["monitoring", "logs", "secretsmanager"]),
      ),
    ),
    logs: undefined,
    secretsmanager: undefined,
  };
  const finals = new Map<string, string[]>();
  const counts = { finished: 0, failed: 0, cancelled: 0, duplicateFinals: 0 };
  let batchWriteItems = 0;
  let batchGetItems = 0;
  const taskTimes = new Map<string, TaskTimes>();
  const requests = () => {
    const counted = new Map<string, number>();
    for (const proxy of Object.values(proxies))
      for (const [key, n] of proxy?.counts ?? []) counted.set(key, n);
    counted.set("apigateway", Object.values(api.invocations).reduce((a, b) => a + b, 0) - apiBaseline);
    return counted;
  };
  proxies.s3?.setHook(({ operation, path, status, arrivedAt }) => {
    if (operation !== "PutObject" || status !== 200) return undefined;
    // The output write of a task this grid saw claimed: `.../<task_id>-output`.
    const key = decodeURIComponent(path.split("?")[0].split("/").pop() ?? "");
    if (!key.endsWith(OUTPUT_SUFFIX)) return undefined;
    const times = taskTimes.get(key.slice(0, -OUTPUT_SUFFIX.length));
    if (times) {
      times.outputSent = arrivedAt;
      times.outputWritten = performance.now();
    }
    return undefined;
  });
  proxies.dynamodb?.setHook(({ operation, body, status, response, arrivedAt }) => {
    if (operation === "BatchWriteItem" && status === 200) {
      const written = (text: string, field: string) =>
        Object.values(
          (JSON.parse(text) as Record<string, Record<string, unknown[]> | undefined>)[field] ?? {},
        ).reduce((sum, list) => sum + list.length, 0);
      batchWriteItems += written(body, "RequestItems") - written(response, "UnprocessedItems");
    }
    if (operation === "BatchGetItem" && status === 200) {
      // Billed per key read (a consistent read of an item up to 4 KB is one read unit).
      const keys = (text: string, field: string) =>
        Object.values(
          (JSON.parse(text) as Record<string, Record<string, { Keys?: unknown[] }> | undefined>)[field] ?? {},
        ).reduce((sum, table) => sum + (table.Keys?.length ?? 0), 0);
      batchGetItems += keys(body, "RequestItems") - keys(response, "UnprocessedKeys");
    }
    if (operation !== "UpdateItem" || status !== 200) return undefined;
    const input = JSON.parse(body) as {
      Key?: { task_id?: { S?: string } };
      ExpressionAttributeValues?: Record<string, { S?: string }>;
    };
    const state = stateOf(input.ExpressionAttributeValues?.[":to"]?.S ?? "");
    const taskId = input.Key?.task_id?.S;
    if (taskId && input.ExpressionAttributeValues?.[":handle"]) {
      // An agent's claim (it records the message's receipt handle).
      taskTimes.set(taskId, { claimed: performance.now() });
    }
    if (!taskId || (state !== "finished" && state !== "failed" && state !== "cancelled")) return undefined;
    const times = taskTimes.get(taskId);
    if (times) {
      times.endSent = arrivedAt;
      times.ended = performance.now();
    }
    const seen = finals.get(taskId) ?? [];
    if (seen.length > 0) counts.duplicateFinals++;
    finals.set(taskId, [...seen, state]);
    counts[state]++;
    return undefined;
  });

  const endpoints = {
    AWS_ENDPOINT_URL_DYNAMODB: proxies.dynamodb?.endpoint ?? "",
    AWS_ENDPOINT_URL_SQS: proxies.sqs?.endpoint ?? "",
    AWS_ENDPOINT_URL_S3: proxies.s3?.endpoint ?? "",
    AWS_ENDPOINT_URL_CLOUDWATCH: proxies.cloudwatch?.endpoint ?? "",
    AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: proxies.cloudwatch?.endpoint ?? "",
    AWS_ENDPOINT_URL_SECRETS_MANAGER: proxies.cloudwatch?.endpoint ?? "",
  };
  const awsEnv: Record<string, string> = {
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_REGION: layout.region,
    S3_FORCE_PATH_STYLE: "1",
    ...endpoints,
  };
  const redisUrl = redisServer ? `redis://127.0.0.1:${redisServer.port}` : undefined;

  // --- Control plane: handlers in this process, behind the local API ---------------------------------------
  // A local key, not a secret: it only guards 127.0.0.1, and clients read it from the local client file.
  const apiKey = randomBytes(16).toString("hex");
  const handlerValues: Partial<Record<LambdaEnvVar, string>> = {
    REGION: layout.region,
    STATE_TABLE_NAME: layout.stateTable,
    STATE_TABLE_CONFIG: layout.stateTableConfig,
    TASK_QUEUE_SERVICE: layout.taskQueueService,
    TASK_QUEUE_CONFIG: JSON.stringify({ priorities: layout.priorities }),
    SQS_QUEUE: layout.queueBase,
    SQS_DLQ: layout.dlqBase,
    GRID_STORAGE_SERVICE: layout.storage,
    S3_BUCKET: layout.bucket,
    S3_KMS_KEY_ID: localKmsKeyArn(layout.region),
    REDIS_URL: redisServer ? `127.0.0.1:${redisServer.port}` : undefined,
    REDIS_TLS: "0",
    S3_FORCE_PATH_STYLE: "1",
    ERROR_LOG_GROUP: layout.errorLogGroup,
    ERROR_LOGGING_STREAM: layout.errorLogStream,
    TASK_INPUT_PASSED_VIA_EXTERNAL_STORAGE: String(layout.externalStorage),
    MAX_RETRIES: String(layout.maxRetries),
    NAMESPACE: layout.metrics.namespace,
    DIMENSION_NAME: layout.metrics.dimensionName,
    DIMENSION_VALUE: layout.clusterName,
    METRICS_NAME: layout.metrics.name,
    PERIOD: "1",
  };
  // The handlers read their environment at their first call; every variable any handler reads is set here.
  for (const name of new Set(LAMBDA_HANDLERS.flatMap((h) => lambdaEnvVars(h, { local: true })))) {
    const value = handlerValues[name];
    if (value !== undefined) process.env[name] = value;
    else delete process.env[name];
  }
  Object.assign(process.env, awsEnv);
  // Handlers keep their clients from their first call (a Lambda's cold start): a grid started in a process that ran
  // another one must not reuse those.
  await resetHandlers();

  let api: LocalApiGateway;
  try {
    api = track(
      await startLocalApiGateway({
        auth: { kind: "apiKey", apiKeys: [apiKey] },
        stage: layout.apiStage,
        port: options.apiPort,
      }),
    );
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") {
      throw new Error(
        `the API port ${options.apiPort} on 127.0.0.1 is already in use: stop what uses it or choose another --port`,
      );
    }
    throw error;
  }

  const ttl = await import("../control-plane/handlers/ttl-checker");
  const scaling = await import("../control-plane/handlers/scaling-metrics");
  track(scheduleEvery(options.ttlIntervalSec ?? 5, () => ttl.handler()));
  track(scheduleEvery(options.metricsIntervalSec ?? 60, () => scaling.handler()));

  // --- Configuration agents and clients read ---------------------------------------------------------------
  const config = localAgentConfig({
    region: layout.region,
    stateTable: layout.stateTable,
    queueBase: layout.queueBase,
    dlqBase: layout.dlqBase,
    taskQueueService: layout.taskQueueService,
    priorities: layout.priorities,
    storage: layout.storage,
    bucket: layout.bucket,
    kmsKeyArn: localKmsKeyArn(layout.region),
    redisUrl,
    redisExpirationSec: layout.redisExpirationSec,
    errorLogGroup: layout.errorLogGroup,
    errorLogStream: layout.errorLogStream,
    externalStorage: layout.externalStorage,
    apiUrl: api.url,
    apiKey,
    clusterName: layout.clusterName,
    tuning: layout.tuning,
  });
  const configPath = join(options.dir, "agent_config.json");
  writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  const clientEnv = { ...awsEnv, INTRA_VPC: "1" };
  const clientFile = join(options.dir, LOCAL_CLIENT_FILE);
  writeFileSync(clientFile, `${JSON.stringify({ config: configPath, env: clientEnv }, null, 2)}\n`, {
    mode: 0o600,
  });
  // Gone with the grid: `htc --local` then says no grid runs, instead of trying ports nothing listens on.
  track({ stop: async () => rmSync(clientFile, { force: true }) });

  // --- Agents ----------------------------------------------------------------------------------------------
  const agents: LocalAgent[] = [];
  const stopping = { value: false };
  const restartTimers = new Set<NodeJS.Timeout>();
  const output = options.agentOutput ?? "files";
  // Node options for the agents, e.g. HTC_AGENT_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile them
  // (passed on the command line: Node refuses --cpu-prof in NODE_OPTIONS).
  const nodeArgs = (process.env.HTC_AGENT_NODE_ARGS ?? "").split(/\s+/).filter(Boolean);
  // An earlier grid's agent logs (one with more agents) would read as this grid's.
  if (output === "files") {
    for (const file of readdirSync(options.dir)) {
      if (/^local-agent-\d+\.log$/.test(file)) rmSync(join(options.dir, file), { force: true });
    }
  }
  const workerModules = awsSdkForWorkers(options.dir);
  for (let i = 0; i < options.agents; i++) {
    const name = `local-agent-${i + 1}`;
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      ...awsEnv,
      AGENT_CONFIG_FILE: configPath,
      MY_POD_NAME: name,
      HTC_AGENT_LONG_POLL_SEC: "1",
      HTC_WORKER_HOST: options.workerHostScript,
      HTC_WORKER_CODE: options.workerCode,
      HTC_WORKER_HANDLER: options.workerHandler,
      // The worker host's runtime inherits it: worker code finds the AWS SDK as in Lambda's Node.js runtime.
      NODE_PATH: workerModules,
      ...(options.workerTimeoutSec ? { HTC_WORKER_TIMEOUT_SEC: String(options.workerTimeoutSec) } : {}),
    };
    const log = join(options.dir, `${name}.log`);
    if (output === "files") writeFileSync(log, "");
    const spawnAgent = (): ChildProcess => {
      const child = spawn(process.execPath, [...nodeArgs, options.agentScript], {
        detached: LOCAL_PROCESS_GROUP,
        env,
        stdio: output === "inherit" ? ["ignore", "inherit", "inherit"] : ["ignore", "pipe", "pipe"],
      });
      if (output === "files") {
        const append = (chunk: Buffer | string) => writeFileSync(log, chunk, { flag: "a" });
        child.stdout?.on("data", append);
        child.stderr?.on("data", append);
      } else if (output === "ignore") {
        child.stdout?.resume();
        child.stderr?.resume();
      }
      return child;
    };
    const first = spawnAgent();
    const agent: { -readonly [K in keyof LocalAgent]: LocalAgent[K] } = {
      name,
      child: first,
      restarts: 0,
      exited: new Promise((resolve) =>
        first.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")),
      ),
    };
    if (options.restartAgents) {
      // As a Deployment's pod: the container is started again, with a growing delay while it keeps failing.
      let delayMs: number = AGENT_RESTART_DELAY_MS.first;
      let startedAt = Date.now();
      const watch = (child: ChildProcess) =>
        child.once("exit", (code, signal) => {
          if (stopping.value) return;
          if (Date.now() - startedAt >= AGENT_RESTART_RESET_MS) delayMs = AGENT_RESTART_DELAY_MS.first;
          const how = signal ?? `exit code ${code}`;
          console.error(
            `local grid: ${name} exited (${how}); starting it again in ${delayMs / 1000} s, as the kubelet would` +
              (output === "files" ? ` (its log: ${log})` : ""),
          );
          if (output === "files") writeFileSync(log, `local grid: ${name} exited (${how})\n`, { flag: "a" });
          const timer = setTimeout(() => {
            restartTimers.delete(timer);
            if (stopping.value) return;
            startedAt = Date.now();
            agent.child = spawnAgent();
            agent.restarts++;
            watch(agent.child);
          }, delayMs);
          restartTimers.add(timer);
          delayMs = Math.min(delayMs * 2, AGENT_RESTART_DELAY_MS.max);
        });
      watch(agent.child);
    }
    agents.push(agent);
  }
  track({
    async stop() {
      stopping.value = true;
      for (const timer of restartTimers) clearTimeout(timer);
      // Agents finish the task in hand on SIGTERM; the grace period is short locally.
      await Promise.all(
        agents.map(async (agent) => {
          if (agent.child.exitCode !== null || agent.child.signalCode !== null) return;
          await stopProcess(agent.child);
        }),
      );
    },
  });

  const sqs = new SQSClient({
    region: layout.region,
    endpoint: sqsServer.endpoint,
    credentials: LOCAL_CREDENTIALS,
  });
  track({ stop: async () => sqs.destroy() });
  const queueUrls = await Promise.all(
    Array.from({ length: layout.priorities }, async (_, p) => {
      const out = await sqs.send(new GetQueueUrlCommand({ QueueName: queueName(layout.queueBase, p) }));
      return out.QueueUrl ?? "";
    }),
  );

  let stopped: Promise<void> | undefined;
  let apiBaseline = 0;
  return {
    apiUrl: api.url,
    apiKey,
    configPath,
    config,
    clientEnv,
    clientFile,
    agents,
    serverPids: [dynamo.pid, redisServer?.pid].filter((pid): pid is number => pid !== undefined),
    serverLost: Promise.race(
      [
        { what: "DynamoDB (dynalite)", server: dynamo },
        { what: "Redis (redis-server)", server: redisServer },
      ].flatMap(({ what, server }) =>
        server?.lost
          ? [server.lost.then((how) => `${what}, process ${server.pid}, exited on its own (${how})`)]
          : [],
      ),
    ),
    proxies,
    endpoints,
    finals,
    taskTimes,
    usage() {
      const usage = requests();
      if (usage.has("dynamodb:BatchWriteItem")) usage.set("dynamodb:BatchWriteItem", batchWriteItems);
      if (usage.has("dynamodb:BatchGetItem")) usage.set("dynamodb:BatchGetItem", batchGetItems);
      usage.set("lambda", usage.get("apigateway") ?? 0);
      return usage;
    },
    requests,
    serverMs() {
      const means = new Map<string, number>();
      for (const proxy of Object.values(proxies)) {
        for (const [key, total] of proxy?.serverMs ?? [])
          means.set(key, total / (proxy?.counts.get(key) || 1));
      }
      return means;
    },
    resetUsage() {
      for (const proxy of Object.values(proxies)) proxy?.reset();
      batchWriteItems = 0;
      batchGetItems = 0;
      apiBaseline = Object.values(api.invocations).reduce((a, b) => a + b, 0);
    },
    async status() {
      let queued = 0;
      for (const url of queueUrls) {
        const out = await sqs.send(
          new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["ApproximateNumberOfMessages"] }),
        );
        queued += Number(out.Attributes?.ApproximateNumberOfMessages ?? 0);
      }
      return {
        agents: agents.length,
        agentsAlive: agents.filter((a) => a.child.exitCode === null && a.child.signalCode === null).length,
        agentRestarts: agents.reduce((sum, a) => sum + a.restarts, 0),
        queued,
        ...counts,
        badSignatures: Object.values(proxies).reduce((sum, proxy) => sum + (proxy?.rejected() ?? 0), 0),
      };
    },
    setDelayMs(ms) {
      for (const proxy of Object.values(proxies)) proxy?.setDelayMs(ms);
    },
    stop() {
      stopped ??= stopAll();
      return stopped;
    },
  };
}

async function resetHandlers(): Promise<void> {
  const [submit, results, cancel, ttl, scaling] = await Promise.all([
    import("../control-plane/handlers/submit-tasks"),
    import("../control-plane/handlers/get-results"),
    import("../control-plane/handlers/cancel-tasks"),
    import("../control-plane/handlers/ttl-checker"),
    import("../control-plane/handlers/scaling-metrics"),
  ]);
  await submit.resetColdStart();
  results.resetColdStart();
  cancel.resetColdStart();
  ttl.resetColdStart();
  scaling.resetColdStart();
}

/** The data bucket's key in a local grid (s3rver accepts any key id; the agents and client pass it as on AWS). */
export function localKmsKeyArn(region: string): string {
  return `arn:aws:kms:${region}:000000000000:key/00000000-0000-0000-0000-000000000000`;
}
