// The local grid's in-memory S3, through the AWS SDK as every grid component uses it: objects, S3's errors, listing,
// the data bucket's SSE-KMS policy, and uploads with the SDK's default streaming checksums (aws-chunked).

import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAwsProxy } from "../../../runtime/src/local/proxy";
import { decodeAwsChunked, startMemoryS3, type MemoryS3 } from "../../../runtime/src/local/s3";
import { LOCAL_CREDENTIALS } from "../../../runtime/src/local/servers";

const KEY_ARN = "arn:aws:kms:eu-west-1:000000000000:key/00000000-0000-0000-0000-000000000000";
let server: MemoryS3;
let s3: S3Client;
/** A client with the SDK's default (streaming, aws-chunked) checksums. */
let chunked: S3Client;

beforeAll(async () => {
  server = await startMemoryS3([{ name: "data", requireKmsKey: KEY_ARN }, { name: "open" }]);
  const common = {
    region: "eu-west-1",
    endpoint: server.endpoint,
    credentials: LOCAL_CREDENTIALS,
    forcePathStyle: true,
  };
  s3 = new S3Client({
    ...common,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  chunked = new S3Client(common);
});
afterAll(async () => {
  s3?.destroy();
  chunked?.destroy();
  await server?.stop();
});

const kms = { ServerSideEncryption: "aws:kms" as const, SSEKMSKeyId: KEY_ARN };

describe("in-memory S3", () => {
  it("stores, reads, heads and deletes objects, with S3's errors for missing ones", async () => {
    await s3.send(new PutObjectCommand({ Bucket: "data", Key: "a/b-input", Body: "aGVsbG8=", ...kms }));
    const got = await s3.send(new GetObjectCommand({ Bucket: "data", Key: "a/b-input" }));
    expect(await got.Body?.transformToString()).toBe("aGVsbG8=");
    expect(got.ServerSideEncryption).toBe("aws:kms");
    expect((await s3.send(new HeadObjectCommand({ Bucket: "data", Key: "a/b-input" }))).ContentLength).toBe(
      8,
    );
    await s3.send(new DeleteObjectCommand({ Bucket: "data", Key: "a/b-input" }));
    await expect(s3.send(new GetObjectCommand({ Bucket: "data", Key: "a/b-input" }))).rejects.toMatchObject({
      name: "NoSuchKey",
    });
    await expect(s3.send(new GetObjectCommand({ Bucket: "nope", Key: "x" }))).rejects.toMatchObject({
      name: "NoSuchBucket",
    });
  });

  it("refuses uploads to the data bucket without SSE-KMS under the grid's key, as its bucket policy does", async () => {
    await expect(
      s3.send(new PutObjectCommand({ Bucket: "data", Key: "plain", Body: "x" })),
    ).rejects.toMatchObject({
      name: "AccessDenied",
    });
    await expect(
      s3.send(
        new PutObjectCommand({ Bucket: "data", Key: "aes", Body: "x", ServerSideEncryption: "AES256" }),
      ),
    ).rejects.toMatchObject({ name: "AccessDenied" });
    await expect(
      s3.send(
        new PutObjectCommand({
          Bucket: "data",
          Key: "other-key",
          Body: "x",
          ServerSideEncryption: "aws:kms",
          SSEKMSKeyId: "arn:aws:kms:eu-west-1:000000000000:key/other",
        }),
      ),
    ).rejects.toMatchObject({ name: "AccessDenied" });
    // A bucket without the policy takes anything.
    await s3.send(new PutObjectCommand({ Bucket: "open", Key: "plain", Body: "x" }));
  });

  it("decodes uploads sent with the SDK's default streaming checksums", async () => {
    const body = "x".repeat(100_000);
    await chunked.send(new PutObjectCommand({ Bucket: "data", Key: "big", Body: body, ...kms }));
    const got = await s3.send(new GetObjectCommand({ Bucket: "data", Key: "big" }));
    expect(await got.Body?.transformToString()).toBe(body);
    expect(
      decodeAwsChunked(
        Buffer.from("3;chunk-signature=ab\r\nabc\r\n2\r\nde\r\n0\r\nx-amz-checksum-crc32:AAAA\r\n\r\n"),
      ).toString(),
    ).toBe("abcde");
  });

  it("lists keys by prefix in pages", async () => {
    for (let i = 0; i < 5; i++)
      await s3.send(new PutObjectCommand({ Bucket: "open", Key: `list/${i}`, Body: "x" }));
    const first = await s3.send(new ListObjectsV2Command({ Bucket: "open", Prefix: "list/", MaxKeys: 3 }));
    expect(first.Contents?.map((c) => c.Key)).toEqual(["list/0", "list/1", "list/2"]);
    expect(first.IsTruncated).toBe(true);
    const second = await s3.send(
      new ListObjectsV2Command({
        Bucket: "open",
        Prefix: "list/",
        MaxKeys: 3,
        ContinuationToken: first.NextContinuationToken,
      }),
    );
    expect(second.Contents?.map((c) => c.Key)).toEqual(["list/3", "list/4"]);
    expect(second.IsTruncated).toBe(false);
  });
});

describe("behind the local grid's counting proxy, answered in this process", () => {
  it("serves the same objects with one HTTP hop, counts them, and can lose a response after applying it", async () => {
    const proxy = await startAwsProxy("s3", server.dispatch, 0);
    const client = new S3Client({
      region: "eu-west-1",
      endpoint: proxy.endpoint,
      credentials: LOCAL_CREDENTIALS,
      forcePathStyle: true,
      maxAttempts: 1,
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
    try {
      await client.send(new PutObjectCommand({ Bucket: "open", Key: "via-proxy", Body: "hello" }));
      const got = await client.send(new GetObjectCommand({ Bucket: "open", Key: "via-proxy" }));
      expect(await got.Body?.transformToString()).toBe("hello");
      const missing = await client
        .send(new GetObjectCommand({ Bucket: "open", Key: "nope" }))
        .catch((e: { name?: string }) => e);
      expect((missing as { name?: string }).name).toBe("NoSuchKey");
      expect(Object.fromEntries(proxy.counts)).toEqual({ "s3:PutObject": 1, "s3:GetObject": 2 });

      proxy.setHook(({ operation }) => (operation === "PutObject" ? "drop" : undefined));
      const lost = await client
        .send(new PutObjectCommand({ Bucket: "open", Key: "lost-answer", Body: "applied" }))
        .catch((e: unknown) => e);
      expect(lost).toBeInstanceOf(Error);
      expect(server.buckets.get("open")?.get("lost-answer")?.body.toString()).toBe("applied");
    } finally {
      client.destroy();
      await proxy.stop();
    }
  });
});
