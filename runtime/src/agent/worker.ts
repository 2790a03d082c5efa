// The agent's side of the worker: invokes it through the Lambda invoke API that AWS's Runtime Interface Emulator
// serves (POST /2015-03-31/functions/<name>/invocations, the same API our worker host serves), one invocation at
// a time, and tells a result from a worker error. The emulator sends no error header: a function error is a 200
// whose body is the runtime's error object, a timeout is a 200 "Task timed out after N.00 seconds", an init
// failure or a crashed runtime is a 502. A concurrent second invocation crashes current emulators, so the agent
// never sends one: after abandoning an invocation it restarts the worker or waits for the call to end.

import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { Agent as HttpAgent, request } from "node:http";
import { connect } from "node:net";
import { join } from "node:path";

export type InvokeResult =
  /** The worker's response body. */
  | { readonly kind: "ok"; readonly body: Buffer }
  /** A function error, timeout, failed init or crashed runtime; `body` is what the worker said. */
  | { readonly kind: "error"; readonly body: Buffer; readonly reason: string }
  /** The agent stopped waiting (cancelled task, lost lease, shutdown). */
  | { readonly kind: "abandoned" }
  /**
   * Nothing listened at the endpoint (connection refused): the worker is not there (its container restarting), so
   * the task never reached it and is not to blame.
   */
  | { readonly kind: "unavailable"; readonly reason: string };

/** Keys of the error objects Lambda runtimes return for an unhandled exception (Node: trace, Python: stackTrace). */
const ERROR_OBJECT_KEYS = new Set(["errorType", "errorMessage", "trace", "stackTrace", "requestId", "cause"]);

/** Classifies an invoke response as the emulator sends it. */
export function classifyResponse(
  status: number,
  body: Buffer,
  headers: Record<string, unknown> = {},
): InvokeResult {
  if (status !== 200) return { kind: "error", body, reason: `worker answered HTTP ${status}` };
  if (headers["x-amz-function-error"]) return { kind: "error", body, reason: "function error" };
  const text = body.toString("utf8");
  if (/^Task timed out after [\d.]+ seconds/.test(text)) return { kind: "error", body, reason: "timed out" };
  // Upstream's C++ (provided) runtime reports its own failures in the response.
  if (text.includes("BOOTSTRAP ERROR")) return { kind: "error", body, reason: "bootstrap error" };
  if (text.startsWith("{") && text.includes('"errorMessage"')) {
    try {
      const parsed = JSON.parse(text) as Record<string, unknown>;
      const keys = Object.keys(parsed);
      if (
        typeof parsed.errorMessage === "string" &&
        keys.includes("errorType") &&
        keys.every((key) => ERROR_OBJECT_KEYS.has(key))
      ) {
        return { kind: "error", body, reason: `function error: ${String(parsed.errorType)}` };
      }
    } catch {
      // not JSON: an ordinary response
    }
  }
  return { kind: "ok", body };
}

/** How the agent gets a worker back after abandoning an invocation. */
export interface WorkerControl {
  /** Ends the running invocation by restarting the worker; resolves once it accepts connections again. */
  restart(): Promise<void>;
  /** Starts the worker again if it is gone and the agent owns it (in a pod the kubelet does). */
  revive?(): Promise<void>;
  /** Stops the worker at shutdown (a no-op where the agent does not own it). */
  stop(): Promise<void>;
}

export class WorkerClient {
  private readonly agent = new HttpAgent({ keepAlive: true, maxSockets: 1 });
  private inFlight?: Promise<unknown>;

  constructor(
    /** `http://host:port` of the invoke API. */
    readonly endpoint: string,
    /** Function name in the invoke path (upstream: LAMBDA_FONCTION_NAME, default "function"). */
    readonly functionName: string,
    private readonly control?: WorkerControl,
  ) {}

  /** Invokes the worker with `payload`; resolves "abandoned" when `signal` aborts first. */
  async invoke(payload: Buffer, signal: AbortSignal): Promise<InvokeResult> {
    if (this.inFlight) await this.inFlight.catch(() => undefined);
    const url = new URL(
      `/2015-03-31/functions/${encodeURIComponent(this.functionName)}/invocations`,
      this.endpoint,
    );
    const call = new Promise<InvokeResult>((resolve) => {
      const req = request(
        url,
        {
          method: "POST",
          agent: this.agent,
          headers: { "content-type": "application/json", "content-length": payload.length },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve(classifyResponse(res.statusCode ?? 0, Buffer.concat(chunks), res.headers)),
          );
          res.on("error", (error) =>
            resolve({ kind: "error", body: Buffer.from(String(error)), reason: "response lost" }),
          );
        },
      );
      req.on("error", (error: NodeJS.ErrnoException) =>
        resolve(
          // Refused: the request never reached a worker. Any other failure (a reset, a hang-up) may have been
          // caused by the task itself (a worker that dies on it), so it counts as the worker's error.
          error.code === "ECONNREFUSED"
            ? { kind: "unavailable", reason: error.message }
            : { kind: "error", body: Buffer.from(String(error.message)), reason: "worker unreachable" },
        ),
      );
      req.end(payload);
    });
    this.inFlight = call;
    const abandoned = new Promise<InvokeResult>((resolve) => {
      if (signal.aborted) resolve({ kind: "abandoned" });
      signal.addEventListener("abort", () => resolve({ kind: "abandoned" }), { once: true });
    });
    const result = await Promise.race([call, abandoned]);
    if (result.kind === "abandoned") {
      // The worker is still busy with the abandoned task: restart it, or wait for the call to end, before the
      // next invocation (a second concurrent invocation would crash the emulator).
      if (this.control) await this.control.restart().catch(() => undefined);
      await call;
    }
    this.inFlight = undefined;
    return result;
  }

  /** Resolves once the invoke API accepts TCP connections (the worker container or process is up). */
  async ready(timeoutMs: number): Promise<void> {
    await waitForPort(this.endpoint, timeoutMs);
  }

  /**
   * After an "unavailable" invocation: starts the worker again where the agent owns it, then waits until it
   * accepts connections (up to `timeoutMs`).
   */
  async recover(timeoutMs: number): Promise<void> {
    await this.control?.revive?.();
    await waitForPort(this.endpoint, timeoutMs);
  }

  async stop(): Promise<void> {
    this.agent.destroy();
    await this.control?.stop();
  }
}

/** Polls a TCP port until it accepts a connection. */
export async function waitForPort(endpoint: string, timeoutMs: number): Promise<void> {
  const { hostname, port } = new URL(endpoint);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: hostname, port: Number(port) }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on("error", () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline)
      throw new Error(`worker at ${endpoint} did not accept connections within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * In a pod the worker runs in its own container sharing the pod's process namespace: the agent ends an abandoned
 * invocation by killing the runtime process (as upstream's agent does with aws-lambda-rie); the kubelet restarts the
 * container. Needs both containers to run as the same user.
 */
export class PodWorkerControl implements WorkerControl {
  constructor(
    private readonly endpoint: string,
    /** Process names (`/proc/<pid>/comm`) of the worker runtime. */
    private readonly processNames: readonly string[],
    private readonly readyTimeoutMs = 120_000,
  ) {}

  async restart(): Promise<void> {
    const killed = killByName(this.processNames);
    if (killed === 0) throw new Error(`no worker process named ${this.processNames.join(" or ")} to restart`);
    // The old process must be gone before the port is probed, or the probe would hit the dying one.
    await new Promise((resolve) => setTimeout(resolve, 500));
    await waitForPort(this.endpoint, this.readyTimeoutMs);
  }

  async stop(): Promise<void> {
    killByName(this.processNames);
  }

  /**
   * At the agent's start: restarts the worker if its runtime was already started, i.e. a worker process has a child
   * (the emulator starts the function's runtime at the first invocation). Only an earlier agent in this pod invoked
   * it, and that agent ended without a shutdown (a crash, an OOM kill: the kubelet restarted the agent's container
   * alone), so an invocation of its may still be running, and a second one would crash the emulator and spend the
   * next task's retry. Resolves true when it restarted the worker.
   */
  async restartIfUsed(): Promise<boolean> {
    const workers = processesNamed(this.processNames);
    if (workers.length === 0 || !processes().some((p) => workers.includes(p.ppid))) return false;
    await this.restart();
    return true;
  }
}

/** Every visible process but this one: pid, parent pid and name (`/proc/<pid>/stat`). */
export function processes(): { pid: number; ppid: number; comm: string }[] {
  const found: { pid: number; ppid: number; comm: string }[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const stat = readFileSync(join("/proc", entry, "stat"), "utf8");
      // pid (comm) state ppid ...: the name may hold spaces and parentheses, so split at its last ")".
      const close = stat.lastIndexOf(")");
      const ppid = Number(stat.slice(close + 2).split(" ")[1]);
      found.push({ pid: Number(entry), ppid, comm: stat.slice(stat.indexOf("(") + 1, close) });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

function processesNamed(names: readonly string[]): number[] {
  return processes()
    .filter((p) => names.includes(p.comm))
    .map((p) => p.pid);
}

/** SIGKILLs every visible process whose name is one of `names`; returns how many were signalled. */
export function killByName(names: readonly string[]): number {
  let killed = 0;
  for (const pid of processesNamed(names)) {
    try {
      process.kill(pid, "SIGKILL");
      killed++;
    } catch {
      // gone meanwhile, or not ours to signal
    }
  }
  return killed;
}

/**
 * Outside Kubernetes (the local grid, tests) the agent runs its own worker host as a child process on a port of
 * its own, restarts it after an abandoned invocation and stops it on exit. The child exits by itself when the
 * agent dies (it watches its IPC channel), so a killed agent leaves no worker behind.
 */
export class ChildWorkerControl implements WorkerControl {
  private child?: ChildProcess;

  constructor(
    private readonly script: string,
    private readonly args: readonly string[],
    private readonly port: number,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.child = spawn(process.execPath, [this.script, ...this.args, "--port", String(this.port)], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      env: this.env,
    });
    const exited = new Promise<never>((_, reject) =>
      this.child?.once("exit", (code, signal) =>
        reject(new Error(`worker host exited while starting (${signal ?? `exit code ${code}`})`)),
      ),
    );
    await Promise.race([waitForPort(this.endpoint, 30_000), exited]);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async revive(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) return;
    await this.start();
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }
}
