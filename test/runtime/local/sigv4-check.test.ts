// The local grid's proxies check SigV4 as AWS does: requests from the AWS SDK and from the grid's own signed-HTTP
// client (awkward S3 keys included) pass; an unsigned request, an unknown key, a wrong secret or scope, and a
// request changed after it was signed (path, header, body) are refused with the service's error, not forwarded,
// and reported in one line.

import { request } from "node:http";
import { DynamoDBClient, GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signedDynamoFor, signedS3For } from "../../../runtime/src/aws/clients";
import { sha256Hex, signV4, uriEncode } from "../../../runtime/src/aws/sigv4";
import { startAwsProxy, type AwsProxy } from "../../../runtime/src/local/proxy";
import { startMemoryS3, type MemoryS3 } from "../../../runtime/src/local/s3";
import {
  LOCAL_CREDENTIALS,
  createStateTable,
  startDynamo,
  type LocalServer,
} from "../../../runtime/src/local/servers";
import { checkSignature } from "../../../runtime/src/local/sigv4-check";
import { rawRequest, statusLine } from "../../support/raw-request";

const REGION = "eu-west-1";
const KEY_ARN = "arn:aws:kms:eu-west-1:000000000000:key/grid";
const AWKWARD_KEYS = [
  "s_1-output",
  "workers/my worker+1 (v2)*~!'.zip",
  "ünïcødé/€ & = ?.bin",
  "a//b/./c/../d",
];

let dynamo: LocalServer;
let s3: MemoryS3;
let ddbProxy: AwsProxy;
let s3Proxy: AwsProxy;
const refusals: string[] = [];

beforeAll(async () => {
  dynamo = await startDynamo();
  s3 = await startMemoryS3([{ name: "data", requireKmsKey: KEY_ARN }]);
  const options = (services: string[]) => ({
    signatures: { region: REGION, services, credentials: [LOCAL_CREDENTIALS] },
    onRejected: (operation: string, _agent: string, reason: string) =>
      refusals.push(`${operation}: ${reason}`),
  });
  ddbProxy = await startAwsProxy("dynamodb", dynamo.endpoint, 0, options(["dynamodb"]));
  s3Proxy = await startAwsProxy("s3", s3.dispatch, 0, options(["s3"]));
  const direct = new DynamoDBClient({
    region: REGION,
    endpoint: dynamo.endpoint,
    credentials: LOCAL_CREDENTIALS,
  });
  await createStateTable(direct, "state");
  direct.destroy();
});
afterAll(async () => {
  await ddbProxy.stop();
  await s3Proxy.stop();
  await dynamo.stop();
  await s3.stop();
});

/** Sends a request as given (no SDK), and returns its status and body. */
function send(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body = "",
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, method, path: `${url.pathname}${url.search}`, headers },
      (res) => {
        const parts: Buffer[] = [];
        res.on("data", (c: Buffer) => parts.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString() }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** A DynamoDB GetItem signed with our SigV4 (optionally with other credentials or region). */
function signedGetItem(overrides: { secret?: string; region?: string; accessKeyId?: string } = {}): {
  url: URL;
  headers: Record<string, string>;
  body: string;
} {
  const url = new URL(ddbProxy.endpoint);
  const body = JSON.stringify({ TableName: "state", Key: { task_id: { S: "s_9" } } });
  const headers = signV4(
    {
      method: "POST",
      url,
      headers: {
        "content-type": "application/x-amz-json-1.0",
        "x-amz-target": "DynamoDB_20120810.GetItem",
        "content-length": String(Buffer.byteLength(body)),
      },
      payloadHash: sha256Hex(body),
    },
    overrides.region ?? REGION,
    "dynamodb",
    {
      accessKeyId: overrides.accessKeyId ?? LOCAL_CREDENTIALS.accessKeyId,
      secretAccessKey: overrides.secret ?? LOCAL_CREDENTIALS.secretAccessKey,
    },
    new Date(),
  );
  return { url, headers, body };
}

describe("requests signed as AWS wants them", () => {
  it("pass from the AWS SDK and from the grid's signed-HTTP client, awkward S3 keys included", async () => {
    const before = { ddb: ddbProxy.rejected(), s3: s3Proxy.rejected() };
    const sdkDdb = new DynamoDBClient({
      region: REGION,
      endpoint: ddbProxy.endpoint,
      credentials: LOCAL_CREDENTIALS,
    });
    await sdkDdb.send(new PutItemCommand({ TableName: "state", Item: { task_id: { S: "s_1" } } }));
    const ours = signedDynamoFor(sdkDdb, REGION, {}, { AWS_ENDPOINT_URL_DYNAMODB: ddbProxy.endpoint })!;
    await ours.updateItem({
      TableName: "state",
      Key: { task_id: { S: "s_1" } },
      UpdateExpression: "SET task_owner = :me",
      ExpressionAttributeValues: { ":me": { S: "agent-1" } },
    });
    const row = await sdkDdb.send(new GetItemCommand({ TableName: "state", Key: { task_id: { S: "s_1" } } }));
    expect(row.Item?.task_owner?.S).toBe("agent-1");

    const sdkS3 = new S3Client({
      region: REGION,
      endpoint: s3Proxy.endpoint,
      forcePathStyle: true,
      credentials: LOCAL_CREDENTIALS,
    });
    const ourS3 = signedS3For(sdkS3, REGION, { AWS_ENDPOINT_URL_S3: s3Proxy.endpoint })!;
    for (const key of AWKWARD_KEYS) {
      await sdkS3.send(
        new PutObjectCommand({
          Bucket: "data",
          Key: key,
          Body: `sdk ${key}`,
          ServerSideEncryption: "aws:kms",
          SSEKMSKeyId: KEY_ARN,
        }),
      );
      expect(await ourS3.getText("data", key)).toBe(`sdk ${key}`);
      await ourS3.putText("data", key, `ours ${key}`, { kmsKeyId: KEY_ARN });
      const got = await sdkS3.send(new GetObjectCommand({ Bucket: "data", Key: key }));
      expect(await got.Body?.transformToString()).toBe(`ours ${key}`);
    }
    expect(refusals).toEqual([]);
    expect(ddbProxy.rejected()).toBe(before.ddb);
    expect(s3Proxy.rejected()).toBe(before.s3);
    ours.destroy();
    ourS3.destroy();
    sdkDdb.destroy();
    sdkS3.destroy();
  });
});

describe("requests AWS would refuse", () => {
  it("an unsigned request, an unknown key, a wrong secret or a wrong region: refused, not forwarded", async () => {
    refusals.length = 0;
    const counted = ddbProxy.counts.get("dynamodb:GetItem") ?? 0;
    const unsigned = signedGetItem();
    delete unsigned.headers.authorization;
    const cases = [
      { request: unsigned, type: "MissingAuthenticationTokenException", says: "not signed" },
      {
        request: signedGetItem({ accessKeyId: "AKIAOTHER" }),
        type: "UnrecognizedClientException",
        says: "AKIAOTHER",
      },
      {
        request: signedGetItem({ secret: "not-the-secret" }),
        type: "InvalidSignatureException",
        says: "does not match",
      },
      {
        request: signedGetItem({ region: "us-east-1" }),
        type: "InvalidSignatureException",
        says: "us-east-1",
      },
    ];
    for (const { request: r, type, says } of cases) {
      const answer = await send(r.url, "POST", r.headers, r.body);
      expect(answer.status).toBe(400);
      expect(JSON.parse(answer.body).__type).toBe(`com.amazon.coral.service#${type}`);
      expect(refusals.at(-1)).toContain(says);
    }
    expect(refusals).toHaveLength(4);
    expect(refusals.every((line) => line.startsWith("dynamodb:GetItem: ") && !line.includes("\n"))).toBe(
      true,
    );
    expect(ddbProxy.counts.get("dynamodb:GetItem") ?? 0).toBe(counted);
    // The same request, signed right, passes.
    const good = signedGetItem();
    expect((await send(good.url, "POST", good.headers, good.body)).status).toBe(200);
  });

  it("a request changed after it was signed: another body, another signed header, another path", async () => {
    const r = signedGetItem();
    const otherBody = r.body.replace("s_9", "s_8");
    const changedBody = await send(r.url, "POST", r.headers, otherBody);
    expect(changedBody.status).toBe(400);
    expect(changedBody.body).toContain("InvalidSignatureException");
    const changedHeader = await send(
      r.url,
      "POST",
      { ...r.headers, "x-amz-target": "DynamoDB_20120810.DeleteItem" },
      r.body,
    );
    expect(changedHeader.status).toBe(400);

    // S3: signed for one key, sent for another.
    const put = (key: string, sentKey = key, body = "x", sentBody = body) => {
      const url = new URL(`${s3Proxy.endpoint}/data/${key.split("/").map(uriEncode).join("/")}`);
      const headers = signV4(
        {
          method: "PUT",
          url,
          headers: {
            "x-amz-content-sha256": sha256Hex(body),
            "x-amz-server-side-encryption": "aws:kms",
            "x-amz-server-side-encryption-aws-kms-key-id": KEY_ARN,
            "content-length": String(Buffer.byteLength(sentBody)),
          },
          payloadHash: sha256Hex(body),
        },
        REGION,
        "s3",
        LOCAL_CREDENTIALS,
        new Date(),
      );
      const sentUrl = new URL(`${s3Proxy.endpoint}/data/${sentKey.split("/").map(uriEncode).join("/")}`);
      return send(sentUrl, "PUT", headers, sentBody);
    };
    expect((await put("k1")).status).toBe(200);
    const otherKey = await put("k1", "k2");
    expect(otherKey.status).toBe(403);
    expect(otherKey.body).toContain("<Code>SignatureDoesNotMatch</Code>");
    expect(s3.buckets.get("data")?.has("k2")).toBe(false);
    const otherBytes = await put("k3", "k3", "x", "y");
    expect(otherBytes.status).toBe(400);
    expect(otherBytes.body).toContain("<Code>XAmzContentSHA256Mismatch</Code>");
    expect(s3.buckets.get("data")?.has("k3")).toBe(false);
  });

  it("an S3 key signed as sent but not RFC 3986 encoded (S3 signs the key encoded once, strictly)", async () => {
    // `(` and `*` are legal in a URL path, so a careless client sends and signs them raw; S3 encodes them (%28, %2A)
    // before checking, and the signatures differ.
    const rawPath = "/data/raw(key)*";
    const url = new URL(`${s3Proxy.endpoint}${rawPath}`);
    expect(url.pathname).toBe(rawPath);
    const headers = signV4(
      {
        method: "GET",
        url,
        headers: { "x-amz-content-sha256": sha256Hex("") },
        payloadHash: sha256Hex(""),
      },
      REGION,
      "s3",
      LOCAL_CREDENTIALS,
      new Date(),
    );
    const answer = await send(url, "GET", headers);
    expect(answer.status).toBe(403);
    expect(answer.body).toContain("SignatureDoesNotMatch");
  });
});

describe("checkSignature", () => {
  it("never throws: a malformed Authorization header or date is a refusal naming what is wrong", async () => {
    const check = { region: REGION, services: ["dynamodb"], credentials: [LOCAL_CREDENTIALS] };
    const base = {
      method: "POST",
      url: "/",
      headers: { host: "127.0.0.1:1", "content-type": "application/x-amz-json-1.0" },
    };
    const malformed = await checkSignature(
      { ...base, headers: { ...base.headers, authorization: "Bearer x" } },
      Buffer.alloc(0),
      check,
    );
    expect(malformed?.status).toBe(400);
    expect(malformed?.reason).toContain("AWS4-HMAC-SHA256 Credential=");
    const auth =
      `AWS4-HMAC-SHA256 Credential=${LOCAL_CREDENTIALS.accessKeyId}/20261130/${REGION}/dynamodb/aws4_request, ` +
      `SignedHeaders=host;x-amz-date, Signature=${"0".repeat(64)}`;
    const noDate = await checkSignature(
      { ...base, headers: { ...base.headers, authorization: auth } },
      Buffer.alloc(0),
      check,
    );
    expect(noDate?.reason).toContain("x-amz-date");
    const wrongDay = await checkSignature(
      { ...base, headers: { ...base.headers, authorization: auth, "x-amz-date": "20261201T000000Z" } },
      Buffer.alloc(0),
      check,
    );
    expect(wrongDay?.reason).toContain("credential scope 20261130");
    const unsignedHost = await checkSignature(
      {
        ...base,
        headers: {
          ...base.headers,
          authorization: auth.replace("host;x-amz-date", "x-amz-date"),
          "x-amz-date": "20261130T000000Z",
        },
      },
      Buffer.alloc(0),
      check,
    );
    expect(unsignedHost?.reason).toContain("host header is not signed");
    // Presigned URLs (signature in the query) are let through, not checked.
    const presigned = await checkSignature(
      {
        method: "GET",
        url: "/data/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00",
        headers: { host: "h" },
      },
      Buffer.alloc(0),
      { ...check, services: ["s3"] },
    );
    expect(presigned).toBeUndefined();
  });
});

describe("a malformed request line", () => {
  it.each([0, 5])(
    "a proxy whose server throws answers 400 with the error, and stays up (+%i ms)",
    async (delayMs) => {
      const throwing = await startAwsProxy(
        "s3",
        () => {
          throw new Error("boom");
        },
        delayMs,
      );
      try {
        for (let i = 0; i < 2; i++) {
          const request = "GET /data/k HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
          const answer = await rawRequest(throwing.endpoint, request, "close");
          expect(statusLine(answer)).toBe("HTTP/1.1 400 Bad Request");
          expect(answer).toContain("local s3 proxy: Error: boom");
        }
      } finally {
        await throwing.stop();
      }
    },
  );

  it("is answered, with or without the signature check, and the proxy stays up", async () => {
    // `//[` passes Node's HTTP parser but not URL(): it used to throw in the proxy and stop the whole grid.
    const unchecked = await startAwsProxy("s3", s3.dispatch);
    try {
      for (const endpoint of [unchecked.endpoint, s3Proxy.endpoint]) {
        const status = statusLine(await rawRequest(endpoint, "GET //[ HTTP/1.1\r\nHost: x\r\n\r\n"));
        expect(status).toMatch(/^HTTP\/1\.1 (400|403|404) /);
        expect(statusLine(await rawRequest(endpoint, "GET /data/k HTTP/1.1\r\nHost: x\r\n\r\n"))).toMatch(
          /^HTTP\/1\.1 \d{3} /,
        );
      }
    } finally {
      await unchecked.stop();
    }
  });
});
