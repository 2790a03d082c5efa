// State partitioning: `task_status` is `<state><p>` with p = md5(session_id) as an integer mod 32,
// which spreads the hot GSI keys. Agents compute the same value, so this must not change.

import { createHash } from "node:crypto";
import type { TaskState } from "./types";

export const MAX_STATE_PARTITIONS = 32;

/** Partition of a session: the 128-bit md5 digest read as an unsigned integer, mod 32. */
export function partitionOfSession(sessionId: string): number {
  const digest = createHash("md5").update(sessionId, "utf8").digest();
  // 32 divides 2^8, so the integer mod 32 only depends on the last byte.
  return digest[digest.length - 1] % MAX_STATE_PARTITIONS;
}

/** The session part of a task id (`<session_id>_<suffix>`). */
export function sessionOfTask(taskId: string): string {
  return taskId.split("_")[0];
}

export function stateKey(state: TaskState, partition: number): string {
  return `${state}${partition}`;
}

export function stateKeyForSession(state: TaskState, sessionId: string): string {
  return stateKey(state, partitionOfSession(sessionId));
}

export function stateKeyForTask(state: TaskState, taskId: string): string {
  return stateKeyForSession(state, sessionOfTask(taskId));
}
