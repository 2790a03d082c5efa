// ttl_checker (EventBridge, every minute): finds processing tasks whose agent stopped
// heartbeating, puts them back to pending (up to MAX_RETRIES times) or fails them. It also completes
// submissions whose submit_tasks invocation died part-way (see SUBMISSION_SIZE_ATTRIBUTE in the contract), and
// takes back from the dead-letter queues the messages of tasks that are still pending.
//
// Single flight is the infrastructure's job: the function runs with reserved concurrency 1.
// Fixes upstream defects: 1 (no import of removed states, per-task errors never crash the run),
// 2 (throttling metric uses STATE_TABLE_NAME, not a hard-coded table), 3 (a retried task whose
// message is gone, e.g. moved to the DLQ, gets a fresh message instead of staying pending forever).

import { GetMetricStatisticsCommand, type CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { readMaxRetries } from "../env";
import type { ErrorLogger } from "../../aws/error-log";
import {
  DEFINITION_IN_DATA_PLANE,
  MAX_STATE_PARTITIONS,
  NONE,
  TASK_ID_PATTERN,
  sessionOfTask,
  stateKeyForTask,
  stateOf,
  type TaskRow,
} from "../../contract";
import { mapLimit } from "../../aws/retry";
import { cloudWatchClient, errorLogger, once, stateTable, taskQueue } from "../runtime";
import { UPDATE_CONCURRENCY, type ExpiredTask, type StateTable } from "../../aws/state-table";
import { messageBody } from "../submission";
import type { TaskQueue } from "../../aws/task-queue";

/** Expired tasks handled per partition per run (upstream's limit). */
export const EXPIRED_TASKS_PER_PARTITION = 200;
/** Skip a run while the table is this throttled (UpdateItem ThrottledRequests, last 60 s). */
export const THROTTLING_SKIP_THRESHOLD = 1000;
/** Dead-letter messages looked at per queue and run. */
export const DEAD_LETTERS_PER_RUN = 100;
/** A dead-letter message left in its queue (its task runs, or it is no task's) is looked at again after this. */
export const DEAD_LETTER_RECHECK_SEC = 900;
/** Stop starting new partitions after this long (the function times out at 55 s). */
const RUN_BUDGET_MS = 40_000;

export interface TtlDeps {
  readonly stateTable: StateTable;
  readonly taskQueue: TaskQueue;
  /** Undefined: no throttling check. */
  readonly cloudWatch?: CloudWatchClient;
  readonly maxRetries: number;
  readonly logger: ErrorLogger;
  readonly nowMs?: () => number;
  /** First partition to scan (random by default so no partition starves). */
  readonly startPartition?: number;
}

export interface TtlSummary {
  skippedForThrottling: boolean;
  expired: number;
  retried: number;
  failed: number;
  /** Retried tasks whose old message was gone and that got a new one. */
  requeued: number;
  /** Tasks an agent refreshed, finished or that were cancelled meanwhile (condition failed). */
  changedMeanwhile: number;
  /** Submissions found open after their deadline (their submit_tasks invocation died) and completed. */
  resumedSubmissions: number;
  /** Messages sent again for their pending tasks (some may be second copies, which agents drop). */
  resent: number;
  /** Rows such a submission never wrote, written now: pending with input in the data plane, else failed. */
  rowsWritten: number;
  rowsFailed: number;
  /** Messages of pending tasks moved back from a dead-letter queue to their queue. */
  redriven: number;
  /** Messages of finished, failed or cancelled tasks deleted from a dead-letter queue. */
  deadLettersDropped: number;
  errors: number;
}

/**
 * A task's message reaches its dead-letter queue after `maxReceiveCount` receives. Retries alone stay below that,
 * but a claim that fails with an error (DynamoDB throttled or unreachable for a while) hands the message back
 * for another receive each time, so a message can end there while its task is still pending, and nothing would
 * run it. Such messages go back to their queue; those of tasks that ended are deleted; the rest (a running task's,
 * a malformed message, one without a row) stay for the operator and are looked at again later.
 */
async function sweepDeadLetters(deps: TtlDeps, summary: TtlSummary): Promise<void> {
  for (let priority = 0; priority < deps.taskQueue.config.priorities; priority++) {
    const messages = await deps.taskQueue.receiveDead(
      priority,
      DEAD_LETTERS_PER_RUN,
      DEAD_LETTER_RECHECK_SEC,
    );
    await mapLimit(messages, UPDATE_CONCURRENCY, async (message) => {
      try {
        const taskId = taskIdOfMessage(message.Body ?? "");
        const row = taskId === undefined ? undefined : await deps.stateTable.getTask(taskId);
        const state = row ? stateOf(row.task_status) : undefined;
        if (!row || !state || state === "processing") return;
        if (state === "pending") {
          await deps.taskQueue.sendOne(deps.taskQueue.effectivePriority(row.task_priority), {
            id: row.task_id,
            body: message.Body ?? "",
          });
          summary.redriven++;
        } else {
          summary.deadLettersDropped++;
        }
        await deps.taskQueue.deleteDead(priority, message.ReceiptHandle ?? "");
      } catch (error) {
        summary.errors++;
        await deps.logger.log(
          `ttl_checker: dead-letter message ${message.MessageId} could not be handled`,
          error,
        );
      }
    });
  }
}

/** The task id a message names, or undefined for a message that is not a task's. */
function taskIdOfMessage(body: string): string | undefined {
  try {
    const taskId = (JSON.parse(body) as { task_id?: unknown }).task_id;
    return typeof taskId === "string" && TASK_ID_PATTERN.test(taskId) ? taskId : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Completes a submission whose invocation died after writing its first row: every task of it that is pending
 * gets a message (agents claim a task once; a second copy fails its claim and is dropped), and rows it never
 * wrote are written, pending when their input is in the data plane (`task_definition` "none"), failed when
 * their inline definition died with the invocation. The first task's message goes last and the marks are
 * cleared after it, so a run cut short is simply redone by the next. The task ids are those submit_tasks
 * numbers (`<session>_<n>` from the first task's n on); for a client's own ids (external storage) only rows that
 * exist can be completed, so every pending row of the session gets a message.
 */
async function resumeSubmission(
  firstTaskId: string,
  deps: TtlDeps,
  nowSec: number,
  summary: TtlSummary,
): Promise<void> {
  const head = await deps.stateTable.submissionHead(firstTaskId);
  if (
    !head ||
    head.size === undefined ||
    head.deadlineSec === 0 ||
    head.deadlineSec > nowSec ||
    head.row.task_status !== stateKeyForTask("pending", firstTaskId)
  ) {
    return; // closed, claimed or cancelled meanwhile, or not due yet
  }
  const first = head.row;
  const sessionId = sessionOfTask(firstTaskId);
  const states = new Map((await deps.stateTable.sessionTasks(sessionId)).map((t) => [t.taskId, t.state]));
  const numbered = head.size > 0 ? /_(\d+)$/.exec(firstTaskId) : null;
  // Without numbered ids the rows never written cannot be named: complete the session's pending rows.
  const candidates = numbered
    ? Array.from({ length: head.size - 1 }, (_, i) => `${sessionId}_${Number(numbered[1]) + 1 + i}`)
    : [...states].filter(([id, state]) => id !== firstTaskId && state === "pending").map(([id]) => id);
  const inDataPlane = first.task_definition === DEFINITION_IN_DATA_PLANE;
  const pending: TaskRow[] = [];
  let failed = 0;
  const takeIfPending = async (taskId: string) => {
    const row = await deps.stateTable.getTask(taskId);
    if (row?.task_status === stateKeyForTask("pending", taskId)) pending.push(row);
  };
  await mapLimit(candidates, UPDATE_CONCURRENCY, async (taskId) => {
    const state = states.get(taskId);
    if (state === "pending") return takeIfPending(taskId);
    if (state !== undefined) return; // running or done
    const missing: TaskRow = {
      ...first,
      task_id: taskId,
      task_status: stateKeyForTask(inDataPlane ? "pending" : "failed", taskId),
      task_definition: DEFINITION_IN_DATA_PLANE,
      task_completion_timestamp: inDataPlane ? 0 : nowSec * 1000,
    };
    // Written meanwhile after all (the index lagged): take it as it is now.
    if (!(await deps.stateTable.putTaskIfAbsent(missing))) return takeIfPending(taskId);
    if (inDataPlane) {
      summary.rowsWritten++;
      pending.push(missing);
    } else {
      summary.rowsFailed++;
      failed++;
    }
  });
  if (failed > 0) {
    await deps.logger.log(
      `ttl_checker: the submission of ${firstTaskId} (${head.size} tasks) was interrupted before ${failed} of its ` +
        `rows were written; their inline task definitions were lost with it, so they are failed: resubmit them`,
    );
  }
  const priority = deps.taskQueue.effectivePriority(first.task_priority);
  const toMessage = (row: TaskRow) => ({ id: row.task_id, body: messageBody(row, {}) });
  const unsent = await deps.taskQueue.send(priority, pending.map(toMessage));
  unsent.push(...(await deps.taskQueue.send(priority, [toMessage(first)])));
  // Unsent ones stay pending and the submission open: the next run tries again.
  if (unsent.length > 0) throw new Error(`${unsent.length} messages could not be sent`);
  summary.resent += pending.length + 1;
  await deps.stateTable.closeSubmission(firstTaskId, head.deadlineSec);
  summary.resumedSubmissions++;
}

async function throttledRequests(cw: CloudWatchClient, tableName: string, nowMs: number): Promise<number> {
  const out = await cw.send(
    new GetMetricStatisticsCommand({
      Namespace: "AWS/DynamoDB",
      MetricName: "ThrottledRequests",
      Dimensions: [
        { Name: "TableName", Value: tableName },
        { Name: "Operation", Value: "UpdateItem" },
      ],
      StartTime: new Date(nowMs - 60_000),
      EndTime: new Date(nowMs),
      Period: 60,
      Statistics: ["Sum"],
    }),
  );
  return (out.Datapoints ?? []).reduce((sum, d) => sum + (d.Sum ?? 0), 0);
}

async function handleExpired(
  task: ExpiredTask,
  deps: TtlDeps,
  nowSec: number,
  summary: TtlSummary,
): Promise<void> {
  const row = await deps.stateTable.getTask(task.taskId);
  if (!row || row.task_status !== stateKeyForTask("processing", task.taskId)) {
    summary.changedMeanwhile++;
    return;
  }
  const priority = deps.taskQueue.effectivePriority(row.task_priority);
  if (row.retries >= deps.maxRetries) {
    if (!(await deps.stateTable.failTask(row.task_id, nowSec))) {
      summary.changedMeanwhile++;
      return;
    }
    summary.failed++;
    await deps.taskQueue.delete(priority, row.sqs_handler_id);
    return;
  }
  if (!(await deps.stateTable.retryTask(row.task_id, nowSec))) {
    summary.changedMeanwhile++;
    return;
  }
  summary.retried++;
  if (!(await deps.taskQueue.makeVisible(priority, row.sqs_handler_id))) {
    const retried = {
      ...row,
      task_status: stateKeyForTask("pending", row.task_id),
      task_owner: NONE,
      retries: row.retries + 1,
      heartbeat_expiration_timestamp: 0,
    };
    await deps.taskQueue.sendOne(priority, { id: row.task_id, body: messageBody(retried, {}) });
    summary.requeued++;
  }
}

export async function checkTtl(deps: TtlDeps): Promise<TtlSummary> {
  const now = deps.nowMs ?? Date.now;
  const startedAt = now();
  const summary: TtlSummary = {
    skippedForThrottling: false,
    expired: 0,
    retried: 0,
    failed: 0,
    requeued: 0,
    changedMeanwhile: 0,
    resumedSubmissions: 0,
    resent: 0,
    rowsWritten: 0,
    rowsFailed: 0,
    redriven: 0,
    deadLettersDropped: 0,
    errors: 0,
  };
  if (deps.cloudWatch) {
    try {
      const throttled = await throttledRequests(deps.cloudWatch, deps.stateTable.tableName, startedAt);
      if (throttled > THROTTLING_SKIP_THRESHOLD) {
        summary.skippedForThrottling = true;
        return summary;
      }
    } catch (error) {
      // Without the metric, retrying expired tasks matters more than backing off.
      await deps.logger.log("ttl_checker: throttling metric unavailable, running anyway", error);
    }
  }
  const start = deps.startPartition ?? Math.floor(Math.random() * MAX_STATE_PARTITIONS);
  for (let i = 0; i < MAX_STATE_PARTITIONS && now() - startedAt < RUN_BUDGET_MS; i++) {
    const partition = (start + i) % MAX_STATE_PARTITIONS;
    const nowSec = Math.floor(now() / 1000);
    let expired: ExpiredTask[];
    try {
      expired = await deps.stateTable.expiredTasks(partition, nowSec, EXPIRED_TASKS_PER_PARTITION);
    } catch (error) {
      summary.errors++;
      await deps.logger.log(`ttl_checker: query of partition ${partition} failed`, error);
      continue;
    }
    if (expired.length === EXPIRED_TASKS_PER_PARTITION)
      console.warn(
        `ttl_checker: partition ${partition} hit the limit of ${EXPIRED_TASKS_PER_PARTITION}; the rest waits for the next run`,
      );
    summary.expired += expired.length;
    await mapLimit(expired, UPDATE_CONCURRENCY, async (task) => {
      try {
        await handleExpired(task, deps, nowSec, summary);
      } catch (error) {
        summary.errors++;
        await deps.logger.log(`ttl_checker: task ${task.taskId} could not be processed`, error);
      }
    });
    let interrupted: string[];
    try {
      interrupted = await deps.stateTable.interruptedSubmissions(
        partition,
        nowSec,
        EXPIRED_TASKS_PER_PARTITION,
      );
    } catch (error) {
      summary.errors++;
      await deps.logger.log(
        `ttl_checker: query of partition ${partition} for open submissions failed`,
        error,
      );
      continue;
    }
    for (const firstTaskId of interrupted) {
      try {
        await resumeSubmission(firstTaskId, deps, nowSec, summary);
      } catch (error) {
        summary.errors++;
        await deps.logger.log(
          `ttl_checker: the interrupted submission of ${firstTaskId} could not be completed`,
          error,
        );
      }
    }
  }
  try {
    await sweepDeadLetters(deps, summary);
  } catch (error) {
    summary.errors++;
    await deps.logger.log("ttl_checker: reading the dead-letter queues failed", error);
  }
  return summary;
}

const coldStart = once(async (): Promise<TtlDeps> => ({
  stateTable: stateTable(process.env),
  taskQueue: taskQueue(process.env),
  cloudWatch: cloudWatchClient(process.env),
  maxRetries: readMaxRetries(process.env),
  logger: errorLogger(process.env, "ttl_checker"),
}));

export async function handler(): Promise<TtlSummary> {
  const summary = await checkTtl(await coldStart.get());
  // A line per run that did something (a quiet grid runs this every minute).
  if (
    summary.expired > 0 ||
    summary.resumedSubmissions > 0 ||
    summary.redriven + summary.deadLettersDropped > 0 ||
    summary.errors > 0 ||
    summary.skippedForThrottling
  ) {
    console.log(JSON.stringify({ ttl_checker: summary }));
  }
  return summary;
}

/** Re-reads the environment on the next call. Tests only. */
export function resetColdStart(): void {
  coldStart.reset();
}
