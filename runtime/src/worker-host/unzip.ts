// Extracts a Lambda deployment zip (stored or deflated entries) into a directory, with Node built-ins only.
// Entries that would land outside the directory (`../`, absolute paths) are refused.

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, relative, resolve } from "node:path";
import { inflateRawSync } from "node:zlib";

const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const CENTRAL_DIRECTORY_ENTRY = 0x02014b50;
const LOCAL_FILE_HEADER = 0x04034b50;

export class ZipError extends Error {}

/** Extracts `zipPath` into `dest`; returns the extracted file paths (relative, `/`-separated). */
export function extractZip(zipPath: string, dest: string): string[] {
  const zip = readFileSync(zipPath);
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 65_535); i--) {
    if (zip.readUInt32LE(i) === END_OF_CENTRAL_DIRECTORY) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new ZipError(`${zipPath} is not a zip archive (no end-of-central-directory record)`);
  const entries = zip.readUInt16LE(eocd + 10);
  let offset = zip.readUInt32LE(eocd + 16);
  const root = resolve(dest);
  const written: string[] = [];
  for (let n = 0; n < entries; n++) {
    if (zip.readUInt32LE(offset) !== CENTRAL_DIRECTORY_ENTRY)
      throw new ZipError(`${zipPath}: corrupt central directory`);
    const method = zip.readUInt16LE(offset + 10);
    const compressedSize = zip.readUInt32LE(offset + 20);
    const nameLength = zip.readUInt16LE(offset + 28);
    const extraLength = zip.readUInt16LE(offset + 30);
    const commentLength = zip.readUInt16LE(offset + 32);
    const externalAttributes = zip.readUInt32LE(offset + 38);
    const localOffset = zip.readUInt32LE(offset + 42);
    const name = zip.toString("utf8", offset + 46, offset + 46 + nameLength);
    offset += 46 + nameLength + extraLength + commentLength;

    const target = resolve(root, name);
    const inside = relative(root, target);
    if (inside.startsWith("..") || isAbsolute(inside) || isAbsolute(name)) {
      throw new ZipError(`${zipPath}: entry ${JSON.stringify(name)} would be written outside ${dest}`);
    }
    if (name.endsWith("/")) {
      mkdirSync(target, { recursive: true });
      continue;
    }
    if (zip.readUInt32LE(localOffset) !== LOCAL_FILE_HEADER)
      throw new ZipError(`${zipPath}: corrupt entry ${name}`);
    const dataStart =
      localOffset + 30 + zip.readUInt16LE(localOffset + 26) + zip.readUInt16LE(localOffset + 28);
    const raw = zip.subarray(dataStart, dataStart + compressedSize);
    let data: Buffer;
    if (method === 0) data = Buffer.from(raw);
    else if (method === 8) data = inflateRawSync(raw);
    else
      throw new ZipError(
        `${zipPath}: entry ${name} uses compression method ${method}; only stored and deflate are supported`,
      );
    mkdirSync(dirname(target), { recursive: true });
    // Unix permission bits live in the high 16 bits of the external attributes (0 for archives made elsewhere).
    const mode = (externalAttributes >>> 16) & 0o777;
    writeFileSync(target, data, { mode: mode || 0o644 });
    written.push(relative(root, target).split("\\").join("/"));
  }
  return written;
}
