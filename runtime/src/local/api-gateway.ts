// A local HTTP front with API Gateway's REST Lambda-proxy semantics, for tests and `npm run local`: serves
// `/<stage>/submit|result|cancel` like the deployed API, checks the API key (private flavour) or a Cognito id token
// (public flavour), applies the request validator, builds the proxy event and runs the real handler modules
// in-process, and answers the way API Gateway does when something goes wrong (its JSON `{"message"}` bodies).
//
// The handlers read their environment (runtime/src/contract/lambda-env.ts) from process.env at their first call,
// so whoever starts this front sets process.env first. Listens on 127.0.0.1 on a free port unless told otherwise.

import { createPublicKey, randomUUID, verify, type JsonWebKey } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  API_KEY_HEADER,
  API_OPERATIONS,
  AUTHORIZATION_HEADER,
  GATEWAY_ERRORS,
  JSON_CONTENT_TYPE,
  SUBMISSION_CONTENT,
  type ApiOperation,
} from "../contract";
import type { ApiGatewayEvent, ApiResponse } from "../control-plane/types";

/** The REST proxy event as API Gateway builds it (the handlers read a subset: ApiGatewayEvent). */
export interface ProxyEvent extends ApiGatewayEvent {
  resource: string;
  path: string;
  httpMethod: string;
  headers: Record<string, string>;
  multiValueHeaders: Record<string, string[]>;
  queryStringParameters: Record<string, string> | null;
  multiValueQueryStringParameters: Record<string, string[]> | null;
  pathParameters: null;
  stageVariables: null;
  requestContext: {
    resourcePath: string;
    httpMethod: string;
    path: string;
    stage: string;
    requestId: string;
    requestTimeEpoch: number;
    identity: { sourceIp: string; apiKey?: string };
    authorizer?: { claims: Record<string, unknown> };
  };
  body: string | null;
  isBase64Encoded: boolean;
}

/** A Lambda-proxy handler: the real ones, or a test's own for failure injection. */
export type ProxyHandler = (event: ProxyEvent) => Promise<ApiResponse>;

/** Who may call: the private API's keys, a Cognito user pool's id tokens, or anyone. */
export type LocalApiAuth =
  | { readonly kind: "apiKey"; readonly apiKeys: readonly string[] }
  | {
      readonly kind: "cognito";
      /** Token issuer, `<cognito endpoint>/<user pool id>`; its JWKS is `<issuer>/.well-known/jwks.json`. */
      readonly issuer: string;
      /** App client id the token's `aud` must name. @default any */
      readonly clientId?: string;
    }
  | { readonly kind: "none" };

export interface LocalApiGatewayOptions {
  readonly auth: LocalApiAuth;
  /** Stage name, the first path segment. @default "v1" */
  readonly stage?: string;
  /** Handlers per operation. @default the real control-plane handler modules, loaded on first use */
  readonly handlers?: Partial<Record<ApiOperation, ProxyHandler>>;
  /** @default "127.0.0.1" */
  readonly host?: string;
  /** @default 0 (a free port) */
  readonly port?: number;
  /** API Gateway's integration timeout. @default 29000 */
  readonly integrationTimeoutMs?: number;
}

export interface LocalApiGateway {
  /** Invoke URL including the stage, e.g. http://127.0.0.1:41234/v1 (what `*_api_gateway_url` holds). */
  readonly url: string;
  readonly port: number;
  /** Handler invocations per operation (requests refused before the integration are not counted). */
  readonly invocations: Readonly<Record<ApiOperation, number>>;
  stop(): Promise<void>;
}

const DEFAULTS = { stage: "v1", host: "127.0.0.1", port: 0, integrationTimeoutMs: 29_000 } as const;

/** API Gateway's payload limit, and Lambda's synchronous request and response limit. */
const GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024;
const LAMBDA_MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;

const REAL_HANDLERS: Record<ApiOperation, () => Promise<ProxyHandler>> = {
  submit: async () => (await import("../control-plane/handlers/submit-tasks")).handler,
  results: async () => (await import("../control-plane/handlers/get-results")).handler,
  cancel: async () => (await import("../control-plane/handlers/cancel-tasks")).handler,
};

type GatewayError = (typeof GATEWAY_ERRORS)[keyof typeof GATEWAY_ERRORS];

class Refusal extends Error {
  constructor(readonly error: GatewayError) {
    super(error.message);
  }
}

/** Percent-decoding only, as API Gateway decodes query strings ('+' stays '+'). */
export function parseQuery(
  search: string,
): { single: Record<string, string>; multi: Record<string, string[]> } | null {
  if (search === "") return null;
  const single: Record<string, string> = {};
  const multi: Record<string, string[]> = {};
  for (const part of search.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const decode = (text: string): string => {
      try {
        return decodeURIComponent(text);
      } catch {
        return text;
      }
    };
    const name = decode(eq < 0 ? part : part.slice(0, eq));
    const value = decode(eq < 0 ? "" : part.slice(eq + 1));
    single[name] = value;
    (multi[name] ??= []).push(value);
  }
  return { single, multi };
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** Verifies Cognito id tokens (RS256) against the issuer's JWKS: signature, issuer, expiry, token use, audience. */
class CognitoVerifier {
  private keys: Promise<Map<string, JsonWebKey>> | undefined;

  constructor(private readonly auth: Extract<LocalApiAuth, { kind: "cognito" }>) {}

  private jwks(refresh = false): Promise<Map<string, JsonWebKey>> {
    if (!this.keys || refresh) {
      this.keys = fetch(`${this.auth.issuer}/.well-known/jwks.json`, { signal: AbortSignal.timeout(5_000) })
        .then(async (res) => {
          if (!res.ok) throw new Error(`JWKS answered ${res.status}`);
          const body = (await res.json()) as { keys?: (JsonWebKey & { kid?: string })[] };
          return new Map((body.keys ?? []).map((k) => [String(k.kid), k]));
        })
        .catch((error: unknown) => {
          this.keys = undefined;
          throw error;
        });
    }
    return this.keys;
  }

  async claims(header: string | undefined): Promise<Record<string, unknown>> {
    const token = header?.replace(/^Bearer\s+/i, "").trim();
    const parts = token?.split(".") ?? [];
    if (parts.length !== 3) throw new Refusal(GATEWAY_ERRORS.unauthorized);
    let head: { alg?: string; kid?: string };
    let claims: Record<string, unknown>;
    try {
      head = JSON.parse(Buffer.from(parts[0], "base64url").toString("utf8")) as typeof head;
      claims = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8")) as Record<string, unknown>;
    } catch {
      throw new Refusal(GATEWAY_ERRORS.unauthorized);
    }
    if (head.alg !== "RS256" || !head.kid) throw new Refusal(GATEWAY_ERRORS.unauthorized);
    let jwk = (await this.jwks()).get(head.kid);
    if (!jwk) jwk = (await this.jwks(true)).get(head.kid);
    if (!jwk) throw new Refusal(GATEWAY_ERRORS.unauthorized);
    const signed = verify(
      "RSA-SHA256",
      Buffer.from(`${parts[0]}.${parts[1]}`),
      createPublicKey({ key: jwk, format: "jwk" }),
      Buffer.from(parts[2], "base64url"),
    );
    const nowSec = Date.now() / 1000;
    if (
      !signed ||
      claims.iss !== this.auth.issuer ||
      claims.token_use !== "id" ||
      typeof claims.exp !== "number" ||
      claims.exp <= nowSec ||
      (this.auth.clientId !== undefined && claims.aud !== this.auth.clientId)
    ) {
      throw new Refusal(GATEWAY_ERRORS.unauthorized);
    }
    return claims;
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= GATEWAY_MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on("end", () =>
      size > GATEWAY_MAX_BODY_BYTES
        ? reject(new Refusal(GATEWAY_ERRORS.tooLarge))
        : resolve(Buffer.concat(chunks)),
    );
    req.on("error", reject);
  });
}

function send(
  res: ServerResponse,
  requestId: string,
  status: number,
  headers: Record<string, string>,
  body: Buffer,
) {
  res.writeHead(status, {
    "content-type": JSON_CONTENT_TYPE,
    ...Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])),
    "x-amzn-requestid": requestId,
    "content-length": String(body.length),
  });
  res.end(body);
}

const gatewayBody = (error: GatewayError): Buffer => Buffer.from(JSON.stringify({ message: error.message }));

/** A well-formed Lambda-proxy result, or undefined (API Gateway answers 502 "Internal server error"). */
function proxyResult(
  value: unknown,
): { status: number; headers: Record<string, string>; body: Buffer } | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const r = value as Partial<ApiResponse> & { isBase64Encoded?: boolean };
  if (typeof r.statusCode !== "number" || !Number.isInteger(r.statusCode) || r.statusCode < 100)
    return undefined;
  if (r.body !== undefined && r.body !== null && typeof r.body !== "string") return undefined;
  if (Buffer.byteLength(JSON.stringify(value)) > LAMBDA_MAX_PAYLOAD_BYTES) return undefined;
  const text = r.body ?? "";
  return {
    status: r.statusCode,
    headers: { ...(r.headers ?? {}) },
    body: r.isBase64Encoded ? Buffer.from(text, "base64") : Buffer.from(text, "utf8"),
  };
}

export async function startLocalApiGateway(options: LocalApiGatewayOptions): Promise<LocalApiGateway> {
  const stage = options.stage ?? DEFAULTS.stage;
  const timeoutMs = options.integrationTimeoutMs ?? DEFAULTS.integrationTimeoutMs;
  const verifier = options.auth.kind === "cognito" ? new CognitoVerifier(options.auth) : undefined;
  const invocations: Record<ApiOperation, number> = { submit: 0, results: 0, cancel: 0 };
  const loaded = new Map<ApiOperation, Promise<ProxyHandler>>();
  const handlerOf = (operation: ApiOperation): Promise<ProxyHandler> => {
    const own = options.handlers?.[operation];
    if (own) return Promise.resolve(own);
    let handler = loaded.get(operation);
    if (!handler) loaded.set(operation, (handler = REAL_HANDLERS[operation]()));
    return handler;
  };
  const routes = new Map(
    (Object.entries(API_OPERATIONS) as [ApiOperation, (typeof API_OPERATIONS)[ApiOperation]][]).map(
      ([operation, route]) => [`${route.method} /${stage}${route.path}`, { operation, route }],
    ),
  );

  async function serve(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://local");
    } catch {
      // A target Node's parser lets through but URL() cannot parse (`//[`): no such route.
      throw new Refusal(GATEWAY_ERRORS.missingAuthenticationToken);
    }
    const match = routes.get(`${req.method} ${url.pathname}`);
    // API Gateway answers an undefined route or method like a missing credential.
    if (!match) throw new Refusal(GATEWAY_ERRORS.missingAuthenticationToken);
    const body = await readBody(req);

    let claims: Record<string, unknown> | undefined;
    const apiKey = headerValue(req, API_KEY_HEADER);
    if (options.auth.kind === "apiKey") {
      if (!apiKey || !options.auth.apiKeys.includes(apiKey)) throw new Refusal(GATEWAY_ERRORS.forbidden);
    } else if (verifier) {
      // An unreachable JWKS fails closed, as an authorizer that cannot verify a token.
      claims = await verifier.claims(headerValue(req, AUTHORIZATION_HEADER)).catch((error: unknown) => {
        throw error instanceof Refusal ? error : new Refusal(GATEWAY_ERRORS.unauthorized);
      });
    }

    const query = parseQuery(url.search.replace(/^\?/, ""));
    if (!query || (query.single[SUBMISSION_CONTENT] ?? "").trim() === "") {
      throw new Refusal(GATEWAY_ERRORS.missingParameter);
    }

    const headers: Record<string, string> = {};
    const multiValueHeaders: Record<string, string[]> = {};
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const [name, value] = [req.rawHeaders[i], req.rawHeaders[i + 1]];
      headers[name] = value;
      (multiValueHeaders[name] ??= []).push(value);
    }
    const event: ProxyEvent = {
      resource: match.route.path,
      path: match.route.path,
      httpMethod: match.route.method,
      headers,
      multiValueHeaders,
      queryStringParameters: query.single,
      multiValueQueryStringParameters: query.multi,
      pathParameters: null,
      stageVariables: null,
      requestContext: {
        resourcePath: match.route.path,
        httpMethod: match.route.method,
        path: url.pathname,
        stage,
        requestId,
        requestTimeEpoch: Date.now(),
        identity: { sourceIp: req.socket.remoteAddress ?? "127.0.0.1", ...(apiKey ? { apiKey } : {}) },
        ...(claims ? { authorizer: { claims } } : {}),
      },
      // The grid's APIs declare no binary media types, so bodies reach the function as text.
      body: body.length > 0 ? body.toString("utf8") : null,
      isBase64Encoded: false,
    };
    if (Buffer.byteLength(JSON.stringify(event)) > LAMBDA_MAX_PAYLOAD_BYTES)
      throw new Refusal(GATEWAY_ERRORS.tooLarge);

    const handler = await handlerOf(match.operation);
    invocations[match.operation]++;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">(
      (resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutMs)),
    );
    // Like a real Lambda, a handler that outlives the integration timeout keeps running; only the answer is lost.
    const outcome = await Promise.race([
      handler(event).then(
        (value) => ({ value }),
        () => undefined,
      ),
      timedOut,
    ]);
    clearTimeout(timer);
    if (outcome === "timeout") throw new Refusal(GATEWAY_ERRORS.timeout);
    const result = outcome === undefined ? undefined : proxyResult(outcome.value);
    if (!result) throw new Refusal(GATEWAY_ERRORS.lambdaError);
    send(res, requestId, result.status, result.headers, result.body);
  }

  const server = createServer((req, res) => {
    const requestId = randomUUID();
    serve(req, res, requestId).catch((error: unknown) => {
      const refusal = error instanceof Refusal ? error.error : GATEWAY_ERRORS.lambdaError;
      if (!res.headersSent) send(res, requestId, refusal.status, {}, gatewayBody(refusal));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? DEFAULTS.port, options.host ?? DEFAULTS.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}/${stage}`,
    port: address.port,
    invocations,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
