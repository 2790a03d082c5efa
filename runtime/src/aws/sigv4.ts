// AWS Signature Version 4 on node:crypto alone: the fetch step (a stock Node.js image, no SDK) and the agent's
// signed-HTTP client for its hot calls share it. Tests check it byte for byte against the SDK's signer.

import { createHash, createHmac } from "node:crypto";

export interface SigningCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  /** When temporary credentials expire (absent for long-lived keys). */
  readonly expiration?: Date;
}

export interface SignableRequest {
  readonly method: string;
  /** The URL as sent; its path must already be URI-encoded (S3's rule: the path is signed as it is sent). */
  readonly url: URL;
  /**
   * The path as sent, when it is not `url.pathname`: URL() drops `.` and `..` segments, which S3 keys keep. Already
   * URI-encoded.
   */
  readonly path?: string;
  /** Lower-case names. `host`, `x-amz-date` and `x-amz-security-token` are added by `signV4`. */
  readonly headers: Record<string, string>;
  /** Hex SHA-256 of the body, or UNSIGNED-PAYLOAD (S3 only). */
  readonly payloadHash: string;
}

export const sha256Hex = (data: string | Buffer): string => createHash("sha256").update(data).digest("hex");

/** RFC 3986 encoding as SigV4 wants it (encodeURIComponent leaves !'()* alone). */
export function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** 20261130T042243Z */
export function amzDate(now: Date): string {
  return now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
}

const hmac = (key: Buffer | string, data: string): Buffer =>
  createHmac("sha256", key).update(data, "utf8").digest();

/** Signing keys per secret, day, region and service: four HMACs saved on every request but the first of a day. */
const signingKeys = new Map<string, Buffer>();

function signingKey(secret: string, dateStamp: string, region: string, service: string): Buffer {
  const id = `${secret}\n${dateStamp}\n${region}\n${service}`;
  let key = signingKeys.get(id);
  if (!key) {
    key = hmac(hmac(hmac(hmac(`AWS4${secret}`, dateStamp), region), service), "aws4_request");
    if (signingKeys.size > 16) signingKeys.clear();
    signingKeys.set(id, key);
  }
  return key;
}

/**
 * The request's headers with SigV4 added (host, x-amz-date, x-amz-security-token, authorization). Every header
 * given is signed.
 */
export function signV4(
  request: SignableRequest,
  region: string,
  service: string,
  credentials: SigningCredentials,
  now = new Date(),
): Record<string, string> {
  const date = amzDate(now);
  const dateStamp = date.slice(0, 8);
  const headers: Record<string, string> = { ...request.headers, host: request.url.host, "x-amz-date": date };
  if (credentials.sessionToken) headers["x-amz-security-token"] = credentials.sessionToken;
  const names = Object.keys(headers).sort();
  const canonicalQuery = [...request.url.searchParams.entries()]
    .map(([k, v]) => `${uriEncode(k)}=${uriEncode(v)}`)
    .sort()
    .join("&");
  const canonicalRequest = [
    request.method,
    request.path ?? request.url.pathname,
    canonicalQuery,
    names.map((n) => `${n}:${headers[n].trim().replace(/\s+/g, " ")}\n`).join(""),
    names.join(";"),
    request.payloadHash,
  ].join("\n");
  const scope = `${dateStamp}/${region}/${service}/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", date, scope, sha256Hex(canonicalRequest)].join("\n");
  const signature = createHmac("sha256", signingKey(credentials.secretAccessKey, dateStamp, region, service))
    .update(stringToSign, "utf8")
    .digest("hex");
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${names.join(";")}, Signature=${signature}`;
  return headers;
}
