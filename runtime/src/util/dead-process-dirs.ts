// Temporary folders named `<prefix><pid>-XXXXXX` belong to one process, which removes its own on exit. A process
// killed before it could exit (SIGKILL, a test runner's worker) leaves its folder behind, so the next process of the
// same kind removes the folders whose process is gone. The synth's scratch roots and the worker host's task roots use
// this.

import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Whether a process with this id is running (one we may not signal counts as running). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Removes the `<prefix><pid>-*` folders in `tmp` whose process is gone; returns the folders removed. */
export function reapDeadProcessDirs(prefix: string, tmp: string = tmpdir()): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(tmp);
  } catch {
    return removed;
  }
  const pattern = new RegExp(`^${escape(prefix)}(\\d+)-`);
  for (const name of names) {
    const match = pattern.exec(name);
    if (!match || Number(match[1]) === process.pid || processAlive(Number(match[1]))) continue;
    const dir = join(tmp, name);
    try {
      rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
    } catch {
      // Another process may be removing it too, or it is not ours to remove: leave it.
    }
  }
  return removed;
}

/** A fresh `<tmp>/<prefix><pid>-XXXXXX` folder, after removing those of processes that are gone. */
export function processTempDir(prefix: string, tmp: string = tmpdir()): string {
  reapDeadProcessDirs(prefix, tmp);
  return mkdtempSync(join(tmp, `${prefix}${process.pid}-`));
}
