// Scratch folders for what a synth bundles before its assets copy it into cdktf.out (Lambda bundles and zips, the
// pods' runtime bundles). All of a process's folders sit under one root, `<tmpdir>/htc-grid-scratch-<pid>-XXXXXX`,
// removed when the process exits. A process killed before it could exit (a test runner's worker, a Ctrl-C'd synth)
// leaves its root behind, so the first scratch folder a process asks for also removes the roots of processes that
// are gone: without that, every killed synth left about 4 MB in the temporary folder.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const ROOT_PREFIX = "htc-grid-scratch-";

let root: string | undefined;
let count = 0;

/** Whether a process with this id is running (one we may not signal counts as running). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Removes the scratch roots in `tmp` whose process is gone; returns the folders removed. */
export function reapScratchRoots(tmp: string = os.tmpdir()): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(tmp);
  } catch {
    return removed;
  }
  for (const name of names) {
    const match = /^htc-grid-scratch-(\d+)-/.exec(name);
    if (!match || Number(match[1]) === process.pid || processAlive(Number(match[1]))) continue;
    const dir = path.join(tmp, name);
    try {
      fs.rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
    } catch {
      // Another process may be removing it too, or it is not ours to remove: leave it.
    }
  }
  return removed;
}

/** A fresh, empty folder for one bundle, removed with this process's scratch root when the process exits. */
export function scratchDir(name: string): string {
  if (root === undefined) {
    reapScratchRoots();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${ROOT_PREFIX}${process.pid}-`));
    root = dir;
    process.once("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  const dir = path.join(root, `${name}-${count++}`);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}
