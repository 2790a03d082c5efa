// get_results: API Gateway GET /result. Lists a session's finished, cancelled and failed tasks;
// the outputs themselves stay in the data plane (placeholders tell the client to read them there).

import type { ErrorLogger } from "../lib/error-log";
import { RequestError, parseResultsRequest } from "../lib/request";
import { QUERY_ERROR_STATUS, fail, ok } from "../lib/response";
import { errorLogger, once, stateTable } from "../lib/runtime";
import type { StateTable } from "../lib/state-table";
import type { ApiGatewayEvent, ApiResponse } from "../lib/types";

/** What the `*_OUTPUT` lists hold: the client fetches `<task_id>-output` itself. */
export const OUTPUT_PLACEHOLDER = "read_from_dataplane";

export interface ResultsDeps {
  readonly stateTable: StateTable;
  readonly logger: ErrorLogger;
}

export interface ResultsBody {
  finished: string[];
  finished_OUTPUT: string[];
  cancelled: string[];
  cancelled_OUTPUT: string[];
  failed: string[];
  failed_OUTPUT: string[];
  metadata: { tasks_in_response: number };
}

export async function getResults(event: ApiGatewayEvent, deps: ResultsDeps): Promise<ApiResponse> {
  try {
    const sessionId = parseResultsRequest(event);
    const [finished, cancelled, failed] = await Promise.all(
      (["finished", "cancelled", "failed"] as const).map((state) =>
        deps.stateTable.sessionTaskIds(sessionId, state),
      ),
    );
    const total = finished.length + cancelled.length + failed.length;
    if (total === 0 && !(await deps.stateTable.sessionExists(sessionId))) {
      return fail(QUERY_ERROR_STATUS, `Unknown session ${sessionId}`);
    }
    const body: ResultsBody = {
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
