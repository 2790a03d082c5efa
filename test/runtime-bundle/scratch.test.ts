// Scratch folders of a synth: removed when the process exits, and, when it was killed before it could, by the next
// process that bundles. Real processes (the compiled module, as `node dist/...` runs it), killed for real.

import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { reapScratchRoots } from "../../modules/runtime-bundle/scratch";

const MODULE = resolve(__dirname, "..", "..", "dist", "modules", "runtime-bundle", "scratch.js");
const children: ChildProcess[] = [];
const temps: string[] = [];

afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A process that makes two scratch folders in `tmp`, prints the first, then stays up or exits. */
function bundler(tmp: string, then: "stay" | "exit"): Promise<{ child: ChildProcess; dir: string }> {
  const script = `
    const { scratchDir } = require(${JSON.stringify(MODULE)});
    const dir = scratchDir("agent");
    scratchDir("agent-zip");
    require("node:fs").writeFileSync(require("node:path").join(dir, "index.js"), "bundle");
    console.log(dir);
    ${then === "stay" ? "setInterval(() => {}, 1000);" : ""}`;
  const child = spawn(process.execPath, ["-e", script], {
    env: { ...process.env, TMPDIR: tmp },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  return new Promise((resolveDir, reject) => {
    child.stdout?.once("data", (chunk: Buffer) => resolveDir({ child, dir: chunk.toString().trim() }));
    child.once("error", reject);
  });
}

const exited = (child: ChildProcess) =>
  new Promise<void>((done) =>
    child.exitCode !== null || child.signalCode !== null ? done() : child.once("exit", () => done()),
  );

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "htc-scratch-test-"));
  temps.push(dir);
  return dir;
}

describe("scratch folders", () => {
  it("are removed when the process exits", async () => {
    const tmp = tempDir();
    const { child, dir } = await bundler(tmp, "exit");
    expect(dir.startsWith(join(tmp, "htc-grid-scratch-"))).toBe(true);
    await exited(child);
    expect(existsSync(dir)).toBe(false);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it("of a killed process are removed by the next one that bundles, and a running process's are kept", async () => {
    const tmp = tempDir();
    const killed = await bundler(tmp, "stay");
    killed.child.kill("SIGKILL");
    await exited(killed.child);
    // Killed: no exit handler ran, the bundle is still there.
    expect(existsSync(join(killed.dir, "index.js"))).toBe(true);

    const running = await bundler(tmp, "stay");
    // The second process reaped the first one's root when it made its own, and only that.
    expect(existsSync(killed.dir)).toBe(false);
    expect(existsSync(join(running.dir, "index.js"))).toBe(true);

    // Reaping again (as this test process) keeps the running process's root.
    expect(reapScratchRoots(tmp)).toEqual([]);
    expect(existsSync(running.dir)).toBe(true);
    running.child.kill("SIGKILL");
    await exited(running.child);
    const root = resolve(running.dir, "..");
    expect(reapScratchRoots(tmp)).toEqual([root]);
    expect(readdirSync(tmp)).toEqual([]);
  });
});
