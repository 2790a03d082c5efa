// The zip reader that unpacks worker code (the local worker host, and the fetch step in a pod) reads zip64 archives:
// one written by Python's zipfile with more than 65,535 entries (as zip tools do for a worker with its node_modules),
// and an entry whose sizes and offset sit in its zip64 extra field (APPNOTE 4.5.3), which writers use past 4 GiB.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { zipEntries } from "../../../modules/runtime-bundle/zip";
import { extractZip } from "../../../runtime/src/worker-host/unzip";

const dir = mkdtempSync(join(tmpdir(), "htc-unzip-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * `archive` with its first central directory entry rewritten the zip64 way: compressed size, uncompressed size and
 * local header offset set to 0xFFFFFFFF, their values moved into a zip64 extra field (the end record's central
 * directory size grows by the field's 28 bytes).
 */
function withZip64Entry(archive: Buffer): Buffer {
  const eocd = archive.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const cdOffset = archive.readUInt32LE(eocd + 16);
  const cdSize = archive.readUInt32LE(eocd + 12);
  const entry = archive.subarray(cdOffset, cdOffset + 46);
  const nameLength = entry.readUInt16LE(28);
  const extraLength = entry.readUInt16LE(30);
  const extra = Buffer.alloc(28);
  extra.writeUInt16LE(0x0001, 0);
  extra.writeUInt16LE(24, 2);
  extra.writeBigUInt64LE(BigInt(entry.readUInt32LE(24)), 4); // uncompressed size
  extra.writeBigUInt64LE(BigInt(entry.readUInt32LE(20)), 12); // compressed size
  extra.writeBigUInt64LE(BigInt(entry.readUInt32LE(42)), 20); // local header offset
  const header = Buffer.from(entry);
  header.writeUInt32LE(0xffffffff, 20);
  header.writeUInt32LE(0xffffffff, 24);
  header.writeUInt32LE(0xffffffff, 42);
  header.writeUInt16LE(extraLength + 28, 30);
  const end = Buffer.from(archive.subarray(eocd));
  end.writeUInt32LE(cdSize + 28, 12);
  const nameEnd = cdOffset + 46 + nameLength;
  return Buffer.concat([
    archive.subarray(0, cdOffset),
    header,
    archive.subarray(cdOffset + 46, nameEnd),
    extra,
    archive.subarray(nameEnd, eocd),
    end,
  ]);
}

describe("extractZip", () => {
  it("extracts every entry of a zip64 archive of more than 65,535 entries (written by Python's zipfile)", () => {
    const zip = join(dir, "many.zip");
    const script =
      "import sys, zipfile\n" +
      "with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_STORED) as z:\n" +
      "    z.writestr('index.js', 'exports.handler = async () => 1;\\n')\n" +
      "    for i in range(70000): z.writestr(f'node_modules/m/{i}.js', str(i))\n";
    const made = spawnSync("python3", ["-c", script, zip], { encoding: "utf8" });
    expect(made.status, `python3 could not write the archive: ${made.stderr}`).toBe(0);
    // The plain end record caps the count; the true one is in the zip64 record.
    const archive = readFileSync(zip);
    expect(archive.readUInt16LE(archive.length - 22 + 10)).toBe(0xffff);
    const out = join(dir, "many");
    const written = extractZip(zip, out);
    expect(written).toHaveLength(70_001);
    expect(readFileSync(join(out, "node_modules", "m", "69999.js"), "utf8")).toBe("69999");
  }, 60_000);

  it("reads an entry's compressed size and offset from its zip64 extra field", () => {
    const zip = join(dir, "zip64-entry.zip");
    const plain = zipEntries([
      { name: "index.js", data: Buffer.from("exports.handler = async () => 'zip64';\n") },
      { name: "lib/util.js", data: Buffer.from("module.exports = 2;\n") },
    ]);
    writeFileSync(zip, withZip64Entry(plain));
    const out = join(dir, "zip64-entry");
    expect(extractZip(zip, out).sort()).toEqual(["index.js", "lib/util.js"]);
    expect(readFileSync(join(out, "index.js"), "utf8")).toBe("exports.handler = async () => 'zip64';\n");
  });

  it("refuses an archive whose central directory holds more entries than its end record counts", () => {
    const archive = zipEntries([
      { name: "a.js", data: Buffer.from("1") },
      { name: "b.js", data: Buffer.from("2") },
    ]);
    archive.writeUInt16LE(1, archive.length - 22 + 8);
    archive.writeUInt16LE(1, archive.length - 22 + 10);
    const zip = join(dir, "undercounted.zip");
    writeFileSync(zip, archive);
    expect(() => extractZip(zip, join(dir, "undercounted"))).toThrow(
      /the central directory holds more entries than its end record counts \(1\)/,
    );
  });
});
