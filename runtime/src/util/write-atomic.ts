// Replaces a file in one step: readers polling it (scripts reading the local grid's status.json, a second `htc`
// reading the token store) see the old content or the new, never a half-written file.

import { chmodSync, renameSync, rmSync, writeFileSync } from "node:fs";

/** Writes `data` to a temporary file beside `path` (mode `mode` when given) and renames it over `path`. */
export function writeFileAtomic(path: string, data: string, mode?: number): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, data, mode === undefined ? undefined : { mode });
    // The mode applies only when the file is created: a leftover temp file keeps its own.
    if (mode !== undefined) chmodSync(tmp, mode);
    renameSync(tmp, path);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
}
