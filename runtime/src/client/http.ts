// Calls to the grid's REST API with Node's fetch: per-call timeouts, retries with full-jitter back-off on network
// errors, 429 and 5xx, and errors that say what went wrong without echoing credentials.
//
// What may be retried: get_results and cancel are idempotent. A submit may be repeated too, because submit_tasks
// writes a submission's first row only if it is absent and answers a repeat as `duplicate` without writing or
// queueing anything (see runtime/src/control-plane/handlers/submit-tasks.ts); a handler's own refusal (542/543)
// is never retried.

import { API_OPERATIONS, SUBMISSION_CONTENT, type ApiOperation } from "../contract";
import type { ApiAuthenticator } from "./auth";
import { describeFetchError } from "./cognito";
import { ApiError, AuthError } from "./errors";

export interface ApiTransportOptions {
  /** Invoke URL including the stage (`public_api_gateway_url` / `private_api_gateway_url`). */
  readonly baseUrl: string;
  readonly auth: ApiAuthenticator;
  /**
   * Per-request timeout. Above API Gateway's 29 s integration timeout, so a slow handler is reported by the
   * gateway's 504 rather than by a cut connection. @default 35000
   */
  readonly timeoutMs?: number;
  /** Attempts per call, the first included. @default 5 */
  readonly maxAttempts?: number;
  /** Back-off base and cap (ms). @default 250 and 8000 */
  readonly backoffMs?: { readonly base: number; readonly cap: number };
  /** Where retries are reported (no secrets are passed). @default none */
  readonly log?: (line: string) => void;
}

const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);
const DEFAULTS = { timeoutMs: 35_000, maxAttempts: 5, backoffMs: { base: 250, cap: 8_000 } } as const;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The `message` of API Gateway's own JSON error bodies, or the handler's plain text. */
function messageOf(text: string): string {
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (parsed && typeof parsed.message === "string") return parsed.message;
  } catch {
    // plain text
  }
  const oneLine = text.replace(/\s+/g, " ").trim();
  return oneLine.length > 300 ? `${oneLine.slice(0, 297)}...` : oneLine;
}

export class ApiTransport {
  private readonly baseUrl: string;
  /** Requests sent, per operation, retries included. */
  readonly sent: Record<ApiOperation, number> = { submit: 0, results: 0, cancel: 0 };

  constructor(private readonly options: ApiTransportOptions) {
    if (!/^https?:\/\//.test(options.baseUrl)) {
      throw new ApiError(`the API URL ${JSON.stringify(options.baseUrl)} is not an http(s) URL`);
    }
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
  }

  /**
   * One API call: `submission_content` in the query string, and optionally a text body (inline submissions).
   * Returns the parsed JSON of a 200 answer.
   */
  async call<T>(operation: ApiOperation, content: string, body?: string): Promise<T> {
    const route = API_OPERATIONS[operation];
    const url = `${this.baseUrl}${route.path}?${SUBMISSION_CONTENT}=${encodeURIComponent(content)}`;
    const maxAttempts = this.options.maxAttempts ?? DEFAULTS.maxAttempts;
    const backoff = this.options.backoffMs ?? DEFAULTS.backoffMs;
    let renewed = false;
    for (let attempt = 1; ; attempt++) {
      let status: number;
      let text: string;
      try {
        this.sent[operation]++;
        const res = await fetch(url, {
          method: route.method,
          headers: {
            ...(await this.options.auth.headers()),
            ...(body !== undefined ? { "Content-Type": "text/plain" } : {}),
          },
          body,
          signal: AbortSignal.timeout(this.options.timeoutMs ?? DEFAULTS.timeoutMs),
        });
        status = res.status;
        text = await res.text();
      } catch (error) {
        if (error instanceof AuthError) throw error;
        const reason = describeFetchError(error);
        if (attempt >= maxAttempts) {
          throw new ApiError(
            `cannot reach the grid API at ${this.baseUrl} for ${route.path} after ${attempt} attempts (${reason}); check the URL in the agent configuration and the network`,
          );
        }
        this.options.log?.(`${route.path}: ${reason}; retrying (attempt ${attempt + 1} of ${maxAttempts})`);
        await sleep(Math.random() * Math.min(backoff.cap, backoff.base * 2 ** attempt));
        continue;
      }
      if (status === 200) {
        try {
          return JSON.parse(text) as T;
        } catch {
          throw new ApiError(
            `the grid answered ${route.path} with 200 but no JSON: ${messageOf(text)}`,
            status,
          );
        }
      }
      if (status === 401 || (status === 403 && messageOf(text) === "Forbidden")) {
        // Refused before any handler ran: renewing the credentials and asking again is safe.
        if (!renewed && (await this.options.auth.renew())) {
          renewed = true;
          continue;
        }
        throw new AuthError(
          `the grid refused ${this.options.auth.description} (${status} ${messageOf(text)}); ` +
            (status === 401
              ? "sign in again with `htc login`"
              : "check api_gateway_key in the agent configuration or HTC_API_KEY"),
        );
      }
      if (RETRYABLE_STATUS.has(status) && attempt < maxAttempts) {
        this.options.log?.(
          `${route.path}: ${status} ${messageOf(text)}; retrying (attempt ${attempt + 1} of ${maxAttempts})`,
        );
        await sleep(Math.random() * Math.min(backoff.cap, backoff.base * 2 ** attempt));
        continue;
      }
      if (status === 403 && messageOf(text) === "Missing Authentication Token") {
        throw new ApiError(
          `the grid has no route ${route.method} ${route.path} at ${this.baseUrl}; the API URL must be the stage's invoke URL (e.g. https://<id>.execute-api.<region>.amazonaws.com/v1)`,
          status,
        );
      }
      throw new ApiError(`the grid answered ${route.path} with ${status}: ${messageOf(text)}`, status);
    }
  }
}
