// End to end through the real entry points: the local grid (`npm run local` runs node dist/scripts/local.js after
// building; the suite's global setup has built dist/) with real agent processes, driven by the client library and
// by `htc`. Faults included: an agent killed with SIGKILL halfway, a cancelled session, a worker that always fails,
// and startups that must fail cleanly.

import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { Redis } from "ioredis";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { GridClient } from "../../runtime/src/client";
import { zipEntries } from "../../modules/runtime-bundle/zip";
import { REPO_ROOT } from "../support/tools";

const LOCAL_SCRIPT = join(REPO_ROOT, "dist", "scripts", "local.js");
const dirs: string[] = [];
const grids: ChildProcess[] = [];

interface Status {
  agentsAlive: number;
  finished: number;
  failed: number;
  cancelled: number;
  duplicateFinals: number;
  badSignatures: number;
  agentRestarts: number;
  agentProcesses: { name: string; pid: number; alive: boolean; restarts: number }[];
  /** DynamoDB's and redis-server's processes. */
  serverProcesses: number[];
}

afterEach(async () => {
  for (const grid of grids.splice(0)) {
    if (grid.exitCode === null && grid.signalCode === null) {
      grid.kill("SIGKILL");
      await new Promise((resolve) => grid.once("exit", resolve));
    }
  }
});
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function workDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "htc-e2e-"));
  dirs.push(dir);
  return dir;
}

/** A grid configuration file: the built-in default (REDIS storage) with `overrides`. */
function configFile(dir: string, overrides: Record<string, unknown>): string {
  const path = join(dir, "grid_config.json");
  writeFileSync(path, JSON.stringify({ project_name: "e2e", region: "eu-west-1", ...overrides }));
  return path;
}

interface Started {
  readonly child: ChildProcess;
  readonly dir: string;
  /** The grid's own folder (--dir). */
  readonly local: string;
  output(): string;
  status(): Status;
  /** The environment `htc --local` runs with (endpoints, local credentials). */
  readonly env: Record<string, string>;
  /** The agent configuration document it wrote. */
  readonly configPath: string;
  client(): GridClient;
  /** How the grid's process ended: its exit code, or the signal. */
  readonly exited: Promise<number | string>;
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

/** Starts the local grid and resolves once it printed its endpoints. */
async function startLocal(args: string[], env: Record<string, string> = {}): Promise<Started> {
  const dir = workDir();
  // The default --dir, generated/local under the working directory, is where `htc --local` looks.
  const { child, output, exited } = spawnLocal(["--ttl-interval", "1", ...args], dir, env);
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (output().includes("try it")) {
        clearInterval(timer);
        resolve();
      } else if (child.exitCode !== null) {
        clearInterval(timer);
        reject(new Error(`local grid exited ${child.exitCode}:\n${output()}`));
      }
    }, 100);
  });
  // --dir as given (absolute in these tests), else the default under the working directory.
  const local = args.includes("--dir") ? args[args.indexOf("--dir") + 1] : join(dir, "generated", "local");
  await waitUntil("the first status file", () => existsSync(join(local, "status.json")), 10_000);
  const clientFile = readClientFile(local);
  return {
    child,
    dir,
    output,
    local,
    exited,
    env: clientFile.env,
    configPath: clientFile.config,
    status: () => statusIn(local),
    client: () => localClient(local),
    async stop(signal = "SIGTERM") {
      child.kill(signal);
      return exited;
    },
  };
}

/** The client file a grid wrote in its folder `local`. */
function readClientFile(local: string): { config: string; env: Record<string, string> } {
  return JSON.parse(readFileSync(join(local, "client.json"), "utf8")) as {
    config: string;
    env: Record<string, string>;
  };
}

/** A client of the grid whose folder is `local`. */
function localClient(local: string): GridClient {
  const clientFile = readClientFile(local);
  // The SDK reads endpoints from process.env; this test process talks only to local grids.
  Object.assign(process.env, clientFile.env);
  return GridClient.fromFile(clientFile.config, { env: process.env });
}

/** The status file of the grid whose folder is `local`. */
function statusIn(local: string): Status {
  return JSON.parse(readFileSync(join(local, "status.json"), "utf8")) as Status;
}

/** `command` started with its stdout and stderr collected; the test's cleanup kills it if it still runs. */
function spawnCollected(
  command: string,
  args: string[],
  options: SpawnOptions,
): { child: ChildProcess; output: () => string; exited: Promise<number | string> } {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], ...options });
  grids.push(child);
  let output = "";
  child.stdout?.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr?.on("data", (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "?")),
  );
  return { child, output: () => output, exited };
}

/** Processes whose command line mentions `needle` (a grid's own directory): none may outlive the grid. */
function processesMentioning(needle: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(join("/proc", entry, "cmdline"), "utf8").includes(needle)) found.push(Number(entry));
    } catch {
      // gone
    }
  }
  return found;
}

const waitUntilAsync = async (what: string, check: () => Promise<boolean>, timeoutMs = 60_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
};
const waitUntil = (what: string, check: () => boolean, timeoutMs?: number) =>
  waitUntilAsync(what, async () => check(), timeoutMs);

/** Runs `htc` (its bin) in `cwd` with no AWS settings of this process; resolves to its exit code and stdout. */
async function runHtc(
  args: string[],
  cwd: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const htc = spawn(process.execPath, [join(REPO_ROOT, "runtime", "bin", "htc.js"), ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let [stdout, stderr] = ["", ""];
  htc.stdout?.on("data", (c: Buffer) => (stdout += c.toString()));
  htc.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | null>((resolve) => htc.once("close", resolve));
  expect(stderr, "htc printed a warning of Node's").not.toMatch(/\(node:\d+\) \[?\w*Warning/);
  return { code, stdout, stderr };
}

describe("npm run local", () => {
  it("computes 1,000 tasks with 4 agents, exactly once and with the right outputs, though one agent is killed halfway", async () => {
    const grid = await startLocal(["--agents", "4"]);
    const client = grid.client();
    const tasks = Array.from({ length: 1_000 }, (_, i) => ({ worker_arguments: ["20", "1", String(i)] }));
    const submission = await client.submit(tasks);
    await waitUntil("half the tasks finished", () => grid.status().finished >= 500);
    const victim = grid.status().agentProcesses[0];
    process.kill(victim.pid, "SIGKILL");
    // Started again as the kubelet restarts a container: after 1 s, then 2 s when it is killed again at once.
    const restarted = (n: number) => () => grid.status().agentProcesses[0].restarts === n;
    await waitUntil("the killed agent started again", restarted(1), 10_000);
    const second = grid.status().agentProcesses[0];
    expect(second.pid).not.toBe(victim.pid);
    process.kill(second.pid, "SIGKILL");
    await waitUntil("the agent started a third time", restarted(2), 10_000);
    expect(grid.output()).toContain(
      "local grid: local-agent-1 exited (SIGKILL); starting it again in 1 s, as the kubelet would",
    );
    expect(grid.output()).toContain("local grid: local-agent-1 exited (SIGKILL); starting it again in 2 s");
    const results = await client.wait(submission, { timeoutMs: 120_000 });
    expect(results.finished).toBe(1_000);
    const byId = new Map(results.results.map((t) => [t.taskId, t]));
    for (const [i, taskId] of submission.taskIds.entries()) {
      expect(byId.get(taskId)?.output, taskId).toEqual({
        worker_arguments: ["20", "1", String(i)],
        result: 20,
        mode: "sleep",
      });
    }
    // The built-in default keeps task data in Redis only: its keys expire after redis_data_expiration_hours (72)
    // and the server refuses writes when full rather than evict them, as the deployed cache does.
    const doc = JSON.parse(readFileSync(grid.configPath, "utf8")) as Record<string, string | number>;
    expect(doc).toMatchObject({ grid_storage_service: "REDIS", redis_data_expiration_sec: 72 * 3600 });
    const redis = new Redis(String(doc.redis_url), { maxRetriesPerRequest: 1 });
    try {
      expect(await redis.config("GET", "maxmemory-policy")).toEqual(["maxmemory-policy", "noeviction"]);
      // (The outputs travelled in the rows: the client asks for them. The inputs are in Redis.)
      expect(await redis.exists(`${submission.taskIds[999]}-output`)).toBe(0);
      const ttl = await redis.ttl(`${submission.taskIds[999]}-input`);
      expect(ttl).toBeGreaterThan(72 * 3600 - 300);
    } finally {
      redis.disconnect();
    }
    await waitUntil("the status to catch up", () => grid.status().finished === 1_000, 10_000);
    const status = grid.status();
    expect(status).toMatchObject({
      finished: 1_000,
      failed: 0,
      duplicateFinals: 0,
      agentsAlive: 4,
      agentRestarts: 2,
      // Every request of the handlers, agents and client passed the signature check, which is on:
      badSignatures: 0,
    });
    // 21 unsigned requests: each refused and counted, the first 20 reported in one line each.
    for (let i = 0; i < 21; i++) {
      const unsigned = await fetch(grid.env.AWS_ENDPOINT_URL_DYNAMODB, {
        method: "POST",
        headers: {
          "content-type": "application/x-amz-json-1.0",
          "x-amz-target": "DynamoDB_20120810.ListTables",
        },
        body: "{}",
      });
      expect(unsigned.status).toBe(400);
      expect(await unsigned.text()).toContain("MissingAuthenticationTokenException");
    }
    await waitUntil("the refusals counted", () => grid.status().badSignatures === 21, 5_000);
    // Without a terminal the status line is printed every 10 s: wait longer than that.
    await waitUntil(
      "the status line",
      () => grid.output().includes("BAD SIGNATURES 21 (see stderr)"),
      15_000,
    );
    expect(grid.output()).toMatch(
      /agents 4\/4 \(2 restarts\) {2}queued 0 {2}finished 1000 .*BAD SIGNATURES 21/,
    );
    const reported = grid
      .output()
      .match(/local grid: refused dynamodb:ListTables \([^)]*\): the request is not signed.*/g);
    expect(reported).toHaveLength(20);
    expect(reported?.at(-1)).toContain("(further refusals are only counted)");
    await client.close();
    expect(await grid.stop()).toBe(0);
    expect(grid.output()).toContain("htc-grid local: stopped");
    expect(processesMentioning(grid.dir)).toEqual([]);
    // A stopped grid takes its client file with it: htc says there is no grid rather than trying dead ports.
    expect(existsSync(join(grid.local, "client.json"))).toBe(false);
    const after = await runHtc(["submit", "--local-dir", grid.local, "--count", "1"], grid.dir);
    expect(after.code).toBe(3);
    expect(after.stderr).toBe(
      `htc: no local grid here (${join(grid.local, "client.json")} is missing or unreadable): start one with \`npm run local -- --dir ${grid.local}\`\n`,
    );
  }, 240_000);

  it("runs higher-priority tasks submitted later before lower-priority ones while its one agent is busy", async () => {
    const dir = workDir();
    const grid = await startLocal(["--agents", "1"], {
      HTCGRID_CONFIG: configFile(dir, {
        grid_storage_service: "S3",
        task_queue_service: "PrioritySQS",
        task_queue_config: '{"priorities": 3}',
      }),
    });
    const client = grid.client();
    const busy = await client.submit([{ worker_arguments: ["3000", "1", "busy"] }], { priority: 0 });
    const ddb = new DynamoDBClient({ region: "eu-west-1" });
    const row = async (taskId: string) =>
      (
        await ddb.send(
          new GetItemCommand({ TableName: client.config.ddb_state_table, Key: { task_id: { S: taskId } } }),
        )
      ).Item;
    await waitUntilAsync("the long task running", async () =>
      ((await row(busy.taskIds[0]))?.task_status?.S ?? "").startsWith("processing"),
    );
    const low = await client.submit(
      Array.from({ length: 5 }, () => ({ worker_arguments: ["10", "1", "low"] })),
      { priority: 0 },
    );
    const high = await client.submit(
      Array.from({ length: 5 }, () => ({ worker_arguments: ["10", "1", "high"] })),
      { priority: 2 },
    );
    await client.wait(low, { timeoutMs: 60_000 });
    await client.wait(high, { timeoutMs: 60_000 });
    await client.wait(busy, { timeoutMs: 60_000 });
    const done = async (ids: readonly string[]) =>
      Promise.all(ids.map(async (id) => Number((await row(id))?.task_completion_timestamp?.N)));
    const [lowDone, highDone] = [await done(low.taskIds), await done(high.taskIds)];
    expect(Math.max(...highDone)).toBeLessThanOrEqual(Math.min(...lowDone));

    // The same grid through the command line: `htc submit --local` in the directory `npm run local` runs in.
    const { code, stdout } = await runHtc(
      ["submit", "--local", "--count", "3", "--worker-args", "0 1 1", "--wait"],
      grid.dir,
    );
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ total: 3, finished: 3, failed: 0 });
    ddb.destroy();
    await client.close();
    expect(await grid.stop()).toBe(0);
  }, 120_000);

  it("cancels a running session, and fails tasks whose worker always fails after the configured retries", async () => {
    const dir = workDir();
    const worker = join(dir, "fails");
    mkdirSync(worker);
    writeFileSync(
      join(worker, "index.js"),
      'exports.handler = async () => { throw new Error("always fails"); };\n',
    );
    const grid = await startLocal(["--agents", "2"], {
      HTCGRID_CONFIG: configFile(dir, { grid_storage_service: "S3", task_max_retries: 1 }),
    });
    const client = grid.client();
    const running = await client.submit(
      Array.from({ length: 20 }, () => ({ worker_arguments: ["2000", "1", "1"] })),
    );
    const ddb = new DynamoDBClient({ region: "eu-west-1" });
    const states = async () =>
      Promise.all(
        running.taskIds.map(async (id) => {
          const item = await ddb.send(
            new GetItemCommand({ TableName: client.config.ddb_state_table, Key: { task_id: { S: id } } }),
          );
          return item.Item?.task_status?.S ?? "";
        }),
      );
    await waitUntilAsync(
      "two tasks running",
      async () => (await states()).filter((s) => s.startsWith("processing")).length === 2,
    );
    await client.cancel([running.sessionId]);
    const cancelled = await client.wait(running, { timeoutMs: 30_000 });
    expect(cancelled.cancelled).toBeGreaterThanOrEqual(18);
    expect(cancelled.finished + cancelled.cancelled).toBe(20);
    // Nothing is left running or pending: the two running tasks were abandoned, not finished after the cancel.
    expect((await states()).every((s) => s.startsWith("cancelled") || s.startsWith("finished"))).toBe(true);
    await waitUntil("the agents free again", () => grid.status().agentsAlive === 2);
    expect(grid.status().duplicateFinals).toBe(0);
    ddb.destroy();
    await client.close();
    expect(await grid.stop()).toBe(0);

    const failing = await startLocal(["--agents", "1", "--worker", worker], {
      HTCGRID_CONFIG: configFile(dir, { grid_storage_service: "S3", task_max_retries: 1 }),
    });
    const failClient = failing.client();
    const doomed = await failClient.submit([{ worker_arguments: ["0", "1", "1"] }]);
    const results = await failClient.wait(doomed, { timeoutMs: 60_000 });
    expect(results.failed).toBe(1);
    expect(JSON.parse(results.results[0].error ?? "{}")).toMatchObject({
      errorType: "Error",
      errorMessage: "always fails",
    });
    await failClient.close();
    expect(await failing.stop()).toBe(0);
  }, 180_000);

  it.each(["Redis (redis-server)", "DynamoDB (dynalite)"])(
    "stops in one line with exit 1 when its %s process dies, leaving nothing running",
    async (what) => {
      const grid = await startLocal(["--agents", "1"]);
      const servers = grid.status().serverProcesses;
      expect(servers).toHaveLength(2);
      const isRedis = (pid: number) =>
        readFileSync(`/proc/${pid}/cmdline`, "utf8").startsWith("redis-server");
      const victim = servers.find((pid) => isRedis(pid) === what.startsWith("Redis"));
      const others = [...servers.filter((pid) => pid !== victim), grid.status().agentProcesses[0].pid];
      process.kill(victim ?? 0, "SIGKILL");
      // Before, the grid ran on (its status line too) and every request to the dead server failed.
      const ended = await Promise.race([
        grid.exited,
        new Promise((resolve) => setTimeout(() => resolve("still running 20 s later"), 20_000)),
      ]);
      expect(ended, grid.output()).toBe(1);
      expect(grid.output()).toContain(
        `htc-grid local: ${what}, process ${victim}, exited on its own (signal SIGKILL): the grid's state in it is gone, so the grid stops; start a new one with npm run local\n`,
      );
      expect(grid.output()).toContain("htc-grid local: stopped\n");
      expect(grid.output()).not.toMatch(/\n\s+at /);
      expect(processesMentioning(grid.dir)).toEqual([]);
      expect(others.filter((pid) => existsSync(`/proc/${pid}`))).toEqual([]);
      expect(existsSync(join(grid.local, "client.json"))).toBe(false);
      expect(existsSync(join(grid.local, "grid.pid"))).toBe(false);
    },
    60_000,
  );
});

/** Submits one task of `ms` and resolves once an agent has it in hand (its state processing); closes `client`. */
async function taskInHand(client: GridClient, ms: number): Promise<void> {
  const busy = await client.submit([{ worker_arguments: [String(ms), "1", "1"] }]);
  const ddb = new DynamoDBClient({ region: "eu-west-1" });
  await waitUntilAsync("the task in hand", async () => {
    const row = await ddb.send(
      new GetItemCommand({
        TableName: client.config.ddb_state_table,
        Key: { task_id: { S: busy.taskIds[0] } },
      }),
    );
    return (row.Item?.task_status?.S ?? "").startsWith("processing");
  });
  ddb.destroy();
  await client.close();
}

/** The processes whose parent is `pid` (/proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces). */
function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(join("/proc", entry, "stat"), "utf8");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid) found.push(Number(entry));
    } catch {
      // gone
    }
  }
  return found;
}

/** Whether `pid` runs (a zombie, exited but not yet reaped by an init that may never reap it, does not). */
function running(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
}

describe("npm run local leaves nothing running", () => {
  it("when it is killed with SIGKILL: its servers, agents and worker hosts go with it", async () => {
    const grid = await startLocal(["--agents", "2"]);
    const status = grid.status();
    const agents = status.agentProcesses.map((a) => a.pid);
    // Each agent's worker host too (a process group of the agent's own, away from the terminal's).
    const hosts = agents.flatMap(childrenOf);
    expect(hosts).toHaveLength(2);
    const pids = [...status.serverProcesses, ...agents, ...hosts];
    expect(pids).toHaveLength(6);
    expect(pids.filter(running)).toEqual(pids);
    expect(await grid.stop("SIGKILL")).toBe("SIGKILL");
    // Before, redis-server ran on, orphaned, holding its port and memory.
    await waitUntil("the grid's processes gone", () => pids.filter(running).length === 0, 10_000);
    // Its client file stays behind; htc says the grid is gone rather than trying its dead ports.
    expect(existsSync(join(grid.local, "client.json"))).toBe(true);
    const htc = await runHtc(["submit", "--local", "--count", "1"], grid.dir);
    expect(htc.code).toBe(3);
    expect(htc.stderr).toBe(
      `htc: no local grid here (${join(grid.local, "client.json")} was left by a grid that did not stop cleanly: its process ${grid.child.pid} no longer runs): start one with \`npm run local\`\n`,
    );
  });

  it("when Ctrl-C comes twice: out at once, exit 130, and its files and processes go", async () => {
    const grid = await startLocal(["--agents", "1"]);
    const status = grid.status();
    const pids = [...status.serverProcesses, ...status.agentProcesses.map((a) => a.pid)];
    // A task in hand, which the agent finishes on the first Ctrl-C: the grid is still stopping at the second.
    await taskInHand(grid.client(), 5_000);
    grid.child.kill("SIGINT");
    await waitUntil("the first Ctrl-C seen", () => grid.output().includes("SIGINT: stopping"), 5_000);
    // Later than the same Ctrl-C forwarded by npm would come (within 500 ms).
    await new Promise((resolve) => setTimeout(resolve, 700));
    grid.child.kill("SIGINT");
    expect(await grid.exited).toBe(130);
    // Before, client.json stayed, naming ports nothing listened on.
    expect(existsSync(join(grid.local, "client.json"))).toBe(false);
    expect(existsSync(join(grid.local, "grid.pid"))).toBe(false);
    await waitUntil("the grid's processes gone", () => pids.filter(running).length === 0, 10_000);
  });

  it("when its terminal closes (SIGHUP): it stops as on Ctrl-C", async () => {
    const grid = await startLocal(["--agents", "1"]);
    const servers = grid.status().serverProcesses;
    expect(await grid.stop("SIGHUP")).toBe(0);
    expect(grid.output()).toContain("htc-grid local: SIGHUP: stopping the agents");
    expect(grid.output()).toContain("htc-grid local: stopped\n");
    expect(servers.filter(running)).toEqual([]);
    expect(processesMentioning(grid.dir)).toEqual([]);
  });

  it("when the reader of its output goes away (`| head`): it stops, exit 141, no crash, and its files go", async () => {
    const dir = workDir();
    const local = join(dir, "grid");
    const grid = spawnLocal(["--agents", "1", "--dir", local], dir);
    await waitUntil("the grid started", () => existsSync(join(local, "status.json")), 60_000);
    const servers = statusIn(local).serverProcesses;
    grid.child.stdout?.destroy();
    // The next status line (every 10 s without a terminal) finds the reader gone.
    expect(await grid.exited).toBe(141);
    // Before, that write crashed it with an EPIPE stack trace, leaving client.json and grid.pid behind.
    expect(grid.output()).not.toMatch(/EPIPE|\n\s+at /);
    expect(grid.output()).toContain("htc-grid local: the reader of its output went away: stopping");
    expect(existsSync(join(local, "client.json"))).toBe(false);
    expect(existsSync(join(local, "grid.pid"))).toBe(false);
    expect(servers.filter(running)).toEqual([]);
    expect(processesMentioning(local)).toEqual([]);
  });

  it("on Ctrl-C in a terminal running `npm run local`: one clean stop, its task in hand finished, though npm forwards the signal again", async () => {
    const dir = workDir();
    const local = join(dir, "grid");
    // A process group of its own, as a terminal's foreground job: Ctrl-C sends SIGINT to each process in it.
    const npm = spawnCollected(
      "npm",
      ["--prefix", REPO_ROOT, "run", "--silent", "local", "--", "--agents", "1", "--dir", local],
      { cwd: dir, detached: true },
    );
    await waitUntil("the grid started", () => existsSync(join(local, "status.json")), 120_000);
    const status = statusIn(local);
    const pids = [...status.serverProcesses, ...status.agentProcesses.map((a) => a.pid)];
    // A task in hand at the Ctrl-C, which the agent finishes before the servers stop.
    await taskInHand(localClient(local), 2_000);
    process.kill(-npm.child.pid!, "SIGINT");
    expect(await npm.exited).toBe(0);
    // Before, the grid took npm's copy of the signal for a second Ctrl-C and left at once, with exit 130.
    expect(npm.output()).toContain("htc-grid local: SIGINT: stopping the agents");
    expect(npm.output()).toContain("htc-grid local: stopped\n");
    expect(pids.filter(running)).toEqual([]);
    expect(existsSync(join(local, "client.json"))).toBe(false);
    // The Ctrl-C reached the grid only: before, the agent got it too, took the grid's SIGTERM for a second signal and
    // left its task, and redis-server and DynamoDB exited at once.
    const agentLog = readFileSync(join(local, "local-agent-1.log"), "utf8");
    expect(agentLog).toContain("htc-agent: SIGTERM: taking no new task, finishing the one in hand");
    expect(agentLog).toMatch(/stopped; \{"finished":1,/);
  }, 180_000);

  it("when `htc local`, run from another folder through npm, gets SIGTERM", async () => {
    const dir = workDir();
    const local = join(dir, "grid");
    const htc = spawnCollected(
      process.execPath,
      [join(REPO_ROOT, "runtime", "bin", "htc.js"), "local", "--agents", "1", "--dir", "grid"],
      { cwd: dir, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" } },
    );
    // npm builds the project first (tsc), then the grid starts: in the folder given relative to this one.
    await waitUntil(
      "the grid started",
      () => htc.output().includes("try it") && existsSync(join(local, "status.json")),
      120_000,
    );
    expect(htc.output()).toContain(`npx htc submit --local-dir ${local} --count 1000`);
    const status = statusIn(local);
    const pids = [...status.serverProcesses, ...status.agentProcesses.map((a) => a.pid)];
    const grid = Number(readFileSync(join(local, "grid.pid"), "utf8"));
    htc.child.kill("SIGTERM");
    expect(await htc.exited).toBe(0);
    // Before, npm passed the SIGTERM to the shell that ran the script, and the grid ran on without it.
    expect(htc.output()).toContain("htc-grid local: SIGTERM: stopping the agents");
    expect(htc.output()).toContain("htc-grid local: stopped\n");
    expect([grid, ...pids].filter(running)).toEqual([]);
    expect(processesMentioning(local)).toEqual([]);
  }, 180_000);
});

/** `npm run local`'s entry point with `args` in `cwd`: its process, its stdout and stderr so far, its exit code. */
function spawnLocal(args: string[], cwd: string, env: Record<string, string> = {}) {
  return spawnCollected(process.execPath, [LOCAL_SCRIPT, ...args], { cwd, env: { ...process.env, ...env } });
}

describe("npm run local runs the configuration's worker", () => {
  it("a local zip of a Node.js handler (agent_configuration.lambda), found by the runtime's rules, as a pod would", async () => {
    const dir = workDir();
    const code = "exports.handlers = { compute: async (event) => ({ doubled: event.x * 2 }) };\n";
    writeFileSync(join(dir, "worker.zip"), zipEntries([{ name: "app.js", data: Buffer.from(code) }]));
    // The handler as upstream's config gives it: the file, then the function (here a property path).
    const lambda = { location: "worker.zip", runtime: "nodejs", lambda_handler_file_name: "app" };
    const grid = await startLocal(["--agents", "1"], {
      HTCGRID_CONFIG: configFile(dir, {
        agent_configuration: { lambda: { ...lambda, lambda_handler_function_name: "handlers.compute" } },
      }),
    });
    expect(grid.output()).toContain(
      `worker ${join(dir, "worker.zip")} (the configuration's) (app.handlers.compute)`,
    );
    expect(grid.output()).toContain("npx htc submit --local --file tasks.ndjson --wait");
    writeFileSync(join(grid.dir, "tasks.ndjson"), '{"x": 1}\n{"x": 21}\n');
    const run = await runHtc(["submit", "--local", "--file", "tasks.ndjson", "--wait"], grid.dir);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout), run.stdout).toMatchObject({
      finished: 2,
      tasks: [{ output: { doubled: 2 } }, { output: { doubled: 42 } }],
    });
    expect(await grid.stop()).toBe(0);
  });

  it("worker code that requires or imports the AWS SDK unbundled, as Lambda's Node.js runtime allows, and writes to S3 itself", async () => {
    const dir = workDir();
    mkdirSync(join(dir, "writer"));
    writeFileSync(
      join(dir, "writer", "index.js"),
      'const { S3Client, PutObjectCommand } = require("@aws-sdk/client-s3");\n' +
        "const s3 = new S3Client({});\n" +
        "exports.handler = async (event) => {\n" +
        "  await s3.send(\n" +
        "    new PutObjectCommand({\n" +
        "      ...{ Bucket: event.bucket, Key: event.key, Body: event.body },\n" +
        '      ...{ ServerSideEncryption: "aws:kms", SSEKMSKeyId: event.kmsKey },\n' +
        "    }),\n" +
        "  );\n" +
        "  return { stored: event.key };\n" +
        "};\n",
    );
    // An ES module imports the SDK too (Lambda's runtime searches NODE_PATH for import); nothing else of this
    // project's node_modules resolves, by require() or import, as nothing else would in a pod.
    writeFileSync(
      join(dir, "writer", "other.mjs"),
      'import { S3Client } from "@aws-sdk/client-s3";\n' +
        'import { createRequire } from "node:module";\n' +
        'const attempt = (load) => load().then(() => "found", (error) => error.code);\n' +
        "export const handler = async () => ({\n" +
        "  sdk: typeof S3Client,\n" +
        '  required: await attempt(async () => createRequire(import.meta.url)("ioredis")),\n' +
        '  imported: await attempt(() => import("ioredis")),\n' +
        "});\n",
    );
    const grid = await startLocal(["--agents", "1", "--worker", join(dir, "writer")], {
      HTCGRID_CONFIG: configFile(dir, { grid_storage_service: "S3" }),
    });
    // The bucket takes only objects under the grid's KMS key, as the deployed bucket policy does.
    const agentConfig = JSON.parse(readFileSync(grid.configPath, "utf8")) as {
      s3_bucket: string;
      s3_kms_key_id: string;
    };
    const bucket = agentConfig.s3_bucket;
    const task = { bucket, key: "big/0", body: "computed", kmsKey: agentConfig.s3_kms_key_id };
    writeFileSync(join(grid.dir, "tasks.ndjson"), `${JSON.stringify(task)}\n`);
    const run = await runHtc(["submit", "--local", "--file", "tasks.ndjson", "--wait"], grid.dir);
    expect(run.code, run.stdout).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ finished: 1, tasks: [{ output: { stored: "big/0" } }] });
    const s3 = new S3Client({
      region: grid.env.AWS_REGION,
      endpoint: grid.env.AWS_ENDPOINT_URL_S3,
      forcePathStyle: true,
      credentials: {
        accessKeyId: grid.env.AWS_ACCESS_KEY_ID,
        secretAccessKey: grid.env.AWS_SECRET_ACCESS_KEY,
      },
    });
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "big/0" }));
    expect(await object.Body?.transformToString()).toBe("computed");
    expect(await grid.stop()).toBe(0);
    const other = await startLocal(
      ["--agents", "1", "--worker", join(dir, "writer"), "--handler", "other.handler"],
      {
        HTCGRID_CONFIG: configFile(dir, { grid_storage_service: "S3" }),
      },
    );
    const resolved = await runHtc(["submit", "--local", "--count", "1", "--wait"], other.dir);
    expect(resolved.code, resolved.stdout).toBe(0);
    expect(JSON.parse(resolved.stdout)).toMatchObject({
      tasks: [
        { output: { sdk: "function", required: "MODULE_NOT_FOUND", imported: "ERR_MODULE_NOT_FOUND" } },
      ],
    });
    expect(await other.stop()).toBe(0);
  });

  it("the mock compute engine, saying why, when the configured worker is not a Node.js handler", async () => {
    const dir = workDir();
    writeFileSync(
      join(dir, "worker.zip"),
      zipEntries([{ name: "bootstrap", data: Buffer.from("#!/bin/sh\n") }]),
    );
    // A location without a runtime is upstream's default, `provided` (a custom runtime's bootstrap).
    const grid = await startLocal(["--agents", "1"], {
      HTCGRID_CONFIG: configFile(dir, { agent_configuration: { lambda: { location: "worker.zip" } } }),
    });
    expect(grid.output()).toContain(
      `htc-grid local: the configuration's worker (${join(dir, "worker.zip")}) runs on runtime "provided", and the ` +
        "local worker host runs Node.js handlers only: the agents run the built-in mock compute engine instead",
    );
    expect(grid.output()).toContain("worker mock-compute-engine (index.handler)");
    const run = await runHtc(
      ["submit", "--local", "--count", "1", "--worker-args", "1 1 1", "--wait"],
      grid.dir,
    );
    expect(JSON.parse(run.stdout)).toMatchObject({ finished: 1, tasks: [{ output: { mode: "sleep" } }] });
    expect(await grid.stop()).toBe(0);
    // A worker image of one's own (upstream's runtime images) cannot run here either; nor can a worker in S3.
    const lambda = { location: "worker.zip", image: "my/worker", runtime: "nodejs" };
    const image = await startLocal(["--agents", "1"], {
      HTCGRID_CONFIG: configFile(dir, { agent_configuration: { lambda } }),
    });
    expect(image.output()).toMatch(
      /worker \(.*worker\.zip\) runs in the image \S*my\/worker:nodejs, and the local grid runs no images: /,
    );
    expect(await image.stop()).toBe(0);
    const inS3 = await startLocal(["--agents", "1"], {
      HTCGRID_CONFIG: configFile(dir, {
        agent_configuration: { lambda: { location: "s3://my-bucket/worker.zip", runtime: "nodejs" } },
      }),
    });
    expect(inS3.output()).toContain(
      "the configuration's worker (s3://my-bucket/worker.zip) is in S3, which the local grid does not read: ",
    );
    expect(await inS3.stop()).toBe(0);
  });
});

describe("npm run local refuses to start, cleanly", () => {
  async function failedStart(
    args: string[],
    env: Record<string, string>,
  ): Promise<{ code: number | string; output: string; dir: string }> {
    const dir = workDir();
    const started = spawnLocal(["--dir", join(dir, "local"), ...args], dir, env);
    const code = await started.exited;
    return { code, output: started.output(), dir };
  }

  it("when its API port is taken: one line naming the port, exit 1, nothing left running", async () => {
    const taken = createServer();
    const port = await new Promise<number>((resolve) =>
      taken.listen(0, "127.0.0.1", () => resolve((taken.address() as { port: number }).port)),
    );
    try {
      const { code, output, dir } = await failedStart(["--port", String(port)], {});
      expect(code).toBe(1);
      expect(output).toMatch(
        new RegExp(`could not start: the API port ${port} on 127.0.0.1 is already in use`),
      );
      expect(output).not.toMatch(/\n\s+at /);
      expect(processesMentioning(dir)).toEqual([]);
      expect(existsSync(join(dir, "local", "status.json"))).toBe(false);
    } finally {
      taken.close();
    }
  });

  it("when a grid already runs from its folder: one line naming it, exit 1, and the running grid untouched", async () => {
    const grid = await startLocal(["--agents", "1"]);
    const second = spawnLocal([], grid.dir);
    expect(await second.exited).toBe(1);
    expect(second.output()).toContain(
      `htc-grid local: could not start: a local grid already runs from generated/local (process ${grid.child.pid}): stop it (Ctrl-C in its terminal), or start this one with its own --dir\n`,
    );
    // Before, the second grid deleted the first one's code (bundles/) and replaced its client file.
    const client = grid.client();
    const results = await client.wait(await client.submit([{ worker_arguments: ["0", "1", "1"] }]), {
      timeoutMs: 30_000,
    });
    expect(results.finished).toBe(1);
    await client.close();
    expect(await grid.stop()).toBe(0);
    expect(existsSync(join(grid.local, "grid.pid"))).toBe(false);

    // A grid killed with SIGKILL leaves its grid.pid behind: a process that no longer runs does not block a start.
    writeFileSync(join(grid.local, "grid.pid"), `${second.child.pid}\n`);
    // An earlier grid's agent logs go, so the folder holds this grid's only.
    writeFileSync(join(grid.local, "local-agent-7.log"), "an earlier grid's agent\n");
    const third = spawnLocal(["--agents", "1"], grid.dir);
    await waitUntil(
      "the grid started over a stale grid.pid",
      () => third.output().includes("try it"),
      30_000,
    );
    expect(readFileSync(join(grid.local, "grid.pid"), "utf8")).toBe(`${third.child.pid}\n`);
    expect(readdirSync(grid.local).filter((f) => f.endsWith(".log"))).toEqual(["local-agent-1.log"]);
    third.child.kill("SIGTERM");
    expect(await third.exited).toBe(0);
  }, 90_000);

  it("for a Redis grid without redis-server: one line saying how to install it", async () => {
    const { code, output, dir } = await failedStart([], { PATH: "/nonexistent" });
    expect(code).toBe(1);
    expect(output).toMatch(
      /could not start: redis-server is not installed: install it \(Debian\/Ubuntu: sudo apt-get install -y redis-server/,
    );
    expect(processesMentioning(dir)).toEqual([]);
  });

  it("for worker code the worker host cannot run: one line naming the flag, exit 2, before anything starts", async () => {
    const dir = workDir();
    writeFileSync(join(dir, "bad.zip"), "not a zip\n");
    mkdirSync(join(dir, "code"));
    writeFileSync(join(dir, "code", "main.js"), "exports.run = async () => 1;\n");
    writeFileSync(join(dir, "code", "my.worker.js"), "exports.run = async () => 1;\n");
    const cases: [string[], string][] = [
      [["--worker", "bad.zip"], "htc-grid local: --worker bad.zip: the file is not a zip archive"],
      [
        ["--worker", "code"],
        "htc-grid local: --handler index.handler: code has no index.js, index.mjs or index.cjs",
      ],
      [
        ["--worker", "code", "--handler", "main"],
        'htc-grid local: --handler "main" must be [folder/]<module>.<function> without "..", e.g. index.handler',
      ],
      [
        // As the Node.js runtime reads the name: the module is the part before the first dot (then a property path).
        ["--worker", "code", "--handler", "my.worker.run"],
        "htc-grid local: --handler my.worker.run: code has no my.js, my.mjs or my.cjs",
      ],
    ];
    for (const [args, line] of cases) {
      const started = spawnLocal(args, dir);
      const code = await started.exited;
      const output = started.output();
      expect(code, output).toBe(2);
      expect(output.split("\n")[0]).toContain(line);
      expect(output).not.toContain("ready in");
      expect(existsSync(join(dir, "generated"))).toBe(false);
    }
    // Run through npm (`npm run local` from a subfolder, `npx htc local` from anywhere), a relative --worker is the
    // caller's, which npm names in INIT_CWD: here the bad zip is read (not "does not exist" from the repository).
    const viaNpm = spawnLocal(["--worker", "bad.zip"], workDir(), {
      npm_lifecycle_event: "local",
      INIT_CWD: dir,
    });
    expect(await viaNpm.exited).toBe(2);
    expect(viaNpm.output().split("\n")[0]).toContain(
      "htc-grid local: --worker bad.zip: the file is not a zip archive",
    );
    // The handler found in the folder: it starts, in a --dir of its own, and says how to reach it from anywhere.
    const elsewhere = join(dir, "elsewhere");
    const grid = await startLocal([
      ...["--worker", join(dir, "code"), "--handler", "main.run", "--agents", "1", "--dir", elsewhere],
    ]);
    expect(grid.output()).toContain(`npx htc submit --local-dir ${elsewhere} --file tasks.ndjson --wait`);
    const run = await runHtc(["submit", "--local-dir", elsewhere, "--count", "2", "--wait"], workDir());
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      total: 2,
      finished: 2,
      tasks: [{ output: 1 }, { output: 1 }],
    });
    expect(await grid.stop()).toBe(0);
  });

  it("for the configuration's worker when it cannot run its handler, and for --handler without a worker", async () => {
    const dir = workDir();
    writeFileSync(
      join(dir, "worker.zip"),
      zipEntries([{ name: "app.js", data: Buffer.from("exports.a = 1;\n") }]),
    );
    const lambda = { location: "worker.zip", runtime: "nodejs", lambda_handler_file_name: "main" };
    const { code, output } = await failedStart([], {
      HTCGRID_CONFIG: configFile(dir, {
        agent_configuration: { lambda: { ...lambda, lambda_handler_function_name: "run" } },
      }),
    });
    expect(code).toBe(1);
    expect(output.split("\n")[0]).toBe(
      `htc-grid local: configuration rejected: ${join(dir, "grid_config.json")}: the configuration's handler main.run: ` +
        `the configuration's worker (agent_configuration.lambda.location ${join(dir, "worker.zip")}) has no main.js, main.mjs or main.cjs`,
    );
    expect(existsSync(join(dir, "local"))).toBe(false);
    const handlerAlone = await failedStart(["--handler", "app.run"], {});
    expect(handlerAlone.code).toBe(2);
    expect(handlerAlone.output.split("\n")[0]).toBe(
      "htc-grid local: --handler app.run needs --worker ZIP|DIR (the built-in mock compute engine's handler is index.handler)",
    );
  });

  it("for a bad configuration: the configuration's own messages, before anything starts", async () => {
    const dir = workDir();
    const { code, output } = await failedStart([], {
      HTCGRID_CONFIG: configFile(dir, { grid_storage_service: "S4" }),
    });
    expect(code).toBe(1);
    expect(output).toMatch(/configuration rejected: [\s\S]*grid_storage_service: "S4" is not allowed/);
    expect(output).not.toContain("ready in");
  });
});
