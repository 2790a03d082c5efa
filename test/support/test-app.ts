// Testing.app() makes a fresh `cdktf.outdir.*` folder in the temporary folder on every call and never removes it.
// testApp() makes the same app with an outdir this module removes after each test file (test/support/cleanup.ts).

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Testing } from "cdktf";

const outdirs: string[] = [];

/** `Testing.app()`, with its outdir removed after the test file. */
export function testApp(): ReturnType<typeof Testing.app> {
  const outdir = mkdtempSync(join(tmpdir(), "htc-test-app-"));
  outdirs.push(outdir);
  return Testing.app({ outdir });
}

/** Removes the outdirs testApp() made so far. */
export function removeTestApps(): void {
  for (const dir of outdirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}
