// A real agent process on a grid with REDIS storage: its outputs carry the configured expiry; when Redis is full (at
// its memory limit with the REDIS storage policy, which refuses writes rather than evict live task data) the output
// it cannot store is not lost: the task goes back for a retry, and once there is room it finishes once; when Redis
// stops answering, the agent's read fails after the command timeout instead of holding the task until TCP gives up.
// With S3+REDIS a Redis that stops answering costs the agent one timed-out call: it goes on with S3 alone.

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { outputKey, redisMaxmemoryPolicy, stateKeyForSession, stateOf } from "../../../runtime/src/contract";
import { freePort } from "../../../runtime/src/local/ports";
import { recordFinals, startHarness, stopAgent, type Harness } from "./harness";

const EXPIRATION_SEC = 7200;
const sleepTask = (ms: number) => ({ worker_arguments: [String(ms), "1", "1"] });

let h: Harness;
/** Applied transitions into a final state, per task id. */
let finals: Map<string, string[]>;

beforeAll(async () => {
  h = await startHarness({
    storage: "REDIS",
    maxRetries: 5,
    config: (_grid, base) => ({ ...base, redis_data_expiration_sec: EXPIRATION_SEC }),
  });
  finals = recordFinals(h);
  await h.grid.redis!.config("SET", "maxmemory-policy", redisMaxmemoryPolicy("REDIS"));
}, 120_000);
afterAll(async () => h?.stop());

const finished =
  (sessionId: string, taskIds: readonly string[], grid = h) =>
  async () =>
    (await grid.rows(taskIds)).every((r) => r.task_status === stateKeyForSession("finished", sessionId));

describe("an agent with REDIS storage", () => {
  it("writes each output with redis_data_expiration_sec", async () => {
    const { sessionId, taskIds } = await h.submit([sleepTask(0), sleepTask(0)]);
    const agent = h.spawnAgent("agent-expiry");
    await h.waitFor("both tasks finished", finished(sessionId, taskIds));
    expect(await stopAgent(agent)).toBe(0);
    for (const taskId of taskIds) {
      const ttl = await h.grid.redis!.ttl(outputKey(taskId));
      expect(ttl, taskId).toBeGreaterThan(EXPIRATION_SEC - 60);
      expect(ttl, taskId).toBeLessThanOrEqual(EXPIRATION_SEC);
    }
  });

  it("fails a task whose input is gone, naming the expiry as a cause", async () => {
    const { sessionId, taskIds } = await h.submit([sleepTask(0)], { inputs: "skip" });
    const agent = h.spawnAgent("agent-expired-input");
    await h.waitFor("the task failed", async () =>
      (await h.rows(taskIds)).every((r) => r.task_status === stateKeyForSession("failed", sessionId)),
    );
    expect(await stopAgent(agent)).toBe(0);
    const error = JSON.parse((await h.output(taskIds[0], "error")) ?? "{}") as Record<string, unknown>;
    expect(error).toEqual({
      errorType: "MissingInput",
      errorMessage: `input ${taskIds[0]}-input is not in the data plane (REDIS); Redis keys expire ${EXPIRATION_SEC} s after they are written (redis_data_expiration_sec)`,
    });
  });

  it("loses no task when Redis is full: the output it cannot store sends the task back, and with room again it finishes once", async () => {
    const redis = h.grid.redis!;
    const { sessionId, taskIds } = await h.submit([sleepTask(0)]);
    // Full from here on: every write is refused (the input above was stored before).
    await redis.config("SET", "maxmemory", "1");
    let ttlLoop: NodeJS.Timeout | undefined;
    // A short pause after the refusal (next test), so the retried task is taken again soon.
    const agent = h.spawnAgent("agent-full", { env: { HTC_AGENT_FULL_PAUSE_SEC: "1" } });
    try {
      await h.waitFor(
        "the agent giving the task back",
        async () => agent.output().includes(`Redis is full and refused to store ${outputKey(taskIds[0])}`),
        30_000,
      );
      expect(agent.output()).toContain(`completing task ${taskIds[0]} failed`);
      expect(await redis.exists(outputKey(taskIds[0]))).toBe(0);
      expect(finals.get(taskIds[0])).toBeUndefined();
      await redis.config("SET", "maxmemory", "0");
      ttlLoop = setInterval(() => void h.ttl().catch(() => undefined), 1_000);
      await h.waitFor("the task finished", finished(sessionId, taskIds), 60_000);
    } finally {
      clearInterval(ttlLoop);
      await redis.config("SET", "maxmemory", "0");
    }
    expect(finals.get(taskIds[0])).toEqual(["finished"]);
    const [row] = await h.rows(taskIds);
    expect(row.retries).toBeGreaterThanOrEqual(1);
    expect(JSON.parse((await h.output(taskIds[0])) ?? "null")).toMatchObject({ result: 0, mode: "sleep" });
    expect(await stopAgent(agent)).toBe(0);
  }, 120_000);

  it("takes no new task for HTC_AGENT_FULL_PAUSE_SEC after a refused write, so queued tasks keep their retries", async () => {
    const redis = h.grid.redis!;
    const { sessionId, taskIds } = await h.submit(Array.from({ length: 30 }, () => sleepTask(0)));
    await redis.config("SET", "maxmemory", "1");
    let ttlLoop: NodeJS.Timeout | undefined;
    const agent = h.spawnAgent("agent-full-pause", { env: { HTC_AGENT_FULL_PAUSE_SEC: "6" } });
    // Tasks the agent took: processing (running, or handed back and not yet requeued: no TTL checker runs yet).
    const taken = async () =>
      (await h.rows(taskIds)).filter((r) => stateOf(r.task_status) !== "pending" || r.retries > 0).length;
    try {
      await h.waitFor(
        "the pause",
        async () => agent.output().includes("the data plane is full; taking no new task for 6 s"),
        30_000,
      );
      await new Promise((resolve) => setTimeout(resolve, 500));
      const atPause = await taken();
      await new Promise((resolve) => setTimeout(resolve, 3_500));
      expect(await taken()).toBe(atPause);
      expect(atPause).toBeLessThan(taskIds.length);
      await redis.config("SET", "maxmemory", "0");
      ttlLoop = setInterval(() => void h.ttl().catch(() => undefined), 1_000);
      await h.waitFor("every task finished", finished(sessionId, taskIds), 90_000);
    } finally {
      clearInterval(ttlLoop);
      await redis.config("SET", "maxmemory", "0");
    }
    for (const taskId of taskIds) expect(finals.get(taskId), taskId).toEqual(["finished"]);
    expect(await stopAgent(agent)).toBe(0);
  }, 150_000);

  it("loses no task when Redis stops answering: the agent gives the task back after the command timeout, and it finishes once when Redis answers again", async () => {
    const pid = h.grid.redisPid!;
    const { sessionId, taskIds } = await h.submit([sleepTask(0)]);
    let ttlLoop: NodeJS.Timeout | undefined;
    // The process stops: its socket stays open and accepts bytes, but nothing answers (a node that went silent).
    process.kill(pid, "SIGSTOP");
    const agent = h.spawnAgent("agent-silent-redis");
    try {
      await h.waitFor(
        "the agent giving the task back",
        async () =>
          agent.output().includes(`reading the input of ${taskIds[0]} failed -- Error: Command timed out`),
        30_000,
      );
      expect(finals.get(taskIds[0])).toBeUndefined();
    } finally {
      process.kill(pid, "SIGCONT");
    }
    try {
      ttlLoop = setInterval(() => void h.ttl().catch(() => undefined), 1_000);
      await h.waitFor("the task finished", finished(sessionId, taskIds), 60_000);
    } finally {
      clearInterval(ttlLoop);
    }
    expect(finals.get(taskIds[0])).toEqual(["finished"]);
    expect((await h.rows(taskIds))[0].retries).toBeGreaterThanOrEqual(1);
    expect(await stopAgent(agent)).toBe(0);
  }, 120_000);
});

describe("an agent whose Redis cannot be reached", () => {
  it("says so in one line naming the address and the connection's error, and loses no task", async () => {
    const port = await freePort(); // nothing listens there
    const config = JSON.parse(readFileSync(h.configPath, "utf8")) as { redis_url: string };
    const file = join(h.dir, "agent-config-unreachable-redis.json");
    writeFileSync(
      file,
      JSON.stringify({ ...config, redis_url: config.redis_url.replace(/:\d+$/, `:${port}`) }),
    );
    const { sessionId, taskIds } = await h.submit([sleepTask(0)]);
    const cut = h.spawnAgent("agent-unreachable-redis", { env: { AGENT_CONFIG_FILE: file } });
    // The bundled agent: ioredis's class names are minified there, so the error is told apart by class.
    const line = `failed -- RedisUnreachableError: Redis at 127.0.0.1:${port} cannot be reached (connect ECONNREFUSED 127.0.0.1:${port})`;
    await h.waitFor(
      "the agent naming the unreachable Redis",
      async () => cut.output().includes(line),
      30_000,
    );
    expect(await stopAgent(cut)).toBe(0);
    // No "[ioredis] Unhandled error event" stack trace per reconnect.
    expect(cut.output()).not.toContain("Unhandled error event");
    expect(finals.get(taskIds[0])).toBeUndefined();

    const agent = h.spawnAgent("agent-reachable-redis");
    const ttlLoop = setInterval(() => void h.ttl().catch(() => undefined), 1_000);
    try {
      await h.waitFor("the task finished", finished(sessionId, taskIds), 60_000);
    } finally {
      clearInterval(ttlLoop);
    }
    expect(finals.get(taskIds[0])).toEqual(["finished"]);
    expect(await stopAgent(agent)).toBe(0);
  }, 120_000);
});

describe("an agent with S3+REDIS storage", () => {
  let w: Harness;
  let wFinals: Map<string, string[]>;
  beforeAll(async () => {
    w = await startHarness({ storage: "S3+REDIS" });
    wFinals = recordFinals(w);
  }, 120_000);
  afterAll(async () => {
    if (w?.grid.redisPid) process.kill(w.grid.redisPid, "SIGCONT");
    await w?.stop();
  });

  it("runs tasks with S3 alone while Redis does not answer, each once, and says so in its log", async () => {
    const pid = w.grid.redisPid!;
    const { sessionId, taskIds } = await w.submit([sleepTask(0), sleepTask(0), sleepTask(0)]);
    // The process stops: its socket stays open and accepts bytes, but nothing answers (a node that went silent).
    process.kill(pid, "SIGSTOP");
    const agent = w.spawnAgent("agent-cache-silent");
    try {
      await w.waitFor("every task finished", finished(sessionId, taskIds, w), 60_000);
      expect(agent.output()).toContain(
        "the Redis cache failed; using S3 alone for the next 30 s -- Error: Command timed out",
      );
      for (const taskId of taskIds) expect(wFinals.get(taskId), taskId).toEqual(["finished"]);
      expect((await w.rows(taskIds)).map((r) => r.retries)).toEqual([0, 0, 0]);
    } finally {
      process.kill(pid, "SIGCONT");
    }
    // The outputs are in S3 (read through the cache, which back-fills).
    for (const taskId of taskIds)
      expect(JSON.parse((await w.output(taskId)) ?? "null")).toMatchObject({ result: 0, mode: "sleep" });
    expect(await stopAgent(agent)).toBe(0);
  }, 120_000);
});
