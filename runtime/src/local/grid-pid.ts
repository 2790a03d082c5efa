// The file in a local grid's folder that holds its process id: `npm run local` writes it at start and removes it when
// it stops, so a second grid refuses the folder while it runs and htc can tell a client file a killed grid left.
// No imports beyond Node's: the client reads it too.

import { readFileSync } from "node:fs";
import { join } from "node:path";

export const GRID_PID_FILE = "grid.pid";

/**
 * The process named in `dir`'s grid.pid and whether it still runs (one this user may not signal counts as running);
 * undefined when there is no such file or it holds no process id.
 */
export function gridProcess(dir: string): { pid: number; running: boolean } | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(join(dir, GRID_PID_FILE), "utf8").trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return { pid, running: true };
  } catch (error) {
    return { pid, running: (error as NodeJS.ErrnoException).code === "EPERM" };
  }
}
