// Replaces a file in one step: readers polling it (scripts reading the local grid's status.json, a second `htc`
// reading the token store) see the old content or the new, never a half-written file.

import { chmodSync, renameSync, rmSync, writeFileSync } from "node:fs";

/** Writes `data` to a temporary file beside `path` (mode `mode` when given) and renames it over `path`. */
export function writeFileAtomic(path: string, data: string, mode?: number): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    // A leftover temporary file (or a symlink planted there) is removed, and the new one is created exclusively:
    // the data never goes into an existing file with other permissions, nor through a link to somewhere else.
    rmSync(tmp, { force: true });
    writeFileSync(tmp, data, { flag: "wx", ...(mode === undefined ? {} : { mode }) });
    // The umask may have narrowed the mode at creation: set exactly the one asked for.
    if (mode !== undefined) chmodSync(tmp, mode);
    renameSync(tmp, path);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
}
