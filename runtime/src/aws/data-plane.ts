// The data plane: where task inputs, outputs and submission payloads live (keys: contract/data-keys.ts). Values
// are the base64 text clients and agents exchange. Shared by submit_tasks, the agent and the client.

import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { Redis, ReplyError } from "ioredis";
import type { GridStorageService } from "../contract";
import { errorName } from "./retry";
import type { ObjectTexts } from "./signed-s3";

export interface DataPlane {
  /** The stored text, or undefined when the key does not exist. */
  get(key: string): Promise<string | undefined>;
  put(key: string, value: string): Promise<void>;
}

/** S3 objects, uploaded with SSE-KMS under the grid's key only (upstream mixed in AES256). */
export class S3DataPlane implements DataPlane {
  constructor(
    /** The SDK client, or the agent's signed-HTTP client. */
    private readonly s3: S3Client | ObjectTexts,
    private readonly bucket: string,
    private readonly kmsKeyId: string,
  ) {}

  async get(key: string): Promise<string | undefined> {
    if ("getText" in this.s3) return this.s3.getText(this.bucket, key);
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return out.Body ? await out.Body.transformToString("utf8") : "";
    } catch (error) {
      if (errorName(error) === "NoSuchKey" || errorName(error) === "NotFound") return undefined;
      throw error;
    }
  }

  async put(key: string, value: string): Promise<void> {
    if ("putText" in this.s3) return this.s3.putText(this.bucket, key, value, { kmsKeyId: this.kmsKeyId });
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

/**
 * Redis keys, written with an expiry (`expirationSec`, 0: none) so the cache drains itself. A full cache with
 * `noeviction` (REDIS storage) refuses the write: put() then throws RedisFullError instead of the store silently
 * dropping other keys.
 */
export class RedisDataPlane implements DataPlane {
  constructor(
    private readonly redis: Redis,
    private readonly expirationSec = 0,
  ) {}

  async get(key: string): Promise<string | undefined> {
    try {
      const value = await this.redis.get(key);
      return value ?? undefined;
    } catch (error) {
      throw this.failed(error);
    }
  }

  async put(key: string, value: string): Promise<void> {
    try {
      if (this.expirationSec > 0) await this.redis.set(key, value, "EX", this.expirationSec);
      else await this.redis.set(key, value);
    } catch (error) {
      if (error instanceof Error && error.message.startsWith("OOM "))
        throw new RedisFullError(key, error.message);
      throw this.failed(error);
    }
  }

  /**
   * A command that went unanswered (connectRedis's commandTimeout) leaves a connection that may be dead without
   * knowing it (a failed-over or silent node: TCP gives up only after about 15 minutes), so it is replaced: the next
   * command goes over a new one, to wherever the endpoint's name now points.
   */
  private failed(error: unknown): unknown {
    if (!(error instanceof Error)) return error;
    if (error.message === "Command timed out" && this.redis.status === "ready") this.redis.disconnect(true);
    // Failed while the connection is down, and not Redis's reply: the reason is the connection's error, not
    // ioredis's retry count (told apart by class, not name: the bundles minify ioredis's class names).
    const cause = connectionErrors.get(this.redis);
    if (cause && !(error instanceof ReplyError)) return new RedisUnreachableError(this.redis, cause);
    return error;
  }
}

/** A Redis command failed because the connection to Redis is down (refused, reset, unknown host, TLS). */
export class RedisUnreachableError extends Error {
  constructor(redis: Redis, cause: Error) {
    super(`Redis at ${redis.options.host}:${redis.options.port} cannot be reached (${cause.message})`, {
      cause,
    });
    this.name = "RedisUnreachableError";
  }
}

/** The last error of each connectRedis connection while it is down (cleared once it is ready again). */
const connectionErrors = new WeakMap<Redis, Error>();

/** Redis refused a write because it is full (maxmemory reached under `noeviction`). */
export class RedisFullError extends Error {
  constructor(
    readonly key: string,
    reply: string,
  ) {
    super(
      `Redis is full and refused to store ${key} (${reply.replace(/\.$/, "")}): keys leave as they expire (redis_data_expiration_hours); use a larger redis_node_type or a shorter expiry`,
    );
    this.name = "RedisFullError";
  }
}

/**
 * S3+REDIS: writes go to S3 (durable) then Redis; reads hit Redis and back-fill it from S3 on a miss. Redis is only a
 * cache here, so its failures cost speed, not service: a failed cache call is skipped (reads go to S3) and the cache
 * is left alone for `bypassMs`, so an unreachable or silent Redis costs one timed-out call per period rather than
 * one per request. The one thing a failure can leave behind: a key written again while the cache was failing (a
 * retried task's output) may be read at its earlier cached value until that expires.
 */
export class WriteThroughDataPlane implements DataPlane {
  private bypassUntil = 0;

  constructor(
    private readonly durable: DataPlane,
    private readonly cache: DataPlane,
    private readonly options: {
      /** Told about the failure that starts each bypass period. */
      readonly onCacheError?: (error: unknown) => void;
      readonly bypassMs?: number;
    } = {},
  ) {}

  async get(key: string): Promise<string | undefined> {
    if (this.cacheUsable()) {
      try {
        const cached = await this.cache.get(key);
        if (cached !== undefined) return cached;
      } catch (error) {
        this.cacheFailed(error);
      }
    }
    const value = await this.durable.get(key);
    if (value !== undefined) await this.toCache(key, value);
    return value;
  }

  async put(key: string, value: string): Promise<void> {
    await this.durable.put(key, value);
    await this.toCache(key, value);
  }

  private async toCache(key: string, value: string): Promise<void> {
    if (!this.cacheUsable()) return;
    try {
      await this.cache.put(key, value);
    } catch (error) {
      this.cacheFailed(error);
    }
  }

  private cacheUsable(): boolean {
    return Date.now() >= this.bypassUntil;
  }

  private cacheFailed(error: unknown): void {
    if (!this.cacheUsable()) return;
    this.bypassUntil = Date.now() + (this.options.bypassMs ?? CACHE_BYPASS_MS);
    this.options.onCacheError?.(error);
  }
}

/** How long S3+REDIS leaves a failed cache alone before trying it again. */
export const CACHE_BYPASS_MS = 30_000;

/** How to reach Redis. The AUTH token comes from `password`, or from Secrets Manager (`authSecretArn`). */
export interface RedisSettings {
  readonly host: string;
  readonly port: number;
  /** TLS (the grid's Redis always uses it; local servers do not). */
  readonly tls: boolean;
  readonly password?: string;
  readonly authSecretArn?: string;
  /** How long a command may go unanswered before it fails (default REDIS_COMMAND_TIMEOUT_MS). */
  readonly commandTimeoutMs?: number;
}

/**
 * Without a limit a command to a node that stopped answering waits until TCP gives up (about 15 minutes), while an
 * agent's heartbeats keep the task it holds alive: the task would neither run nor be retried in that time.
 */
export const REDIS_COMMAND_TIMEOUT_MS = 10_000;

/**
 * `host`, `host:port`, `redis://host:port` (plain) or `rediss://host:port` (TLS). A bare host uses `defaultTls`
 * (upstream's agent always connected with TLS).
 */
export function parseRedisUrl(url: string, defaultTls = true): { host: string; port: number; tls: boolean } {
  const match = /^(?:(rediss?):\/\/)?([^:/\s]+)(?::(\d{1,5}))?\/?$/.exec(url.trim());
  if (!match)
    throw new Error(
      `${JSON.stringify(url)} must be host, host:port, redis://host:port or rediss://host:port`,
    );
  const tls = match[1] === undefined ? defaultTls : match[1] === "rediss";
  return { host: match[2], port: match[3] ? Number(match[3]) : 6379, tls };
}

/** A Redis connection that fails a call instead of hanging when the cache is unreachable or stops answering. */
export function connectRedis(settings: RedisSettings, password = settings.password): Redis {
  const redis = new Redis({
    host: settings.host,
    port: settings.port,
    password: password || undefined,
    tls: settings.tls ? { servername: settings.host } : undefined,
    connectTimeout: 5_000,
    commandTimeout: settings.commandTimeoutMs ?? REDIS_COMMAND_TIMEOUT_MS,
    maxRetriesPerRequest: 2,
    lazyConnect: false,
  });
  // ioredis prints every connection error nobody listens for, with its stack trace, to stderr (in the middle of
  // htc's output, in an agent's log at each reconnect); the commands that fail report it instead
  // (RedisUnreachableError).
  redis.on("error", (error: NodeJS.ErrnoException) => {
    // The socket's errors (refused, reset, unknown host, TLS) carry a code; a timed-out command is reported by the
    // command itself.
    if (typeof error.code === "string") connectionErrors.set(redis, error);
  });
  redis.on("ready", () => connectionErrors.delete(redis));
  return redis;
}

export interface DataPlaneHandle {
  readonly dataPlane: DataPlane;
  /** Closes the Redis connection, if any. */
  close(): Promise<void>;
}

/** The data plane of a storage mode: S3 (SSE-KMS), Redis, or S3 write-through with Redis in front. */
export function openDataPlane(options: {
  readonly storage: GridStorageService;
  readonly s3?: {
    readonly client: S3Client | ObjectTexts;
    readonly bucket: string;
    readonly kmsKeyId: string;
  };
  readonly redis?: Redis;
  /** Expiry of the keys written to Redis (redis_data_expiration_sec; 0 or absent: none). */
  readonly redisExpirationSec?: number;
  /** S3+REDIS: told when the cache fails and is bypassed for a while (see WriteThroughDataPlane). */
  readonly onCacheError?: (error: unknown) => void;
}): DataPlaneHandle {
  const { storage, s3, redis } = options;
  if (storage !== "REDIS" && !s3)
    throw new Error(`grid_storage_service ${storage} needs an S3 bucket and key`);
  if (storage !== "S3" && !redis) throw new Error(`grid_storage_service ${storage} needs a Redis connection`);
  const close = async (): Promise<void> => {
    if (redis) await redis.quit().catch(() => redis.disconnect());
  };
  const s3Plane = s3 && storage !== "REDIS" ? new S3DataPlane(s3.client, s3.bucket, s3.kmsKeyId) : undefined;
  const redisPlane =
    redis && storage !== "S3" ? new RedisDataPlane(redis, options.redisExpirationSec) : undefined;
  if (s3Plane && redisPlane) {
    const dataPlane = new WriteThroughDataPlane(s3Plane, redisPlane, { onCacheError: options.onCacheError });
    return { dataPlane, close };
  }
  return { dataPlane: (s3Plane ?? redisPlane) as DataPlane, close };
}
