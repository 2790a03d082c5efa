// get_results: API Gateway GET /result. Lists a session's finished, cancelled and failed tasks; the outputs stay
// in the data plane (placeholders tell the client to read them there). With `task_ids`, it answers for those
// tasks only, read from the table, and gives the outputs agents kept in the rows (scheduler_data.inline_outputs).
// A session with no rows in gsi_session_index yet answers 200 with empty lists, as upstream does: the index
// is eventually consistent, so a client polling right after its submit can see no rows at all. A session that
// never appears is for the client's own timeout to notice.

import type { ErrorLogger } from "../../aws/error-log";
import { OUTPUT_PLACEHOLDER, type ResultsResponse } from "../../contract";
import { RequestError, parseResultsRequest } from "../request";
import { QUERY_ERROR_STATUS, fail, ok } from "../response";
import { errorLogger, once, stateTable } from "../runtime";
import type { StateTable } from "../../aws/state-table";
import type { ApiGatewayEvent, ApiResponse } from "../types";

export interface ResultsDeps {
  readonly stateTable: StateTable;
  readonly logger: ErrorLogger;
}

export async function getResults(event: ApiGatewayEvent, deps: ResultsDeps): Promise<ApiResponse> {
  try {
    const { sessionId, taskIds } = parseResultsRequest(event);
    if (taskIds !== undefined) return ok(await outputsOf(sessionId, taskIds, deps));
    const [finished, cancelled, failed] = await Promise.all(
      (["finished", "cancelled", "failed"] as const).map((state) =>
        deps.stateTable.sessionTaskIds(sessionId, state),
      ),
    );
    const total = finished.length + cancelled.length + failed.length;
    const body: ResultsResponse = {
      finished,
      finished_OUTPUT: finished.map(() => OUTPUT_PLACEHOLDER),
      cancelled,
      cancelled_OUTPUT: cancelled.map(() => OUTPUT_PLACEHOLDER),
      failed,
      failed_OUTPUT: failed.map(() => OUTPUT_PLACEHOLDER),
      metadata: { tasks_in_response: total },
    };
    return ok(body);
  } catch (error) {
    if (error instanceof RequestError) return fail(QUERY_ERROR_STATUS, error.message);
    await deps.logger.log("get_results failed", error);
    return fail(
      QUERY_ERROR_STATUS,
      `get_results failed: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

/** The final tasks among `taskIds`, in their order, each finished one with its output or the placeholder. */
async function outputsOf(sessionId: string, taskIds: string[], deps: ResultsDeps): Promise<ResultsResponse> {
  const found = await deps.stateTable.finalTasksOf(sessionId, taskIds);
  const body: ResultsResponse = {
    finished: [],
    finished_OUTPUT: [],
    cancelled: [],
    cancelled_OUTPUT: [],
    failed: [],
    failed_OUTPUT: [],
    metadata: { tasks_in_response: 0 },
  };
  for (const taskId of new Set(taskIds)) {
    const task = found.get(taskId);
    if (!task) continue;
    body[task.state].push(taskId);
    body[`${task.state}_OUTPUT`].push(task.output ?? OUTPUT_PLACEHOLDER);
    body.metadata.tasks_in_response++;
  }
  return body;
}

const coldStart = once(async (): Promise<ResultsDeps> => ({
  stateTable: stateTable(process.env),
  logger: errorLogger(process.env, "get_results"),
}));

export async function handler(event: ApiGatewayEvent): Promise<ApiResponse> {
  let deps: ResultsDeps;
  try {
    deps = await coldStart.get();
  } catch (error) {
    return fail(
      QUERY_ERROR_STATUS,
      `get_results failed: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  return getResults(event, deps);
}

/** Re-reads the environment on the next call. Tests only. */
export function resetColdStart(): void {
  coldStart.reset();
}
