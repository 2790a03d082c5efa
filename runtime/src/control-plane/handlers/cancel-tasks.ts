// cancel_tasks: API Gateway POST /cancel. Moves every pending and processing task of the named
// sessions to cancelled. Messages stay queued: an agent whose claim fails on a cancelled row
// deletes the message, and a processing agent sees the cancel on its next heartbeat.

import type { ErrorLogger } from "../../aws/error-log";
import type { SessionCancelCounts } from "../../contract";
import { mapLimit } from "../../aws/retry";
import { RequestError, parseCancelRequest } from "../request";
import { QUERY_ERROR_STATUS, fail, ok } from "../response";
import { errorLogger, once, stateTable } from "../runtime";
import { UPDATE_CONCURRENCY, type StateTable } from "../../aws/state-table";
import type { ApiGatewayEvent, ApiResponse } from "../types";

export interface CancelDeps {
  readonly stateTable: StateTable;
  readonly logger: ErrorLogger;
}

async function cancelSession(table: StateTable, sessionId: string): Promise<SessionCancelCounts> {
  const [pending, processing] = await Promise.all([
    table.sessionTaskIds(sessionId, "pending"),
    table.sessionTaskIds(sessionId, "processing"),
  ]);
  const counts = { cancelled_pending: 0, cancelled_processing: 0, total_cancelled_tasks: 0 };
  await mapLimit(pending, UPDATE_CONCURRENCY, async (taskId) => {
    if (await table.cancelTask(taskId, "pending")) counts.cancelled_pending++;
    // Claimed between the query and the update: cancel it as a processing task.
    else if (await table.cancelTask(taskId, "processing")) counts.cancelled_processing++;
  });
  await mapLimit(processing, UPDATE_CONCURRENCY, async (taskId) => {
    if (await table.cancelTask(taskId, "processing")) counts.cancelled_processing++;
  });
  counts.total_cancelled_tasks = counts.cancelled_pending + counts.cancelled_processing;
  return counts;
}

export async function cancelTasks(event: ApiGatewayEvent, deps: CancelDeps): Promise<ApiResponse> {
  try {
    const sessions = parseCancelRequest(event);
    const exists = await Promise.all(sessions.map((s) => deps.stateTable.sessionExists(s)));
    const unknown = sessions.filter((_, i) => !exists[i]);
    if (unknown.length > 0)
      return fail(QUERY_ERROR_STATUS, `Unknown session(s): ${unknown.join(", ")}; nothing was cancelled`);
    const result: Record<string, SessionCancelCounts> = {};
    for (const sessionId of sessions) result[sessionId] = await cancelSession(deps.stateTable, sessionId);
    return ok(result);
  } catch (error) {
    if (error instanceof RequestError) return fail(QUERY_ERROR_STATUS, error.message);
    await deps.logger.log("cancel_tasks failed", error);
    return fail(
      QUERY_ERROR_STATUS,
      `cancel_tasks failed: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

const coldStart = once(async (): Promise<CancelDeps> => ({
  stateTable: stateTable(process.env),
  logger: errorLogger(process.env, "cancel_tasks"),
}));

export async function handler(event: ApiGatewayEvent): Promise<ApiResponse> {
  let deps: CancelDeps;
  try {
    deps = await coldStart.get();
  } catch (error) {
    return fail(
      QUERY_ERROR_STATUS,
      `cancel_tasks failed: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  return cancelTasks(event, deps);
}

/** Re-reads the environment on the next call. Tests only. */
export function resetColdStart(): void {
  coldStart.reset();
}
