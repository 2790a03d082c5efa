// s3rver 3.7.1 answers a PutObject before the object's bytes are on disk: its FilesystemStore.putObject resolves
// when the hashing Transform has seen the body (or, for a Buffer, right after `end()`), not when the file write
// finishes, and then writes the metadata. When the write loses the race (libuv's file-system threads busy), a
// GetObject straight after the PUT sees a short or empty object (the likely cause of a submit_tasks test answering
// 543 in one CI run: it reads the payload its test has just uploaded). This replaces putObject with one that resolves
// once the file is written, then writes the metadata as s3rver does. Applied once, before the first s3rver starts.

import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import FilesystemStore from "s3rver/lib/stores/filesystem";

interface StoredObject {
  readonly bucket: string;
  readonly key: string;
  readonly content: Buffer | NodeJS.ReadableStream;
  readonly metadata: Record<string, string>;
}

const PATCHED = Symbol.for("htc-grid.s3rver-put-patched");

async function putObject(
  this: FilesystemStore,
  object: StoredObject,
): Promise<{ size: number; md5: string }> {
  const objectPath = this.getResourcePath(object.bucket, object.key, "object");
  await mkdir(dirname(objectPath), { recursive: true });
  const md5 = createHash("md5");
  let size = 0;
  const source = Buffer.isBuffer(object.content) ? Readable.from([object.content]) : object.content;
  await pipeline(
    source,
    new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        md5.update(chunk);
        size += chunk.length;
        callback(null, chunk);
      },
    }),
    createWriteStream(objectPath),
  );
  const digest = md5.digest("hex");
  await this.putMetadata(object.bucket, object.key, object.metadata, digest);
  return { size, md5: digest };
}

/** Makes every s3rver in this process store an object completely before it answers the PUT. */
export function patchS3rverStore(): void {
  const prototype = FilesystemStore.prototype as unknown as Record<PropertyKey, unknown>;
  if (prototype[PATCHED]) return;
  if (typeof prototype.putObject !== "function" || typeof prototype.putMetadata !== "function")
    throw new Error(
      "s3rver's FilesystemStore no longer has putObject/putMetadata: review runtime/src/local/s3rver-store.ts",
    );
  prototype.putObject = putObject;
  prototype[PATCHED] = true;
}
