// A small SigV4-signed HTTP client for the agent's hot calls (the state table's UpdateItem, S3 GetObject and
// PutObject): a request costs a fraction of the AWS SDK's CPU (the SDK was most of the agent's CPU per task). It
// keeps connections alive, retries like the SDK's standard mode (lost connections, 5xx, throttling, with
// full-jitter back-off) and corrects clock skew. Credentials come from the SDK's own provider chain, so they are
// found and refreshed as for every other client.

import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { backoffMs, isThrottling, sleep } from "./retry";
import { sha256Hex, signV4, type SigningCredentials } from "./sigv4";

export type CredentialSource = () => Promise<SigningCredentials>;

export interface SignedHttpOptions {
  readonly region: string;
  /** The signing name: dynamodb, s3. */
  readonly service: string;
  readonly credentials: CredentialSource;
  /** Attempts in all (the SDK's maxAttempts); 3 by default. */
  readonly maxAttempts?: number;
  /** Back-off base (ms): attempt n waits up to base * 2^n, capped at 20 s. */
  readonly baseDelayMs?: number;
  /** A request whose socket stays silent this long is abandoned and retried. */
  readonly idleTimeoutMs?: number;
}

export interface SignedRequest {
  readonly method: "GET" | "PUT" | "POST";
  readonly url: URL;
  /** The path as sent and signed, when it is not `url.pathname` (S3 keys with `.` or `..` segments). */
  readonly path?: string;
  /** Lower-case names; all are signed. */
  readonly headers?: Record<string, string>;
  readonly body?: Buffer;
  /** Sign UNSIGNED-PAYLOAD instead of the body's hash (S3 only). */
  readonly unsignedPayload?: boolean;
}

export interface SignedResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** An error the service answered, shaped like the SDK's: `name` is the error code. */
export class AwsServiceError extends Error {
  readonly $metadata: { readonly httpStatusCode: number; readonly attempts: number };
  constructor(
    code: string,
    message: string,
    status: number,
    attempts: number,
    extra: Record<string, unknown> = {},
  ) {
    super(message || `${code} (HTTP ${status})`);
    this.name = code;
    this.$metadata = { httpStatusCode: status, attempts };
    Object.assign(this, extra);
  }
}

/** What an error answer says: the code, the message, and fields to carry (DynamoDB's Item). */
export interface ServiceErrorDetail {
  readonly code: string;
  readonly message: string;
  readonly extra?: Record<string, unknown>;
}

/** Error codes worth another attempt besides throttling and 5xx (the SDK's transient and skew errors). */
const TRANSIENT_CODES = new Set([
  "RequestTimeout",
  "RequestTimeoutException",
  "InternalError",
  "InternalServerError",
  "ServiceUnavailable",
  "SlowDown",
  "TransactionInProgressException",
]);
const SKEW_CODES = new Set([
  "RequestTimeTooSkewed",
  "RequestExpired",
  "InvalidSignatureException",
  "SignatureDoesNotMatch",
  "AuthFailure",
  "RequestInTheFuture",
]);

/** Sent with every request, so AWS-side logs and the local proxies can tell these calls from the SDK's. */
export const USER_AGENT = `htc-grid-signed-http node/${process.versions.node}`;

/** Credentials are refreshed this long before they expire. */
const REFRESH_BEFORE_MS = 5 * 60_000;

export class SignedHttpClient {
  private readonly httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 64 });
  private readonly httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 64 });
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly idleTimeoutMs: number;
  private cached?: { credentials: SigningCredentials; refreshAtMs: number };
  private pending?: Promise<SigningCredentials>;
  /** Server time minus local time (ms), learnt from a skew error's Date header. */
  private clockOffsetMs = 0;

  constructor(private readonly options: SignedHttpOptions) {
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 3);
    this.baseDelayMs = options.baseDelayMs ?? 100;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
  }

  /**
   * Sends the request, retrying what is transient, and returns the first 2xx/3xx answer (or a 404, which callers
   * read as "not there"). Other answers become an AwsServiceError from `parseError`.
   */
  async send(
    request: SignedRequest,
    parseError: (response: SignedResponse) => ServiceErrorDetail,
  ): Promise<SignedResponse> {
    for (let attempt = 1; ; attempt++) {
      let response: SignedResponse;
      try {
        response = await this.once(request);
      } catch (error) {
        // No answer (refused, reset, timed out): the call may or may not have been applied; callers' writes are
        // conditional and idempotent (the state table's transition id, S3's whole-object put).
        if (attempt >= this.maxAttempts) throw error;
        await sleep(backoffMs(attempt, this.baseDelayMs, 20_000));
        continue;
      }
      if (response.status < 400 || response.status === 404) return response;
      const detail = parseError(response);
      const error = new AwsServiceError(
        detail.code || `HTTP${response.status}`,
        detail.message,
        response.status,
        attempt,
        detail.extra,
      );
      const skewed = SKEW_CODES.has(error.name) && this.learnClock(response);
      const retryable =
        skewed ||
        response.status >= 500 ||
        response.status === 429 ||
        isThrottling(error) ||
        TRANSIENT_CODES.has(error.name);
      if (!retryable || attempt >= this.maxAttempts) throw error;
      if (!skewed) await sleep(backoffMs(attempt, this.baseDelayMs, 20_000));
    }
  }

  destroy(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  private credentials(): Promise<SigningCredentials> {
    if (this.cached && Date.now() < this.cached.refreshAtMs) return Promise.resolve(this.cached.credentials);
    this.pending ??= this.options
      .credentials()
      .then((credentials) => {
        const expires = credentials.expiration?.getTime() ?? Infinity;
        this.cached = { credentials, refreshAtMs: expires - REFRESH_BEFORE_MS };
        return credentials;
      })
      .finally(() => (this.pending = undefined));
    return this.pending;
  }

  /** Adopts the server's clock from a skew error's Date header; true when it differs enough to matter. */
  private learnClock(response: SignedResponse): boolean {
    const serverMs = Date.parse(String(response.headers.date ?? ""));
    if (!Number.isFinite(serverMs)) return false;
    const offset = serverMs - Date.now();
    if (Math.abs(offset - this.clockOffsetMs) < 60_000) return false;
    this.clockOffsetMs = offset;
    return true;
  }

  private async once(request: SignedRequest): Promise<SignedResponse> {
    const credentials = await this.credentials();
    const body = request.body ?? Buffer.alloc(0);
    const payloadHash = request.unsignedPayload ? "UNSIGNED-PAYLOAD" : sha256Hex(body);
    const headers = signV4(
      {
        method: request.method,
        url: request.url,
        path: request.path,
        headers: {
          ...request.headers,
          ...(this.options.service === "s3" ? { "x-amz-content-sha256": payloadHash } : {}),
          ...(request.method === "GET" ? {} : { "content-length": String(body.length) }),
        },
        payloadHash,
      },
      this.options.region,
      this.options.service,
      credentials,
      new Date(Date.now() + this.clockOffsetMs),
    );
    // Not signed (as the SDK leaves it out): proxies may rewrite it.
    headers["user-agent"] = USER_AGENT;
    const https = request.url.protocol === "https:";
    return new Promise<SignedResponse>((resolve, reject) => {
      const req = (https ? httpsRequest : httpRequest)(
        request.url,
        {
          method: request.method,
          ...(request.path === undefined ? {} : { path: `${request.path}${request.url.search}` }),
          headers,
          agent: https ? this.httpsAgent : this.httpAgent,
          timeout: this.idleTimeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () => {
            const received = Buffer.concat(chunks);
            const expected = res.headers["content-length"];
            if (expected !== undefined && Number(expected) !== received.length) {
              reject(new Error(`connection closed after ${received.length} of ${expected} bytes`));
              return;
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: received });
          });
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error(`no answer within ${this.idleTimeoutMs} ms`)));
      req.on("error", reject);
      req.end(body.length > 0 ? body : undefined);
    });
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/** The DNS suffix of a region's partition, or undefined for partitions this client does not know (use the SDK). */
export function dnsSuffixOf(region: string): string | undefined {
  if (/^cn-[a-z]+-\d+$/.test(region)) return "amazonaws.com.cn";
  if (/^[a-z]{2}(-gov)?-[a-z]+-\d+$/.test(region)) return "amazonaws.com";
  return undefined;
}

/**
 * Whether the signed-HTTP client can stand in for the SDK here: a known partition, no FIPS or dual-stack
 * endpoints (the SDK resolves those), and not turned off with HTC_AWS_CLIENT=sdk.
 */
export function signedHttpUsable(env: Env, region: string): boolean {
  const on = (name: string) => (env[name] ?? "").toLowerCase() === "true";
  return (
    env.HTC_AWS_CLIENT !== "sdk" &&
    !on("AWS_USE_FIPS_ENDPOINT") &&
    !on("AWS_USE_DUALSTACK_ENDPOINT") &&
    dnsSuffixOf(region) !== undefined
  );
}

/** The endpoint override the SDK would use (AWS_ENDPOINT_URL_<SERVICE>, else AWS_ENDPOINT_URL), if any. */
export function endpointOverride(env: Env, service: "DYNAMODB" | "S3"): string | undefined {
  return env[`AWS_ENDPOINT_URL_${service}`] || env.AWS_ENDPOINT_URL || undefined;
}
