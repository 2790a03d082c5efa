// The local grid checks every AWS request's Signature Version 4 as AWS does: it rebuilds the signature from the
// request as it arrived (method, path, query, the signed headers, the body) with the AWS SDK's own signer and the
// grid's credentials, and rejects a request whose signature, scope or payload hash does not match, with the error
// the service would send. So a client or agent that signs what it does not send fails locally, before a deploy.
// The SDK's signer is the reference here on purpose: the grid's own signer (runtime/src/aws/sigv4.ts) is what is
// being checked. Only its RFC 3986 encoder is borrowed, for S3's canonical key, and a test holds that encoder to the
// path the SDK's S3 client sends (signed-http.test.ts).

import type { IncomingHttpHeaders } from "node:http";
import { createHash } from "node:crypto";
import { SignatureV4 } from "@smithy/signature-v4";
import { uriEncode } from "../aws/sigv4";
import { parseQuery } from "./api-gateway";
import { NodeSha256 } from "./node-sha256";

export interface SignatureCheck {
  /** The region the grid runs in: a credential scope naming another is rejected. */
  readonly region: string;
  /** Signing names this endpoint answers (`s3`; `dynamodb`; `sqs`; `monitoring`, `logs`, `secretsmanager`). */
  readonly services: readonly string[];
  /** The access keys the grid accepts. */
  readonly credentials: readonly { readonly accessKeyId: string; readonly secretAccessKey: string }[];
}

export interface ReceivedRequest {
  readonly method: string;
  /** Path and query as received. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
}

export interface Rejection {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
  /** One line: what did not match. */
  readonly reason: string;
}

/** x-amz-content-sha256 values that stand for a payload not hashed in the header (S3). */
const LITERAL_PAYLOAD_HASHES = new Set([
  "UNSIGNED-PAYLOAD",
  "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
  "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
  "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
]);

const AUTHORIZATION = new RegExp(
  "^AWS4-HMAC-SHA256 Credential=([^/,\\s]+)/(\\d{8})/([^/,\\s]+)/([^/,\\s]+)/aws4_request," +
    "\\s*SignedHeaders=([a-z0-9;._-]+),\\s*Signature=([0-9a-f]{64})$",
);

const header = (headers: IncomingHttpHeaders, name: string): string | undefined => {
  const value = headers[name];
  return Array.isArray(value) ? value.join(",") : value;
};

const decode = (value: string): string => {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
};

/** `20261130T042243Z` as a Date, or undefined. */
function parseAmzDate(value: string | undefined): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value ?? "");
  return m ? new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6])) : undefined;
}

/**
 * Why AWS would refuse this request's signature, as the service's error response; undefined when it holds.
 * S3's canonical path is the decoded key encoded once; the other services encode the path twice (the SDK's rule).
 */
export async function checkSignature(
  request: ReceivedRequest,
  body: Buffer,
  check: SignatureCheck,
): Promise<Rejection | undefined> {
  const s3 = check.services.includes("s3");
  const reject = (code: string, status: number, reason: string) =>
    errorResponse(request, s3, code, status, reason);
  const authorization = header(request.headers, "authorization");
  // A presigned URL carries its signature in the query: let through unchecked (nothing in the grid presigns).
  if (!authorization && /[?&]X-Amz-Signature=/.test(request.url)) return undefined;
  if (!authorization) {
    return s3
      ? reject("AccessDenied", 403, "the request is not signed: no Authorization header")
      : reject(
          "MissingAuthenticationTokenException",
          400,
          "the request is not signed: no Authorization header",
        );
  }
  const parts = AUTHORIZATION.exec(authorization);
  if (!parts) {
    return reject(
      s3 ? "AuthorizationHeaderMalformed" : "IncompleteSignatureException",
      400,
      "the Authorization header is not AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/<service>/aws4_request, " +
        "SignedHeaders=..., Signature=<64 hex>",
    );
  }
  const [, accessKeyId, scopeDate, region, service, signedList, signature] = parts;
  const credentials = check.credentials.find((c) => c.accessKeyId === accessKeyId);
  if (!credentials) {
    return reject(
      s3 ? "InvalidAccessKeyId" : "UnrecognizedClientException",
      s3 ? 403 : 400,
      `access key ${accessKeyId} is not one the local grid accepts ` +
        `(${check.credentials.map((c) => c.accessKeyId).join(", ")})`,
    );
  }
  const amzDate = header(request.headers, "x-amz-date");
  const signingDate = parseAmzDate(amzDate);
  if (!signingDate) {
    return reject(
      s3 ? "AccessDenied" : "IncompleteSignatureException",
      s3 ? 403 : 400,
      `x-amz-date ${JSON.stringify(amzDate ?? null)} is missing or not YYYYMMDDTHHMMSSZ`,
    );
  }
  if (scopeDate !== amzDate?.slice(0, 8) || region !== check.region || !check.services.includes(service)) {
    return reject(
      s3 ? "AuthorizationHeaderMalformed" : "InvalidSignatureException",
      400,
      `credential scope ${scopeDate}/${region}/${service} must be ${amzDate?.slice(0, 8)}/${check.region}/` +
        `${check.services.join(" or ")}`,
    );
  }
  const signed = signedList.split(";");
  if (!signed.includes("host")) {
    return reject(
      s3 ? "AccessDenied" : "InvalidSignatureException",
      s3 ? 403 : 400,
      "the host header is not signed",
    );
  }
  const contentSha256 = header(request.headers, "x-amz-content-sha256");
  if (s3 && contentSha256 === undefined) {
    return reject("InvalidRequest", 400, "S3 needs an x-amz-content-sha256 header on a SigV4 request");
  }
  if (contentSha256 !== undefined && !(s3 && LITERAL_PAYLOAD_HASHES.has(contentSha256))) {
    const actual = createHash("sha256").update(body).digest("hex");
    if (contentSha256 !== actual) {
      return reject(
        s3 ? "XAmzContentSHA256Mismatch" : "InvalidSignatureException",
        400,
        `x-amz-content-sha256 ${contentSha256} is not the SHA-256 of the ${body.length}-byte body (${actual})`,
      );
    }
  }
  const headers: Record<string, string> = {};
  for (const name of signed) {
    const value = header(request.headers, name);
    if (value === undefined) {
      return reject(
        s3 ? "AccessDenied" : "InvalidSignatureException",
        s3 ? 403 : 400,
        `signed header ${name} is not in the request`,
      );
    }
    headers[name] = value;
  }
  // The path and query as they arrived (URL() would normalize the path, and throws on some targets).
  const queryAt = request.url.indexOf("?");
  const rawPath = (queryAt < 0 ? request.url : request.url.slice(0, queryAt)) || "/";
  const search = queryAt < 0 ? "" : request.url.slice(queryAt + 1);
  const path = s3
    ? rawPath
        .split("/")
        .map((segment) => uriEncode(decode(segment)))
        .join("/")
    : rawPath;
  const signer = new SignatureV4({
    service,
    region,
    sha256: NodeSha256,
    credentials: {
      ...credentials,
      sessionToken: header(request.headers, "x-amz-security-token"),
    },
    uriEscapePath: !s3,
    applyChecksum: false,
  });
  let expected;
  try {
    expected = await signer.sign(
      {
        method: request.method,
        protocol: "http:",
        hostname: headers.host,
        path,
        query: parseQuery(search)?.multi ?? {},
        headers,
        body,
      },
      { signingDate, signableHeaders: new Set(signed) },
    );
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    return reject(
      s3 ? "AccessDenied" : "IncompleteSignatureException",
      400,
      `the signature cannot be checked: ${why}`,
    );
  }
  const want = /Signature=([0-9a-f]{64})/.exec(String(expected.headers.authorization))?.[1];
  const wantList = /SignedHeaders=([^,]+)/.exec(String(expected.headers.authorization))?.[1];
  if (want !== signature || wantList !== signedList) {
    return reject(
      "SignatureDoesNotMatch",
      s3 ? 403 : 400,
      `the signature does not match the request as received (${request.method} ${rawPath}, signed headers ` +
        `${signedList}${wantList !== signedList ? ` where the signer needs ${wantList}` : ""}, payload ` +
        `${contentSha256 ?? "hashed from the body"})`,
    );
  }
  return undefined;
}

/** The error as the service sends it: XML for S3 and the query protocols, JSON for the JSON protocols. */
function errorResponse(
  request: ReceivedRequest,
  s3: boolean,
  code: string,
  status: number,
  reason: string,
): Rejection {
  const message = `The local grid refused the request signature: ${reason}`;
  const entities: Record<string, string> = {
    "<": "&lt;",
    ">": "&gt;",
    "&": "&amp;",
    '"': "&quot;",
    "'": "&apos;",
  };
  const xml = (text: string) => text.replace(/[<>&"']/g, (c) => entities[c]);
  const json = !s3 && /json/.test(header(request.headers, "content-type") ?? "");
  if (json) {
    const type = code === "SignatureDoesNotMatch" ? "InvalidSignatureException" : code;
    return {
      status,
      headers: { "content-type": "application/x-amz-json-1.0", "x-amzn-errortype": type },
      body: Buffer.from(JSON.stringify({ __type: `com.amazon.coral.service#${type}`, message })),
      reason,
    };
  }
  const inner = `<Code>${code}</Code><Message>${xml(message)}</Message>`;
  return {
    status,
    headers: { "content-type": "application/xml" },
    body: Buffer.from(
      s3
        ? `<?xml version="1.0" encoding="UTF-8"?>\n<Error>${inner}</Error>`
        : `<ErrorResponse><Error><Type>Sender</Type>${inner}</Error></ErrorResponse>`,
    ),
    reason,
  };
}
