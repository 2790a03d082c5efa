// The worker host: serves the Lambda invoke API (POST /2015-03-31/functions/<name>/invocations) the way AWS's
// Runtime Interface Emulator does, and runs a Node.js Lambda handler from a zip or a folder in a runtime child
// process. For tests, local grids and machines without the emulator; the agent cannot tell the two apart.
//   node worker-host.js --code <zip|dir> [--handler index.handler] [--port 8080] [--host 127.0.0.1] [--timeout 300]
//                       [--title htc-worker-host]
// Observable behaviour (the emulator's): 200 with the handler's JSON result; 200 with {errorType, errorMessage,
// trace} when the handler throws; 200 "Task timed out after N.00 seconds" after AWS_LAMBDA_FUNCTION_TIMEOUT (the
// runtime is then restarted); 502 with the error when the handler cannot be loaded or the runtime process dies;
// one invocation at a time (a concurrent one gets 400 instead of crashing the emulator as current versions do).

import { fork, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { rmSync, statSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { resolve } from "node:path";
import { processTempDir } from "../util/dead-process-dirs";
import { runRunner, type HostToRunner, type LambdaError, type RunnerToHost } from "./runner";
import { extractZip } from "./unzip";

export interface HostOptions {
  readonly code: string;
  readonly handler: string;
  readonly port: number;
  readonly host: string;
  readonly timeoutSec: number;
  /** Process name (`/proc/<pid>/comm`, 15 characters at most) an agent in the same pod kills it by. */
  readonly title: string;
}

const USAGE =
  "usage: worker-host --code <zip|dir> [--handler index.handler] [--port 8080] [--host 127.0.0.1] [--timeout 300] [--title htc-worker-host]";

export function parseArgs(argv: readonly string[], env: NodeJS.ProcessEnv): HostOptions {
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (
      !["--code", "--handler", "--port", "--host", "--timeout", "--title"].includes(flag) ||
      i + 1 >= argv.length
    ) {
      throw new Error(`unknown or incomplete argument ${JSON.stringify(flag)}; ${USAGE}`);
    }
    values.set(flag, argv[++i]);
  }
  const code = values.get("--code") ?? env.LAMBDA_TASK_ROOT;
  if (!code) throw new Error(`--code is required; ${USAGE}`);
  const number = (flag: string, raw: string | undefined, fallback: number, min: number, max: number) => {
    if (raw === undefined || raw === "") return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new Error(`${flag} ${JSON.stringify(raw)} must be an integer ${min}-${max}`);
    return n;
  };
  return {
    code,
    handler: values.get("--handler") ?? env.AWS_LAMBDA_FUNCTION_HANDLER ?? env._HANDLER ?? "index.handler",
    port: number("--port", values.get("--port"), 8080, 0, 65_535),
    host: values.get("--host") ?? "127.0.0.1",
    timeoutSec: number(
      "--timeout",
      values.get("--timeout") ?? env.AWS_LAMBDA_FUNCTION_TIMEOUT,
      300,
      1,
      86_400,
    ),
    title: (values.get("--title") ?? "htc-worker-host").slice(0, 15),
  };
}

/** The task root: the folder itself, or a fresh directory the zip is extracted into (removed on exit). */
function taskRoot(code: string): { root: string; cleanup: () => void } {
  const path = resolve(code);
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) throw new Error(`--code ${code} does not exist`);
  if (stat.isDirectory()) return { root: path, cleanup: () => undefined };
  // htc-task-<pid>-XXXXXX: a host killed with SIGKILL leaves its folder; the next host removes it.
  const root = processTempDir("htc-task-");
  extractZip(path, root);
  return { root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

interface Pending {
  readonly id: string;
  readonly res: ServerResponse;
  readonly timer: NodeJS.Timeout;
}

class Runtime {
  private child?: ChildProcess;
  private ready?: Promise<LambdaError | undefined>;
  private pending?: Pending;

  constructor(
    private readonly root: string,
    private readonly handler: string,
    private readonly timeoutSec: number,
  ) {}

  get busy(): boolean {
    return this.pending !== undefined;
  }

  /** Starts the runtime process (once); resolves with the init error, if any. */
  private start(): Promise<LambdaError | undefined> {
    if (this.ready) return this.ready;
    const child = fork(__filename, ["--runner", this.root, this.handler], {
      cwd: this.root,
      env: { ...process.env, LAMBDA_TASK_ROOT: this.root, _HANDLER: this.handler },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.child = child;
    this.ready = new Promise((resolveReady) => {
      child.once("message", (message: RunnerToHost) => {
        resolveReady(message.type === "init-error" ? message.error : undefined);
      });
      child.once("exit", (code, signal) =>
        resolveReady({
          errorType: "Runtime.ExitError",
          errorMessage: `Runtime exited during init (${signal ?? `exit status ${code}`})`,
          trace: [],
        }),
      );
    });
    child.on("message", (message: RunnerToHost) => this.onMessage(message));
    child.on("exit", (code, signal) => this.onExit(child, code, signal));
    return this.ready;
  }

  private reset(): void {
    const child = this.child;
    this.child = undefined;
    this.ready = undefined;
    if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }

  private answer(status: number, body: string): void {
    const pending = this.pending;
    if (!pending) return;
    this.pending = undefined;
    clearTimeout(pending.timer);
    pending.res.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
    pending.res.end(body);
  }

  private onMessage(message: RunnerToHost): void {
    if (message.type === "result" && message.id === this.pending?.id) this.answer(200, message.body);
    else if (message.type === "error" && message.id === this.pending?.id) {
      this.answer(200, JSON.stringify(message.error));
      // An uncaught exception: the runtime's state is unknown, so the next invocation gets a fresh one.
      if (message.fatal) this.reset();
    }
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.child) return;
    this.child = undefined;
    this.ready = undefined;
    if (this.pending) {
      this.answer(
        502,
        JSON.stringify({
          errorType: "Runtime.ExitError",
          errorMessage: `RequestId: ${this.pending.id} Error: Runtime exited with error: ${signal ?? `exit status ${code}`}`,
        }),
      );
    }
  }

  async invoke(payload: string, res: ServerResponse): Promise<void> {
    const id = randomUUID();
    const timer = setTimeout(() => {
      this.reset();
      this.answer(200, `Task timed out after ${this.timeoutSec.toFixed(2)} seconds`);
    }, this.timeoutSec * 1000);
    this.pending = { id, res, timer };
    // Init counts against the first invocation's timeout, as with the emulator.
    const initError = await this.start();
    if (this.pending?.id !== id) return;
    if (initError) {
      // The emulator re-runs init on the next invocation after a failed one.
      this.reset();
      this.answer(502, JSON.stringify(initError));
      return;
    }
    const message: HostToRunner = {
      type: "invoke",
      id,
      payload,
      deadlineMs: Date.now() + this.timeoutSec * 1000,
    };
    this.child?.send(message);
  }

  stop(): void {
    this.reset();
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolveBody, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolveBody(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

async function serve(options: HostOptions): Promise<void> {
  const { root, cleanup } = taskRoot(options.code);
  const runtime = new Runtime(root, options.handler, options.timeoutSec);
  const invokePath = /^\/2015-03-31\/functions\/[^/]+\/invocations$/;
  const server = createServer((req, res) => {
    // The path as sent (URL() throws on some targets Node's parser lets through, such as `//[`).
    if (!invokePath.test((req.url ?? "/").split("?")[0])) {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
      res.end("404 page not found\n");
      return;
    }
    if (runtime.busy) {
      res.writeHead(400);
      res.end();
      return;
    }
    readBody(req).then(
      (payload) => runtime.invoke(payload, res),
      () => {
        res.writeHead(500);
        res.end();
      },
    );
  });
  const shutdown = () => {
    runtime.stop();
    server.close();
    cleanup();
    process.exit(0);
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
  // Started by an agent (IPC channel): go when the agent goes, so a killed agent leaves no worker behind.
  process.on("disconnect", shutdown);
  await new Promise<void>((resolveListen, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        error.code === "EADDRINUSE"
          ? new Error(`port ${options.port} on ${options.host} is already in use; choose another with --port`)
          : error,
      ),
    );
    server.listen(options.port, options.host, () => resolveListen());
  });
  process.title = options.title;
}

if (process.argv[2] === "--runner") {
  void runRunner(process.argv[3], process.argv[4]);
} else {
  let options: HostOptions;
  try {
    options = parseArgs(process.argv.slice(2), process.env);
  } catch (error) {
    console.error(`worker-host: ${(error as Error).message}`);
    process.exit(2);
  }
  serve(options).catch((error: unknown) => {
    console.error(`worker-host: ${(error as Error).message}`);
    process.exit(1);
  });
}
