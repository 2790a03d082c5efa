// What the local grid learns from each DynamoDB call through its counting front: the operation and the server's
// time (request counts, bench:e2e's per-operation means), the items a batch write stored (billing units), and the
// state transitions the agents apply (a claim, a final state: the exactly-once check and the overhead steps).
// The front runs in the grid's process (in-process dynalite) or in the DynamoDB process (npm run local,
// bench:e2e), which sends these records to the grid one JSON line each; both build them here.

import { stateOf } from "../contract";

export type FinalState = "finished" | "failed" | "cancelled";

export interface DynamoCallRecord {
  /** The DynamoDB operation (X-Amz-Target's action). */
  readonly op: string;
  readonly status: number;
  /** How long the server took (ms, the added delay excluded). */
  readonly serverMs: number;
  /** Items a successful BatchWriteItem stored (its billing units). */
  readonly items?: number;
  /** The task an agent claimed (an UpdateItem that records the message's receipt handle). */
  readonly claimed?: string;
  /** The task that reached a final state, and which. */
  readonly final?: { readonly taskId: string; readonly state: FinalState };
  /**
   * When the request arrived at the front and when the server answered, in epoch ms with sub-millisecond precision
   * (performance.timeOrigin + performance.now()): comparable across the grid's processes.
   */
  readonly arrivedAt: number;
  readonly answeredAt: number;
}

/** The record of one call: `arrivedAt` and the server time as the proxy measured them (performance.now()). */
export function dynamoCallRecord(call: {
  readonly operation: string;
  readonly body: string;
  readonly status: number;
  readonly response: string;
  readonly arrivedAt: number;
  readonly serverMs: number;
}): DynamoCallRecord {
  const base = {
    op: call.operation,
    status: call.status,
    serverMs: call.serverMs,
    arrivedAt: performance.timeOrigin + call.arrivedAt,
    answeredAt: performance.timeOrigin + performance.now(),
  };
  if (call.status !== 200) return base;
  if (call.operation === "BatchWriteItem") {
    const written = (text: string, field: string) =>
      Object.values(
        (JSON.parse(text) as Record<string, Record<string, unknown[]> | undefined>)[field] ?? {},
      ).reduce((sum, list) => sum + list.length, 0);
    return {
      ...base,
      items: written(call.body, "RequestItems") - written(call.response, "UnprocessedItems"),
    };
  }
  if (call.operation !== "UpdateItem") return base;
  const input = JSON.parse(call.body) as {
    Key?: { task_id?: { S?: string } };
    ExpressionAttributeValues?: Record<string, { S?: string }>;
  };
  const taskId = input.Key?.task_id?.S;
  if (!taskId) return base;
  const state = stateOf(input.ExpressionAttributeValues?.[":to"]?.S ?? "");
  if (state === "finished" || state === "failed" || state === "cancelled")
    return { ...base, final: { taskId, state } };
  if (input.ExpressionAttributeValues?.[":handle"]) return { ...base, claimed: taskId };
  return base;
}

/** An epoch time from a record, on this process's performance.now() clock. */
export function localTime(epochMs: number): number {
  return epochMs - performance.timeOrigin;
}
