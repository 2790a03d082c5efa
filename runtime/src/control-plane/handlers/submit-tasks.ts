// submit_tasks: API Gateway POST /submit. Validates a submission, writes one pending row per task
// to the state table and then one message per task to the queue of the session's priority.

import type { DataPlane } from "../../aws/data-plane";
import {
  SQS_LIMITS,
  SUBMISSION_DEADLINE_MARGIN_SEC,
  SUBMIT_TASKS_TIMEOUT_SEC,
  payloadKey,
} from "../../contract";
import { readExternalStorageFlag } from "../env";
import type { ErrorLogger } from "../../aws/error-log";
import { RequestError, decodeBase64JsonObject, submissionContent, validSessionId } from "../request";
import { SUBMIT_ERROR_STATUS, fail, ok } from "../response";
import { dataPlane, errorLogger, once, stateTable, taskQueue } from "../runtime";
import { messageBody, parseSubmission } from "../submission";
import { StateTableError, type StateTable } from "../../aws/state-table";
import { messageBytes, type TaskQueue } from "../../aws/task-queue";
import type { ApiGatewayEvent, ApiResponse } from "../types";

export interface SubmitDeps {
  readonly stateTable: StateTable;
  readonly taskQueue: TaskQueue;
  /** Needed only with external storage (the payload is `<session_id>-payload`). */
  readonly dataPlane?: DataPlane;
  readonly externalStorage: boolean;
  readonly logger: ErrorLogger;
  readonly now?: () => number;
}

/** Stamps the submit Lambda's stage timestamps into the client's stats (upstream stage2_* labels). */
function stampStats(stats: Record<string, unknown>, key: string, label: string, tstmp: number): void {
  const existing = stats[key];
  stats[key] = { ...(existing && typeof existing === "object" ? existing : { label }), tstmp };
}

async function readPayload(
  event: ApiGatewayEvent,
  deps: SubmitDeps,
): Promise<{ payload: Record<string, unknown>; requestedSessionId?: string }> {
  const content = submissionContent(event);
  if (!deps.externalStorage) return { payload: decodeBase64JsonObject(content) };
  const sessionId = validSessionId(content, "submission_content (session id)");
  if (!deps.dataPlane) throw new Error("external storage is enabled but no data plane is configured");
  const stored = await deps.dataPlane.get(payloadKey(sessionId));
  if (stored === undefined)
    throw new RequestError(`Unknown session ${sessionId}: no ${payloadKey(sessionId)} in the data plane`);
  return { payload: decodeBase64JsonObject(stored), requestedSessionId: sessionId };
}

export async function submitTasks(event: ApiGatewayEvent, deps: SubmitDeps): Promise<ApiResponse> {
  const now = deps.now ?? Date.now;
  const invokedAt = now();
  try {
    const { payload, requestedSessionId } = await readPayload(event, deps);
    const submission = parseSubmission(payload, {
      externalStorage: deps.externalStorage,
      requestedSessionId,
      priorities: deps.taskQueue.config.priorities,
      prioritySQS: deps.taskQueue.config.service === "PrioritySQS",
      nowMs: invokedAt,
    });
    const { rows, stats, sessionId, priority } = submission;
    stampStats(stats, "stage2_sbmtlmba_01_invocation_tstmp", "invocation", invokedAt);
    stampStats(stats, "stage2_sbmtlmba_02_before_batch_write_tstmp", "before_batch_write", now());

    // Every message must fit SQS before anything is written: a message refused after the rows were written
    // would leave failed rows behind for a request that was never valid.
    const messages = rows.map((row) => ({ id: row.task_id, body: messageBody(row, stats) }));
    const largest = messages.reduce(
      (max, m) => {
        const bytes = messageBytes(m.body, priority);
        return bytes > max.bytes ? { id: m.id, bytes } : max;
      },
      { id: "", bytes: 0 },
    );
    if (largest.bytes > SQS_LIMITS.maxMessageBytes) {
      const statsBytes = Buffer.byteLength(JSON.stringify(stats));
      return fail(
        SUBMIT_ERROR_STATUS,
        `Invalid submission: the queue message of task ${largest.id} would be ${largest.bytes} bytes, above SQS's ` +
          `${SQS_LIMITS.maxMessageBytes}-byte limit (it carries the task row and the submission's stats, ` +
          `${statsBytes} bytes of them); make stats or the task definition smaller. Nothing was written`,
      );
    }

    // The first row is the submission's claim, written only if absent: a submit retried after a lost answer (or
    // a 504 while the first attempt still ran) finds it and is answered as a duplicate, writing and queueing
    // nothing, instead of resetting rows that may already be running or finished and queueing them twice.
    // It is written marked open until every message is sent, so that if this invocation dies part-way (a
    // timeout, a crash) the TTL checker completes the submission after the deadline (SUBMISSION_SIZE_ATTRIBUTE).
    const taskIds = rows.map((r) => r.task_id);
    const deadlineSec =
      Math.ceil(invokedAt / 1000) + SUBMIT_TASKS_TIMEOUT_SEC + SUBMISSION_DEADLINE_MARGIN_SEC;
    const first = /_(\d+)$/.exec(taskIds[0]);
    const numbered =
      first !== null && taskIds.every((id, i) => id === `${sessionId}_${Number(first[1]) + i}`);
    if (!(await deps.stateTable.openSubmission(rows[0], numbered ? rows.length : 0, deadlineSec))) {
      return ok({ session_id: sessionId, task_ids: taskIds, duplicate: true });
    }

    // State rows first: an agent that receives a message must always find its row.
    try {
      await deps.stateTable.putTasks(rows.slice(1));
    } catch (error) {
      // Nothing was queued yet: remove what was written so the session can simply be resubmitted.
      await deps.stateTable
        .deleteTasks(rows.map((r) => r.task_id))
        .catch((e) => deps.logger.log(`cleanup of session ${sessionId} failed`, e));
      const reason =
        error instanceof StateTableError ? `${error.failedTaskIds.length} rows throttled` : String(error);
      await deps.logger.log(`submit_tasks: state table write failed for session ${sessionId}`, error);
      return fail(
        SUBMIT_ERROR_STATUS,
        `Submission of session ${sessionId} failed, nothing was queued (${reason}); resubmit it`,
      );
    }

    // The first task's message goes last: while the submission is open its row must stay pending and marked.
    const unsent = await deps.taskQueue.send(priority, messages.slice(1));
    unsent.push(...(await deps.taskQueue.send(priority, messages.slice(0, 1))));
    await deps.stateTable
      .closeSubmission(rows[0].task_id, deadlineSec)
      .catch((e) => deps.logger.log(`submit_tasks: session ${sessionId} stays open for the TTL checker`, e));
    if (unsent.length > 0) {
      // A pending row without a message would never run: make it visibly failed instead.
      await Promise.all(unsent.map((taskId) => deps.stateTable.failPendingTask(taskId)));
      await deps.logger.log(
        `submit_tasks: ${unsent.length} messages of session ${sessionId} could not be queued; marked failed`,
      );
      return fail(
        SUBMIT_ERROR_STATUS,
        `${unsent.length} of ${rows.length} tasks of session ${sessionId} could not be queued and were marked failed`,
      );
    }
    return ok({ session_id: sessionId, task_ids: taskIds });
  } catch (error) {
    if (error instanceof RequestError) return fail(SUBMIT_ERROR_STATUS, error.message);
    await deps.logger.log("submit_tasks failed", error);
    return fail(
      SUBMIT_ERROR_STATUS,
      `Submission failed: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

const coldStart = once(async () => {
  const env = process.env;
  const externalStorage = readExternalStorageFlag(env);
  const data = externalStorage ? await dataPlane(env) : undefined;
  const deps: SubmitDeps = {
    stateTable: stateTable(env),
    taskQueue: taskQueue(env),
    dataPlane: data?.dataPlane,
    externalStorage,
    logger: errorLogger(env, "submit_tasks"),
  };
  return { deps, close: async () => data?.close() };
});

export async function handler(event: ApiGatewayEvent): Promise<ApiResponse> {
  let deps: SubmitDeps;
  try {
    deps = (await coldStart.get()).deps;
  } catch (error) {
    console.error("submit_tasks: configuration error", error);
    return fail(
      SUBMIT_ERROR_STATUS,
      `Submission failed: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  return submitTasks(event, deps);
}

/** Drops the cold-start state (closing Redis) so the next call re-reads the environment. Tests only. */
export async function resetColdStart(): Promise<void> {
  const current = await coldStart.get().catch(() => undefined);
  coldStart.reset();
  await current?.close();
}
