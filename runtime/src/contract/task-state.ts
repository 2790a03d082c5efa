// Task states and state partitioning. `task_status` is `<state><p>` with p = md5(session_id) read as an
// unsigned integer mod 32, which spreads the hot index keys; every agent, Lambda and client computes the same
// value, so none of this may change.

import { createHash } from "node:crypto";

/** Task lifecycle states; the stored `task_status` is `<state><partition>` (e.g. `pending17`). */
export const TASK_STATES = ["pending", "processing", "finished", "failed", "cancelled"] as const;
export type TaskState = (typeof TASK_STATES)[number];
/** States a task never leaves. */
export const FINAL_STATES: readonly TaskState[] = ["finished", "failed", "cancelled"];

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

/** The state of a stored `task_status` (`finished17` -> `finished`), or undefined for anything else. */
export function stateOf(taskStatus: string): TaskState | undefined {
  const match = /^([a-z]+)(\d+)$/.exec(taskStatus);
  return match && (TASK_STATES as readonly string[]).includes(match[1]) ? (match[1] as TaskState) : undefined;
}
