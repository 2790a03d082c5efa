// GET one S3 object with a SigV4-signed request and stream it to a file, hashing it on the way: Node built-ins
// only (node:crypto, node:http(s)), so the fetch step runs on a stock Node.js image with no SDK.

import { createHash } from "node:crypto";
import { createWriteStream, renameSync, rmSync } from "node:fs";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { objectAddress, type ObjectAddress, type S3Location } from "../aws/signed-s3";
import { signV4 } from "../aws/sigv4";
import type { Credentials } from "./credentials";

export { objectAddress, type S3Location };

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

/** SigV4 headers for a GET of the object at `address` (payload unsigned, as S3 allows). */
export function signGet(
  address: ObjectAddress,
  region: string,
  credentials: Credentials,
  now = new Date(),
): Record<string, string> {
  const unsigned = "UNSIGNED-PAYLOAD";
  return signV4(
    { method: "GET", ...address, headers: { "x-amz-content-sha256": unsigned }, payloadHash: unsigned },
    region,
    "s3",
    credentials,
    now,
  );
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
  { url, path }: ObjectAddress,
  headers: Record<string, string>,
  target: string,
  what: string,
  timeoutMs: number,
): Promise<GetResult> {
  return new Promise((resolve, reject) => {
    const request = url.protocol === "https:" ? httpsRequest : httpRequest;
    const options = { method: "GET", path: `${path}${url.search}`, headers, timeout: timeoutMs };
    const req = request(url, options, (res) => {
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
    const address = objectAddress(location, object.bucket, object.key, object.versionId);
    try {
      return await getOnce(
        address,
        signGet(address, location.region, credentials),
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
