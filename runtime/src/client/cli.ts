// `htc`: the grid's command line, on GridClient. Every failure is one line on stderr saying what was wrong and
// what to do, with an exit code that says what happened (EXIT below, and the README's table); no stack traces,
// no credentials. Data goes to stdout (session ids, results), progress and messages to stderr.

import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { MAX_TASKS_PER_SESSION } from "../contract";
import { gridProcess } from "../local/grid-pid";
import { CognitoAuthenticator, type ApiAuthenticator } from "./auth";
import { CognitoClient, type CognitoTokens } from "./cognito";
import { loadAgentConfig, resolveAgentConfigPath } from "./config";
import {
  AuthError,
  ConfigError,
  GridError,
  GridTimeoutError,
  UsageError,
  type GridErrorKind,
  type SessionProgress,
} from "./errors";
import {
  GridClient,
  type ApiFlavour,
  type SessionResults,
  type Submission,
  type TaskResult,
} from "./grid-client";
import { TokenStore, tokenStorePath } from "./token-store";

/** Exit codes. */
export const EXIT = {
  ok: 0,
  internal: 1,
  usage: 2,
  config: 3,
  auth: 4,
  api: 5,
  timeout: 6,
  unknownSession: 7,
  someFailed: 10,
  someCancelled: 11,
  incomplete: 12,
  outputMissing: 13,
  interrupted: 130,
  /** stdout's reader went away (`htc results S | head`): as a process killed by SIGPIPE. */
  stdoutClosed: 141,
} as const;

const KIND_EXIT: Record<GridErrorKind, number> = {
  usage: EXIT.usage,
  config: EXIT.config,
  auth: EXIT.auth,
  api: EXIT.api,
  timeout: EXIT.timeout,
  "unknown-session": EXIT.unknownSession,
};

export interface CliIo {
  readonly stdout: ResultsOut & { isTTY?: boolean };
  readonly stderr: { write(text: string): unknown; isTTY?: boolean; columns?: number };
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** Aborted on Ctrl-C. */
  readonly signal?: AbortSignal;
}

const USAGE = `usage: htc <command> [options]

commands:
  submit   --file FILE | --count N --worker-args "ARGS"   submit a session of tasks (FILE: JSON array or NDJSON, - = stdin)
             [--priority P] [--session ID] [--outputs-in-data-plane]
             [--wait [--timeout SEC] [--format json|ndjson]]
  watch    SESSION [--tasks N] [--timeout SEC]               follow a session until every task is done
  results  SESSION [--tasks N] [--format json|ndjson]        print what a session produced so far
  cancel   SESSION...                                         cancel every pending and running task
  login    [--username NAME] [--password-stdin]               sign in to Cognito (public API) and keep the refresh token
  logout                                                      forget the stored refresh token
  local    [--agents N] [--worker ZIP|DIR] ...                run the whole grid on this machine (npm run local)

options:
  --config FILE        agent configuration (default: $AGENT_CONFIG_FILE, generated/agent_config.json, /etc/agent/...)
  --local              use the grid \`npm run local\` runs here (generated/local/client.json here, else in the clone)
  --local-dir DIR      use the grid \`npm run local -- --dir DIR\` runs
  --api public|private which API (default: private when INTRA_VPC is set, else public)
  -h, --help           this text
exit codes: 0 all finished, 2 usage, 3 config, 4 auth, 5 API, 6 timeout, 7 unknown session,
            10 some failed, 11 some cancelled, 12 not finished yet, 13 outputs missing, 130 interrupted,
            141 stdout closed by its reader, 1 internal error
`;

export const OPTIONS = {
  config: { type: "string" },
  local: { type: "boolean" },
  "local-dir": { type: "string" },
  api: { type: "string" },
  file: { type: "string", short: "f" },
  count: { type: "string", short: "n" },
  "worker-args": { type: "string" },
  priority: { type: "string", short: "p" },
  session: { type: "string" },
  "outputs-in-data-plane": { type: "boolean" },
  wait: { type: "boolean", short: "w" },
  timeout: { type: "string", short: "t" },
  format: { type: "string" },
  tasks: { type: "string" },
  username: { type: "string", short: "u" },
  "password-stdin": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

type Values = {
  [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]["type"] extends "boolean" ? boolean : string;
};

function integer(
  name: string,
  text: string | undefined,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} ${JSON.stringify(text)} must be an integer from ${min} to ${max}`);
  }
  return n;
}

function seconds(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n) || n <= 0) {
    throw new UsageError(`--${name} ${JSON.stringify(text)} must be a number of seconds above 0`);
  }
  return n * 1000;
}

function format(values: Values): "json" | "ndjson" {
  const f = values.format ?? "json";
  if (f !== "json" && f !== "ndjson")
    throw new UsageError(`--format ${JSON.stringify(f)} must be json or ndjson`);
  return f;
}

/** Tasks from a JSON array or NDJSON text. */
export function parseTasks(text: string, source: string): unknown[] {
  const trimmed = text.trim();
  if (trimmed === "") throw new UsageError(`${source} holds no tasks`);
  if (trimmed.startsWith("[")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (error) {
      throw new UsageError(
        `${source} is not a valid JSON array (${(error as Error).message}); fix it, or write one task per line (NDJSON)`,
      );
    }
    if (!Array.isArray(parsed)) throw new UsageError(`${source} must be a JSON array of tasks`);
    return parsed;
  }
  const tasks: unknown[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === "") return;
    try {
      tasks.push(JSON.parse(line));
    } catch (error) {
      throw new UsageError(
        `${source} line ${i + 1} is not JSON (${(error as Error).message}); tasks are a JSON array or one JSON value per line`,
      );
    }
  });
  return tasks;
}

async function readStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString("utf8");
}

async function tasksFrom(values: Values, io: CliIo): Promise<unknown[]> {
  if (values.file !== undefined && values.count !== undefined) {
    throw new UsageError("give either --file or --count, not both");
  }
  if (values.file !== undefined) {
    if (values["worker-args"] !== undefined)
      throw new UsageError("--worker-args goes with --count, not --file");
    let text: string;
    if (values.file === "-") text = await readStdin(io.stdin);
    else {
      try {
        text = readFileSync(values.file, "utf8");
      } catch (error) {
        throw new UsageError(
          `cannot read tasks file ${values.file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
        );
      }
    }
    return parseTasks(text, values.file === "-" ? "standard input" : `tasks file ${values.file}`);
  }
  const count = integer("count", values.count, 1, MAX_TASKS_PER_SESSION);
  if (count === undefined) throw new UsageError("submit needs --file FILE or --count N (see htc --help)");
  // Upstream's convention: {"worker_arguments": ["1000", "1", "1"]} from --worker_arguments "1000 1 1".
  const args = (values["worker-args"] ?? "").trim();
  const task = { worker_arguments: args === "" ? [] : args.split(/\s+/) };
  return Array.from({ length: count }, () => task);
}

/** Reads a password without echo from a terminal, or the first line of a piped stdin. */
async function readPassword(io: CliIo, prompt: string): Promise<string> {
  if (!io.stdin.isTTY || !io.stdin.setRawMode) return (await readStdin(io.stdin)).split(/\r?\n/)[0] ?? "";
  io.stderr.write(prompt);
  io.stdin.setRawMode(true);
  io.stdin.resume();
  return new Promise((resolve, reject) => {
    let value = "";
    const done = (error?: Error) => {
      io.stdin.setRawMode?.(false);
      io.stdin.pause();
      io.stdin.removeListener("data", onData);
      io.stderr.write("\n");
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (data: Buffer | string) => {
      for (const ch of data.toString()) {
        if (ch === "\r" || ch === "\n") return done();
        if (ch === "\u0003") return done(new UsageError("sign-in interrupted"));
        if (ch === "\u007f" || ch === "\b") value = value.slice(0, -1);
        else value += ch;
      }
    };
    io.stdin.on("data", onData);
  });
}

async function readLine(io: CliIo, prompt: string): Promise<string> {
  if (!io.stdin.isTTY) throw new UsageError("no user name: pass --username or set HTC_USERNAME");
  io.stderr.write(prompt);
  io.stdin.resume();
  return new Promise((resolve) => {
    io.stdin.once("data", (data: Buffer | string) => {
      io.stdin.pause();
      resolve(data.toString().split(/\r?\n/)[0].trim());
    });
  });
}

interface Context {
  readonly io: CliIo;
  readonly values: Values;
  readonly positionals: string[];
}

function apiFlavour(values: Values): ApiFlavour | undefined {
  if (values.api === undefined) return undefined;
  if (values.api !== "public" && values.api !== "private") {
    throw new UsageError(`--api ${JSON.stringify(values.api)} must be public or private`);
  }
  return values.api;
}

function configOf(ctx: Context) {
  return loadAgentConfig(resolveAgentConfigPath(ctx.values.config, ctx.io.env, ctx.io.cwd));
}

function cognitoOf(config: ReturnType<typeof configOf>, env: CliIo["env"]): CognitoClient {
  if (!config.user_pool_id || !config.cognito_userpool_client_id) {
    throw new ConfigError(
      "the agent configuration has no user_pool_id / cognito_userpool_client_id; the public API cannot be used",
    );
  }
  return new CognitoClient(
    {
      region: config.user_pool_id.split("_")[0] || config.region,
      userPoolId: config.user_pool_id,
      clientId: config.cognito_userpool_client_id,
    },
    env,
  );
}

/** A client for the configuration; the public API signs in with HTC_USERNAME/HTC_PASSWORD or the stored login. */
function clientOf(ctx: Context): GridClient {
  const { io } = ctx;
  const config = configOf(ctx);
  const api = apiFlavour(ctx.values) ?? (io.env.INTRA_VPC ? "private" : "public");
  let authenticator: ApiAuthenticator | undefined;
  if (api === "public") {
    const cognito = cognitoOf(config, io.env);
    const username = io.env.HTC_USERNAME;
    const password = io.env.HTC_PASSWORD;
    if (username && password) {
      authenticator = new CognitoAuthenticator(cognito, { username, password });
    } else {
      const store = new TokenStore(tokenStorePath(io.env));
      const stored = store.get(config.user_pool_id, config.cognito_userpool_client_id);
      if (!stored) {
        throw new AuthError(
          "not signed in to the grid's Cognito user pool: run `htc login`, or set HTC_USERNAME and HTC_PASSWORD (inside the VPC, set INTRA_VPC=1 for the private API)",
        );
      }
      authenticator = new CognitoAuthenticator(
        cognito,
        { username: stored.username, refreshToken: stored.refreshToken },
        {
          // Keep a rotated refresh token.
          onTokens: (tokens: CognitoTokens) => {
            if (tokens.refreshToken && tokens.refreshToken !== stored.refreshToken) {
              store.save(config.user_pool_id, config.cognito_userpool_client_id, {
                username: stored.username,
                refreshToken: tokens.refreshToken,
                savedAt: new Date().toISOString(),
              });
            }
          },
        },
      );
    }
  }
  return new GridClient(config, {
    api,
    env: io.env,
    authenticator,
    log: (line) => io.stderr.write(`htc: ${line}\n`),
  });
}

/** Progress on stderr: a live bar on a terminal, a plain line every 10 s otherwise. */
export class ProgressReporter {
  private first: { at: number; done: number } | undefined;
  private lastLine = -Infinity;
  private drawn = false;

  constructor(
    private readonly stderr: CliIo["stderr"],
    private readonly clock: () => number = Date.now,
  ) {}

  update(p: SessionProgress, final = false): void {
    const now = this.clock();
    const done = p.finished + p.failed + p.cancelled;
    this.first ??= { at: now, done };
    const elapsed = (now - this.first.at) / 1000;
    const rate = elapsed > 0 ? (done - this.first.done) / elapsed : 0;
    const total = p.total ?? 0;
    const pending = p.pending ?? Math.max(0, total - done);
    const eta = rate > 0 && pending > 0 ? `${Math.ceil(pending / rate)}s` : pending === 0 ? "0s" : "?";
    const counts = `done ${p.finished}  failed ${p.failed}  cancelled ${p.cancelled}  pending ${pending}`;
    if (this.stderr.isTTY) {
      const width = 24;
      const fill = total > 0 ? Math.round((done / total) * width) : 0;
      const pct = total > 0 ? ((done / total) * 100).toFixed(1).padStart(5) : "  ?  ";
      const bar = `[${"#".repeat(fill)}${"-".repeat(width - fill)}] ${pct}%  ${done}/${total}  ${counts}  ${rate.toFixed(1)}/s  ETA ${eta}`;
      this.stderr.write(`\r\u001b[K${bar}${final ? "\n" : ""}`);
      this.drawn = !final;
    } else if (final || (!(total > 0 && done >= total) && now - this.lastLine >= 10_000)) {
      // A complete session's line is the final one, written once (the last poll's would repeat it).
      this.lastLine = now;
      this.stderr.write(
        `htc: session ${p.sessionId}: ${done}/${total} tasks done (${counts.replace(/ {2}/g, ", ")}), ${rate.toFixed(1)} tasks/s, ETA ${eta}\n`,
      );
    }
  }

  /** Ends a bar that is still being drawn (before an error message). */
  end(): void {
    if (this.drawn) this.stderr.write("\n");
    this.drawn = false;
  }
}

/** How long a transfer runs before its progress shows: HTC_PROGRESS_AFTER_MS, else 2 s. */
function progressAfterMs(env: CliIo["env"]): number {
  const raw = env.HTC_PROGRESS_AFTER_MS;
  if (raw === undefined || raw === "") return 2_000;
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms < 0)
    throw new UsageError(
      `HTC_PROGRESS_AFTER_MS ${JSON.stringify(raw)} must be a whole number of milliseconds`,
    );
  return ms;
}

/**
 * Progress of a transfer (inputs written, results printed) on stderr, once it has run for `quietMs`: a line redrawn in
 * place on a terminal, else a plain line every 10 s. Short transfers print nothing.
 */
export class TransferProgress {
  private readonly started: number;
  private lastLine = -Infinity;
  private drawn = false;

  constructor(
    private readonly stderr: CliIo["stderr"],
    private readonly what: string,
    private readonly now: () => number = Date.now,
    private readonly quietMs = 2_000,
  ) {
    this.started = now();
  }

  update(done: number, total: number): void {
    const at = this.now();
    if (at - this.started < this.quietMs) return;
    const seconds = (at - this.started) / 1000;
    const rate = seconds > 0 ? `, ${(done / seconds).toFixed(0)}/s` : "";
    const text = `htc: ${this.what}: ${done}/${total} (${((done / Math.max(1, total)) * 100).toFixed(0)}%)${rate}`;
    if (this.stderr.isTTY) {
      if (at - this.lastLine < 100 && done < total) return; // at most ten redraws a second
      this.lastLine = at;
      this.stderr.write(`\r\u001b[K${text}`);
      this.drawn = true;
    } else if (at - this.lastLine >= 10_000) {
      this.lastLine = at;
      this.stderr.write(`${text}\n`);
    }
  }

  /** Clears a line still drawn, so the next message starts on a clean line. */
  end(): void {
    if (this.drawn) this.stderr.write("\r\u001b[K");
    this.drawn = false;
  }
}

function outcome(results: SessionResults, outputMissing: number): number {
  if (results.failed > 0) return EXIT.someFailed;
  if (results.cancelled > 0) return EXIT.someCancelled;
  if (!results.complete) return EXIT.incomplete;
  if (outputMissing > 0) return EXIT.outputMissing;
  return EXIT.ok;
}

/** Output written per write() call while printing results: a session's whole document can exceed a string's limit. */
const PRINT_CHUNK_CHARS = 1 << 20;

/** Where results are printed: process.stdout, or a test's stand-in (write returning false means wait for drain). */
export interface ResultsOut {
  write(text: string): unknown;
  once?(event: "drain", listener: () => void): unknown;
}

/**
 * Prints a session's results as one JSON document (pretty, as JSON.stringify(doc, null, 2) would) or one task per
 * line, a task as it comes, and returns how many finished tasks had no output. `tasks` is read as it is printed
 * (GridClient.eachResult), and the output waits for a slow reader (`drain`), so memory holds the reads in flight,
 * not the session: a session's outputs together can be larger than memory, or than the longest string Node can
 * build (about 512 MB), e.g. 50,000 tasks of 10 KB.
 */
export async function printResults(
  out: ResultsOut,
  session: Omit<SessionResults, "results">,
  tasks: Iterable<TaskResult> | AsyncIterable<TaskResult>,
  fmt: "json" | "ndjson",
  signal?: AbortSignal,
  onPrinted?: (printed: number) => void,
): Promise<{ outputMissing: number }> {
  let pending = "";
  const flush = async () => {
    const text = pending;
    pending = "";
    if (out.write(text) === false && out.once)
      await new Promise<void>((resolve) => out.once!("drain", resolve));
  };
  const emit = async (text: string) => {
    pending += text;
    if (pending.length >= PRINT_CHUNK_CHARS) await flush();
  };
  const task = (r: TaskResult) => ({
    task_id: r.taskId,
    status: r.status,
    ...(r.output !== undefined ? { output: r.output } : {}),
    ...(r.error !== undefined ? { error: r.error } : {}),
    ...(r.outputMissing ? { output_missing: true } : {}),
  });
  let outputMissing = 0;
  let count = 0;
  if (fmt === "json") {
    const head = JSON.stringify(
      {
        session_id: session.sessionId,
        total: session.total ?? null,
        finished: session.finished,
        failed: session.failed,
        cancelled: session.cancelled,
        pending: session.pending ?? null,
        complete: session.complete,
      },
      null,
      2,
    );
    await emit(`${head.slice(0, -2)},\n  "tasks": [`);
  }
  try {
    for await (const r of tasks) {
      if (signal?.aborted) {
        throw new Interrupted(
          `printing the results of session ${session.sessionId} was interrupted after ${count} tasks`,
        );
      }
      if (r.outputMissing) outputMissing++;
      if (fmt === "ndjson") await emit(`${JSON.stringify(task(r))}\n`);
      else {
        // Inside the array, two levels deep: four more spaces on every line (strings hold no raw newline).
        const text = JSON.stringify(task(r), null, 2).replace(/\n/g, "\n    ");
        await emit(`${count > 0 ? "," : ""}\n    ${text}`);
      }
      count++;
      onPrinted?.(count);
    }
  } catch (error) {
    // A read that failed: what came before it is printed (the document cut short), then the error.
    if (pending) await flush();
    throw error;
  }
  if (fmt === "json") await emit(count > 0 ? "\n  ]\n}\n" : "]\n}\n");
  if (pending) await flush();
  return { outputMissing };
}

function summary(io: CliIo, results: Omit<SessionResults, "results">, outputMissing: number): void {
  const parts = [
    `${results.finished} finished`,
    `${results.failed} failed`,
    `${results.cancelled} cancelled`,
  ];
  if (results.pending) parts.push(`${results.pending} not done yet`);
  if (outputMissing > 0)
    parts.push(
      `${outputMissing} finished without an output left in the data plane (output_missing: it expired or was deleted)`,
    );
  io.stderr.write(`htc: session ${results.sessionId}: ${parts.join(", ")}\n`);
}

/** Prints the session's results, reading each output as it is printed; then the summary line. The exit code. */
async function report(ctx: Context, client: GridClient, results: SessionResults, fmt: "json" | "ndjson") {
  const progress = new TransferProgress(
    ctx.io.stderr,
    `session ${results.sessionId}: results printed`,
    Date.now,
    progressAfterMs(ctx.io.env),
  );
  let outputMissing: number;
  try {
    ({ outputMissing } = await printResults(
      ctx.io.stdout,
      results,
      client.eachResult(results.results),
      fmt,
      ctx.io.signal,
      // On a terminal the results themselves show the progress (a redrawn line would break into them).
      ctx.io.stdout.isTTY ? undefined : (printed) => progress.update(printed, results.results.length),
    ));
  } finally {
    progress.end();
  }
  summary(ctx.io, results, outputMissing);
  return outcome(results, outputMissing);
}

async function follow(
  ctx: Context,
  client: GridClient,
  session: string | Submission,
  options: { total?: number; timeoutMs?: number; readOutputs: boolean },
): Promise<SessionResults> {
  const reporter = new ProgressReporter(ctx.io.stderr);
  try {
    const results = await client.wait(session, {
      total: options.total,
      timeoutMs: options.timeoutMs,
      readOutputs: options.readOutputs,
      maxPollIntervalMs: ctx.io.stderr.isTTY ? 2_000 : 5_000,
      signal: ctx.io.signal,
      onProgress: (p) => reporter.update(p),
    });
    reporter.update(results, true);
    return results;
  } catch (error) {
    reporter.end();
    if (error instanceof GridTimeoutError && ctx.io.signal?.aborted) throw new Interrupted(error.message);
    throw error;
  }
}

class Interrupted extends Error {}

const COMMANDS: Record<string, (ctx: Context) => Promise<number>> = {
  async submit(ctx) {
    const { values, io } = ctx;
    if (ctx.positionals.length > 0)
      throw new UsageError(`submit takes no arguments, got ${JSON.stringify(ctx.positionals[0])}`);
    if (!values.wait && (values.timeout !== undefined || values.format !== undefined)) {
      throw new UsageError("--timeout and --format go with --wait");
    }
    const priority = integer("priority", values.priority, 0, 1_000) ?? 0;
    const timeoutMs = seconds("timeout", values.timeout);
    const fmt = format(values);
    const tasks = await tasksFrom(values, io);
    const client = clientOf(ctx);
    try {
      const uploads = new TransferProgress(
        io.stderr,
        "inputs written to the data plane",
        Date.now,
        progressAfterMs(io.env),
      );
      let submission: Submission;
      try {
        submission = await client.submit(tasks, {
          priority,
          sessionId: values.session,
          // Small outputs otherwise travel in the task rows, which upstream's client does not read.
          inlineOutputs: values["outputs-in-data-plane"] !== true,
          onUpload: (written, total) => uploads.update(written, total),
        });
      } finally {
        uploads.end();
      }
      io.stderr.write(
        `htc: submitted ${submission.taskIds.length} tasks as session ${submission.sessionId} (priority ${priority}, ${submission.calls} call${submission.calls === 1 ? "" : "s"})\n`,
      );
      if (!values.wait) {
        io.stdout.write(`${submission.sessionId}\n`);
        return EXIT.ok;
      }
      const results = await follow(ctx, client, submission, { timeoutMs, readOutputs: false });
      return await report(ctx, client, results, fmt);
    } finally {
      await client.close();
    }
  },

  async watch(ctx) {
    const { values, io } = ctx;
    if (ctx.positionals.length !== 1) throw new UsageError("watch takes one session id: htc watch SESSION");
    const total = integer("tasks", values.tasks, 1, MAX_TASKS_PER_SESSION);
    const timeoutMs = seconds("timeout", values.timeout);
    const client = clientOf(ctx);
    try {
      const results = await follow(ctx, client, ctx.positionals[0], { total, timeoutMs, readOutputs: false });
      summary(io, results, 0);
      return outcome(results, 0);
    } finally {
      await client.close();
    }
  },

  async results(ctx) {
    const { values } = ctx;
    if (ctx.positionals.length !== 1)
      throw new UsageError("results takes one session id: htc results SESSION");
    const total = integer("tasks", values.tasks, 1, MAX_TASKS_PER_SESSION);
    const fmt = format(values);
    const client = clientOf(ctx);
    try {
      const results = await client.results(ctx.positionals[0], { total, readOutputs: false });
      return await report(ctx, client, results, fmt);
    } finally {
      await client.close();
    }
  },

  async cancel(ctx) {
    const { io } = ctx;
    if (ctx.positionals.length === 0)
      throw new UsageError("cancel takes one or more session ids: htc cancel SESSION...");
    const client = clientOf(ctx);
    try {
      const counts = await client.cancel(ctx.positionals);
      io.stdout.write(`${JSON.stringify(counts, null, 2)}\n`);
      for (const [session, c] of Object.entries(counts)) {
        io.stderr.write(
          `htc: session ${session}: cancelled ${c.total_cancelled_tasks} tasks (${c.cancelled_pending} pending, ${c.cancelled_processing} running)\n`,
        );
      }
      return EXIT.ok;
    } finally {
      await client.close();
    }
  },

  async login(ctx) {
    const { values, io } = ctx;
    if (ctx.positionals.length > 0) throw new UsageError("login takes no arguments");
    const config = configOf(ctx);
    const cognito = cognitoOf(config, io.env);
    const username = values.username ?? io.env.HTC_USERNAME ?? (await readLine(io, "Cognito user name: "));
    if (!username) throw new UsageError("no user name given");
    const password = values["password-stdin"]
      ? (await readStdin(io.stdin)).split(/\r?\n/)[0]
      : io.env.HTC_PASSWORD || (await readPassword(io, `Password for ${username}: `));
    if (!password)
      throw new UsageError("no password given (HTC_PASSWORD, --password-stdin, or type it at the prompt)");
    const tokens = await cognito.signIn(username, password);
    if (!tokens.refreshToken)
      throw new AuthError(
        "Cognito answered no refresh token; check that the app client allows REFRESH_TOKEN_AUTH",
      );
    const store = new TokenStore(tokenStorePath(io.env));
    store.save(config.user_pool_id, config.cognito_userpool_client_id, {
      username,
      refreshToken: tokens.refreshToken,
      savedAt: new Date().toISOString(),
    });
    io.stderr.write(
      `htc: signed in as ${username}; refresh token kept in ${store.path} (mode 0600). \`htc logout\` forgets it\n`,
    );
    return EXIT.ok;
  },

  async logout(ctx) {
    const config = configOf(ctx);
    const store = new TokenStore(tokenStorePath(ctx.io.env));
    const removed = store.remove(config.user_pool_id, config.cognito_userpool_client_id);
    ctx.io.stderr.write(removed ? `htc: signed out (removed from ${store.path})\n` : "htc: not signed in\n");
    return EXIT.ok;
  },
};

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, " ").trim();
}

/** What `npm run local` writes for clients: the agent configuration's path and the local servers' environment. */
export const LOCAL_CLIENT_FILE = "generated/local/client.json";

/** The clone of the repository this htc belongs to (where `npm run local` is defined), if it runs from one. */
function repositoryRoot(): string | undefined {
  for (let dir = resolve(__dirname); ; dir = dirname(dir)) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest) && readFileSync(manifest, "utf8").includes('"local":')) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * The client file of the local grid `--local` means: `generated/local/client.json` under the working directory,
 * else under the repository's root (where `npm run local` runs, from whichever folder it was started).
 */
export function localClientFile(cwd: string, root: string | undefined): string {
  const places = [resolve(cwd, LOCAL_CLIENT_FILE)];
  if (root !== undefined && resolve(root, LOCAL_CLIENT_FILE) !== places[0])
    places.push(resolve(root, LOCAL_CLIENT_FILE));
  const found = places.find((file) => existsSync(file));
  if (found === undefined) {
    throw new ConfigError(
      `no local grid here (no ${places.join(" or ")}): start one with \`npm run local\`, or pass --local-dir DIR for one started with --dir DIR`,
    );
  }
  return found;
}

/**
 * `--local` / `--local-dir DIR`: the configuration of a grid `npm run local` runs, whose endpoints and local
 * credentials go into process.env (where the AWS SDK reads AWS_ENDPOINT_URL_<SERVICE>).
 */
function useLocalGrid(io: CliIo, dir: string | undefined): string {
  const file =
    dir === undefined ? localClientFile(io.cwd, repositoryRoot()) : resolve(io.cwd, dir, "client.json");
  let local: { config?: unknown; env?: unknown };
  try {
    local = JSON.parse(readFileSync(file, "utf8")) as { config?: unknown; env?: unknown };
  } catch {
    const start = dir === undefined ? "npm run local" : `npm run local -- --dir ${dir}`;
    throw new ConfigError(
      `no local grid here (${file} is missing or unreadable): start one with \`${start}\``,
    );
  }
  if (typeof local.config !== "string" || typeof local.env !== "object" || local.env === null) {
    throw new ConfigError(`${file} is not a local grid's client file: restart \`npm run local\``);
  }
  // A grid removes its client file when it stops; one killed (SIGKILL, a reboot) leaves it, naming dead ports.
  const grid = gridProcess(dirname(file));
  if (grid !== undefined && !grid.running) {
    const start = dir === undefined ? "npm run local" : `npm run local -- --dir ${dir}`;
    throw new ConfigError(
      `no local grid here (${file} was left by a grid that did not stop cleanly: its process ${grid.pid} no longer runs): start one with \`${start}\``,
    );
  }
  for (const [key, value] of Object.entries(local.env as Record<string, unknown>)) {
    if (typeof value === "string") process.env[key] = value;
  }
  Object.assign(io.env as Record<string, string | undefined>, local.env);
  return local.config;
}

/**
 * `htc local ...`: runs `npm run local -- ...` of the repository this htc belongs to, from the working directory,
 * so that relative paths in its flags (`--worker`, `--dir`) are the caller's (npm passes it on as INIT_CWD).
 */
function runLocalGrid(args: readonly string[], io: CliIo): Promise<number> {
  const root = repositoryRoot();
  if (root === undefined) {
    io.stderr.write(
      "htc: `htc local` runs from a clone of the repository (it starts `npm run local` there)\n",
    );
    return Promise.resolve(EXIT.usage);
  }
  const child = spawn(
    process.platform === "win32" ? "npm.cmd" : "npm",
    ["--prefix", root, "run", "--silent", "local", "--", ...args],
    {
      cwd: io.cwd,
      stdio: "inherit",
    },
  );
  // Ctrl-C reaches the whole foreground process group by itself; SIGTERM is sent to this process only.
  const forward = () => child.kill("SIGTERM");
  process.on("SIGTERM", forward);
  return new Promise((resolveExit) =>
    child.once("exit", (code, signal) => {
      process.off("SIGTERM", forward);
      resolveExit(code ?? (signal ? EXIT.interrupted : EXIT.internal));
    }),
  );
}

/** htc's commands (`local` included), for the README's own test. */
export function commandNames(): string[] {
  return ["local", ...Object.keys(COMMANDS)];
}

/** Runs `htc` with `argv` (without the node and script paths); resolves to the exit code. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  if (argv[0] === "local") return runLocalGrid(argv.slice(1), io);
  try {
    let parsed;
    try {
      parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
    } catch (error) {
      throw new UsageError(`${(error as Error).message.split("\n")[0]} (see htc --help)`);
    }
    const [command, ...positionals] = parsed.positionals;
    let values = parsed.values as Values;
    if (values.help || command === "help") {
      io.stdout.write(USAGE);
      return EXIT.ok;
    }
    if (command === undefined) throw new UsageError("no command given (see htc --help)");
    const localDir = values["local-dir"];
    if (values.local || localDir !== undefined) {
      if (values.config !== undefined)
        throw new UsageError(`give either ${values.local ? "--local" : "--local-dir"} or --config, not both`);
      if (values.local && localDir !== undefined)
        throw new UsageError("give either --local or --local-dir, not both");
      values = { ...values, config: useLocalGrid(io, localDir) };
    }
    const run = COMMANDS[command];
    if (!run)
      throw new UsageError(
        `unknown command ${JSON.stringify(command)}; commands: ${Object.keys(COMMANDS).join(", ")}`,
      );
    // parseArgs reads the environment nowhere; the token store reads XDG_CONFIG_HOME/HOME from process.env.
    return await run({ io, values, positionals });
  } catch (error) {
    if (error instanceof Interrupted) {
      io.stderr.write(`htc: ${oneLine(error.message)}\n`);
      return EXIT.interrupted;
    }
    if (error instanceof GridError) {
      io.stderr.write(`htc: ${oneLine(error.message)}\n`);
      return KIND_EXIT[error.kind];
    }
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    io.stderr.write(`htc: internal error: ${oneLine(message)} (please report it)\n`);
    return EXIT.internal;
  }
}

/** The `htc` process: runs main, then exits with its code once stdout is flushed. */
export function run(): void {
  const abort = new AbortController();
  let interrupts = 0;
  process.on("SIGINT", () => {
    if (++interrupts > 1) process.exit(EXIT.interrupted);
    abort.abort();
  });
  // A reader that goes away (`htc results SESSION | head`) leaves nothing to print for: stop at once and quietly,
  // as a process that SIGPIPE ends (Node ignores SIGPIPE, so the write fails with EPIPE instead).
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(EXIT.stdoutClosed);
    process.stderr.write(
      `htc: cannot write to stdout: ${oneLine(`${error.code ?? error.name}: ${error.message}`)}\n`,
    );
    process.exit(EXIT.internal);
  });
  void main(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
    signal: abort.signal,
  }).then((code) => {
    process.stdout.write("", () => process.exit(code));
  });
}
