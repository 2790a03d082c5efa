// writeFileAtomic (runtime/src/util/write-atomic.ts), which npm run local's status.json and the htc token store use:
// a reader sees the old file or the new one, never half of it; a leftover temporary file or a symlink planted in its
// place is replaced, not written through; and nothing is left behind when the write fails.

import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { writeFileAtomic } from "../../../runtime/src/util/write-atomic";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "htc-atomic-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("writeFileAtomic", () => {
  it("replaces the file as a new one, so a reader that opened the old file still reads it whole", () => {
    const path = join(dir, "status.json");
    writeFileAtomic(path, "old content\n");
    const fd = openSync(path, "r");
    const before = statSync(path).ino;
    writeFileAtomic(path, "new\n");
    // An in-place write would truncate the file the reader holds open; a rename leaves it untouched.
    const buffer = Buffer.alloc(64);
    const read = readSync(fd, buffer, 0, buffer.length, 0);
    expect(buffer.subarray(0, read).toString()).toBe("old content\n");
    expect(statSync(path).ino).not.toBe(before);
    expect(readFileSync(path, "utf8")).toBe("new\n");
    expect(readdirSync(dir)).toEqual(["status.json"]);
  });

  it("gives the file the mode asked for, even over a leftover temporary file with another mode", () => {
    const path = join(dir, "credentials.json");
    writeFileSync(`${path}.${process.pid}.tmp`, "stale", { mode: 0o644 });
    writeFileAtomic(path, "{}\n", 0o600);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(["credentials.json"]);
  });

  it("does not write through a symlink planted where its temporary file goes", () => {
    const path = join(dir, "credentials.json");
    const elsewhere = join(dir, "elsewhere.txt");
    writeFileSync(elsewhere, "untouched");
    symlinkSync(elsewhere, `${path}.${process.pid}.tmp`);
    writeFileAtomic(path, "secret\n", 0o600);
    expect(readFileSync(elsewhere, "utf8")).toBe("untouched");
    expect(lstatSync(path).isSymbolicLink()).toBe(false);
    expect(readFileSync(path, "utf8")).toBe("secret\n");
    expect(readdirSync(dir).sort()).toEqual(["credentials.json", "elsewhere.txt"]);
  });

  it("throws and leaves no temporary file behind when the rename fails", () => {
    // A non-empty directory where the file should go: the temporary file is written, the rename over it fails.
    const target = join(dir, "taken");
    mkdirSync(target);
    writeFileSync(join(target, "inside"), "");
    expect(() => writeFileAtomic(target, "y")).toThrow(/EISDIR|ENOTEMPTY|EEXIST/);
    expect(readdirSync(dir)).toEqual(["taken"]);
    expect(readdirSync(target)).toEqual(["inside"]);
  });
});
