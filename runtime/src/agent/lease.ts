// The agent's side of the state table: claim a pending task, keep its heartbeat fresh, and end it (finished,
// failed, or handed back for retry). Every write is a conditional UpdateItem on "processing and owned by me",
// stamped with a fresh transition id and asking for the old item on a failed condition, so
//  - a retried call whose first attempt was applied but whose response was lost still counts as applied;
//  - a failed condition says why (cancelled, finished, taken over by the TTL checker, row gone).

import { randomUUID } from "node:crypto";
import {
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
  type UpdateItemCommandInput,
} from "@aws-sdk/client-dynamodb";
import {
  NONE,
  OUTPUT_ATTRIBUTE,
  STATE_TABLE_KEY,
  TRANSITION_ID_ATTRIBUTE,
  stateKeyForTask,
  stateOf,
  type TaskState,
} from "../contract";
import { errorName, retryOnThrottling } from "../aws/retry";
import type { StateTableWrites } from "../aws/signed-dynamodb";

type Item = Record<string, AttributeValue>;

/** What a conditional write found. */
export type LeaseOutcome =
  | { readonly ok: true }
  /** The row no longer exists. */
  | { readonly ok: false; readonly reason: "vanished" }
  /** The row is in a final state (finished, failed, cancelled). */
  | { readonly ok: false; readonly reason: "final"; readonly state: TaskState }
  /** Another agent holds it, or the TTL checker handed it back to pending. */
  | {
      readonly ok: false;
      readonly reason: "taken";
      readonly state: TaskState | undefined;
      readonly owner: string;
    };

/** The state table's UpdateItem through the AWS SDK. */
export function sdkStateTableWrites(ddb: DynamoDBClient): StateTableWrites {
  return {
    async updateItem(input: UpdateItemCommandInput) {
      await ddb.send(new UpdateItemCommand(input));
    },
  };
}

export class TaskLease {
  private readonly writes: StateTableWrites;

  constructor(
    /** The SDK client, or the agent's signed-HTTP client. */
    ddb: DynamoDBClient | StateTableWrites,
    private readonly tableName: string,
    /** This agent's id (`task_owner`): the pod name. */
    readonly agentId: string,
  ) {
    this.writes = "updateItem" in ddb ? ddb : sdkStateTableWrites(ddb);
  }

  /** pending and unowned -> processing, owned by this agent, with the message's receipt handle and a heartbeat. */
  claim(taskId: string, receiptHandle: string, expiresAtSec: number): Promise<LeaseOutcome> {
    return this.write(taskId, {
      set: "task_status = :processing, task_owner = :me, sqs_handler_id = :handle, heartbeat_expiration_timestamp = :hb",
      condition: "task_status = :pending AND task_owner = :none",
      values: {
        ":processing": { S: stateKeyForTask("processing", taskId) },
        ":pending": { S: stateKeyForTask("pending", taskId) },
        ":none": { S: NONE },
        ":me": { S: this.agentId },
        ":handle": { S: receiptHandle },
        ":hb": { N: String(expiresAtSec) },
      },
    });
  }

  /** Pushes the heartbeat expiry of a task this agent holds. */
  heartbeat(taskId: string, expiresAtSec: number): Promise<LeaseOutcome> {
    return this.whileOwned(taskId, "heartbeat_expiration_timestamp = :hb", {
      ":hb": { N: String(expiresAtSec) },
    });
  }

  /**
   * processing -> finished, with the completion time in milliseconds and, when given, the output (stored form)
   * kept in the row (OUTPUT_ATTRIBUTE).
   */
  finish(taskId: string, nowMs: number, output?: string): Promise<LeaseOutcome> {
    const withOutput = output === undefined ? "" : `, ${OUTPUT_ATTRIBUTE} = :output`;
    return this.whileOwned(taskId, `task_status = :to, task_completion_timestamp = :done${withOutput}`, {
      ":to": { S: stateKeyForTask("finished", taskId) },
      ":done": { N: String(nowMs) },
      ...(output === undefined ? {} : { ":output": { S: output } }),
    });
  }

  /** processing -> failed, for a task that can never succeed (its input is missing). */
  fail(taskId: string, nowMs: number): Promise<LeaseOutcome> {
    return this.whileOwned(taskId, "task_status = :to, task_completion_timestamp = :done", {
      ":to": { S: stateKeyForTask("failed", taskId) },
      ":done": { N: String(nowMs) },
    });
  }

  /**
   * Hands a task back for retry after a worker error, with upstream's semantics: the heartbeat is expired now, so
   * the TTL checker's next run returns it to pending (retries + 1) or fails it at the retry limit.
   */
  expire(taskId: string): Promise<LeaseOutcome> {
    return this.whileOwned(taskId, "heartbeat_expiration_timestamp = :expired", { ":expired": { N: "1" } });
  }

  /**
   * Gives back a task this agent claimed but will not run (shutdown): processing -> pending, unowned, with no
   * retry counted; the caller makes its message visible again.
   */
  release(taskId: string): Promise<LeaseOutcome> {
    return this.whileOwned(
      taskId,
      "task_status = :pending, task_owner = :none, sqs_handler_id = :none, heartbeat_expiration_timestamp = :zero",
      { ":pending": { S: stateKeyForTask("pending", taskId) }, ":none": { S: NONE }, ":zero": { N: "0" } },
    );
  }

  private whileOwned(taskId: string, set: string, values: Item): Promise<LeaseOutcome> {
    return this.write(taskId, {
      set,
      condition: "task_status = :processing AND task_owner = :me",
      values: {
        ...values,
        ":processing": { S: stateKeyForTask("processing", taskId) },
        ":me": { S: this.agentId },
      },
    });
  }

  private async write(
    taskId: string,
    update: { set: string; condition: string; values: Item },
  ): Promise<LeaseOutcome> {
    const transitionId = randomUUID();
    try {
      await retryOnThrottling(() =>
        this.writes.updateItem({
          TableName: this.tableName,
          Key: { [STATE_TABLE_KEY]: { S: taskId } },
          UpdateExpression: `SET ${update.set}, ${TRANSITION_ID_ATTRIBUTE} = :transition_id`,
          ConditionExpression: update.condition,
          ExpressionAttributeValues: { ...update.values, ":transition_id": { S: transitionId } },
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
      );
      return { ok: true };
    } catch (error) {
      if (errorName(error) !== "ConditionalCheckFailedException") throw error;
      const old = (error as { Item?: Item }).Item;
      if (!old) return { ok: false, reason: "vanished" };
      if (old[TRANSITION_ID_ATTRIBUTE]?.S === transitionId) return { ok: true };
      const state = stateOf(old.task_status?.S ?? "");
      if (state === "finished" || state === "failed" || state === "cancelled") {
        return { ok: false, reason: "final", state };
      }
      return { ok: false, reason: "taken", state, owner: old.task_owner?.S ?? NONE };
    }
  }
}
