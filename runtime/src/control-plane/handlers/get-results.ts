// get_results: API Gateway GET /result. Lists a session's finished, cancelled and failed tasks;
// the outputs themselves stay in the data plane (placeholders tell the client to read them there).
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
    const sessionId = parseResultsRequest(event);
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
