// An in-memory S3 for the local grid: path-style PUT, GET, HEAD and DELETE of objects and ListObjectsV2, with S3's
// XML errors. It enforces what the grid's data bucket policy enforces on AWS (uploads only with SSE-KMS under the
// grid's key), so a client or agent that forgets the key fails locally as it would in the account. It is several
// times faster than s3rver, which stores every object as files and made S3 the local grid's bottleneck.
// Signatures are not checked. Uploads in aws-chunked encoding (the SDK's streaming checksums) are decoded.

import { createHash } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import { closeServer, endpointOf, listen, requestUrl, type LocalServer } from "./servers";

interface StoredObject {
  readonly body: Buffer;
  readonly etag: string;
  readonly contentType: string;
  readonly lastModified: Date;
  readonly sse?: string;
  readonly kmsKeyId?: string;
}

export interface MemoryBucket {
  readonly name: string;
  /** Refuse uploads without SSE-KMS under this key (the data bucket's policy). */
  readonly requireKmsKey?: string;
}

export interface MemoryS3 extends LocalServer {
  /** Objects per bucket (for tests). */
  readonly buckets: ReadonlyMap<string, ReadonlyMap<string, StoredObject>>;
  /** Answers one buffered request in this process, without HTTP (what the server does for each request). */
  readonly dispatch: (req: BufferedRequest) => BufferedResponse;
}

/** A request whose body has been read. */
export interface BufferedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface BufferedResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** The part of a ServerResponse the handler uses. */
interface ResponseSink {
  writeHead(status: number, headers?: Record<string, string | number>): unknown;
  end(data?: string | Buffer): unknown;
}

const xmlEscape = (text: string) =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

function sendError(res: ResponseSink, status: number, code: string, message: string, resource = ""): void {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message><Resource>${xmlEscape(resource)}</Resource><RequestId>local</RequestId></Error>`;
  res.writeHead(status, { "content-type": "application/xml", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

/**
 * Decodes an `aws-chunked` body: `<hex size>[;chunk-signature=...]\r\n<data>\r\n` ... `0\r\n` [trailers] `\r\n`.
 */
export function decodeAwsChunked(raw: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = raw.indexOf("\r\n", at);
    if (lineEnd < 0) throw new Error("malformed aws-chunked body (no chunk header)");
    const size = parseInt(raw.toString("latin1", at, lineEnd).split(";")[0], 16);
    if (!Number.isFinite(size)) throw new Error("malformed aws-chunked body (bad chunk size)");
    at = lineEnd + 2;
    if (size === 0) return Buffer.concat(parts);
    parts.push(raw.subarray(at, at + size));
    at += size + 2;
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** Starts the in-memory S3 on 127.0.0.1 with the given (empty) buckets. */
export async function startMemoryS3(buckets: readonly MemoryBucket[], port = 0): Promise<MemoryS3> {
  const store = new Map<string, Map<string, StoredObject>>(buckets.map((b) => [b.name, new Map()]));
  const policies = new Map(buckets.map((b) => [b.name, b]));

  const handle = (req: BufferedRequest, res: ResponseSink): void => {
    const url = requestUrl(req.url);
    // The key from the path as sent: URL() drops `.` and `..` segments, which S3 keeps as part of the key.
    const [bucketName, ...keyParts] = (req.url ?? "/").split("?")[0].slice(1).split("/");
    const key = decodeURIComponent(keyParts.join("/"));
    const bucket = store.get(decodeURIComponent(bucketName));
    const body = req.body;
    if (!bucket)
      return sendError(res, 404, "NoSuchBucket", "The specified bucket does not exist", url.pathname);
    if (key === "") {
      if (req.method === "HEAD") {
        res.writeHead(200);
        res.end();
        return;
      }
      if (req.method === "GET") return listObjects(res, bucketName, bucket, url.searchParams);
      return sendError(
        res,
        405,
        "MethodNotAllowed",
        `${req.method} on a bucket is not supported here`,
        url.pathname,
      );
    }
    switch (req.method) {
      case "PUT": {
        const encoding = String(req.headers["content-encoding"] ?? "");
        const streaming = String(req.headers["x-amz-content-sha256"] ?? "").startsWith("STREAMING-");
        const data = encoding.includes("aws-chunked") || streaming ? decodeAwsChunked(body) : body;
        const sse = req.headers["x-amz-server-side-encryption"] as string | undefined;
        const kmsKeyId = req.headers["x-amz-server-side-encryption-aws-kms-key-id"] as string | undefined;
        const policy = policies.get(decodeURIComponent(bucketName));
        if (policy?.requireKmsKey && (sse !== "aws:kms" || kmsKeyId !== policy.requireKmsKey)) {
          return sendError(
            res,
            403,
            "AccessDenied",
            `the bucket policy requires SSE-KMS with the grid's key (x-amz-server-side-encryption: aws:kms, key ${policy.requireKmsKey}); got ${sse ?? "none"} ${kmsKeyId ?? ""}`.trim(),
            url.pathname,
          );
        }
        const etag = `"${createHash("md5").update(data).digest("hex")}"`;
        bucket.set(key, {
          body: data,
          etag,
          contentType: String(req.headers["content-type"] ?? "binary/octet-stream"),
          lastModified: new Date(),
          sse,
          kmsKeyId,
        });
        const headers: Record<string, string> = { etag };
        if (sse) headers["x-amz-server-side-encryption"] = sse;
        if (kmsKeyId) headers["x-amz-server-side-encryption-aws-kms-key-id"] = kmsKeyId;
        res.writeHead(200, headers);
        res.end();
        return;
      }
      case "GET":
      case "HEAD": {
        const object = bucket.get(key);
        if (!object) {
          if (req.method === "HEAD") {
            res.writeHead(404);
            res.end();
            return;
          }
          return sendError(res, 404, "NoSuchKey", "The specified key does not exist.", url.pathname);
        }
        res.writeHead(200, {
          "content-type": object.contentType,
          "content-length": object.body.length,
          etag: object.etag,
          "last-modified": object.lastModified.toUTCString(),
          ...(object.sse ? { "x-amz-server-side-encryption": object.sse } : {}),
        });
        res.end(req.method === "GET" ? object.body : undefined);
        return;
      }
      case "DELETE":
        bucket.delete(key);
        res.writeHead(204);
        res.end();
        return;
      default:
        return sendError(res, 405, "MethodNotAllowed", `${req.method} is not supported here`, url.pathname);
    }
  };

  /** One request, answered without HTTP (the local grid's proxy calls this directly). */
  const dispatch = (req: BufferedRequest): BufferedResponse => {
    const out: BufferedResponse = { status: 500, headers: {}, body: Buffer.alloc(0) };
    const sink: ResponseSink = {
      writeHead(status, headers = {}) {
        out.status = status;
        out.headers = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, String(v)]));
      },
      end(data) {
        out.body = data === undefined ? Buffer.alloc(0) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      },
    };
    try {
      handle(req, sink);
    } catch (error) {
      sendError(sink, 400, "InvalidRequest", String(error));
    }
    return out;
  };

  const server = createServer((req, res) => {
    readBody(req).then(
      (body) => {
        const answer = dispatch({
          method: req.method ?? "GET",
          url: req.url ?? "/",
          headers: req.headers,
          body,
        });
        res.writeHead(answer.status, answer.headers);
        res.end(answer.body);
      },
      (error: unknown) => sendError(res, 400, "InvalidRequest", String(error)),
    );
  });
  const bound = await listen(server, port, "S3 (in-memory)");
  return {
    endpoint: endpointOf(bound),
    port: bound,
    buckets: store,
    dispatch,
    stop: () => closeServer(server),
  };
}

function listObjects(
  res: ResponseSink,
  bucketName: string,
  bucket: Map<string, StoredObject>,
  params: URLSearchParams,
): void {
  const prefix = params.get("prefix") ?? "";
  const maxKeys = Math.min(1000, Number(params.get("max-keys") ?? 1000));
  const after = params.get("continuation-token") ?? params.get("start-after") ?? "";
  const keys = [...bucket.keys()].filter((k) => k.startsWith(prefix) && k > after).sort();
  const page = keys.slice(0, maxKeys);
  const truncated = keys.length > page.length;
  const contents = page
    .map((k) => {
      const o = bucket.get(k) as StoredObject;
      return `<Contents><Key>${xmlEscape(k)}</Key><LastModified>${o.lastModified.toISOString()}</LastModified><ETag>${xmlEscape(o.etag)}</ETag><Size>${o.body.length}</Size><StorageClass>STANDARD</StorageClass></Contents>`;
    })
    .join("");
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>${xmlEscape(bucketName)}</Name><Prefix>${xmlEscape(prefix)}</Prefix><KeyCount>${page.length}</KeyCount><MaxKeys>${maxKeys}</MaxKeys><IsTruncated>${truncated}</IsTruncated>${truncated ? `<NextContinuationToken>${xmlEscape(page[page.length - 1])}</NextContinuationToken>` : ""}${contents}</ListBucketResult>`;
  res.writeHead(200, { "content-type": "application/xml", "content-length": Buffer.byteLength(body) });
  res.end(body);
}
