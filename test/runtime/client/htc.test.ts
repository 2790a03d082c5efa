// `htc` end to end through its real entry point (runtime/bin/htc.js, the package's bin; one test goes through
// `npx htc`), against the local grid behind the local API front (private API, API key), with the test-only
// stand-in agent. Bad input must give one line on stderr, a distinct exit code, and submit nothing.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import {
  closeSync,
  createReadStream,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createInterface } from "node:readline";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ScanCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  EXIT,
  LOCAL_CLIENT_FILE,
  localClientFile,
  printResults,
  ProgressReporter,
  TransferProgress,
} from "../../../runtime/src/client/cli";
import type { SessionResults } from "../../../runtime/src/client";
import { findRepoRoot } from "../../../modules/runtime-bundle/bundle";
import { freePort } from "../../../runtime/src/local/ports";
import { newSessionId } from "../control-plane/integration/fixtures";
import { TABLE } from "../control-plane/integration/local-grid";
import { PRIORITIES, startHarness, type Harness, type Mode } from "./support/harness";

const ROOT = findRepoRoot(__dirname);
const BIN = join(ROOT, "runtime", "bin", "htc.js");
const MODE: Mode = { storage: "REDIS", external: true };

let h: Harness;
let dir: string;
let configFile: string;
let baseEnv: Record<string, string>;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function htc(
  args: string[],
  options: {
    env?: Record<string, string | undefined>;
    input?: string;
    npx?: boolean;
    /**
     * Run under a pseudo-terminal (util-linux `script`), stdout discarded, stderr captured as stdout; "both": stdout
     * on the terminal too.
     */
    tty?: boolean | "both";
    /** Options for node itself, e.g. a heap limit. */
    nodeArgs?: string[];
    /** Write stdout to this file instead of capturing it. */
    stdoutFile?: string;
    /** Called with each chunk of stdout as it comes (e.g. to interrupt htc or close the pipe). */
    onStdout?: (child: ChildProcess) => void;
  } = {},
): Promise<Run> {
  const env = { ...baseEnv, ...options.env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  const quoted = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  const [cmd, argv] = options.npx
    ? ["npx", ["htc", ...args]]
    : options.tty
      ? ["script", ["-qec", options.tty === "both" ? quoted : `${quoted} 2>&1 >/dev/null`, "/dev/null"]]
      : [process.execPath, [...(options.nodeArgs ?? []), BIN, ...args]];
  return new Promise((resolve, reject) => {
    // npx resolves the bin from the repository's node_modules, so it runs in the repository.
    const out = options.stdoutFile === undefined ? "pipe" : openSync(options.stdoutFile, "w");
    const child = spawn(cmd, argv, {
      cwd: options.npx ? ROOT : dir,
      env: env as NodeJS.ProcessEnv,
      stdio: ["pipe", out, "pipe"],
    });
    if (typeof out === "number") closeSync(out);
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d: Buffer) => {
      stdout += d.toString();
      options.onStdout?.(child);
    });
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 50_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      // A warning of Node's (a leak, a deprecation) is a defect users see: every test's run fails on one.
      const warning = /\(node:\d+\) \[?\w*Warning.*/.exec(stderr + stdout);
      if (warning) reject(new Error(`htc ${args.join(" ")} printed a warning of Node's: ${warning[0]}`));
      else resolve({ code, stdout, stderr });
    });
    child.stdin!.end(options.input ?? "");
  });
}

/**
 * A session of `count` tasks run to its end by a stand-in agent, through `htc submit --outputs-in-data-plane` and
 * `htc watch`: every output is a key in the data plane (as upstream's client reads them), which a test can break.
 */
async function ranSession(count: number): Promise<string> {
  const agent = h.agent(MODE);
  const session = newSessionId();
  const submitted = await htc([
    "submit",
    "--count",
    String(count),
    "--session",
    session,
    "--outputs-in-data-plane",
  ]);
  expect(submitted.code, submitted.stderr).toBe(EXIT.ok);
  const watched = await htc(["watch", session, "--timeout", "30"]);
  await agent.stop();
  expect(watched.code, watched.stderr).toBe(EXIT.ok);
  for (let i = 0; i < count; i++) expect(await h.grid.redis!.exists(`${session}_${i}-output`)).toBe(1);
  return session;
}

/** One line on stderr, no stack trace. */
function expectOneLineError(run: Run, pattern: RegExp): void {
  const lines = run.stderr.trimEnd().split("\n");
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^htc: /);
  expect(lines[0]).toMatch(pattern);
  expect(run.stderr).not.toMatch(/\n\s+at /);
}

async function rowCount(): Promise<number> {
  return (await h.grid.ddb.send(new ScanCommand({ TableName: TABLE, Select: "COUNT" }))).Count ?? 0;
}

async function queued(): Promise<number> {
  let n = 0;
  for (let p = 0; p < PRIORITIES; p++) n += await h.grid.visibleCount(p);
  return n;
}

/** Runs `body` and checks that it wrote no row, queued no message and invoked no submit_tasks. */
async function expectNothingSubmitted(body: () => Promise<void>): Promise<void> {
  const before = { rows: await rowCount(), queued: await queued(), submits: h.api.invocations.submit };
  await body();
  expect({ rows: await rowCount(), queued: await queued(), submits: h.api.invocations.submit }).toEqual(
    before,
  );
}

beforeAll(async () => {
  // The bin compiles runtime/dist when the sources changed; do it once here, not in the first test.
  spawnSync(process.execPath, [join(ROOT, "runtime", "scripts", "build.js")], { stdio: "inherit" });
  h = await startHarness();
  dir = mkdtempSync(join(tmpdir(), "htc-cli-"));
  configFile = join(dir, "agent_config.json");
  writeFileSync(configFile, JSON.stringify(await h.useMode(MODE)), { mode: 0o600 });
  baseEnv = {
    PATH: process.env.PATH ?? "",
    HOME: dir,
    XDG_CONFIG_HOME: join(dir, "config"),
    ...h.grid.env,
    AGENT_CONFIG_FILE: configFile,
    INTRA_VPC: "1",
    // No transfer progress lines unless a test asks (they would appear in slow runs only).
    HTC_PROGRESS_AFTER_MS: "600000",
  };
}, 120_000);

afterAll(async () => {
  await h?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("htc submit, watch, results, cancel", () => {
  it("submits --count N --worker-args tasks, waits, prints the results as JSON and exits 0", async () => {
    const agent = h.agent(MODE);
    const session = newSessionId();
    const run = await htc([
      "submit",
      "--count",
      "5",
      "--worker-args",
      "1000 1 1",
      "--wait",
      "--session",
      session,
    ]);
    await agent.stop();
    expect(run.code, run.stderr).toBe(EXIT.ok);
    const out = JSON.parse(run.stdout);
    expect(out).toMatchObject({ session_id: session, total: 5, finished: 5, failed: 0, complete: true });
    expect(out.tasks[0].output).toEqual({ echo: { worker_arguments: ["1000", "1", "1"] } });
    // By default small outputs travel in the task rows, not through the data plane.
    for (let i = 0; i < 5; i++) expect(await h.grid.redis!.exists(`${session}_${i}-output`)).toBe(0);
    expect(run.stderr).toMatch(/submitted 5 tasks as session .* \(priority 0, 1 call\)/);
    // Not a terminal: plain progress lines, no bar.
    expect(run.stderr.match(/5\/5 tasks done/g)).toHaveLength(1);
    expect(run.stderr).not.toContain("\r");
  });

  it("submits an NDJSON file, prints the session id, then watch and results --format ndjson follow it", async () => {
    const file = join(dir, "tasks.ndjson");
    writeFileSync(file, '{"x": 1}\n{"x": 2}\n\n{"x": 3}\n');
    const session = newSessionId();
    const submitted = await htc(["submit", "--file", file, "--session", session, "--priority", "1"]);
    expect(submitted.code, submitted.stderr).toBe(EXIT.ok);
    expect(submitted.stdout).toBe(`${session}\n`);
    const agent = h.agent(MODE);
    const watched = await htc(["watch", session, "--timeout", "30"]);
    await agent.stop();
    expect(watched.code, watched.stderr).toBe(EXIT.ok);
    expect(watched.stderr).toMatch(/3 finished, 0 failed, 0 cancelled/);
    const results = await htc(["results", session, "--format", "ndjson"]);
    expect(results.code).toBe(EXIT.ok);
    const lines = results.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.output.echo.x).sort()).toEqual([1, 2, 3]);
  });

  it("exits 10 when some tasks failed, with their errors in the results", async () => {
    const agent = h.agent(MODE);
    const session = newSessionId();
    const run = await htc(["submit", "--file", "-", "--wait", "--session", session], {
      input: '[{"x": 1}, {"fail": "worker crashed"}]',
    });
    await agent.stop();
    expect(run.code, run.stderr).toBe(EXIT.someFailed);
    expect(JSON.parse(run.stdout).tasks).toContainEqual({
      task_id: `${session}_1`,
      status: "failed",
      error: "worker crashed",
    });
  });

  it("exits 13 when a finished task's output is no longer in the data plane, and says so", async () => {
    const session = await ranSession(3);
    // As an output that expired (redis_data_expiration_sec) or was deleted.
    expect(await h.grid.redis!.del(`${session}_1-output`)).toBe(1);
    const results = await htc(["results", session]);
    expect(results.code, results.stderr).toBe(EXIT.outputMissing);
    expect(JSON.parse(results.stdout).tasks).toContainEqual({
      task_id: `${session}_1`,
      status: "finished",
      output_missing: true,
    });
    expect(results.stderr.trimEnd().split("\n").at(-1)).toBe(
      `htc: session ${session}: 3 finished, 0 failed, 0 cancelled, 1 finished without an output left in the data plane (output_missing: it expired or was deleted)`,
    );
  });

  it("stops printing at an output it cannot read: what came before, then one line and exit 5", async () => {
    const session = await ranSession(40);
    const order = (stdout: string) =>
      stdout
        .split("\n")
        .slice(0, -1) // whole lines only: the last ends with a newline
        .map((line) => JSON.parse(line).task_id as string);
    const whole = await htc(["results", session, "--format", "ndjson"]);
    expect(whole.code).toBe(EXIT.ok);
    const ids = order(whole.stdout);
    expect(ids).toHaveLength(40);
    // A key of the wrong type: every read of it fails (WRONGTYPE), as an unreachable data plane's would.
    const broken = `${ids[10]}-output`;
    await h.grid.redis!.del(broken);
    await h.grid.redis!.rpush(broken, "not a string");
    const run = await htc(["results", session, "--format", "ndjson"]);
    expect(run.code, run.stderr).toBe(EXIT.api);
    expectOneLineError(run, new RegExp(`could not read ${broken}: .*WRONGTYPE`));
    expect(order(run.stdout)).toEqual(ids.slice(0, 10));
  });

  it("prints a session whose outputs are larger than its heap, reading each as it is printed", async () => {
    // 300 outputs of 400 KB: 120 MB, against a 64 MB heap. Reading every output before printing (as htc did)
    // ends in "JavaScript heap out of memory"; reading them as they are printed holds about 32 at a time.
    const agent = h.agent(MODE);
    const session = newSessionId();
    const file = join(dir, "large.ndjson");
    const blob = "z".repeat(400_000);
    writeFileSync(file, Array.from({ length: 300 }, (_, i) => JSON.stringify({ i, blob })).join("\n"));
    const submitted = await htc(["submit", "--file", file, "--session", session], {
      env: { HTC_PROGRESS_AFTER_MS: "0" },
    });
    expect(submitted.code).toBe(EXIT.ok);
    // Progress from the start (not a terminal: the first line at once, then one every 10 s).
    expect(submitted.stderr).toMatch(
      /^htc: inputs written to the data plane: \d+\/300 \(\d+%\)(, \d+\/s)?\n/,
    );
    const watched = await htc(["watch", session, "--timeout", "60"]);
    await agent.stop();
    expect(watched.code, watched.stderr).toBe(EXIT.ok);
    for (const fmt of ["ndjson", "json"]) {
      const printed = join(dir, `large.${fmt}`);
      const run = await htc(["results", session, "--format", fmt], {
        nodeArgs: ["--max-old-space-size=64"],
        stdoutFile: printed,
      });
      expect(run.code, run.stderr).toBe(EXIT.ok);
      expect(run.stderr).toBe(`htc: session ${session}: 300 finished, 0 failed, 0 cancelled\n`);
      // Checked line by line: the document itself is as large as the outputs.
      const seen = new Set<number>();
      for await (const line of createInterface({ input: createReadStream(printed) })) {
        if (fmt === "ndjson") {
          const task = JSON.parse(line);
          expect(task.output.echo.blob.length).toBe(400_000);
          seen.add(task.output.echo.i);
        } else if (line.startsWith('          "i": ')) seen.add(Number(line.slice(15).replace(",", "")));
        else if (line.startsWith('          "blob": ')) expect(line.length).toBe(10 + 400_000 + 10);
      }
      expect(seen.size).toBe(300);
    }
    const shown = await htc(["results", session, "--format", "ndjson"], {
      env: { HTC_PROGRESS_AFTER_MS: "0" },
      stdoutFile: join(dir, "large.shown"),
    });
    expect(shown.code).toBe(EXIT.ok);
    expect(shown.stderr).toMatch(
      new RegExp(`^htc: session ${session}: results printed: \\d+/300 \\(\\d+%\\)(, \\d+/s)?\n`),
    );
    // Ctrl-C while printing: it stops reading outputs and says how far it got.
    let interrupted = false;
    const stopped = await htc(["results", session, "--format", "ndjson"], {
      onStdout: (child) => {
        if (!interrupted) child.kill("SIGINT");
        interrupted = true;
      },
    });
    expect(stopped.code, stopped.stderr).toBe(EXIT.interrupted);
    expectOneLineError(
      stopped,
      new RegExp(`^htc: printing the results of session ${session} was interrupted after \\d+ tasks$`),
    );
    expect(Number(/after (\d+) tasks/.exec(stopped.stderr)![1])).toBeLessThan(300);
    // A reader that goes away (`| head -1`): htc ends at once, quietly, as SIGPIPE would end it.
    const closed = await htc(["results", session, "--format", "ndjson"], {
      onStdout: (child) => child.stdout!.destroy(),
    });
    expect(closed.code, closed.stderr).toBe(EXIT.stdoutClosed);
    expect(closed.stderr).toBe("");
  }, 120_000);

  it("cancels sessions (exit 0), after which results exits 11", async () => {
    const session = newSessionId();
    expect((await htc(["submit", "--count", "4", "--session", session])).code).toBe(EXIT.ok);
    const cancelled = await htc(["cancel", session]);
    expect(cancelled.code, cancelled.stderr).toBe(EXIT.ok);
    expect(JSON.parse(cancelled.stdout)[session]).toMatchObject({ total_cancelled_tasks: 4 });
    const results = await htc(["results", session]);
    expect(results.code).toBe(EXIT.someCancelled);
    await h.grid.purge(0);
  });

  it("exits 12 from results while tasks are still pending, and 6 when watch times out", async () => {
    const session = newSessionId();
    expect((await htc(["submit", "--count", "2", "--session", session])).code).toBe(EXIT.ok);
    const results = await htc(["results", session]);
    expect(results.code).toBe(EXIT.incomplete);
    expect(JSON.parse(results.stdout)).toMatchObject({ pending: 2, complete: false });
    const watched = await htc(["watch", session, "--timeout", "0.5"]);
    expect(watched.code).toBe(EXIT.timeout);
    expect(watched.stderr.trimEnd().split("\n").at(-1)).toMatch(
      /^htc: waiting for session .* timed out .* 0 of 2 tasks done/,
    );
    await htc(["cancel", session]);
    await h.grid.purge(0);
  });

  it("resolves through npx in the repository (the workspace package's bin)", async () => {
    const run = await htc(["--help"], { npx: true });
    expect(run.code, run.stderr).toBe(EXIT.ok);
    expect(run.stdout).toMatch(/^usage: htc <command>/);
  });

  it("draws a live progress bar on a terminal", async () => {
    // util-linux's `script` gives htc a terminal (Debian: bsdutils, installed everywhere).
    if (spawnSync("script", ["--version"]).status !== 0) {
      throw new Error(
        "`script` (util-linux) is missing: install it (Debian/Ubuntu: sudo apt-get install -y bsdutils)",
      );
    }
    const agent = h.agent(MODE);
    const session = newSessionId();
    const run = await htc(["submit", "--count", "20", "--wait", "--session", session], { tty: true });
    await agent.stop();
    expect(run.code, run.stdout).toBe(EXIT.ok);
    // One redraw: carriage return, erase line (ESC [ K), then the bar and its counters.
    const bars = run.stdout.split(`\r${String.fromCharCode(27)}[K`).slice(1);
    expect(bars.length).toBeGreaterThan(0);
    for (const bar of bars) {
      expect(bar).toMatch(
        /^\[[#-]{24}\] +\d+\.\d% {2}\d+\/20 {2}done \d+ {2}failed 0 {2}cancelled 0 {2}pending \d+ {2}[\d.]+\/s {2}ETA \S+/,
      );
    }
    expect(bars.at(-1)).toMatch(/100\.0% {2}20\/20 {2}done 20 .*pending 0 .*ETA 0s\r?\n/);
    // Results printed to the terminal are their own progress: no line is redrawn into them.
    const shown = await htc(["results", session, "--format", "ndjson"], {
      tty: "both",
      env: { HTC_PROGRESS_AFTER_MS: "0" },
    });
    expect(shown.code, shown.stdout).toBe(EXIT.ok);
    expect(shown.stdout.match(/"status":"finished"/g)).toHaveLength(20);
    expect(shown.stdout).not.toContain("results printed");
  });
});

describe("htc refuses bad input with one line, a distinct exit code, and submits nothing", () => {
  it("a missing configuration file: exit 3", async () => {
    await expectNothingSubmitted(async () => {
      const run = await htc(["submit", "--count", "1"], {
        env: { AGENT_CONFIG_FILE: join(dir, "nope.json") },
      });
      expect(run.code).toBe(EXIT.config);
      expectOneLineError(run, /nope\.json \(from AGENT_CONFIG_FILE\) does not exist; run `npm run outputs`/);
    });
  });

  it("no configuration at all: exit 3, naming the three places", async () => {
    const run = await htc(["results", "s"], { env: { AGENT_CONFIG_FILE: undefined } });
    expect(run.code).toBe(EXIT.config);
    expectOneLineError(run, /pass --config FILE, set AGENT_CONFIG_FILE, or run `npm run outputs`/);
  });

  it("a wrong API key: exit 4, without the key in the message", async () => {
    await expectNothingSubmitted(async () => {
      const run = await htc(["submit", "--count", "3"], { env: { HTC_API_KEY: "not-the-key-31337" } });
      expect(run.code).toBe(EXIT.auth);
      expectOneLineError(run, /refused the API key \(x-api-key\) \(403 Forbidden\); check api_gateway_key/);
      expect(run.stderr).not.toContain("not-the-key-31337");
    });
  });

  it("a Redis it cannot reach: one line naming its address and why, exit 5, nothing submitted", async () => {
    const port = await freePort(); // nothing listens there
    const config = {
      ...JSON.parse(readFileSync(configFile, "utf8")),
      redis_url: `redis://127.0.0.1:${port}`,
    };
    const file = join(dir, "unreachable-redis.json");
    writeFileSync(file, JSON.stringify(config), { mode: 0o600 });
    await expectNothingSubmitted(async () => {
      const run = await htc(["submit", "--count", "3", "--config", file]);
      expect(run.code).toBe(EXIT.api);
      // Not ioredis's "Unhandled error event" stack traces, nor its retry count.
      const address = `127\\.0\\.0\\.1:${port}`;
      expectOneLineError(
        run,
        new RegExp(
          `could not write .*-input: Redis at ${address} cannot be reached \\(connect ECONNREFUSED ${address}\\)$`,
        ),
      );
    });
  });

  it("an unknown session: exit 7 from results, watch and cancel", async () => {
    const unknown = newSessionId();
    for (const args of [
      ["results", unknown],
      ["watch", unknown],
      ["cancel", unknown],
    ]) {
      const run = await htc(args);
      expect(run.code, args.join(" ")).toBe(EXIT.unknownSession);
      expectOneLineError(run, new RegExp(`${unknown}`));
    }
  });

  it.each([
    [
      "a JSON array with a syntax error",
      "tasks.json",
      '[{"x": 1},, {"x": 2}]',
      /tasks file .*tasks\.json is not a valid JSON array/,
    ],
    [
      "an NDJSON line that is not JSON",
      "tasks.ndjson",
      '{"x": 1}\n{x: 2}\n',
      /tasks file .*tasks\.ndjson line 2 is not JSON/,
    ],
    ["an empty file", "empty.json", "  \n", /holds no tasks/],
  ])("a malformed task file (%s): exit 2", async (_name, file, text, message) => {
    writeFileSync(join(dir, file), text);
    await expectNothingSubmitted(async () => {
      const run = await htc(["submit", "--file", join(dir, file)]);
      expect(run.code).toBe(EXIT.usage);
      expectOneLineError(run, message);
    });
  });

  it.each([
    [["frobnicate"], /unknown command "frobnicate"/],
    [["submit", "--count", "0"], /--count "0" must be an integer from 1/],
    [["submit", "--count", "2", "--colour"], /Unknown option '--colour'/],
    [["submit", "--file", "/does/not/exist.json"], /cannot read tasks file \/does\/not\/exist\.json: ENOENT/],
    [["submit", "--count", "1", "--priority", "x"], /--priority "x" must be an integer/],
    [["watch"], /watch takes one session id/],
  ])("usage error %j: exit 2", async (args, message) => {
    await expectNothingSubmitted(async () => {
      const run = await htc(args);
      expect(run.code).toBe(EXIT.usage);
      expectOneLineError(run, message);
    });
  });

  it("a priority the grid does not have: the grid's refusal, exit 5", async () => {
    const before = { rows: await rowCount(), queued: await queued() };
    const run = await htc(["submit", "--count", "1", "--priority", "9"]);
    expect(run.code).toBe(EXIT.api);
    expectOneLineError(run, /543: Invalid submission: context.tasks_priority 9 is out of range 0-2/);
    expect({ rows: await rowCount(), queued: await queued() }).toEqual(before);
  });
});

describe("printing a session's results", () => {
  const results = (outputs: unknown[]): SessionResults => ({
    sessionId: "s1",
    total: outputs.length + 1,
    finished: outputs.length,
    failed: 1,
    cancelled: 0,
    pending: 0,
    complete: true,
    results: [
      ...outputs.map((output, i) => ({ taskId: `s1_${i}`, status: "finished" as const, output })),
      { taskId: `s1_${outputs.length}`, status: "failed" as const, error: '{"errorType":"E"}' },
    ],
  });
  const printed = async (r: SessionResults, fmt: "json" | "ndjson") => {
    const chunks: string[] = [];
    await printResults({ write: (text: string) => chunks.push(text) }, r, r.results, fmt);
    return chunks.join("");
  };

  it("writes the document JSON.stringify would, and one task per line for ndjson", async () => {
    const sample = results([{ a: [1, { b: "x\ny" }] }, "text", null, 7]);
    const tasks = sample.results.map((t) => ({
      task_id: t.taskId,
      status: t.status,
      ...(t.output !== undefined ? { output: t.output } : {}),
      ...(t.error !== undefined ? { error: t.error } : {}),
    }));
    const doc = {
      session_id: sample.sessionId,
      total: sample.total,
      finished: sample.finished,
      failed: sample.failed,
      cancelled: sample.cancelled,
      pending: sample.pending,
      complete: sample.complete,
      tasks,
    };
    expect(await printed(sample, "json")).toBe(`${JSON.stringify(doc, null, 2)}\n`);
    const empty = { ...sample, results: [] };
    expect(await printed(empty, "json")).toBe(`${JSON.stringify({ ...doc, tasks: [] }, null, 2)}\n`);
    expect(await printed(empty, "ndjson")).toBe("");
    expect(await printed(sample, "ndjson")).toBe(tasks.map((t) => `${JSON.stringify(t)}\n`).join(""));
  });

  it("waits for a slow reader (drain) before reading the next task", async () => {
    // Outputs above the write chunk, so each task is one write; the reader refuses more until it drains.
    const big = "q".repeat(1_200_000);
    const sample = results(Array.from({ length: 5 }, () => big));
    let pulled = 0;
    async function* tasks() {
      for (const r of sample.results) {
        pulled++;
        yield r;
      }
    }
    let drain: (() => void) | undefined;
    const writes: number[] = [];
    const printing = printResults(
      {
        write: (text: string) => {
          writes.push(text.length);
          return false;
        },
        once: (_event: "drain", listener: () => void) => (drain = listener),
      },
      sample,
      tasks(),
      "ndjson",
    );
    // Five large outputs, then the failed task's line in the last write.
    for (let i = 1; i <= 6; i++) {
      await vi.waitFor(() => expect(drain).toBeDefined());
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect({ writes: writes.length, pulled }).toEqual({ writes: i, pulled: i });
      const resume = drain!;
      drain = undefined;
      resume();
    }
    await printing;
    expect(pulled).toBe(6);
  });

  it("prints a session whose outputs together exceed the longest string Node can build", async () => {
    // 100 outputs of 6 MB (one string shared, so the test holds 6 MB): over 600 MB of JSON in all.
    const big = "y".repeat(6_000_000);
    const huge = results(Array.from({ length: 100 }, () => ({ blob: big })));
    for (const fmt of ["json", "ndjson"] as const) {
      let bytes = 0;
      let largest = 0;
      await printResults(
        {
          write: (text: string) => {
            bytes += text.length;
            largest = Math.max(largest, text.length);
          },
        },
        huge,
        huge.results,
        fmt,
      );
      expect(bytes).toBeGreaterThan(600_000_000);
      expect(largest).toBeLessThan(8_000_000);
    }
  });
});

describe("transfer progress", () => {
  const recorder = (isTTY: boolean) => {
    const lines: string[] = [];
    return { lines, stderr: { isTTY, write: (text: string) => lines.push(text) } };
  };

  it("says nothing for a short transfer, then a line every 10 s, or a line redrawn in place on a terminal", () => {
    let clock = 1_000;
    const plain = recorder(false);
    const progress = new TransferProgress(plain.stderr, "inputs written", () => clock);
    progress.update(10, 100);
    clock += 1_999;
    progress.update(20, 100);
    expect(plain.lines).toEqual([]); // under 2 s: nothing
    clock += 1;
    progress.update(40, 100);
    clock += 9_999;
    progress.update(50, 100);
    clock += 1;
    progress.update(80, 100);
    progress.end();
    expect(plain.lines).toEqual([
      "htc: inputs written: 40/100 (40%), 20/s\n",
      "htc: inputs written: 80/100 (80%), 7/s\n",
    ]);

    clock = 0;
    const tty = recorder(true);
    const bar = new TransferProgress(tty.stderr, "results printed", () => clock, 0);
    bar.update(1, 4);
    clock += 50;
    bar.update(2, 4); // within 100 ms of the last redraw: skipped
    clock += 50;
    bar.update(3, 4);
    bar.update(4, 4); // the last one always shows
    bar.end();
    const erase = `\r${String.fromCharCode(27)}[K`;
    expect(tty.lines).toEqual([
      `${erase}htc: results printed: 1/4 (25%)`,
      `${erase}htc: results printed: 3/4 (75%), 30/s`,
      `${erase}htc: results printed: 4/4 (100%), 40/s`,
      erase,
    ]);
  });
});

describe("session progress", () => {
  it("a line every 10 s off a terminal, and the finished session's line once", () => {
    let clock = 0;
    const lines: string[] = [];
    const reporter = new ProgressReporter(
      { isTTY: false, write: (text: string) => lines.push(text) },
      () => clock,
    );
    const at = (finished: number) => ({ sessionId: "s", total: 10, finished, failed: 0, cancelled: 0 });
    reporter.update(at(0));
    clock += 9_999;
    reporter.update(at(4));
    clock += 1;
    reporter.update(at(5));
    clock += 20_000;
    reporter.update(at(10)); // the poll that sees the session done, 20 s after the last line
    reporter.update(at(10), true);
    expect(lines).toEqual([
      "htc: session s: 0/10 tasks done (done 0, failed 0, cancelled 0, pending 10), 0.0 tasks/s, ETA ?\n",
      "htc: session s: 5/10 tasks done (done 5, failed 0, cancelled 0, pending 5), 0.5 tasks/s, ETA 10s\n",
      "htc: session s: 10/10 tasks done (done 10, failed 0, cancelled 0, pending 0), 0.3 tasks/s, ETA 0s\n",
    ]);
  });
});

describe("which local grid --local means", () => {
  it("generated/local/client.json here, else in the repository's root, else one line naming both", () => {
    const base = mkdtempSync(join(tmpdir(), "htc-local-"));
    try {
      const [here, root] = [join(base, "here"), join(base, "root")];
      const place = (dir: string) => {
        mkdirSync(join(dir, "generated", "local"), { recursive: true });
        writeFileSync(join(dir, LOCAL_CLIENT_FILE), "{}");
        return join(dir, LOCAL_CLIENT_FILE);
      };
      mkdirSync(here);
      expect(() => localClientFile(here, root)).toThrow(
        `no local grid here (no ${join(here, LOCAL_CLIENT_FILE)} or ${join(root, LOCAL_CLIENT_FILE)}): ` +
          "start one with `npm run local`, or pass --local-dir DIR for one started with --dir DIR",
      );
      expect(() => localClientFile(here, undefined)).toThrow(/^no local grid here \(no [^ ]+\): start/);
      const inRoot = place(root); // `npm run local` started from a subfolder, or through `npx htc local`
      expect(localClientFile(here, root)).toBe(inRoot);
      const inHere = place(here);
      expect(localClientFile(here, root)).toBe(inHere);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});
