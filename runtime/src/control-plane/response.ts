// API Gateway proxy responses in upstream's scheme: 200 with a JSON body, errors with a plain
// message body (542 for get_results/cancel_tasks, 543 for submit_tasks). Each names its content type: without
// one, API Gateway labels every proxy response application/json, plain-text errors included.

import { ERROR_CONTENT_TYPE, JSON_CONTENT_TYPE } from "../contract";
import type { ApiResponse } from "./types";

export { QUERY_ERROR_STATUS, SUBMIT_ERROR_STATUS } from "../contract";

export function ok(body: unknown): ApiResponse {
  return { statusCode: 200, headers: { "Content-Type": JSON_CONTENT_TYPE }, body: JSON.stringify(body) };
}

export function fail(statusCode: number, message: string): ApiResponse {
  return { statusCode, headers: { "Content-Type": ERROR_CONTENT_TYPE }, body: message };
}
