// The DynamoDB state table: batch writes of new tasks, session/TTL index queries and the
// conditional state transitions the control plane owns (cancel, retry, fail).

import { randomUUID } from "node:crypto";
import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  DeleteItemCommand,
  GetItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
  type QueryCommandInput,
  type WriteRequest,
} from "@aws-sdk/client-dynamodb";
import {
  INLINE_OUTPUTS_ATTRIBUTE,
  NONE,
  OUTPUT_ATTRIBUTE,
  SESSION_INDEX,
  SUBMISSION_SIZE_ATTRIBUTE,
  TRANSITION_ID_ATTRIBUTE,
  TTL_INDEX,
  partitionOfSession,
  stateKey,
  stateKeyForTask,
  stateOf,
} from "../contract";
import { backoffMs, chunk, errorName, isThrottling, mapLimit, retryOnThrottling, sleep } from "./retry";
import type { TaskRow, TaskState } from "../contract";

/** BatchWriteItem accepts at most 25 puts per call. */
const BATCH_WRITE_SIZE = 25;
/** Parallel BatchWriteItem calls per submission. */
const BATCH_WRITE_CONCURRENCY = 8;
/** Attempts per batch before a submission is reported failed (UnprocessedItems are retried): with
 * back-off capped at 1 s this gives a throttled table about 6 s, well inside API Gateway's 29 s. */
const BATCH_WRITE_ATTEMPTS = 12;
/** BatchGetItem calls per read of task outputs before giving up on unprocessed keys (back-off capped at 1 s). */
const BATCH_GET_ATTEMPTS = 8;
/** Parallel single-item transitions (cancel, TTL). */
export const UPDATE_CONCURRENCY = 16;

type Item = Record<string, AttributeValue>;

export function rowToItem(row: TaskRow): Item {
  return {
    session_id: { S: row.session_id },
    task_id: { S: row.task_id },
    parent_session_id: { S: row.parent_session_id },
    submission_timestamp: { N: String(row.submission_timestamp) },
    task_completion_timestamp: { N: String(row.task_completion_timestamp) },
    task_status: { S: row.task_status },
    task_owner: { S: row.task_owner },
    retries: { N: String(row.retries) },
    task_definition: { S: row.task_definition },
    sqs_handler_id: { S: row.sqs_handler_id },
    heartbeat_expiration_timestamp: { N: String(row.heartbeat_expiration_timestamp) },
    task_priority: { N: String(row.task_priority) },
    ...(row.inline_outputs === 1 ? { [INLINE_OUTPUTS_ATTRIBUTE]: { N: "1" } } : {}),
  };
}

export function itemToRow(item: Item): TaskRow {
  const s = (k: string): string => item[k]?.S ?? "";
  const n = (k: string): number => Number(item[k]?.N ?? "0");
  return {
    session_id: s("session_id"),
    task_id: s("task_id"),
    parent_session_id: s("parent_session_id"),
    submission_timestamp: n("submission_timestamp"),
    task_completion_timestamp: n("task_completion_timestamp"),
    task_status: s("task_status"),
    task_owner: s("task_owner"),
    retries: n("retries"),
    task_definition: s("task_definition"),
    sqs_handler_id: s("sqs_handler_id"),
    heartbeat_expiration_timestamp: n("heartbeat_expiration_timestamp"),
    task_priority: n("task_priority"),
    ...(item[INLINE_OUTPUTS_ATTRIBUTE]?.N === "1" ? { inline_outputs: 1 as const } : {}),
  };
}

/** A state-table write that still failed after all retries. */
export class StateTableError extends Error {
  constructor(
    message: string,
    readonly failedTaskIds: string[],
  ) {
    super(message);
  }
}

export interface ExpiredTask {
  readonly taskId: string;
  readonly owner: string;
  readonly priority: number;
}

export class StateTable {
  constructor(
    private readonly ddb: DynamoDBClient,
    readonly tableName: string,
    /** Attempts per 25-row batch before a submission is reported failed. */
    private readonly batchWriteAttempts = BATCH_WRITE_ATTEMPTS,
    /** Items per session-index page; undefined = DynamoDB's 1 MB pages. Tests set it to force paging. */
    private readonly queryPageLimit?: number,
  ) {}

  /**
   * Writes new rows in batches of 25, retrying UnprocessedItems and throttling with back-off.
   * Throws StateTableError naming the ids that could not be written.
   */
  async putTasks(rows: readonly TaskRow[]): Promise<void> {
    const failed: string[] = [];
    await mapLimit(chunk(rows, BATCH_WRITE_SIZE), BATCH_WRITE_CONCURRENCY, async (batch) => {
      let pending: WriteRequest[] = batch.map((row) => ({ PutRequest: { Item: rowToItem(row) } }));
      for (let attempt = 0; pending.length > 0 && attempt < this.batchWriteAttempts; attempt++) {
        if (attempt > 0) await sleep(backoffMs(attempt));
        try {
          const out = await this.ddb.send(
            new BatchWriteItemCommand({ RequestItems: { [this.tableName]: pending } }),
          );
          pending = out.UnprocessedItems?.[this.tableName] ?? [];
        } catch (error) {
          if (!isThrottling(error)) throw error;
        }
      }
      for (const request of pending) failed.push(request.PutRequest?.Item?.task_id?.S ?? "?");
    });
    if (failed.length > 0)
      throw new StateTableError(`${failed.length} task rows could not be written (throttled)`, failed);
  }

  /**
   * Writes one new row unless a row with its task id exists (a conditional UpdateItem: BatchWriteItem has no
   * conditions). False when the row was already there: submit_tasks uses the first row of a submission as its
   * claim, so a retried or concurrent copy of the same submission is told apart from a new one.
   */
  putTaskIfAbsent(row: TaskRow): Promise<boolean> {
    return this.putItemIfAbsent(rowToItem(row));
  }

  /**
   * putTaskIfAbsent for a submission's first row, marked open (see SUBMISSION_SIZE_ATTRIBUTE): the submission's
   * size, and `deadlineSec` as the pending row's expiry. False when the row was already there.
   */
  openSubmission(first: TaskRow, size: number, deadlineSec: number): Promise<boolean> {
    return this.putItemIfAbsent({
      ...rowToItem(first),
      heartbeat_expiration_timestamp: { N: String(deadlineSec) },
      [SUBMISSION_SIZE_ATTRIBUTE]: { N: String(size) },
    });
  }

  private putItemIfAbsent(fields: Item): Promise<boolean> {
    // The key cannot be SET; UpdateItem creates the item under it.
    const names = Object.keys(fields).filter((name) => name !== "task_id");
    return this.transition(fields.task_id.S ?? "", {
      set: names.map((name) => `${name} = :${name}`).join(", "),
      ConditionExpression: "attribute_not_exists(task_id)",
      values: Object.fromEntries(names.map((name) => [`:${name}`, fields[name]])),
    });
  }

  /**
   * Clears the marks of an open submission once every message was sent. Only while its first row is still
   * pending with the same deadline: once an agent claimed it, the expiry is the agent's heartbeat. False when
   * the marks were not there (claimed, cancelled or cleared already).
   */
  closeSubmission(firstTaskId: string, deadlineSec: number): Promise<boolean> {
    return this.transition(firstTaskId, {
      set: "heartbeat_expiration_timestamp = :zero",
      remove: SUBMISSION_SIZE_ATTRIBUTE,
      ConditionExpression: "task_status = :pending AND heartbeat_expiration_timestamp = :deadline",
      values: {
        ":zero": { N: "0" },
        ":pending": { S: stateKeyForTask("pending", firstTaskId) },
        ":deadline": { N: String(deadlineSec) },
      },
    });
  }

  /** Up to `limit` first rows of one partition's submissions that are still open after their deadline. */
  async interruptedSubmissions(partition: number, nowSec: number, limit: number): Promise<string[]> {
    const out = await retryOnThrottling(() =>
      this.ddb.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: TTL_INDEX,
          KeyConditionExpression: "task_status = :t AND heartbeat_expiration_timestamp BETWEEN :one AND :now",
          ExpressionAttributeValues: {
            ":t": { S: stateKey("pending", partition) },
            ":one": { N: "1" },
            ":now": { N: String(nowSec) },
          },
          ProjectionExpression: "task_id",
          Limit: limit,
        }),
      ),
    );
    return (out.Items ?? []).flatMap((item) => (item.task_id?.S ? [item.task_id.S] : []));
  }

  /**
   * The first row of a submission with its open marks, read consistently; undefined when the row is gone.
   * `size` is undefined and `deadlineSec` 0 once the submission was closed.
   */
  async submissionHead(
    firstTaskId: string,
  ): Promise<{ row: TaskRow; size?: number; deadlineSec: number } | undefined> {
    const out = await retryOnThrottling(() =>
      this.ddb.send(
        new GetItemCommand({
          TableName: this.tableName,
          Key: { task_id: { S: firstTaskId } },
          ConsistentRead: true,
        }),
      ),
    );
    if (!out.Item) return undefined;
    const row = itemToRow(out.Item);
    const size = out.Item[SUBMISSION_SIZE_ATTRIBUTE]?.N;
    return {
      row: { ...row, heartbeat_expiration_timestamp: 0 },
      size: size === undefined ? undefined : Number(size),
      deadlineSec: row.heartbeat_expiration_timestamp,
    };
  }

  /** Every task of a session with its state (paginated over the session index). */
  async sessionTasks(sessionId: string): Promise<{ taskId: string; state?: TaskState }[]> {
    const tasks: { taskId: string; state?: TaskState }[] = [];
    const input: QueryCommandInput = {
      TableName: this.tableName,
      IndexName: SESSION_INDEX,
      KeyConditionExpression: "session_id = :s",
      ExpressionAttributeValues: { ":s": { S: sessionId } },
      ProjectionExpression: "task_id, task_status",
      Limit: this.queryPageLimit,
    };
    do {
      const out = await retryOnThrottling(() => this.ddb.send(new QueryCommand(input)));
      for (const item of out.Items ?? [])
        if (item.task_id?.S)
          tasks.push({ taskId: item.task_id.S, state: stateOf(item.task_status?.S ?? "") });
      input.ExclusiveStartKey = out.LastEvaluatedKey;
    } while (input.ExclusiveStartKey);
    return tasks;
  }

  /** Best-effort removal of rows that were written but whose submission failed. */
  async deleteTasks(taskIds: readonly string[]): Promise<void> {
    await mapLimit(taskIds, UPDATE_CONCURRENCY, (taskId) =>
      retryOnThrottling(() =>
        this.ddb.send(new DeleteItemCommand({ TableName: this.tableName, Key: { task_id: { S: taskId } } })),
      ),
    );
  }

  async getTask(taskId: string): Promise<TaskRow | undefined> {
    const out = await retryOnThrottling(() =>
      this.ddb.send(
        new GetItemCommand({
          TableName: this.tableName,
          Key: { task_id: { S: taskId } },
          ConsistentRead: true,
        }),
      ),
    );
    return out.Item ? itemToRow(out.Item) : undefined;
  }

  /** All task ids of a session in one state (paginated over the session index). */
  async sessionTaskIds(sessionId: string, state: TaskState): Promise<string[]> {
    const ids: string[] = [];
    const input: QueryCommandInput = {
      TableName: this.tableName,
      IndexName: SESSION_INDEX,
      KeyConditionExpression: "session_id = :s AND task_status = :t",
      ExpressionAttributeValues: {
        ":s": { S: sessionId },
        ":t": { S: stateKey(state, partitionOfSession(sessionId)) },
      },
      ProjectionExpression: "task_id",
      Limit: this.queryPageLimit,
    };
    do {
      const out = await retryOnThrottling(() => this.ddb.send(new QueryCommand(input)));
      for (const item of out.Items ?? []) if (item.task_id?.S) ids.push(item.task_id.S);
      input.ExclusiveStartKey = out.LastEvaluatedKey;
    } while (input.ExclusiveStartKey);
    return ids;
  }

  /**
   * The final tasks among `taskIds` that belong to the session, each with its state and the output kept in its
   * row (undefined when its output is in the data plane, or it has none), read consistently with BatchGetItem
   * (at most 100 ids), unprocessed keys retried. Tasks not found, of another session, or not final are left out.
   */
  async finalTasksOf(
    sessionId: string,
    taskIds: readonly string[],
  ): Promise<Map<string, { state: "finished" | "failed" | "cancelled"; output?: string }>> {
    const found = new Map<string, { state: "finished" | "failed" | "cancelled"; output?: string }>();
    let keys: Item[] = [...new Set(taskIds)].map((taskId) => ({ task_id: { S: taskId } }));
    for (let attempt = 0; keys.length > 0; attempt++) {
      if (attempt >= BATCH_GET_ATTEMPTS) {
        throw new Error(`BatchGetItem left ${keys.length} keys unprocessed after ${attempt} attempts`);
      }
      if (attempt > 0) await sleep(backoffMs(attempt, 50, 1_000));
      const request = keys;
      const out = await retryOnThrottling(() =>
        this.ddb.send(
          new BatchGetItemCommand({
            RequestItems: {
              [this.tableName]: {
                Keys: request,
                ConsistentRead: true,
                ProjectionExpression: "task_id, session_id, task_status, #output",
                ExpressionAttributeNames: { "#output": OUTPUT_ATTRIBUTE },
              },
            },
          }),
        ),
      );
      for (const item of out.Responses?.[this.tableName] ?? []) {
        const taskId = item.task_id?.S;
        const state = stateOf(item.task_status?.S ?? "");
        if (taskId === undefined || item.session_id?.S !== sessionId) continue;
        if (state !== "finished" && state !== "failed" && state !== "cancelled") continue;
        found.set(taskId, { state, output: item[OUTPUT_ATTRIBUTE]?.S });
      }
      keys = out.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
    }
    return found;
  }

  /** True if the session has at least one row in any state. */
  async sessionExists(sessionId: string): Promise<boolean> {
    const out = await retryOnThrottling(() =>
      this.ddb.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: SESSION_INDEX,
          KeyConditionExpression: "session_id = :s",
          ExpressionAttributeValues: { ":s": { S: sessionId } },
          ProjectionExpression: "task_id",
          Limit: 1,
        }),
      ),
    );
    return (out.Items?.length ?? 0) > 0;
  }

  /** Up to `limit` tasks of one partition in `processing<p>` whose heartbeat expired before `nowSec`. */
  async expiredTasks(partition: number, nowSec: number, limit: number): Promise<ExpiredTask[]> {
    const out = await retryOnThrottling(() =>
      this.ddb.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: TTL_INDEX,
          KeyConditionExpression: "task_status = :t AND heartbeat_expiration_timestamp < :now",
          ExpressionAttributeValues: {
            ":t": { S: stateKey("processing", partition) },
            ":now": { N: String(nowSec) },
          },
          Limit: limit,
        }),
      ),
    );
    return (out.Items ?? []).map((item) => ({
      taskId: item.task_id?.S ?? "",
      owner: item.task_owner?.S ?? NONE,
      priority: Number(item.task_priority?.N ?? "0"),
    }));
  }

  /**
   * pending/processing -> cancelled, conditional on the task still being in `from` (a task that
   * finished meanwhile stays finished). Returns false when the task was not in `from` (see transition).
   */
  cancelTask(taskId: string, from: "pending" | "processing"): Promise<boolean> {
    return this.transition(taskId, {
      set: "task_status = :to, task_owner = :none",
      ConditionExpression: "task_status = :from",
      values: {
        ":to": { S: stateKeyForTask("cancelled", taskId) },
        ":none": { S: NONE },
        ":from": { S: stateKeyForTask(from, taskId) },
      },
    });
  }

  /**
   * processing -> pending for an expired heartbeat: owner "None", retries + 1, heartbeat 0.
   * The condition re-checks expiry so an agent that heartbeated meanwhile keeps its task.
   */
  retryTask(taskId: string, nowSec: number): Promise<boolean> {
    return this.transition(taskId, {
      set: "task_status = :to, task_owner = :none, retries = retries + :one, heartbeat_expiration_timestamp = :zero",
      ConditionExpression: "task_status = :from AND heartbeat_expiration_timestamp < :now",
      values: {
        ":to": { S: stateKeyForTask("pending", taskId) },
        ":from": { S: stateKeyForTask("processing", taskId) },
        ":none": { S: NONE },
        ":one": { N: "1" },
        ":zero": { N: "0" },
        ":now": { N: String(nowSec) },
      },
    });
  }

  /** processing -> failed after the retry limit, with the same expiry re-check as retryTask. */
  failTask(taskId: string, nowSec: number): Promise<boolean> {
    return this.transition(taskId, {
      set: "task_status = :to, task_owner = :none",
      ConditionExpression: "task_status = :from AND heartbeat_expiration_timestamp < :now",
      values: {
        ":to": { S: stateKeyForTask("failed", taskId) },
        ":from": { S: stateKeyForTask("processing", taskId) },
        ":none": { S: NONE },
        ":now": { N: String(nowSec) },
      },
    });
  }

  /** pending -> failed for a task whose queue message could not be sent. */
  failPendingTask(taskId: string): Promise<boolean> {
    return this.transition(taskId, {
      set: "task_status = :to",
      ConditionExpression: "task_status = :from",
      values: {
        ":to": { S: stateKeyForTask("failed", taskId) },
        ":from": { S: stateKeyForTask("pending", taskId) },
      },
    });
  }

  /**
   * One conditional UpdateItem: `SET <set>` plus this call's transition id (then `REMOVE <remove>`, if given).
   * True when this call's update was applied, including when a retry of it failed its condition because an
   * earlier attempt had already been applied (the old item carries this call's id).
   */
  private async transition(
    taskId: string,
    update: { set: string; remove?: string; ConditionExpression: string; values: Item },
  ): Promise<boolean> {
    const transitionId = randomUUID();
    const remove = update.remove ? ` REMOVE ${update.remove}` : "";
    try {
      await retryOnThrottling(() =>
        this.ddb.send(
          new UpdateItemCommand({
            TableName: this.tableName,
            Key: { task_id: { S: taskId } },
            UpdateExpression: `SET ${update.set}, ${TRANSITION_ID_ATTRIBUTE} = :transition_id${remove}`,
            ConditionExpression: update.ConditionExpression,
            ExpressionAttributeValues: { ...update.values, ":transition_id": { S: transitionId } },
            ReturnValuesOnConditionCheckFailure: "ALL_OLD",
          }),
        ),
      );
      return true;
    } catch (error) {
      if (errorName(error) !== "ConditionalCheckFailedException") throw error;
      const old = (error as { Item?: Item }).Item;
      return old?.[TRANSITION_ID_ATTRIBUTE]?.S === transitionId;
    }
  }
}
