// Local AWS-compatible servers on 127.0.0.1 for the grid in a box and the tests: dynalite (patched, see
// dynalite.ts), local-aws-sqs, s3rver, Debian's redis-server, and a small recorder speaking the AWS JSON protocol
// for CloudWatch, CloudWatch Logs and Secrets Manager (no local emulator exists here for those). Each starter
// returns its endpoint and a stop function; nothing is left running after stop.
// (s3rver only accepts the S3RVER/S3RVER key pair, so every local client uses it.)

// eslint-disable-next-line @typescript-eslint/triple-slash-reference
/// <reference path="./emulators.d.ts" />
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateTableCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { createSqsServer } from "local-aws-sqs";
import S3rver from "s3rver";
import { patchS3rverStore } from "./s3rver-store";
import {
  SESSION_INDEX,
  STATE_TABLE_ATTRIBUTES,
  STATE_TABLE_INDEXES,
  STATE_TABLE_KEY,
  TTL_INDEX,
} from "../contract";
import { loadPatchedDynalite } from "./dynalite";
import { freePort } from "./ports";

export { freePort };

/** Credentials every local server accepts. */
export const LOCAL_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;
/** Account id in the ARNs local servers hand out. */
export const LOCAL_ACCOUNT_ID = "000000000000";

export interface LocalServer {
  /** `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  readonly port: number;
  /** The server's process, when it runs in one of its own. */
  readonly pid?: number;
  /**
   * For a server in a process of its own: resolves, with how the process ended (`signal SIGKILL`, `exit code 1`),
   * if it exits before stop() is called. Its data, all in memory, is then gone.
   */
  readonly lost?: Promise<string>;
  stop(): Promise<void>;
}

/** Resolves with how `child` ended if it exits while `stopping()` is false; never resolves otherwise. */
function lostUnless(child: ChildProcess, stopping: () => boolean): Promise<string> {
  return new Promise((resolve) =>
    child.once("exit", (code, signal) => {
      if (!stopping()) resolve(signal ? `signal ${signal}` : `exit code ${code}`);
    }),
  );
}

/**
 * The local grid's server and agent processes run in process groups of their own: a terminal's Ctrl-C then reaches
 * only the grid, which stops them in order (the agents finish their tasks while the servers still run, then the
 * servers). In the terminal's group, each got the Ctrl-C itself: redis-server and DynamoDB exited at once, and an
 * agent took the grid's SIGTERM that followed for a second signal and left its task unfinished. They still go with
 * the grid when it is killed: DynamoDB's process when its stdin closes, redis-server by its parent-death signal, and
 * the agents once the grid's proxies and their log pipes are gone (test/e2e checks each).
 */
export const LOCAL_PROCESS_GROUP = true;

export const endpointOf = (port: number): string => `http://127.0.0.1:${port}`;

/** A request's target as a URL; one URL() cannot parse (`//[`, which Node's server lets through) reads as `/`. */
export function requestUrl(target: string | undefined): URL {
  try {
    return new URL(target ?? "/", "http://local");
  } catch {
    return new URL("http://local/");
  }
}

/** Listens on `port` (0 = any free one) on 127.0.0.1; rejects with a clear message when the port is taken. */
export function listen(server: Server, port = 0, what = "server"): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      reject(
        error.code === "EADDRINUSE"
          ? new Error(`${what}: port ${port} on 127.0.0.1 is already in use; free it or choose another port`)
          : error,
      );
    };
    server.once("error", onError);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  });
}

/** dynalite, in memory. */
export async function startDynamo(port = 0): Promise<LocalServer> {
  const dynalite = loadPatchedDynalite();
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const bound = await listen(server, port, "DynamoDB (dynalite)");
  return { endpoint: endpointOf(bound), port: bound, stop: () => closeServer(server) };
}

/**
 * dynalite in its own process, from the `local-dynamodb` bundle (dynalite-main.ts): off this process's event loop,
 * as DynamoDB is off the grid's machines. It exits when this process stops it or dies.
 */
export async function startDynamoProcess(script: string, port = 0): Promise<LocalServer> {
  const child = spawn(process.execPath, [script], {
    detached: LOCAL_PROCESS_GROUP,
    env: {
      PATH: process.env.PATH,
      HTC_DYNALITE_FROM: createRequire(__filename).resolve("dynalite"),
      HTC_DYNALITE_PORT: String(port),
    },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let output = "";
  const bound = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error("DynamoDB (dynalite) did not start within 15 s"));
    }, 15_000);
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const line = /^\{"port":(\d+)\}$/m.exec(output);
      if (line) {
        clearTimeout(timer);
        resolve(Number(line[1]));
      }
    });
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(
        new Error(
          /EADDRINUSE/.test(output)
            ? `DynamoDB (dynalite): port ${port} on 127.0.0.1 is already in use; free it or choose another port`
            : `DynamoDB (dynalite) exited with ${code}: ${output.trim().split("\n").pop() ?? ""}`,
        ),
      );
    });
  });
  child.stdout?.resume();
  child.stderr?.resume();
  let stopping = false;
  return {
    endpoint: endpointOf(bound),
    port: bound,
    pid: child.pid,
    lost: lostUnless(child, () => stopping),
    stop: async () => {
      stopping = true;
      // Closing its stdin ends it; SIGTERM (then SIGKILL) only if it has not exited within 2 s.
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.stdin?.end();
      if (child.exitCode === null && child.signalCode === null) {
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
      }
      await stopProcess(child);
    },
  };
}

/** The state table with its two indexes, as the infrastructure creates it (contract/state-item.ts). */
export async function createStateTable(ddb: DynamoDBClient, tableName: string): Promise<void> {
  await ddb.send(
    new CreateTableCommand({
      TableName: tableName,
      AttributeDefinitions: Object.entries(STATE_TABLE_ATTRIBUTES).map(([name, type]) => ({
        AttributeName: name,
        AttributeType: type,
      })),
      KeySchema: [{ AttributeName: STATE_TABLE_KEY, KeyType: "HASH" }],
      BillingMode: "PAY_PER_REQUEST",
      GlobalSecondaryIndexes: ([TTL_INDEX, SESSION_INDEX] as const).map((name) => ({
        IndexName: name,
        KeySchema: [
          { AttributeName: STATE_TABLE_INDEXES[name].hashKey, KeyType: "HASH" as const },
          { AttributeName: STATE_TABLE_INDEXES[name].rangeKey, KeyType: "RANGE" as const },
        ],
        Projection: {
          ProjectionType: "INCLUDE" as const,
          NonKeyAttributes: [...STATE_TABLE_INDEXES[name].projected],
        },
      })),
    }),
  );
}

export interface QueueSpec {
  readonly name: string;
  readonly attributes?: Record<string, string>;
}

/** local-aws-sqs with the given queues (dead-letter queues first, so redrive policies can name them). */
export async function startSqs(queues: readonly QueueSpec[], region: string, port = 0): Promise<LocalServer> {
  const bound = port || (await freePort());
  let server: Server;
  try {
    server = await createSqsServer({
      port: bound,
      hostname: "127.0.0.1",
      region,
      queues: queues.map((q) => ({ QueueName: q.name, Attributes: q.attributes })),
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") {
      throw new Error(
        `SQS (local-aws-sqs): port ${bound} on 127.0.0.1 is already in use; free it or choose another port`,
      );
    }
    throw error;
  }
  return { endpoint: endpointOf(bound), port: bound, stop: () => closeServer(server) };
}

/** The ARN a local queue has, for redrive policies. */
export const localQueueArn = (region: string, name: string): string =>
  `arn:aws:sqs:${region}:${LOCAL_ACCOUNT_ID}:${name}`;

/** s3rver with the given buckets, storing objects in a fresh temporary directory removed on stop. */
export async function startS3(buckets: readonly string[], port = 0): Promise<LocalServer> {
  patchS3rverStore();
  const directory = mkdtempSync(join(tmpdir(), "htc-s3-"));
  const bound = port || (await freePort());
  const s3rver = new S3rver({
    address: "127.0.0.1",
    port: bound,
    silent: true,
    directory,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  try {
    await s3rver.run();
  } catch (error) {
    rmSync(directory, { recursive: true, force: true });
    if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") {
      throw new Error(
        `S3 (s3rver): port ${bound} on 127.0.0.1 is already in use; free it or choose another port`,
      );
    }
    throw error;
  }
  return {
    endpoint: endpointOf(bound),
    port: bound,
    async stop() {
      await s3rver.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

export function redisServerAvailable(binary = "redis-server"): boolean {
  return spawnSync(binary, ["--version"], { stdio: "ignore" }).status === 0;
}

let setpriv: boolean | undefined;
/** Whether util-linux's `setpriv` (Linux) can give a child a parent-death signal. */
function setprivAvailable(): boolean {
  setpriv ??= spawnSync("setpriv", ["--help"], { stdio: "ignore" }).status === 0;
  return setpriv;
}

/** The one line to show when a Redis grid is asked for on a machine without redis-server. */
export const REDIS_MISSING =
  "redis-server is not installed: install it (Debian/Ubuntu: sudo apt-get install -y redis-server; macOS: brew install redis)";

/**
 * Debian's redis-server without persistence; resolves once it accepts connections. `maxmemoryPolicy` as the grid's
 * cache has it (`redisMaxmemoryPolicy`); `maxmemory` (e.g. "2mb") caps it as a cache node's memory does, for tests.
 */
export async function startRedis(
  options: {
    password?: string;
    port?: number;
    binary?: string;
    maxmemoryPolicy?: string;
    maxmemory?: string;
  } = {},
): Promise<LocalServer> {
  const binary = options.binary ?? "redis-server";
  if (!redisServerAvailable(binary)) throw new Error(REDIS_MISSING);
  const port = options.port || (await freePort());
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
  if (options.password) args.push("--requirepass", options.password);
  if (options.maxmemoryPolicy) args.push("--maxmemory-policy", options.maxmemoryPolicy);
  if (options.maxmemory) args.push("--maxmemory", options.maxmemory);
  // Through util-linux's setpriv where there is one: redis-server then gets SIGTERM when this process dies, even by
  // SIGKILL, instead of running on, orphaned (the agents and DynamoDB's process notice on their own).
  // A process group of its own (LOCAL_PROCESS_GROUP).
  const spawnOptions: SpawnOptions = { stdio: ["ignore", "pipe", "pipe"], detached: LOCAL_PROCESS_GROUP };
  const child = setprivAvailable()
    ? spawn("setpriv", ["--pdeathsig", "TERM", binary, ...args], spawnOptions)
    : spawn(binary, args, spawnOptions);
  let output = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("redis-server did not start within 10 s")), 10_000);
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("Ready to accept connections")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(
        new Error(
          /Address already in use/.test(output)
            ? `Redis (redis-server): port ${port} on 127.0.0.1 is already in use; free it or choose another port`
            : `redis-server exited with ${code}: ${output.trim().split("\n").pop() ?? ""}`,
        ),
      );
    });
  });
  let stopping = false;
  return {
    endpoint: `redis://127.0.0.1:${port}`,
    port,
    pid: child.pid,
    lost: lostUnless(child, () => stopping),
    stop: () => {
      stopping = true;
      return stopProcess(child);
    },
  };
}

/** Stops a child process and waits for it to exit (SIGKILL after 5 s). */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

export interface RecordedCall {
  /** `X-Amz-Target`, e.g. `Logs_20140328.PutLogEvents`. */
  readonly target: string;
  readonly body: Record<string, unknown>;
}

export interface Recorder extends LocalServer {
  readonly calls: RecordedCall[];
  /** Sum returned for GetMetricStatistics (DynamoDB ThrottledRequests). */
  setThrottledRequests(sum: number): void;
  /** SecretString returned for Secrets Manager GetSecretValue. */
  setSecretString(value: string): void;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
}

/**
 * CloudWatch (metrics), CloudWatch Logs and Secrets Manager: records every call and answers the few the grid
 * reads (GetMetricStatistics, GetSecretValue); writes (PutMetricData, PutLogEvents) are recorded and accepted.
 */
export async function startRecorder(port = 0, keep = 10_000): Promise<Recorder> {
  const calls: RecordedCall[] = [];
  let throttled = 0;
  let secretString = "";
  const server = createServer((req, res) => {
    void readBody(req).then((text) => {
      const target = String(req.headers["x-amz-target"] ?? "");
      let body: Record<string, unknown> = {};
      try {
        body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      } catch {
        // CloudWatch may also speak the query protocol; keep the call, answer empty.
      }
      calls.push({ target, body });
      if (calls.length > keep) calls.splice(0, calls.length - keep);
      let reply: unknown = {};
      if (target.endsWith(".GetSecretValue"))
        reply = { ARN: String(body.SecretId), Name: "redis-auth", SecretString: secretString };
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
  const bound = await listen(server, port, "CloudWatch/Logs/Secrets Manager recorder");
  return {
    endpoint: endpointOf(bound),
    port: bound,
    calls,
    setThrottledRequests: (sum) => (throttled = sum),
    setSecretString: (value) => (secretString = value),
    stop: () => closeServer(server),
  };
}
