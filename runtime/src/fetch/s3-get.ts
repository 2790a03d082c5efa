// GET one S3 object with a SigV4-signed request and stream it to a file, hashing it on the way: Node built-ins
// only (node:crypto, node:http(s)), so the fetch step runs on a stock Node.js image with no SDK.

import { createHash, createHmac } from "node:crypto";
import { createWriteStream, renameSync, rmSync } from "node:fs";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import type { Credentials } from "./credentials";

export interface S3Location {
  readonly region: string;
  readonly dnsSuffix: string;
  /** Endpoint override; requests are then path-style. */
  readonly endpoint?: string;
}

export interface GetResult {
  readonly bytes: number;
  readonly sha256: string;
  /** The version S3 served (x-amz-version-id), if the bucket is versioned. */
  readonly versionId?: string;
}

export class S3Error extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

const hmac = (key: Buffer | string, data: string): Buffer =>
  createHmac("sha256", key).update(data, "utf8").digest();
const sha256Hex = (data: string): string => createHash("sha256").update(data, "utf8").digest("hex");

/** RFC 3986 encoding as SigV4 wants it (encodeURIComponent leaves !'()* alone). */
function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** Object URL: virtual-hosted on AWS (path-style for bucket names with dots, which break TLS), path-style on an override. */
export function objectUrl(location: S3Location, bucket: string, key: string, versionId?: string): URL {
  const path = key.split("/").map(uriEncode).join("/");
  let base: string;
  if (location.endpoint) base = `${location.endpoint.replace(/\/$/, "")}/${bucket}/${path}`;
  else if (bucket.includes("."))
    base = `https://s3.${location.region}.${location.dnsSuffix}/${bucket}/${path}`;
  else base = `https://${bucket}.s3.${location.region}.${location.dnsSuffix}/${path}`;
  const url = new URL(base);
  if (versionId) url.search = `versionId=${uriEncode(versionId)}`;
  return url;
}

/** SigV4 headers for a GET of `url` (payload unsigned, as S3 allows). */
export function signGet(
  url: URL,
  region: string,
  credentials: Credentials,
  now = new Date(),
): Record<string, string> {
  const amzDate = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
  const dateStamp = amzDate.slice(0, 8);
  const headers: Record<string, string> = {
    host: url.host,
    "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
    "x-amz-date": amzDate,
  };
  if (credentials.sessionToken) headers["x-amz-security-token"] = credentials.sessionToken;
  const names = Object.keys(headers).sort();
  const canonicalQuery = [...url.searchParams.entries()]
    .map(([k, v]) => `${uriEncode(k)}=${uriEncode(v)}`)
    .sort()
    .join("&");
  const canonicalRequest = [
    "GET",
    url.pathname,
    canonicalQuery,
    names.map((n) => `${n}:${headers[n].trim()}\n`).join(""),
    names.join(";"),
    "UNSIGNED-PAYLOAD",
  ].join("\n");
  const scope = `${dateStamp}/${region}/s3/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256Hex(canonicalRequest)].join("\n");
  const key = hmac(
    hmac(hmac(hmac(`AWS4${credentials.secretAccessKey}`, dateStamp), region), "s3"),
    "aws4_request",
  );
  const signature = createHmac("sha256", key).update(stringToSign, "utf8").digest("hex");
  return {
    ...headers,
    authorization: `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${names.join(";")}, Signature=${signature}`,
  };
}

function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    res.on("data", (c: Buffer) => chunks.push(c));
    res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    res.on("error", () => resolve(""));
  });
}

/** One GET of the object into `target` (written to a temporary name first). */
function getOnce(
  url: URL,
  headers: Record<string, string>,
  target: string,
  what: string,
  timeoutMs: number,
): Promise<GetResult> {
  return new Promise((resolve, reject) => {
    const request = url.protocol === "https:" ? httpsRequest : httpRequest;
    const req = request(url, { method: "GET", headers, timeout: timeoutMs }, (res) => {
      if (res.statusCode !== 200) {
        void readAll(res).then((body) => {
          const code = /<Code>([^<]*)<\/Code>/.exec(body)?.[1] ?? "";
          const message = /<Message>([^<]*)<\/Message>/.exec(body)?.[1] ?? "";
          const status = res.statusCode ?? 0;
          const hint =
            status === 301 || code === "PermanentRedirect" || code === "AuthorizationHeaderMalformed"
              ? " (the bucket is in another region than the grid)"
              : code === "AccessDenied"
                ? " (does the pod's role allow s3:GetObject/GetObjectVersion and kms:Decrypt on the bucket's key?)"
                : "";
          reject(
            new S3Error(
              `GET ${what}: HTTP ${status}${code ? ` ${code}` : ""}${message ? `: ${message}` : ""}${hint}`,
              status >= 500 || status === 429,
            ),
          );
        });
        return;
      }
      const temp = `${target}.part-${process.pid}`;
      const hash = createHash("sha256");
      const out = createWriteStream(temp, { mode: 0o600 });
      let bytes = 0;
      res.on("data", (chunk: Buffer) => {
        hash.update(chunk);
        bytes += chunk.length;
      });
      res.pipe(out);
      const fail = (error: Error) => {
        out.destroy();
        rmSync(temp, { force: true });
        reject(new S3Error(`GET ${what}: ${error.message}`, true));
      };
      res.on("error", fail);
      out.on("error", fail);
      out.on("finish", () => {
        const expected = Number(res.headers["content-length"] ?? bytes);
        if (bytes !== expected) {
          rmSync(temp, { force: true });
          reject(new S3Error(`GET ${what}: connection closed after ${bytes} of ${expected} bytes`, true));
          return;
        }
        renameSync(temp, target);
        const version = res.headers["x-amz-version-id"];
        resolve({
          bytes,
          sha256: hash.digest("hex"),
          versionId: typeof version === "string" ? version : undefined,
        });
      });
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", (error) =>
      reject(error instanceof S3Error ? error : new S3Error(`GET ${what}: ${error.message}`, true)),
    );
    req.end();
  });
}

/** Downloads s3://bucket/key (optionally one version) into `target`, retrying server errors and lost connections. */
export async function getObject(
  location: S3Location,
  credentials: Credentials,
  object: { bucket: string; key: string; versionId?: string },
  target: string,
  options: { attempts?: number; timeoutMs?: number } = {},
): Promise<GetResult> {
  const what = `s3://${object.bucket}/${object.key}${object.versionId ? ` (version ${object.versionId})` : ""}`;
  const attempts = options.attempts ?? 4;
  for (let attempt = 1; ; attempt++) {
    const url = objectUrl(location, object.bucket, object.key, object.versionId);
    try {
      return await getOnce(
        url,
        signGet(url, location.region, credentials),
        target,
        what,
        options.timeoutMs ?? 60_000,
      );
    } catch (error) {
      if (!(error instanceof S3Error) || !error.retryable || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** attempt));
    }
  }
}
