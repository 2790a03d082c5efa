// Request decoding shared by the API handlers: `submission_content` from the query string (or the
// body, as upstream also accepts), urlsafe base64 -> JSON object, with size limits.

import {
  MAX_DECODED_BYTES,
  MAX_SESSIONS_PER_REQUEST,
  MAX_TASK_IDS_PER_RESULTS_REQUEST,
  SESSION_ID_PATTERN,
  SUBMISSION_CONTENT,
  TASK_ID_PATTERN,
} from "../contract";
import type { ApiGatewayEvent } from "./types";

/** The client's fault: answered with an error status and the message, nothing written. */
export class RequestError extends Error {}

export { MAX_DECODED_BYTES } from "../contract";

const BASE64 = /^[A-Za-z0-9\-_+/]*={0,2}$/;

/**
 * The raw `submission_content` of an API Gateway proxy event: the request body when there is one, else the query
 * parameter. A query string is limited to API Gateway's 10,240 bytes of request line and headers, so clients send
 * a large inline submission as the body (and the session id as the query parameter the request validator
 * requires); upstream's clients send no body, so for them nothing changes.
 */
export function submissionContent(event: ApiGatewayEvent): string {
  if (typeof event.body === "string" && event.body.trim() !== "") {
    return event.isBase64Encoded ? Buffer.from(event.body, "base64").toString("utf8") : event.body;
  }
  const fromQuery = event.queryStringParameters?.[SUBMISSION_CONTENT];
  if (fromQuery !== undefined && fromQuery !== null && fromQuery !== "") return fromQuery;
  throw new RequestError("Invalid request: expected the submission_content query parameter");
}

/** Decodes urlsafe (or standard) base64, padding optional; rejects any other character. */
export function decodeBase64(text: string, maxBytes = MAX_DECODED_BYTES): Buffer {
  const trimmed = text.trim();
  if (!BASE64.test(trimmed) || trimmed.replace(/=+$/, "").length % 4 === 1) {
    throw new RequestError("Invalid request: submission_content is not valid base64");
  }
  if (Math.floor((trimmed.length * 3) / 4) > maxBytes + 3) {
    throw new RequestError(`Invalid request: submission is larger than ${maxBytes} bytes`);
  }
  return Buffer.from(trimmed.replace(/-/g, "+").replace(/_/g, "/"), "base64");
}

/** urlsafe base64 of JSON text, as the clients produce it. */
export function encodeBase64Json(value: unknown): string {
  return Buffer.from(JSON.stringify(value), "utf8").toString("base64url");
}

/** Decodes urlsafe-base64 JSON that must be a JSON object. */
export function decodeBase64JsonObject(text: string, maxBytes = MAX_DECODED_BYTES): Record<string, unknown> {
  const bytes = decodeBase64(text, maxBytes);
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new RequestError("Invalid request: submission_content is not base64-encoded UTF-8 JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new RequestError("Invalid request: submission_content must encode a JSON object");
  }
  return parsed as Record<string, unknown>;
}

export function validSessionId(value: unknown, field: string): string {
  if (typeof value !== "string" || !SESSION_ID_PATTERN.test(value)) {
    throw new RequestError(
      `Invalid request: ${field} must be a session id ([A-Za-z0-9-]{1,64}), got ${JSON.stringify(value)?.slice(0, 80)}`,
    );
  }
  return value;
}

/**
 * `{"session_id": ...}` for get_results, optionally with `task_ids` (a non-empty list of at most
 * MAX_TASK_IDS_PER_RESULTS_REQUEST task ids of that session: answer those, with outputs kept in their rows).
 */
export function parseResultsRequest(event: ApiGatewayEvent): { sessionId: string; taskIds?: string[] } {
  const body = decodeBase64JsonObject(submissionContent(event));
  const sessionId = validSessionId(body.session_id, "session_id");
  const taskIds = body.task_ids;
  if (taskIds === undefined || taskIds === null) return { sessionId };
  if (!Array.isArray(taskIds) || taskIds.length === 0 || taskIds.length > MAX_TASK_IDS_PER_RESULTS_REQUEST) {
    throw new RequestError(
      `Invalid request: task_ids must be a list of 1 to ${MAX_TASK_IDS_PER_RESULTS_REQUEST} task ids, got ` +
        (Array.isArray(taskIds) ? `${taskIds.length}` : JSON.stringify(taskIds)?.slice(0, 80)),
    );
  }
  taskIds.forEach((taskId, i) => {
    if (typeof taskId !== "string" || !TASK_ID_PATTERN.test(taskId) || !taskId.startsWith(`${sessionId}_`)) {
      throw new RequestError(
        `Invalid request: task_ids[${i}] must be a task id "${sessionId}_<suffix>" ([A-Za-z0-9_-], max 80), got ` +
          JSON.stringify(taskId)?.slice(0, 90),
      );
    }
  });
  return { sessionId, taskIds: taskIds as string[] };
}

/** `{"session_ids_to_cancel": [...]}` for cancel_tasks (duplicates removed, order kept). */
export function parseCancelRequest(event: ApiGatewayEvent): string[] {
  const body = decodeBase64JsonObject(submissionContent(event));
  const ids = body.session_ids_to_cancel;
  if (!Array.isArray(ids) || ids.length === 0)
    throw new RequestError("Invalid request: session_ids_to_cancel must be a non-empty list");
  if (ids.length > MAX_SESSIONS_PER_REQUEST)
    throw new RequestError(
      `Invalid request: at most ${MAX_SESSIONS_PER_REQUEST} sessions per cancel request`,
    );
  return [...new Set(ids.map((id, i) => validSessionId(id, `session_ids_to_cancel[${i}]`)))];
}
