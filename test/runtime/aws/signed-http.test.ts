// The signed-HTTP client the agent and the client use for their hot calls: its SigV4 gives AWS's published test
// vector and matches the AWS SDK's byte for byte, it speaks DynamoDB's and S3's protocols to the local servers the
// way the SDK does (failed conditions carry the old item, SSE-KMS headers reach S3), and it retries what the SDK
// retries, and nothing else. (dynalite ignores SigV4 and s3rver checks V2 only; the local grid's proxies check
// it on arrival: test/runtime/local/sigv4-check.test.ts.)

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { DynamoDBClient, GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { SignatureV4 } from "@smithy/signature-v4";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NodeSha256 } from "../../../runtime/src/local/node-sha256";
import { signedDynamoFor, signedS3For, s3Client } from "../../../runtime/src/aws/clients";
import { SignedDynamoDB, dynamoEndpoint } from "../../../runtime/src/aws/signed-dynamodb";
import {
  AwsServiceError,
  SignedHttpClient,
  dnsSuffixOf,
  signedHttpUsable,
} from "../../../runtime/src/aws/signed-http";
import { SignedS3, objectAddress } from "../../../runtime/src/aws/signed-s3";
import { sha256Hex, signV4 } from "../../../runtime/src/aws/sigv4";
import { startMemoryS3, type MemoryS3 } from "../../../runtime/src/local/s3";
import {
  LOCAL_CREDENTIALS,
  closeServer,
  createStateTable,
  listen,
  startDynamo,
  type LocalServer,
} from "../../../runtime/src/local/servers";

const REGION = "eu-west-1";
const CREDENTIALS = {
  accessKeyId: "AKIDEXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
  sessionToken: "tok/+=",
};

describe("SigV4", () => {
  const now = new Date("2026-11-30T12:34:56Z");

  it("gives the signature of AWS's own SigV4 test suite (get-vanilla)", () => {
    const signed = signV4(
      {
        method: "GET",
        url: new URL("https://example.amazonaws.com/"),
        headers: {},
        payloadHash: sha256Hex(""),
      },
      "us-east-1",
      "service",
      { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" },
      new Date("2015-08-30T12:36:00Z"),
    );
    expect(signed.authorization).toBe(
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    );
  });

  it("signs a DynamoDB UpdateItem exactly as the AWS SDK does", async () => {
    const body = JSON.stringify({ TableName: "htc-state", Key: { task_id: { S: "s_1" } } });
    const url = dynamoEndpoint(REGION, "amazonaws.com");
    const headers = {
      "content-type": "application/x-amz-json-1.0",
      "x-amz-target": "DynamoDB_20120810.UpdateItem",
      "content-length": String(Buffer.byteLength(body)),
    };
    const ours = signV4(
      { method: "POST", url, headers, payloadHash: sha256Hex(body) },
      REGION,
      "dynamodb",
      CREDENTIALS,
      now,
    );
    const sdk = new SignatureV4({
      service: "dynamodb",
      region: REGION,
      sha256: NodeSha256,
      credentials: CREDENTIALS,
      applyChecksum: false,
    });
    const signed = await sdk.sign(
      {
        method: "POST",
        protocol: "https:",
        hostname: url.hostname,
        path: "/",
        headers: { ...headers, host: url.host },
        body,
      },
      { signingDate: now },
    );
    expect(ours.authorization).toBe(signed.headers.authorization);
    expect(ours["x-amz-security-token"]).toBe(CREDENTIALS.sessionToken);
  });

  it.each(["s_1-output", "workers/my worker+1 (v2)*~!'.zip", "ünïcødé/€ & = ?.bin", "a//b/./c/../d"])(
    "addresses %s on AWS as the SDK's S3 client does: virtual-hosted, path-style for a bucket with dots",
    async (key) => {
      // The signature tests below sign the address objectAddress gives; this one checks it against the SDK's own.
      for (const bucket of ["htc-data", "htc.data"]) {
        let sent: { hostname: string; path: string } | undefined;
        const sdk = new S3Client({
          region: REGION,
          credentials: CREDENTIALS,
          requestHandler: {
            handle: async (request: { hostname: string; path: string }) => {
              sent = request;
              throw new Error("captured, not sent");
            },
          },
        });
        await sdk.send(new GetObjectCommand({ Bucket: bucket, Key: key })).catch(() => undefined);
        const ours = objectAddress({ region: REGION, dnsSuffix: "amazonaws.com" }, bucket, key);
        expect(sent, bucket).toBeDefined();
        expect(`${ours.url.hostname} ${ours.path}`).toBe(`${sent?.hostname} ${sent?.path}`);
        sdk.destroy();
      }
    },
  );

  it.each(["s_1-output", "workers/my worker+1 (v2)*.zip", "a//b/./c/../d"])(
    "signs an S3 PUT of %s with SSE-KMS headers exactly as the AWS SDK does",
    async (key) => {
      const body = "eyJyZXN1bHQiOjF9";
      const address = objectAddress({ region: REGION, dnsSuffix: "amazonaws.com" }, "htc-data", key);
      const { url } = address;
      const hash = sha256Hex(body);
      const headers = {
        "x-amz-server-side-encryption": "aws:kms",
        "x-amz-server-side-encryption-aws-kms-key-id": "arn:aws:kms:eu-west-1:1:key/k",
        "x-amz-content-sha256": hash,
        "content-length": String(body.length),
      };
      const ours = signV4(
        { method: "PUT", ...address, headers, payloadHash: hash },
        REGION,
        "s3",
        CREDENTIALS,
        now,
      );
      const sdk = new SignatureV4({
        service: "s3",
        region: REGION,
        sha256: NodeSha256,
        credentials: CREDENTIALS,
        uriEscapePath: false,
        applyChecksum: false,
      });
      const signed = await sdk.sign(
        {
          method: "PUT",
          protocol: "https:",
          hostname: url.hostname,
          path: address.path,
          headers: { ...headers, host: url.host },
          body,
        },
        { signingDate: now },
      );
      expect(ours.authorization).toBe(signed.headers.authorization);
    },
  );

  it("stands aside for FIPS, dual-stack, unknown partitions, or when told to", () => {
    expect(signedHttpUsable({}, REGION)).toBe(true);
    expect(signedHttpUsable({ AWS_USE_FIPS_ENDPOINT: "true" }, REGION)).toBe(false);
    expect(signedHttpUsable({ AWS_USE_DUALSTACK_ENDPOINT: "TRUE" }, REGION)).toBe(false);
    expect(signedHttpUsable({ HTC_AWS_CLIENT: "sdk" }, REGION)).toBe(false);
    expect(signedHttpUsable({}, "us-iso-east-1")).toBe(false);
    expect(dnsSuffixOf("cn-north-1")).toBe("amazonaws.com.cn");
    expect(dnsSuffixOf("us-gov-west-1")).toBe("amazonaws.com");
    const s3 = s3Client(REGION, {});
    expect(signedS3For(s3, REGION, { HTC_AWS_CLIENT: "sdk" })).toBeUndefined();
    expect(signedS3For(s3, REGION, {})).toBeInstanceOf(SignedS3);
    s3.destroy();
  });
});

describe("against the local servers", () => {
  let dynamo: LocalServer;
  let s3: MemoryS3;
  let sdkDdb: DynamoDBClient;
  const KEY = "arn:aws:kms:eu-west-1:000000000000:key/grid";

  beforeAll(async () => {
    dynamo = await startDynamo();
    s3 = await startMemoryS3([{ name: "data", requireKmsKey: KEY }]);
    sdkDdb = new DynamoDBClient({
      region: REGION,
      endpoint: dynamo.endpoint,
      credentials: LOCAL_CREDENTIALS,
    });
    await createStateTable(sdkDdb, "state");
  });
  afterAll(async () => {
    sdkDdb.destroy();
    await dynamo.stop();
    await s3.stop();
  });

  it("updates an item, and a failed condition says why with the old item", async () => {
    await sdkDdb.send(
      new PutItemCommand({ TableName: "state", Item: { task_id: { S: "s_1" }, task_owner: { S: "None" } } }),
    );
    const ddb = signedDynamoFor(sdkDdb, REGION, {}, { AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint });
    expect(ddb).toBeInstanceOf(SignedDynamoDB);
    const claim = {
      TableName: "state",
      Key: { task_id: { S: "s_1" } },
      UpdateExpression: "SET task_owner = :me",
      ConditionExpression: "task_owner = :none",
      ExpressionAttributeValues: { ":me": { S: "agent-1" }, ":none": { S: "None" } },
      ReturnValuesOnConditionCheckFailure: "ALL_OLD" as const,
    };
    await ddb!.updateItem(claim);
    const row = await sdkDdb.send(new GetItemCommand({ TableName: "state", Key: { task_id: { S: "s_1" } } }));
    expect(row.Item?.task_owner?.S).toBe("agent-1");
    const error = await ddb!.updateItem(claim).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AwsServiceError);
    expect((error as AwsServiceError).name).toBe("ConditionalCheckFailedException");
    expect((error as { Item?: Record<string, { S?: string }> }).Item?.task_owner?.S).toBe("agent-1");
    const invalid = await ddb!.updateItem({ ...claim, TableName: "no-such-table" }).catch((e: unknown) => e);
    expect((invalid as Error).name).toBe("ResourceNotFoundException");
    ddb!.destroy();
  });

  it("puts with SSE-KMS under the grid's key and gets back what it put; a missing key is undefined", async () => {
    const sdkS3 = new S3Client({ region: REGION, credentials: LOCAL_CREDENTIALS });
    const client = signedS3For(sdkS3, REGION, { AWS_ENDPOINT_URL_S3: s3.endpoint })!;
    await client.putText("data", "s_1-output", "eyJvayI6dHJ1ZX0=", { kmsKeyId: KEY });
    const stored = s3.buckets.get("data")?.get("s_1-output");
    expect(stored?.sse).toBe("aws:kms");
    expect(stored?.kmsKeyId).toBe(KEY);
    expect(await client.getText("data", "s_1-output")).toBe("eyJvayI6dHJ1ZX0=");
    expect(await client.getText("data", "s_2-output")).toBeUndefined();
    const refused = await client
      .putText("data", "s_3-output", "x", { kmsKeyId: "other" })
      .catch((e: unknown) => e);
    expect((refused as Error).name).toBe("AccessDenied");
    const noBucket = await client.getText("nope", "k").catch((e: unknown) => e);
    expect((noBucket as Error).name).toBe("NoSuchBucket");
    client.destroy();
    sdkS3.destroy();
  });
});

describe("retries", () => {
  let server: Server;
  let endpoint: URL;
  let answers: Array<(req: IncomingMessage, res: ServerResponse) => void> = [];
  let seen: IncomingMessage[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(req);
      req.resume();
      req.on("end", () => (answers.shift() ?? ((_, r) => r.writeHead(200).end("{}")))(req, res));
    });
    endpoint = new URL(`http://127.0.0.1:${await listen(server)}/`);
  });
  afterAll(() => closeServer(server));

  const json =
    (status: number, type: string, headers: Record<string, string> = {}) =>
    (_: IncomingMessage, res: ServerResponse) =>
      res
        .writeHead(status, { "content-type": "application/x-amz-json-1.0", ...headers })
        .end(JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message: type }));

  function client(maxAttempts = 3, credentials = async () => CREDENTIALS) {
    seen = [];
    return new SignedDynamoDB(
      new SignedHttpClient({ region: REGION, service: "dynamodb", credentials, maxAttempts, baseDelayMs: 1 }),
      endpoint,
    );
  }
  const update = { TableName: "t", Key: { task_id: { S: "s_1" } }, UpdateExpression: "SET a = :a" };

  it("retries 5xx, throttling and lost connections, then succeeds", async () => {
    answers = [
      json(500, "InternalServerError"),
      json(400, "ThrottlingException"),
      (req) => req.socket.destroy(),
      json(400, "ProvisionedThroughputExceededException"),
    ];
    await client(5).updateItem(update);
    expect(seen.length).toBe(5);
  });

  it("gives up after maxAttempts with the last error, and never retries a client error", async () => {
    answers = [
      json(503, "ServiceUnavailable"),
      json(503, "ServiceUnavailable"),
      json(503, "ServiceUnavailable"),
    ];
    const error = (await client(3)
      .updateItem(update)
      .catch((e: unknown) => e)) as AwsServiceError;
    expect(error.name).toBe("ServiceUnavailable");
    expect(error.$metadata).toEqual({ httpStatusCode: 503, attempts: 3 });
    expect(seen.length).toBe(3);

    answers = [json(400, "ValidationException"), json(200, "unused")];
    const invalid = (await client(3)
      .updateItem(update)
      .catch((e: unknown) => e)) as AwsServiceError;
    expect(invalid.name).toBe("ValidationException");
    expect(seen.length).toBe(1);
    answers = [];
  });

  it("adopts the server's clock after a skew error and signs the retry with it", async () => {
    const serverTime = new Date(Date.now() + 3_600_000);
    answers = [json(400, "InvalidSignatureException", { date: serverTime.toUTCString() })];
    await client(2).updateItem(update);
    expect(seen.length).toBe(2);
    const retried = String(seen[1].headers["x-amz-date"]);
    const skew =
      Date.parse(retried.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, "$1-$2-$3T$4:$5:$6Z")) -
      Date.now();
    expect(Math.abs(skew - 3_600_000)).toBeLessThan(5_000);
  });

  it("caches credentials and fetches new ones before they expire", async () => {
    let calls = 0;
    const soon = async () => {
      calls++;
      // Expires within the refresh margin: every request asks again.
      return { ...CREDENTIALS, accessKeyId: `AK${calls}`, expiration: new Date(Date.now() + 60_000) };
    };
    const short = client(1, soon);
    await short.updateItem(update);
    await short.updateItem(update);
    expect(calls).toBe(2);
    expect(String(seen[1].headers.authorization)).toContain("Credential=AK2/");

    let longCalls = 0;
    const lasting = client(1, async () => {
      longCalls++;
      return { ...CREDENTIALS, expiration: new Date(Date.now() + 3_600_000) };
    });
    await Promise.all([lasting.updateItem(update), lasting.updateItem(update)]);
    await lasting.updateItem(update);
    expect(longCalls).toBe(1);
  });
});
