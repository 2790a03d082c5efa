// Parsing and validation of a task submission into state-table rows.
//
// Two documented modes (TASK_INPUT_PASSED_VIA_EXTERNAL_STORAGE):
//  "1" (default, upstream's client): `tasks_list.tasks` is a list of task ids `<session_id>_<suffix>`
//      whose inputs the client stored as `<task_id>-input`; rows carry task_definition "none".
//  "0" (inline; upstream defect 16 made it unusable): `tasks_list.tasks` is a list of task
//      definitions (JSON objects). The server assigns ids `<session_id>_<first_index + index>` (and a fresh
//      session id when session_id is missing or "None") and stores each definition, as JSON text,
//      in the row's `task_definition`, where agents read it when external storage is off.
//      `tasks_list.first_index` (default 0) lets a client split one session over several submissions
//      without reusing ids.

import { randomUUID } from "node:crypto";
import {
  DEFINITION_IN_DATA_PLANE,
  MAX_INLINE_DEFINITION_BYTES,
  MAX_TASKS_PER_SUBMISSION,
  NONE,
  TASK_ID_PATTERN,
  partitionOfSession,
  stateKey,
} from "../contract";
import { RequestError, validSessionId } from "./request";
import type { TaskRow } from "../contract";

export interface Submission {
  readonly sessionId: string;
  readonly priority: number;
  readonly rows: TaskRow[];
  /** Client stage timestamps, copied into each queue message. */
  readonly stats: Record<string, unknown>;
}

export interface SubmissionOptions {
  readonly externalStorage: boolean;
  /** With external storage, the session id the request named (the payload must agree). */
  readonly requestedSessionId?: string;
  /** Number of priority levels; SQS mode has 1 and records every task at priority 0. */
  readonly priorities: number;
  readonly prioritySQS: boolean;
  readonly nowMs: number;
  readonly newSessionId?: () => string;
}

function parsePriority(payload: Record<string, unknown>, options: SubmissionOptions): number {
  const context = payload.context;
  if (context === undefined || context === null) return 0;
  if (typeof context !== "object") throw new RequestError("Invalid submission: context must be an object");
  const requested = (context as Record<string, unknown>).tasks_priority;
  if (requested === undefined) return 0;
  if (typeof requested !== "number" || !Number.isInteger(requested) || requested < 0) {
    throw new RequestError(
      `Invalid submission: context.tasks_priority must be a non-negative integer, got ${JSON.stringify(requested)}`,
    );
  }
  if (!options.prioritySQS) return 0;
  if (requested >= options.priorities) {
    throw new RequestError(
      `Invalid submission: context.tasks_priority ${requested} is out of range 0-${options.priorities - 1}`,
    );
  }
  return requested;
}

/** `scheduler_data.inline_outputs`: whether agents may keep this session's small outputs in the rows. */
function parseInlineOutputs(payload: Record<string, unknown>): boolean {
  const schedulerData = payload.scheduler_data;
  if (typeof schedulerData !== "object" || schedulerData === null) return false;
  const requested = (schedulerData as Record<string, unknown>).inline_outputs;
  if (requested === undefined || requested === null) return false;
  if (typeof requested !== "boolean") {
    throw new RequestError(
      `Invalid submission: scheduler_data.inline_outputs must be true or false, got ${JSON.stringify(requested)?.slice(0, 80)}`,
    );
  }
  return requested;
}

export function parseSubmission(payload: Record<string, unknown>, options: SubmissionOptions): Submission {
  const tasksList = payload.tasks_list as { tasks?: unknown } | undefined;
  const tasks = tasksList && typeof tasksList === "object" ? tasksList.tasks : undefined;
  if (!Array.isArray(tasks) || tasks.length === 0)
    throw new RequestError("Invalid submission: tasks_list.tasks must be a non-empty list");
  if (tasks.length > MAX_TASKS_PER_SUBMISSION) {
    throw new RequestError(
      `Invalid submission: ${tasks.length} tasks exceed the maximum of ${MAX_TASKS_PER_SUBMISSION} per submission`,
    );
  }
  const priority = parsePriority(payload, options);
  const inlineOutputs = parseInlineOutputs(payload);
  const stats =
    payload.stats && typeof payload.stats === "object" && !Array.isArray(payload.stats)
      ? (payload.stats as Record<string, unknown>)
      : {};

  let sessionId: string;
  let entries: { taskId: string; definition: string }[];
  if (options.externalStorage) {
    sessionId = validSessionId(payload.session_id, "session_id");
    if (options.requestedSessionId !== undefined && sessionId !== options.requestedSessionId) {
      throw new RequestError(
        `Invalid submission: payload session_id ${sessionId} does not match the requested session ${options.requestedSessionId}`,
      );
    }
    const seen = new Set<string>();
    entries = tasks.map((task, i) => {
      if (typeof task !== "string" || !TASK_ID_PATTERN.test(task) || !task.startsWith(`${sessionId}_`)) {
        throw new RequestError(
          `Invalid submission: tasks_list.tasks[${i}] must be a task id "${sessionId}_<suffix>" ([A-Za-z0-9_-], max 80)`,
        );
      }
      if (seen.has(task)) throw new RequestError(`Invalid submission: duplicate task id ${task}`);
      seen.add(task);
      return { taskId: task, definition: DEFINITION_IN_DATA_PLANE };
    });
  } else {
    const requested = payload.session_id;
    sessionId =
      requested === undefined || requested === null || requested === NONE
        ? (options.newSessionId ?? randomUUID)()
        : validSessionId(requested, "session_id");
    const firstIndex = (tasksList as { first_index?: unknown }).first_index ?? 0;
    if (typeof firstIndex !== "number" || !Number.isSafeInteger(firstIndex) || firstIndex < 0) {
      throw new RequestError(
        `Invalid submission: tasks_list.first_index must be a non-negative integer, got ${JSON.stringify(firstIndex)}`,
      );
    }
    if (!TASK_ID_PATTERN.test(`${sessionId}_${firstIndex + tasks.length - 1}`)) {
      throw new RequestError(
        `Invalid submission: task id ${sessionId}_${firstIndex + tasks.length - 1} would be longer than 80 characters`,
      );
    }
    entries = tasks.map((task, i) => {
      if (typeof task !== "object" || task === null || Array.isArray(task)) {
        throw new RequestError(
          `Invalid submission: with inline task input, tasks_list.tasks[${i}] must be a task definition object`,
        );
      }
      const definition = JSON.stringify(task);
      if (Buffer.byteLength(definition) > MAX_INLINE_DEFINITION_BYTES) {
        throw new RequestError(
          `Invalid submission: tasks_list.tasks[${i}] is larger than ${MAX_INLINE_DEFINITION_BYTES} bytes`,
        );
      }
      return { taskId: `${sessionId}_${firstIndex + i}`, definition };
    });
  }

  const status = stateKey("pending", partitionOfSession(sessionId));
  const rows: TaskRow[] = entries.map(({ taskId, definition }) => ({
    session_id: sessionId,
    task_id: taskId,
    parent_session_id: sessionId,
    submission_timestamp: options.nowMs,
    task_completion_timestamp: 0,
    task_status: status,
    task_owner: NONE,
    retries: 0,
    task_definition: definition,
    sqs_handler_id: NONE,
    heartbeat_expiration_timestamp: 0,
    task_priority: priority,
    ...(inlineOutputs ? { inline_outputs: 1 as const } : {}),
  }));
  return { sessionId, priority, rows, stats };
}

/** The queue message of a task: the state row plus the client's stage timestamps (`stats`). */
export function messageBody(row: TaskRow, stats: Record<string, unknown>): string {
  return JSON.stringify({ ...row, stats });
}
