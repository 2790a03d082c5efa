// The data plane: where task inputs, outputs and submission payloads live. Values are the
// base64 text the clients and agents exchange; keys follow upstream's naming.

import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { Redis } from "ioredis";
import { errorName } from "./retry";

export const inputKey = (taskId: string): string => `${taskId}-input`;
export const outputKey = (taskId: string): string => `${taskId}-output`;
export const errorKey = (taskId: string): string => `${taskId}-error`;
export const payloadKey = (sessionId: string): string => `${sessionId}-payload`;

export interface DataPlane {
  /** The stored text, or undefined when the key does not exist. */
  get(key: string): Promise<string | undefined>;
  put(key: string, value: string): Promise<void>;
}

/** S3 objects, uploaded with SSE-KMS under the grid's key only (upstream mixed in AES256). */
export class S3DataPlane implements DataPlane {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly kmsKeyId: string,
  ) {}

  async get(key: string): Promise<string | undefined> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return out.Body ? await out.Body.transformToString("utf8") : "";
    } catch (error) {
      if (errorName(error) === "NoSuchKey" || errorName(error) === "NotFound") return undefined;
      throw error;
    }
  }

  async put(key: string, value: string): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: value,
        ServerSideEncryption: "aws:kms",
        SSEKMSKeyId: this.kmsKeyId,
      }),
    );
  }
}

export class RedisDataPlane implements DataPlane {
  constructor(private readonly redis: Redis) {}

  async get(key: string): Promise<string | undefined> {
    const value = await this.redis.get(key);
    return value ?? undefined;
  }

  async put(key: string, value: string): Promise<void> {
    await this.redis.set(key, value);
  }
}

/** S3+REDIS: writes go to S3 (durable) then Redis; reads hit Redis and back-fill it from S3 on a miss. */
export class WriteThroughDataPlane implements DataPlane {
  constructor(
    private readonly durable: DataPlane,
    private readonly cache: DataPlane,
  ) {}

  async get(key: string): Promise<string | undefined> {
    const cached = await this.cache.get(key);
    if (cached !== undefined) return cached;
    const value = await this.durable.get(key);
    if (value !== undefined) await this.cache.put(key, value);
    return value;
  }

  async put(key: string, value: string): Promise<void> {
    await this.durable.put(key, value);
    await this.cache.put(key, value);
  }
}
