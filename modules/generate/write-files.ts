// Writes a set of files all or nothing: every file goes to a temporary name first, then each target is swapped in
// (an existing one kept aside until all are in place). A failure at any step removes the temporaries and puts back
// what was there, so `generated/` never holds half of a generated set.
import * as fs from "node:fs";
import * as path from "node:path";

/** The file-system calls the writer makes (tests inject failures here). */
export interface FileOps {
  mkdirSync(dir: string, options: { recursive: true }): unknown;
  writeFileSync(file: string, text: string, options?: { mode?: number }): void;
  renameSync(from: string, to: string): void;
  rmSync(file: string, options: { force: true }): void;
  existsSync(file: string): boolean;
}

export const NODE_FILE_OPS: FileOps = fs;

/** A file-system failure, as one line: what was being done, to which file, and the system's reason. */
export class WriteFilesError extends Error {}

function describe(action: string, file: string, e: unknown): WriteFilesError {
  const err = e as NodeJS.ErrnoException;
  const reason = err.code
    ? `${err.code}${err.code === "EACCES" || err.code === "EROFS" ? " (not writable)" : ""}`
    : err.message;
  return new WriteFilesError(`cannot ${action} ${file}: ${reason}`);
}

/** Writes `files` (name -> text) into `dir`; returns the paths written. Throws WriteFilesError, having rolled back. */
export function writeFilesAtomically(
  dir: string,
  files: Record<string, string>,
  options: { mode?: number } = {},
  ops: FileOps = NODE_FILE_OPS,
): string[] {
  try {
    ops.mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw describe("create the directory", dir, e);
  }
  const suffix = `.htc-${process.pid}`;
  const targets = Object.keys(files).map((name) => path.join(dir, name));
  const temporary = (t: string) => `${t}${suffix}.tmp`;
  const backup = (t: string) => `${t}${suffix}.bak`;
  const written: string[] = [];
  const swapped: { target: string; hadOriginal: boolean }[] = [];
  const cleanUp = () => {
    for (const t of written) ops.rmSync(temporary(t), { force: true });
  };
  // 1. Every new text under a temporary name.
  for (const [i, target] of targets.entries()) {
    try {
      ops.writeFileSync(temporary(target), files[Object.keys(files)[i]], { mode: options.mode });
      written.push(target);
    } catch (e) {
      try {
        ops.rmSync(temporary(target), { force: true });
      } finally {
        cleanUp();
      }
      throw describe("write", target, e);
    }
  }
  // 2. Swap each target in, keeping any original aside until all are in place.
  for (const target of targets) {
    const hadOriginal = ops.existsSync(target);
    try {
      if (hadOriginal) ops.renameSync(target, backup(target));
      try {
        ops.renameSync(temporary(target), target);
      } catch (e) {
        if (hadOriginal) ops.renameSync(backup(target), target);
        throw e;
      }
      swapped.push({ target, hadOriginal });
    } catch (e) {
      // Roll back the ones already swapped: originals return, new files go.
      for (const s of swapped.reverse()) {
        if (s.hadOriginal) ops.renameSync(backup(s.target), s.target);
        else ops.rmSync(s.target, { force: true });
      }
      cleanUp();
      throw describe("replace", target, e);
    }
  }
  // 3. All in place: drop the originals.
  for (const s of swapped) if (s.hadOriginal) ops.rmSync(backup(s.target), { force: true });
  return targets;
}
