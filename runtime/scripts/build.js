#!/usr/bin/env node
// Compiles the client (runtime/src/client and what it imports) to runtime/dist with type declarations, but only
// when the sources changed since the last build: dist/.source-hash records a hash of runtime/src, the build
// tsconfig and this file. `npm ci` runs it (the workspace's prepare script), and bin/htc.js runs it before
// every command, so `npx htc` never runs stale code. Builds into a temporary folder and swaps it in.
"use strict";
const { createHash } = require("node:crypto");
const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const RUNTIME = path.resolve(__dirname, "..");
const DIST = path.join(RUNTIME, "dist");
const STAMP = path.join(DIST, ".source-hash");

function files(dir) {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((entry) => {
      const full = path.join(dir, entry.name);
      return entry.isDirectory() ? files(full) : entry.name.endsWith(".ts") ? [full] : [];
    });
}

function sourceHash() {
  const hash = createHash("sha256");
  for (const file of [
    ...files(path.join(RUNTIME, "src")),
    path.join(RUNTIME, "tsconfig.json"),
    path.join(RUNTIME, "tsconfig.build.json"),
    __filename,
  ]) {
    hash.update(path.relative(RUNTIME, file)).update("\0").update(fs.readFileSync(file)).update("\0");
  }
  return hash.digest("hex");
}

const fresh = (hash) => fs.existsSync(STAMP) && fs.readFileSync(STAMP, "utf8") === hash;

/** One build at a time (parallel test workers, several `htc` at once): a lock directory, stale after 5 min. */
function withLock(run) {
  const lock = path.join(RUNTIME, ".dist-lock");
  const deadline = Date.now() + 300_000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch (error) {
      if (error.code !== "EEXIST") throw error;
      try {
        if (Date.now() - fs.statSync(lock).mtimeMs > 300_000)
          fs.rmSync(lock, { recursive: true, force: true });
      } catch {
        // released meanwhile
      }
      if (Date.now() > deadline)
        throw new Error(`${lock} is held by another build; remove it if no build runs`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    }
  }
  try {
    return run();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

/** Builds runtime/dist when it is missing or stale; returns true when it built. */
function ensureBuilt({ quiet = false } = {}) {
  const hash = sourceHash();
  if (fresh(hash)) return false;
  return withLock(() => (fresh(hash) ? false : build(hash, quiet)));
}

function build(hash, quiet) {
  const tsc = require.resolve("typescript/bin/tsc", { paths: [RUNTIME] });
  const tmp = path.join(RUNTIME, `.dist-${process.pid}`);
  if (!quiet)
    process.stderr.write("htc: compiling runtime/src/client into runtime/dist (sources changed) ...\n");
  try {
    execFileSync(process.execPath, [tsc, "-p", path.join(RUNTIME, "tsconfig.build.json"), "--outDir", tmp], {
      stdio: ["ignore", "inherit", "inherit"],
    });
    fs.writeFileSync(path.join(tmp, ".source-hash"), hash);
    const old = path.join(RUNTIME, `.dist-old-${process.pid}`);
    if (fs.existsSync(DIST)) fs.renameSync(DIST, old);
    fs.renameSync(tmp, DIST);
    fs.rmSync(old, { recursive: true, force: true });
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return true;
}

module.exports = { ensureBuilt };

if (require.main === module) {
  try {
    ensureBuilt({ quiet: true });
  } catch (error) {
    process.stderr.write(`runtime build failed: ${error.message}\n`);
    process.exit(1);
  }
}
