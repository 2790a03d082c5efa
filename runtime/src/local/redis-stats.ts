// Redis commands by name, for the benchmarks: what the grid's clients, handlers and agents sent to the local
// redis-server since the last reset, from `INFO commandstats` (the server's own per-command call counters).

import type { Redis } from "ioredis";

/** Commands the counting itself sends: not part of what is measured. */
const OWN_COMMANDS = new Set(["config", "info"]);

/** Zeroes the server's command counters (CONFIG RESETSTAT). */
export async function resetRedisCommandCounts(redis: Redis): Promise<void> {
  await redis.config("RESETSTAT");
}

/** Parses `INFO commandstats` into calls per command (`get`, `set`, `client|setinfo`, ...). */
export function parseCommandStats(info: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of info.split(/\r?\n/)) {
    const match = /^cmdstat_([^:]+):(?:.*,)?calls=(\d+)/.exec(line);
    // Redis 7 counts subcommands apart (`config|resetstat`); the counting's own are left out by their command.
    if (match && !OWN_COMMANDS.has(match[1].split("|")[0])) counts.set(match[1], Number(match[2]));
  }
  return counts;
}

/** Calls per command since the last reset (commands of the counting itself left out). */
export async function redisCommandCounts(redis: Redis): Promise<Map<string, number>> {
  return parseCommandStats(await redis.info("commandstats"));
}
