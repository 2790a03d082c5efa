// An HTTP proxy on 127.0.0.1 in front of one local AWS-compatible server (over HTTP, or called directly when it runs
// in this process): it counts requests by AWS operation, can add a fixed delay to each (standing for the network
// between a pod and AWS), lets a test drop a response after the server applied the request (a lost response), and
// refuses a request whose SigV4 signature AWS would refuse (sigv4-check.ts). The local grid, the benchmarks and the
// fault tests use it.

import {
  createServer,
  request,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
} from "node:http";
import type { BufferedRequest, BufferedResponse } from "./s3";
import { closeServer, endpointOf, listen, requestUrl } from "./servers";
import { checkSignature, type SignatureCheck } from "./sigv4-check";

export type AwsService = "dynamodb" | "sqs" | "s3" | "cloudwatch" | "logs" | "secretsmanager";

/** What a test may do to one request: look at it, and drop the response after the server answered. */
export interface ProxyHook {
  (call: {
    service: AwsService;
    operation: string;
    /** The request's path and query (for S3, the bucket and key). */
    path: string;
    body: string;
    status: number;
    response: string;
    /** When the request arrived at the proxy (performance.now(), before any added delay). */
    arrivedAt: number;
    /** The request's user-agent header (which client sent it). */
    userAgent: string;
  }): "drop" | void;
}

/**
 * What a test may do before a request reaches the server: answer it itself (an error AWS could give), so the
 * request is never applied.
 */
export interface ProxyGate {
  (call: { service: AwsService; operation: string; body: string }): { status: number; body: string } | void;
}

export interface AwsProxy {
  readonly endpoint: string;
  /** Requests forwarded, by `<service>:<operation>`. */
  readonly counts: Map<string, number>;
  /** Time the server behind took, summed per `<service>:<operation>` (ms; the added delay excluded). */
  readonly serverMs: Map<string, number>;
  /** Requests refused for their signature (not forwarded, not in `counts`). */
  readonly rejected: () => number;
  setDelayMs(ms: number): void;
  setHook(hook: ProxyHook | undefined): void;
  setGate(gate: ProxyGate | undefined): void;
  reset(): void;
  stop(): Promise<void>;
}

/** The AWS operation of a request: X-Amz-Target for the JSON protocols, method and path shape for S3. */
export function operationOf(service: AwsService, req: IncomingMessage): string {
  const target = req.headers["x-amz-target"];
  if (typeof target === "string" && target.includes(".")) return target.slice(target.lastIndexOf(".") + 1);
  if (service !== "s3") return req.method ?? "UNKNOWN";
  const url = requestUrl(req.url);
  const keyed = url.pathname.split("/").filter(Boolean).length > 1;
  switch (req.method) {
    case "GET":
      return keyed ? "GetObject" : url.searchParams.has("list-type") ? "ListObjectsV2" : "ListObjects";
    case "PUT":
      return keyed ? "PutObject" : "CreateBucket";
    case "HEAD":
      return keyed ? "HeadObject" : "HeadBucket";
    case "DELETE":
      return keyed ? "DeleteObject" : "DeleteBucket";
    case "POST":
      return url.searchParams.has("delete") ? "DeleteObjects" : "PostObject";
    default:
      return req.method ?? "UNKNOWN";
  }
}

/** A server in this process that answers a buffered request directly (the in-memory S3): one HTTP hop fewer. */
export type InProcessServer = (req: BufferedRequest) => BufferedResponse;

export interface AwsProxyOptions {
  /** Checks each request's signature as AWS does, and refuses it with the service's error when it does not hold. */
  readonly signatures?: SignatureCheck;
  /** Told of each refused request: `<service>:<operation>`, its user-agent and one line saying what did not match. */
  readonly onRejected?: (operation: string, userAgent: string, reason: string) => void;
}

/** Starts a proxy forwarding to `target`: `http://127.0.0.1:<port>`, or a server in this process. */
export async function startAwsProxy(
  service: AwsService,
  target: string | InProcessServer,
  delayMs = 0,
  options: AwsProxyOptions = {},
): Promise<AwsProxy> {
  let rejected = 0;
  const counts = new Map<string, number>();
  const serverMs = new Map<string, number>();
  let delay = delayMs;
  let hook: ProxyHook | undefined;
  let gate: ProxyGate | undefined;
  const upstream = typeof target === "string" ? new URL(target) : undefined;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    /** Whatever goes wrong in this proxy is one 400 answer, never an exception that stops the grid. */
    const fail = (error: unknown) => {
      if (res.headersSent) res.destroy();
      else
        res
          .writeHead(400, { "content-type": "text/plain" })
          .end(`local ${service} proxy: ${String(error)}\n`);
    };
    req.on("end", () => void handle().catch(fail));
    const handle = async () => {
      const arrivedAt = performance.now();
      const body = Buffer.concat(chunks);
      const operation = operationOf(service, req);
      const key = `${service}:${operation}`;
      if (options.signatures) {
        const refused = await checkSignature(
          { method: req.method ?? "GET", url: req.url ?? "/", headers: req.headers },
          body,
          options.signatures,
        );
        if (refused) {
          rejected++;
          options.onRejected?.(key, String(req.headers["user-agent"] ?? ""), refused.reason);
          res.writeHead(refused.status, refused.headers);
          res.end(refused.body);
          return;
        }
      }
      const answer = gate?.({ service, operation, body: body.toString("utf8") });
      if (answer) {
        res.writeHead(answer.status, { "content-type": "application/x-amz-json-1.0" });
        res.end(answer.body);
        return;
      }
      counts.set(key, (counts.get(key) ?? 0) + 1);
      /** The server's answer: counted, shown to the hook (which may drop it), sent back. */
      const answered = (sent: number, status: number, headers: OutgoingHttpHeaders, response: Buffer) => {
        serverMs.set(key, (serverMs.get(key) ?? 0) + performance.now() - sent);
        const verdict = hook?.({
          service,
          operation,
          path: req.url ?? "/",
          body: body.toString("utf8"),
          status,
          response: response.toString("utf8"),
          arrivedAt,
          userAgent: String(req.headers["user-agent"] ?? ""),
        });
        if (verdict === "drop") {
          req.socket.destroy();
          return;
        }
        res.writeHead(status, headers);
        res.end(response);
      };
      const forward = () => {
        try {
          send();
        } catch (error) {
          fail(error);
        }
      };
      const send = () => {
        const sent = performance.now();
        if (typeof target === "function") {
          const answer = target({
            method: req.method ?? "GET",
            url: req.url ?? "/",
            headers: req.headers,
            body,
          });
          answered(sent, answer.status, answer.headers, answer.body);
          return;
        }
        const out = request(
          {
            host: upstream?.hostname,
            port: upstream?.port,
            method: req.method,
            path: req.url,
            // The Host header stays the one the client signed (SigV4 covers it).
            headers: req.headers,
          },
          (answer) => {
            const parts: Buffer[] = [];
            answer.on("data", (c: Buffer) => parts.push(c));
            answer.on("end", () =>
              answered(sent, answer.statusCode ?? 502, answer.headers, Buffer.concat(parts)),
            );
          },
        );
        out.on("error", () => {
          res.writeHead(502);
          res.end();
        });
        out.end(body);
      };
      if (delay > 0) setTimeout(forward, delay);
      else forward();
    };
  });
  const port = await listen(server, 0, `${service} proxy`);
  return {
    endpoint: endpointOf(port),
    counts,
    serverMs,
    rejected: () => rejected,
    setDelayMs: (ms) => (delay = ms),
    setHook: (h) => (hook = h),
    setGate: (g) => (gate = g),
    reset: () => {
      counts.clear();
      serverMs.clear();
    },
    stop: () => closeServer(server),
  };
}
