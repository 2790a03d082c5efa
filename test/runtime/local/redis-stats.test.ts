// The Redis command counts bench:e2e prints: read from a real redis-server's INFO commandstats after a reset.

import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedis, type LocalServer } from "../../../runtime/src/local/servers";
import {
  parseCommandStats,
  redisCommandCounts,
  resetRedisCommandCounts,
} from "../../../runtime/src/local/redis-stats";

let server: LocalServer;
let redis: Redis;

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.port, "127.0.0.1");
});

afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

describe("Redis command counts", () => {
  it("counts each command sent since the reset, and not the counting's own commands", async () => {
    await redis.set("before", "x");
    await resetRedisCommandCounts(redis);
    for (let i = 0; i < 3; i++) await redis.set(`k${i}`, "v");
    await redis.get("k0");
    await redis.mget("k1", "k2");
    const counts = await redisCommandCounts(redis);
    expect(counts.get("set")).toBe(3);
    expect(counts.get("get")).toBe(1);
    expect(counts.get("mget")).toBe(1);
    expect([...counts.keys()].some((name) => name.startsWith("config"))).toBe(false);
    expect(counts.has("info")).toBe(false);
    // Nothing else was sent after the reset.
    expect([...counts.values()].reduce((a, b) => a + b, 0)).toBe(5);
  });

  it("parses INFO commandstats lines of older and newer servers", () => {
    const counts = parseCommandStats(
      [
        "# Commandstats",
        "cmdstat_get:calls=7,usec=12,usec_per_call=1.71",
        "cmdstat_set:calls=2,usec=5,usec_per_call=2.50,rejected_calls=0,failed_calls=0",
        "cmdstat_client|setinfo:calls=1,usec=1,usec_per_call=1.00,rejected_calls=0,failed_calls=0",
        "cmdstat_info:calls=4,usec=90,usec_per_call=22.5",
        "cmdstat_config|resetstat:calls=1,usec=30,usec_per_call=30.00,rejected_calls=0,failed_calls=0",
        "",
      ].join("\r\n"),
    );
    expect([...counts]).toEqual([
      ["get", 7],
      ["set", 2],
      ["client|setinfo", 1],
    ]);
  });
});
