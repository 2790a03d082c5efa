// Extracts a Lambda deployment zip (stored or deflated entries) into a directory, with Node built-ins only.
// Entries that would land outside the directory (`../`, absolute paths) are refused. Zip64 archives are read too:
// zip tools write one for more than 65,535 entries (a worker with its node_modules), whose plain end record then
// says 65,535 and the true count sits in the zip64 record. Symbolic links (`zip --symlinks`, a pnpm node_modules) are
// made links, as Lambda makes them; their targets may point anywhere, as there, but nothing is written through one.

import {
  closeSync,
  constants,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, isAbsolute, relative, resolve } from "node:path";
import { inflateRawSync } from "node:zlib";

const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const CENTRAL_DIRECTORY_ENTRY = 0x02014b50;
const LOCAL_FILE_HEADER = 0x04034b50;
const ZIP64_END_LOCATOR = 0x07064b50;
const ZIP64_END_OF_CENTRAL_DIRECTORY = 0x06064b50;
const ZIP64_EXTRA = 0x0001;
const NOT_HERE_32 = 0xffffffff;

/** A zip64 field as a number (Lambda code is far below 2^53 bytes). */
function uint64(zip: Buffer, at: number): number {
  return Number(zip.readBigUInt64LE(at));
}

/**
 * The compressed size and local header offset of a central directory entry: the 32-bit fields, or, where one holds
 * 0xFFFFFFFF, the value from the entry's zip64 extra field (which lists only those, in the order uncompressed size,
 * compressed size, offset).
 */
function entrySizes(
  zip: Buffer,
  fields: { uncompressed: number; compressed: number; localOffset: number },
  extraStart: number,
  extraEnd: number,
): { compressedSize: number; localOffset: number } {
  let { compressed, localOffset } = fields;
  for (let at = extraStart; at + 4 <= extraEnd;) {
    const id = zip.readUInt16LE(at);
    const size = zip.readUInt16LE(at + 2);
    if (id === ZIP64_EXTRA) {
      let field = at + 4;
      const next = () => {
        const value = field + 8 <= at + 4 + size ? uint64(zip, field) : undefined;
        field += 8;
        return value;
      };
      if (fields.uncompressed === NOT_HERE_32) next();
      if (compressed === NOT_HERE_32) compressed = next() ?? compressed;
      if (localOffset === NOT_HERE_32) localOffset = next() ?? localOffset;
      break;
    }
    at += 4 + size;
  }
  return { compressedSize: compressed, localOffset };
}

export class ZipError extends Error {}

/** The Unix file type bits of a symbolic link, in the high 16 bits of a central directory entry's attributes. */
const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
/** Opens a file for writing, failing (ELOOP) rather than following a link in its place. */
const WRITE_NO_FOLLOW =
  constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | (constants.O_NOFOLLOW ?? 0);

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
  let entries = zip.readUInt16LE(eocd + 10);
  let offset = zip.readUInt32LE(eocd + 16);
  // A zip64 archive: its locator sits just before the end record and points at the zip64 end record.
  if (eocd >= 20 && zip.readUInt32LE(eocd - 20) === ZIP64_END_LOCATOR) {
    const record = uint64(zip, eocd - 20 + 8);
    if (record + 56 > zip.length || zip.readUInt32LE(record) !== ZIP64_END_OF_CENTRAL_DIRECTORY) {
      throw new ZipError(`${zipPath}: corrupt zip64 end-of-central-directory record`);
    }
    entries = uint64(zip, record + 32);
    offset = uint64(zip, record + 48);
  }
  const root = resolve(dest);
  mkdirSync(root, { recursive: true });
  const written: string[] = [];
  // Nothing is written through a link. The archive's links are made after every file and folder: an entry under a
  // link's path makes a real folder there, and the link then finds its path taken. A link under another is refused.
  // A link already in `dest` (an earlier extraction's: a pod's fetch step that runs again) where the archive writes
  // a file or a folder is replaced, as a fresh extraction would not have it.
  const links: { name: string; target: string; linkTo: string }[] = [];
  const folders = new Set<string>([root]);
  const files = new Set<string>();
  const made = new Set<string>();
  const folder = (path: string, name: string): void => {
    if (folders.has(path)) return;
    folder(dirname(path), name);
    const stat = lstatSync(path, { throwIfNoEntry: false });
    if (stat?.isSymbolicLink()) {
      if (made.has(path)) {
        const link = JSON.stringify(relative(root, path));
        throw new ZipError(`${zipPath}: entry ${JSON.stringify(name)} lies under the link ${link}`);
      }
      rmSync(path);
    }
    if (!stat?.isDirectory()) mkdirSync(path);
    folders.add(path);
  };
  const writeFile = (path: string, data: Buffer, mode: number) => {
    let fd: number;
    try {
      fd = openSync(path, WRITE_NO_FOLLOW, mode);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ELOOP") throw error;
      rmSync(path);
      fd = openSync(path, WRITE_NO_FOLLOW, mode);
    }
    try {
      writeFileSync(fd, data);
    } finally {
      closeSync(fd);
    }
  };
  for (let n = 0; n < entries; n++) {
    if (zip.readUInt32LE(offset) !== CENTRAL_DIRECTORY_ENTRY)
      throw new ZipError(`${zipPath}: corrupt central directory`);
    const method = zip.readUInt16LE(offset + 10);
    const nameLength = zip.readUInt16LE(offset + 28);
    const extraLength = zip.readUInt16LE(offset + 30);
    const commentLength = zip.readUInt16LE(offset + 32);
    const externalAttributes = zip.readUInt32LE(offset + 38);
    const name = zip.toString("utf8", offset + 46, offset + 46 + nameLength);
    const extraStart = offset + 46 + nameLength;
    const { compressedSize, localOffset } = entrySizes(
      zip,
      {
        uncompressed: zip.readUInt32LE(offset + 24),
        compressed: zip.readUInt32LE(offset + 20),
        localOffset: zip.readUInt32LE(offset + 42),
      },
      extraStart,
      extraStart + extraLength,
    );
    offset += 46 + nameLength + extraLength + commentLength;

    const target = resolve(root, name);
    const inside = relative(root, target);
    if (inside.startsWith("..") || isAbsolute(inside) || isAbsolute(name)) {
      throw new ZipError(`${zipPath}: entry ${JSON.stringify(name)} would be written outside ${dest}`);
    }
    if (name.endsWith("/")) {
      folder(target, name);
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
    // Unix file type and permission bits live in the high 16 bits of the external attributes (0 for archives made
    // elsewhere).
    if (((externalAttributes >>> 16) & S_IFMT) === S_IFLNK) {
      links.push({ name, target, linkTo: data.toString("utf8") });
      continue;
    }
    folder(dirname(target), name);
    const mode = (externalAttributes >>> 16) & 0o777;
    writeFile(target, data, mode || 0o644);
    files.add(target);
    written.push(relative(root, target).split("\\").join("/"));
  }
  // More entries than the end record counts (a writer that capped the count without a zip64 record): refuse rather
  // than leave files out of the task root.
  if (offset + 4 <= zip.length && zip.readUInt32LE(offset) === CENTRAL_DIRECTORY_ENTRY) {
    throw new ZipError(
      `${zipPath}: the central directory holds more entries than its end record counts (${entries})`,
    );
  }
  for (const { name, target, linkTo } of links) {
    if (folders.has(target) || files.has(target)) {
      throw new ZipError(
        `${zipPath}: entry ${JSON.stringify(name)} is a link, and the archive also writes that path`,
      );
    }
    folder(dirname(target), name);
    // Whatever an earlier extraction left there (a pod's fetch step that runs again), as a fresh one would not have it.
    rmSync(target, { recursive: true, force: true });
    symlinkSync(linkTo, target);
    made.add(target);
    written.push(relative(root, target).split("\\").join("/"));
  }
  return written;
}
