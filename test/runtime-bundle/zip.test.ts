import { execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { cachedZip, zipDirectory, zipEntries } from "../../modules/runtime-bundle/zip";

/** Python's zipfile (a real, independent zip reader): CRC check, then every entry's content. */
function readWithPython(zip: Buffer): Record<string, string> {
  const dir = mkdtempSync(path.join(tmpdir(), "htc-zip-"));
  try {
    const file = path.join(dir, "a.zip");
    writeFileSync(file, zip);
    const script =
      "import json,sys,zipfile\nz=zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\nprint(json.dumps({n: z.read(n).decode() for n in z.namelist()}))";
    return JSON.parse(execFileSync("python3", ["-c", script, file], { encoding: "utf8" }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("Lambda zip writer", () => {
  it("writes archives a standard reader opens, with every entry intact", () => {
    const big = "x".repeat(200_000) + "y";
    const zip = zipEntries([
      { name: "index.js", data: Buffer.from("exports.handler = async () => 1;\n") },
      { name: "lib/big.txt", data: Buffer.from(big) },
    ]);
    expect(readWithPython(zip)).toEqual({
      "index.js": "exports.handler = async () => 1;\n",
      "lib/big.txt": big,
    });
  });

  it("is reproducible: same files in, same bytes out, whatever the order or time", () => {
    const a = zipEntries([
      { name: "b", data: Buffer.from("2") },
      { name: "a", data: Buffer.from("1") },
    ]);
    const b = zipEntries([
      { name: "a", data: Buffer.from("1") },
      { name: "b", data: Buffer.from("2") },
    ]);
    expect(a.equals(b)).toBe(true);
  });

  it("zips a directory tree and serves repeated zips of the same content from the cache", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "htc-zipdir-"));
    try {
      mkdirSync(path.join(dir, "sub"));
      writeFileSync(path.join(dir, "index.js"), "module.exports = 1;\n");
      writeFileSync(path.join(dir, "sub", "x.json"), "{}\n");
      const direct = zipDirectory(dir);
      expect(readWithPython(direct)).toEqual({ "index.js": "module.exports = 1;\n", "sub/x.json": "{}\n" });
      expect(cachedZip(dir).equals(direct)).toBe(true);
      expect(cachedZip(dir).equals(direct)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
