// Scratch folders for what a synth bundles before its assets copy it into cdktf.out (Lambda bundles and zips, the
// pods' runtime bundles). All of a process's folders sit under one root, `<tmpdir>/htc-grid-scratch-<pid>-XXXXXX`,
// removed when the process exits. A process killed before it could exit (a test runner's worker, a Ctrl-C'd synth)
// leaves its root behind, so the first scratch folder a process asks for also removes the roots of processes that
// are gone: without that, every killed synth left about 4 MB in the temporary folder.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { processTempDir, reapDeadProcessDirs } from "../../runtime/src/util/dead-process-dirs";

const ROOT_PREFIX = "htc-grid-scratch-";

let root: string | undefined;
let count = 0;

/** Removes the scratch roots in `tmp` whose process is gone; returns the folders removed. */
export function reapScratchRoots(tmp: string = os.tmpdir()): string[] {
  return reapDeadProcessDirs(ROOT_PREFIX, tmp);
}

/** A fresh, empty folder for one bundle, removed with this process's scratch root when the process exits. */
export function scratchDir(name: string): string {
  if (root === undefined) {
    const dir = processTempDir(ROOT_PREFIX);
    root = dir;
    process.once("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  const dir = path.join(root, `${name}-${count++}`);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}
