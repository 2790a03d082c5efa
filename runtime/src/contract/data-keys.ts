// Data-plane keys (S3 objects and/or Redis keys) and their encoding. Values are base64 text: the client stores
// base64(JSON) inputs, agents store base64(worker response) outputs and errors.

export type GridStorageService = "S3" | "REDIS" | "S3+REDIS";
export const GRID_STORAGE_SERVICES: readonly GridStorageService[] = ["S3", "REDIS", "S3+REDIS"];

export const inputKey = (taskId: string): string => `${taskId}-input`;
export const outputKey = (taskId: string): string => `${taskId}-output`;
export const errorKey = (taskId: string): string => `${taskId}-error`;
/** The whole submission (urlsafe base64 JSON) when task input travels through the data plane. */
export const payloadKey = (sessionId: string): string => `${sessionId}-payload`;

export const usesS3 = (storage: GridStorageService): boolean => storage !== "REDIS";
export const usesRedis = (storage: GridStorageService): boolean => storage !== "S3";

/**
 * What Redis does when it is full. With REDIS storage it holds the only copy of live inputs and outputs, so it
 * refuses writes (the writer fails, loudly) rather than evict them; keys leave by their expiry
 * (redis_data_expiration_sec). With S3+REDIS it is a cache in front of S3: evicting the least recently used is safe.
 */
export const redisMaxmemoryPolicy = (storage: GridStorageService): "noeviction" | "allkeys-lru" =>
  storage === "REDIS" ? "noeviction" : "allkeys-lru";

/** Standard base64 of UTF-8 text or bytes (how inputs, outputs and errors are stored). */
export function toBase64(data: string | Uint8Array): string {
  return (typeof data === "string" ? Buffer.from(data, "utf8") : Buffer.from(data)).toString("base64");
}

/** Decodes standard or urlsafe base64 (padding optional) to bytes. */
export function fromBase64(text: string): Buffer {
  return Buffer.from(text.trim().replace(/-/g, "+").replace(/_/g, "/"), "base64");
}
