// The zip reader that unpacks worker code (the local worker host, and the fetch step in a pod) reads zip64 archives:
// one written by Python's zipfile with more than 65,535 entries (as zip tools do for a worker with its node_modules),
// and an entry whose sizes and offset sit in its zip64 extra field (APPNOTE 4.5.3), which writers use past 4 GiB.
// It makes symbolic links links, as Lambda does, and never writes through one.

import { spawnSync } from "node:child_process";
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { zipEntries } from "../../../modules/runtime-bundle/zip";
import { extractZip } from "../../../runtime/src/worker-host/unzip";

const dir = mkdtempSync(join(tmpdir(), "htc-unzip-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Writes `zip` with Python's zipfile: `files` as regular entries (deflated), `links` (name, target) as symbolic links
 * the way `zip --symlinks` stores them (Unix mode 0120777 in the high 16 bits of the attributes, the target as data).
 */
function zipWithLinks(zip: string, files: [string, string][], links: [string, string][]): void {
  const script =
    "import json, sys, zipfile\n" +
    "files, links = json.loads(sys.argv[2]), json.loads(sys.argv[3])\n" +
    "with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:\n" +
    "    for name, text in files: z.writestr(name, text)\n" +
    "    for name, target in links:\n" +
    "        info = zipfile.ZipInfo(name)\n" +
    "        info.create_system = 3\n" +
    "        info.external_attr = 0o120777 << 16\n" +
    "        z.writestr(info, target)\n";
  const args = ["-c", script, zip, JSON.stringify(files), JSON.stringify(links)];
  const made = spawnSync("python3", args, { encoding: "utf8" });
  expect(made.status, `python3 could not write the archive: ${made.stderr}`).toBe(0);
}

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

  it("makes symbolic links links (to a folder, to a file, to a path outside, as a pnpm node_modules or a layer needs)", () => {
    const zip = join(dir, "links.zip");
    zipWithLinks(
      zip,
      [["versions/2/main.js", "exports.run = async () => 2;\n"]],
      [
        ["current", "versions/2"],
        ["main.js", "versions/2/main.js"],
        ["node_modules", "/opt/nodejs/node_modules"],
      ],
    );
    const out = join(dir, "links");
    expect(extractZip(zip, out).sort()).toEqual(["current", "main.js", "node_modules", "versions/2/main.js"]);
    expect(lstatSync(join(out, "current")).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(out, "current"))).toBe("versions/2");
    expect(readFileSync(join(out, "current", "main.js"), "utf8")).toBe("exports.run = async () => 2;\n");
    expect(readFileSync(join(out, "main.js"), "utf8")).toBe("exports.run = async () => 2;\n");
    expect(readlinkSync(join(out, "node_modules"))).toBe("/opt/nodejs/node_modules");
  });

  it("writes nothing through a link: an entry under a link, or a link under a link, is refused", () => {
    const outside = join(dir, "outside");
    mkdirSync(outside);
    const underLink = join(dir, "under-link.zip");
    zipWithLinks(underLink, [["escape/evil.js", "pwned"]], [["escape", outside]]);
    expect(() => extractZip(underLink, join(dir, "under-link"))).toThrow(
      /entry "escape" is a link, and the archive also writes that path/,
    );
    const linkUnderLink = join(dir, "link-under-link.zip");
    zipWithLinks(
      linkUnderLink,
      [],
      [
        ["escape", outside],
        ["escape/evil", "/etc/passwd"],
      ],
    );
    expect(() => extractZip(linkUnderLink, join(dir, "link-under-link"))).toThrow(
      /entry "escape\/evil" lies under the link "escape"/,
    );
    expect(readdirSync(outside)).toEqual([]);
  });

  it("over an earlier extraction (a pod's fetch step that runs again), replaces its links rather than write through them", () => {
    const outside = join(dir, "kept");
    mkdirSync(outside);
    writeFileSync(join(outside, "target.js"), "original");
    const first = join(dir, "first.zip");
    zipWithLinks(
      first,
      [["v2/main.js", "2"]],
      [
        ["current", "v2"],
        ["main.js", join(outside, "target.js")],
        ["lib", outside],
      ],
    );
    const out = join(dir, "again");
    extractZip(first, out);
    // The same archive again, as when an init container runs again on the same volume.
    expect(extractZip(first, out).sort()).toEqual(["current", "lib", "main.js", "v2/main.js"]);
    expect(readlinkSync(join(out, "current"))).toBe("v2");
    // Another archive where the links were: a file, a folder, a link elsewhere.
    const second = join(dir, "second.zip");
    zipWithLinks(
      second,
      [
        ["main.js", "3"],
        ["lib/util.js", "4"],
      ],
      [["current", "v3"]],
    );
    expect(extractZip(second, out).sort()).toEqual(["current", "lib/util.js", "main.js"]);
    expect(lstatSync(join(out, "main.js")).isFile()).toBe(true);
    expect(readFileSync(join(out, "main.js"), "utf8")).toBe("3");
    expect(lstatSync(join(out, "lib")).isDirectory()).toBe(true);
    expect(readlinkSync(join(out, "current"))).toBe("v3");
    expect(readdirSync(outside)).toEqual(["target.js"]);
    expect(readFileSync(join(outside, "target.js"), "utf8")).toBe("original");
  });
});
