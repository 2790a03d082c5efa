// s3rver must not answer a PutObject before the object is written (runtime/src/local/s3rver-store.ts). A named
// pipe stands in for a slow disk: nothing is written to it until a reader opens it, so an unpatched store
// answers while the object is still unwritten, and the patched one waits for the reader.

import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import FilesystemStore from "s3rver/lib/stores/filesystem";
import S3Object from "s3rver/lib/models/object";
import { patchS3rverStore } from "../../../runtime/src/local/s3rver-store";

let dir: string;
let store: FilesystemStore;
beforeEach(async () => {
  patchS3rverStore();
  dir = mkdtempSync(join(tmpdir(), "htc-s3rver-"));
  store = new FilesystemStore(dir);
  await store.putBucket("bucket");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function readAll(path: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of createReadStream(path)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

describe("s3rver's store, patched", () => {
  it.each([
    ["a stream", (body: string) => Readable.from([Buffer.from(body)])],
    ["a buffer", (body: string) => Buffer.from(body)],
  ])("answers a PUT of %s only once the object is written", async (_kind, content) => {
    const body = "payload ".repeat(1000);
    const objectPath = store.getResourcePath("bucket", "session-payload", "object");
    execFileSync("mkfifo", [objectPath]);
    let settled = false;
    const put = store
      .putObject(new S3Object("bucket", "session-payload", content(body), {}))
      .finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 300));
    expect(settled).toBe(false);
    expect(await readAll(objectPath)).toBe(body);
    await expect(put).resolves.toMatchObject({ size: body.length });
    const metadata = await store.getMetadata("bucket", "session-payload");
    expect(metadata.etag).toContain(createHash("md5").update(body).digest("hex"));
  });

  it("stores an object under a key with folders, readable straight after the PUT", async () => {
    await store.putObject(new S3Object("bucket", "a/b/c.json", Readable.from([Buffer.from("{}")]), {}));
    expect(readFileSync(store.getResourcePath("bucket", "a/b/c.json", "object"), "utf8")).toBe("{}");
  });
});
