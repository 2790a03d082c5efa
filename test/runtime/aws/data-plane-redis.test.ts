// Redis as the data plane when it is full, on a real redis-server capped at 2 MB as a cache node's memory caps it:
// with allkeys-lru (the policy the grid used to set for every storage mode) writes keep succeeding while earlier
// keys silently disappear, which with REDIS storage are live task inputs and outputs; with the policy the grid now
// sets for REDIS storage (noeviction) the write that does not fit is refused with RedisFullError and every key that
// was accepted is still there. Keys carry the configured expiry, so a full store drains itself. And when Redis stops
// answering (the process stopped with SIGSTOP): commands fail after their timeout over a connection that is then
// replaced, and S3+REDIS goes on with S3 alone.

import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  RedisDataPlane,
  RedisFullError,
  RedisUnreachableError,
  REDIS_COMMAND_TIMEOUT_MS,
  WriteThroughDataPlane,
  connectRedis,
  openDataPlane,
  type DataPlane,
} from "../../../runtime/src/aws/data-plane";
import { redisMaxmemoryPolicy } from "../../../runtime/src/contract";
import { freePort } from "../../../runtime/src/local/ports";
import { startRedis, type LocalServer } from "../../../runtime/src/local/servers";
import { requireTool } from "../../support/tools";

const VALUE = "x".repeat(64 * 1024);
const KEYS = 64; // 4 MB of values: twice the cap

async function capped(policy: string): Promise<{ server: LocalServer; redis: Redis }> {
  const server = await startRedis({
    binary: requireTool("redis-server"),
    maxmemoryPolicy: policy,
    maxmemory: "2mb",
  });
  return { server, redis: new Redis(server.port, "127.0.0.1", { maxRetriesPerRequest: 1 }) };
}

/** Writes KEYS values; returns how many were accepted and the error that stopped the writes, if any. */
async function fill(plane: RedisDataPlane): Promise<{ accepted: number; error?: unknown }> {
  for (let i = 0; i < KEYS; i++) {
    try {
      await plane.put(`s_${i}-input`, VALUE);
    } catch (error) {
      return { accepted: i, error };
    }
  }
  return { accepted: KEYS };
}

async function present(plane: RedisDataPlane, count: number): Promise<number> {
  let found = 0;
  for (let i = 0; i < count; i++) if ((await plane.get(`s_${i}-input`)) === VALUE) found++;
  return found;
}

describe("a full Redis", () => {
  const servers: LocalServer[] = [];
  const clients: Redis[] = [];
  const start = async (policy: string) => {
    const started = await capped(policy);
    servers.push(started.server);
    clients.push(started.redis);
    return started.redis;
  };
  afterAll(async () => {
    for (const redis of clients) redis.disconnect();
    await Promise.all(servers.map((server) => server.stop()));
  });

  it("with allkeys-lru accepts every write and silently loses earlier keys (why REDIS storage no longer uses it)", async () => {
    const plane = new RedisDataPlane(await start("allkeys-lru"));
    expect(await fill(plane)).toEqual({ accepted: KEYS });
    expect(await present(plane, KEYS)).toBeLessThan(KEYS / 2);
  });

  it("with the REDIS storage policy refuses the write that does not fit, in one line, and keeps every accepted key", async () => {
    expect(redisMaxmemoryPolicy("REDIS")).toBe("noeviction");
    const plane = new RedisDataPlane(await start(redisMaxmemoryPolicy("REDIS")));
    const { accepted, error } = await fill(plane);
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThan(KEYS);
    expect(error).toBeInstanceOf(RedisFullError);
    expect((error as Error).message).toBe(
      `Redis is full and refused to store s_${accepted}-input (OOM command not allowed when used memory > 'maxmemory'): keys leave as they expire (redis_data_expiration_hours); use a larger redis_node_type or a shorter expiry`,
    );
    expect(await present(plane, accepted)).toBe(accepted);
  });

  it("in front of S3 (S3+REDIS) is a cache that may evict: S3 holds the copy", () => {
    expect(redisMaxmemoryPolicy("S3+REDIS")).toBe("allkeys-lru");
  });
});

/**
 * A redis-server of the calling describe block's own with a plain client (`admin`), started before its tests and
 * continued (it may have been stopped with SIGSTOP) and stopped after them.
 */
function ownRedisServer(): { server: LocalServer; admin: Redis } {
  const own = {} as { server: LocalServer; admin: Redis };
  beforeAll(async () => {
    own.server = await startRedis({ binary: requireTool("redis-server") });
    own.admin = new Redis(own.server.port, "127.0.0.1");
  });
  afterAll(async () => {
    if (own.server?.pid) process.kill(own.server.pid, "SIGCONT");
    own.admin?.disconnect();
    await own.server?.stop();
  });
  return own;
}

describe("Redis key expiry", () => {
  const own = ownRedisServer();

  it("writes keys with redis_data_expiration_sec, or without an expiry when it is 0", async () => {
    const expiring = openDataPlane({
      storage: "REDIS",
      redis: own.admin,
      redisExpirationSec: 3600,
    }).dataPlane;
    await expiring.put("a_0-output", "b2s=");
    const ttl = await own.admin.ttl("a_0-output");
    expect(ttl).toBeGreaterThan(3590);
    expect(ttl).toBeLessThanOrEqual(3600);
    expect(await expiring.get("a_0-output")).toBe("b2s=");

    const lasting = openDataPlane({ storage: "REDIS", redis: own.admin, redisExpirationSec: 0 }).dataPlane;
    await lasting.put("a_1-output", "b2s=");
    expect(await own.admin.ttl("a_1-output")).toBe(-1);
  });

  it("lets a key go when its expiry passes", async () => {
    const plane = new RedisDataPlane(own.admin, 1);
    await plane.put("a_2-input", "eA==");
    expect(await plane.get("a_2-input")).toBe("eA==");
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    expect(await plane.get("a_2-input")).toBeUndefined();
  });
});

describe("a Redis that stops answering", () => {
  const own = ownRedisServer();

  const connections = async () =>
    Number(/total_connections_received:(\d+)/.exec(await own.admin.info("stats"))?.[1] ?? Number.NaN);

  it("fails the command after the timeout instead of waiting for TCP, and goes on over a new connection", async () => {
    const redis = connectRedis({
      host: "127.0.0.1",
      port: own.server.port,
      tls: false,
      commandTimeoutMs: 500,
    });
    try {
      const plane = new RedisDataPlane(redis, 60);
      await plane.put("h_0-input", "eA==");
      const before = await connections();
      // The process stops: its socket stays open and accepts bytes, but nothing answers (a node that went silent).
      process.kill(own.server.pid!, "SIGSTOP");
      const started = Date.now();
      await expect(plane.get("h_0-input")).rejects.toThrow("Command timed out");
      expect(Date.now() - started).toBeLessThan(3_000);
      process.kill(own.server.pid!, "SIGCONT");
      expect(await plane.get("h_0-input")).toBe("eA==");
      // The connection that went silent was replaced rather than trusted again.
      expect(await connections()).toBeGreaterThan(before);
    } finally {
      redis.disconnect();
    }
  });

  it("bounds every command by default", () => {
    const redis = connectRedis({ host: "127.0.0.1", port: own.server.port, tls: false });
    try {
      expect(redis.options.commandTimeout).toBe(REDIS_COMMAND_TIMEOUT_MS);
      expect(REDIS_COMMAND_TIMEOUT_MS).toBe(10_000);
    } finally {
      redis.disconnect();
    }
  });

  it("as the cache of S3+REDIS: reads and writes go to S3 alone, the cache is tried once per bypass period and back-filled after", async () => {
    // The durable side stands in for S3 (the unit here is the cache logic); Redis is a real server.
    const objects = new Map<string, string>();
    const durable: DataPlane = {
      get: async (key) => objects.get(key),
      put: async (key, value) => void objects.set(key, value),
    };
    const redis = connectRedis({
      host: "127.0.0.1",
      port: own.server.port,
      tls: false,
      commandTimeoutMs: 300,
    });
    const failures: unknown[] = [];
    const plane = new WriteThroughDataPlane(durable, new RedisDataPlane(redis, 60), {
      onCacheError: (error) => failures.push(error),
      bypassMs: 1_500,
    });
    try {
      await plane.put("w_0-input", "YQ==");
      expect(await own.admin.get("w_0-input")).toBe("YQ==");

      process.kill(own.server.pid!, "SIGSTOP");
      let started = Date.now();
      await plane.put("w_1-output", "Yg==");
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(objects.get("w_1-output")).toBe("Yg==");
      expect(failures.map((e) => (e as Error).message)).toEqual(["Command timed out"]);
      // Within the bypass period the cache is not asked: no more timeouts, answers from S3 at once.
      started = Date.now();
      expect(await plane.get("w_1-output")).toBe("Yg==");
      expect(await plane.get("w_0-input")).toBe("YQ==");
      await plane.put("w_2-output", "Yw==");
      expect(Date.now() - started).toBeLessThan(200);
      expect(failures).toHaveLength(1);

      process.kill(own.server.pid!, "SIGCONT");
      await new Promise((resolve) => setTimeout(resolve, 1_600));
      // The period is over: a miss is read from S3 and back-filled.
      expect(await plane.get("w_1-output")).toBe("Yg==");
      expect(await own.admin.get("w_1-output")).toBe("Yg==");
      expect(failures).toHaveLength(1);
    } finally {
      process.kill(own.server.pid!, "SIGCONT");
      redis.disconnect();
    }
  });
});

describe("a Redis that cannot be reached", () => {
  it("fails the command naming the address and the connection's error, prints nothing, and recovers when Redis comes", async () => {
    const printed = vi.spyOn(console, "error");
    const port = await freePort(); // nothing listens there yet
    const redis = connectRedis({ host: "127.0.0.1", port, tls: false });
    let server: LocalServer | undefined;
    try {
      const plane = new RedisDataPlane(redis, 60);
      const error = await plane.put("u_0-input", "eA==").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RedisUnreachableError);
      expect((error as Error).message).toBe(
        `Redis at 127.0.0.1:${port} cannot be reached (connect ECONNREFUSED 127.0.0.1:${port})`,
      );
      // ioredis prints "[ioredis] Unhandled error event" and a stack trace for each connection error nobody
      // listens for: into htc's output, and into an agent's log at every reconnect.
      expect(printed).not.toHaveBeenCalled();

      server = await startRedis({ binary: requireTool("redis-server"), port });
      const deadline = Date.now() + 10_000;
      for (;;) {
        const written = await plane.put("u_0-input", "eA==").then(
          () => true,
          () => false,
        );
        if (written) break;
        expect(Date.now()).toBeLessThan(deadline);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(await plane.get("u_0-input")).toBe("eA==");
    } finally {
      printed.mockRestore();
      redis.disconnect();
      await server?.stop();
    }
  });
});
