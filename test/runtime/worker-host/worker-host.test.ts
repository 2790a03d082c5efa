// The worker host, as shipped (the esbuild bundle), on 127.0.0.1: it answers the Lambda invoke API the way AWS's
// Runtime Interface Emulator does, for results, handler errors, timeouts, init failures, crashed runtimes and
// concurrent calls, from a folder or a zip.

import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { classifyResponse, waitForPort } from "../../../runtime/src/agent/worker";
import { MAX_WORKER_PAYLOAD_BYTES } from "../../../runtime/src/contract";
import { freePort } from "../../../runtime/src/local/ports";
import { bundleRuntime } from "../../../modules/runtime-bundle/bundle";
import { rawRequest, statusLine } from "../../support/raw-request";
import { zipEntries } from "../../../modules/runtime-bundle/zip";

let dir: string;
let hostScript: string;
const hosts: ChildProcess[] = [];

const HANDLERS: Record<string, string> = {
  "index.js": `
let calls = 0;
exports.handler = async (event, context) => {
  calls++;
  if (event.mode === "throw") throw new RangeError("bad input " + event.value);
  if (event.mode === "throw-string") throw "out of paths";
  if (event.mode === "sleep") await new Promise((r) => setTimeout(r, event.ms));
  if (event.mode === "exit") process.exit(3);
  if (event.mode === "big") return "x".repeat(event.length);
  if (event.mode === "cycle") { const o = { calls }; o.self = o; return o; }
  if (event.mode === "bigint") return { n: 10n };
  return { echo: event, calls, requestId: context.awsRequestId, remaining: context.getRemainingTimeInMillis() > 0 };
};
exports.callback = (event, context, callback) => setTimeout(() => callback(null, { via: "callback", event }), 5);
exports.sync = (event) => ({ returned: event });
exports.succeed = (event, context) => context.succeed({ via: "succeed" });
exports.fail = (event, context) => context.fail();
exports.open = (event, context, callback) => {
  context.callbackWaitsForEmptyEventLoop = event.wait;
  setTimeout(() => {}, 600);
  callback(null, "answered");
};
exports.never = async () => new Promise(() => {});
let served = 0;
exports.detached = async (event) => {
  served++;
  if (event.mode === "reject") Promise.reject(new Error("nobody waits for me"));
  if (event.mode === "throw") setTimeout(() => { throw new TypeError("thrown later"); }, 1);
  await new Promise((r) => setTimeout(r, 100));
  return { served };
};
`,
  "broken.js": "throw new Error('cannot load');\n",
  "syntax.js": "exports.handler = async () => {;\n",
  // ES modules, which the Node.js runtime imports: a package of "type": "module" (here with top-level await, which
  // require() cannot wait for) and an .mjs.
  "esm/package.json": '{ "type": "module" }\n',
  "esm/index.js":
    "const factor = await new Promise((r) => setTimeout(() => r(3), 10));\n" +
    "export const handler = async (event) => ({ scaled: event.x * factor });\n",
  "pricing.mjs": "export const handlers = { price: async (event) => ({ price: event.spot * 2 }) };\n",
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "htc-worker-host-"));
  bundleRuntime("worker-host", join(dir, "host"));
  hostScript = join(dir, "host", "index.js");
  mkdirSync(join(dir, "code"));
  mkdirSync(join(dir, "code", "esm"));
  for (const [name, text] of Object.entries(HANDLERS)) writeFileSync(join(dir, "code", name), text);
}, 60_000);

/** Sends `signal` and resolves once the host has exited. */
async function stopHost(host: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (host.exitCode !== null || host.signalCode !== null) return;
  const exited = new Promise((resolve) => host.once("exit", resolve));
  host.kill(signal);
  await exited;
}

afterAll(async () => {
  // SIGTERM: a host removes its task root as it exits (SIGKILL would leave it for the next host to remove).
  await Promise.all(hosts.map((host) => stopHost(host, "SIGTERM")));
  rmSync(dir, { recursive: true, force: true });
});

async function startHost(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const port = await freePort();
  const child = spawn(process.execPath, [hostScript, ...args, "--port", String(port)], {
    stdio: "ignore",
    env,
  });
  hosts.push(child);
  const endpoint = `http://127.0.0.1:${port}`;
  await waitForPort(endpoint, 10_000);
  return endpoint;
}

async function invoke(endpoint: string, payload: unknown): Promise<{ status: number; body: string }> {
  const response = await fetch(`${endpoint}/2015-03-31/functions/function/invocations`, {
    method: "POST",
    body: JSON.stringify(payload),
  });
  return { status: response.status, body: await response.text() };
}

describe("worker host", () => {
  let endpoint: string;
  beforeAll(async () => {
    endpoint = await startHost(["--code", join(dir, "code"), "--handler", "index.handler", "--timeout", "1"]);
  });

  it("answers 200 with the handler's JSON result and gives it a Lambda context", async () => {
    const { status, body } = await invoke(endpoint, { value: 1 });
    expect(status).toBe(200);
    expect(JSON.parse(body)).toMatchObject({ echo: { value: 1 }, remaining: true });
    expect(JSON.parse(body).requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("answers a thrown error as the Node.js runtime does: 200 with errorType, errorMessage and trace", async () => {
    const { status, body } = await invoke(endpoint, { mode: "throw", value: 7 });
    expect(status).toBe(200);
    const error = JSON.parse(body) as Record<string, unknown>;
    expect(error).toMatchObject({ errorType: "RangeError", errorMessage: "bad input 7" });
    expect(Array.isArray(error.trace)).toBe(true);
  });

  it("answers a thrown value that is not an Error by its type and string form, as the Node.js runtime does", async () => {
    const { status, body } = await invoke(endpoint, { mode: "throw-string" });
    expect(status).toBe(200);
    expect(JSON.parse(body)).toEqual({ errorType: "string", errorMessage: "out of paths", trace: [] });
  });

  it("times out like the emulator (200, 'Task timed out after 1.00 seconds') and starts a fresh runtime", async () => {
    const before = JSON.parse((await invoke(endpoint, {})).body) as { calls: number };
    expect(before.calls).toBeGreaterThan(1);
    expect(await invoke(endpoint, { mode: "sleep", ms: 5_000 })).toEqual({
      status: 200,
      body: "Task timed out after 1.00 seconds",
    });
    // A new runtime process: module state starts over.
    expect(JSON.parse((await invoke(endpoint, {})).body)).toMatchObject({ calls: 1 });
  });

  it("answers 502 with Runtime.ExitError when the runtime dies, then serves the next call", async () => {
    const crashed = await invoke(endpoint, { mode: "exit" });
    expect(crashed.status).toBe(502);
    expect(JSON.parse(crashed.body)).toMatchObject({ errorType: "Runtime.ExitError" });
    expect((await invoke(endpoint, {})).status).toBe(200);
  });

  it("answers a response over 6 MiB + 100 bytes with the emulator's Function.ResponseSizeTooLarge error", async () => {
    // A string result of n characters is a body of n + 2 bytes (its quotes): this one is exactly at the limit.
    const atLimit = await invoke(endpoint, { mode: "big", length: MAX_WORKER_PAYLOAD_BYTES - 2 });
    expect(atLimit.status).toBe(200);
    expect(atLimit.body.length).toBe(MAX_WORKER_PAYLOAD_BYTES);
    const over = await invoke(endpoint, { mode: "big", length: MAX_WORKER_PAYLOAD_BYTES - 1 });
    expect(over.status).toBe(200);
    expect(JSON.parse(over.body)).toMatchObject({
      errorType: "Function.ResponseSizeTooLarge",
      errorMessage: `Response payload size (${MAX_WORKER_PAYLOAD_BYTES + 1} bytes) exceeded maximum allowed payload size (6291556 bytes).`,
    });
    expect(classifyResponse(over.status, Buffer.from(over.body)).kind).toBe("error");
  });

  it("answers a result JSON cannot represent with Runtime.JSONStringifyError, and the runtime lives on", async () => {
    const before = JSON.parse((await invoke(endpoint, {})).body) as { calls: number };
    for (const mode of ["cycle", "bigint"]) {
      const { status, body } = await invoke(endpoint, { mode });
      expect(status).toBe(200);
      expect(JSON.parse(body)).toMatchObject({
        errorType: "Runtime.JSONStringifyError",
        errorMessage: "Unable to stringify response body",
      });
      expect(classifyResponse(status, Buffer.from(body)).kind).toBe("error");
    }
    // The same runtime process (module state carries on): the failed serialisation did not crash it.
    expect(JSON.parse((await invoke(endpoint, {})).body)).toMatchObject({ calls: before.calls + 3 });
  });

  it("refuses a second concurrent call with 400 instead of crashing", async () => {
    const slow = invoke(endpoint, { mode: "sleep", ms: 300 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await invoke(endpoint, {})).status).toBe(400);
    expect((await slow).status).toBe(200);
  });

  it("answers 404 on any other path, and on a target URL() cannot parse, and keeps serving", async () => {
    const response = await fetch(`${endpoint}/2018-06-01/runtime/invocation/next`);
    expect(response.status).toBe(404);
    const answer = await rawRequest(endpoint, "POST //[ HTTP/1.1\r\nHost: x\r\n\r\n");
    expect(statusLine(answer)).toBe("HTTP/1.1 404 Not Found");
    expect((await invoke(endpoint, {})).status).toBe(200);
  });
});

describe("worker host handlers and code", () => {
  it("runs callback-style handlers", async () => {
    const endpoint = await startHost(["--code", join(dir, "code"), "--handler", "index.callback"]);
    expect(JSON.parse((await invoke(endpoint, { n: 2 })).body)).toEqual({ via: "callback", event: { n: 2 } });
  });

  it("answers as the Node.js runtime does for what a handler returns: a plain function's value is not its answer", async () => {
    const code = join(dir, "code");
    // Nothing answered when nothing is left to run: null for a plain function, Runtime.NodeJsExit for an async one.
    const sync = await startHost(["--code", code, "--handler", "index.sync"]);
    expect(await invoke(sync, { n: 1 })).toEqual({ status: 200, body: "null" });
    const never = await startHost(["--code", code, "--handler", "index.never"]);
    expect(JSON.parse((await invoke(never, {})).body)).toMatchObject({ errorType: "Runtime.NodeJsExit" });
    // context.succeed and context.fail answer (fail without an error: the string "handled").
    const succeed = await startHost(["--code", code, "--handler", "index.succeed"]);
    expect(JSON.parse((await invoke(succeed, {})).body)).toEqual({ via: "succeed" });
    const fail = await startHost(["--code", code, "--handler", "index.fail"]);
    expect(JSON.parse((await invoke(fail, {})).body)).toEqual({
      errorType: "string",
      errorMessage: "handled",
      trace: [],
    });
    // Each runtime still serves the next call.
    expect(await invoke(sync, { n: 2 })).toEqual({ status: 200, body: "null" });
  });

  it("answers a callback once the event loop is empty, unless callbackWaitsForEmptyEventLoop is false", async () => {
    const open = await startHost(["--code", join(dir, "code"), "--handler", "index.open"]);
    for (const [wait, atLeast, below] of [
      [true, 550, 5_000],
      [false, 0, 400],
    ] as const) {
      const started = Date.now();
      expect(await invoke(open, { wait })).toEqual({ status: 200, body: '"answered"' });
      const took = Date.now() - started;
      expect(took, `callbackWaitsForEmptyEventLoop ${wait}`).toBeGreaterThanOrEqual(atLeast);
      expect(took, `callbackWaitsForEmptyEventLoop ${wait}`).toBeLessThan(below);
    }
  });

  it("fails the invocation with an uncaught exception or unhandled rejection, then serves from a fresh runtime", async () => {
    const host = await startHost(["--code", join(dir, "code"), "--handler", "index.detached"]);
    expect(JSON.parse((await invoke(host, {})).body)).toEqual({ served: 1 });
    expect(JSON.parse((await invoke(host, {})).body)).toEqual({ served: 2 });
    expect(JSON.parse((await invoke(host, { mode: "reject" })).body)).toMatchObject({
      errorType: "Runtime.UnhandledPromiseRejection",
      errorMessage: "Error: nobody waits for me",
    });
    expect(JSON.parse((await invoke(host, {})).body)).toEqual({ served: 1 });
    const thrown = await invoke(host, { mode: "throw" });
    expect(thrown.status).toBe(200);
    expect(JSON.parse(thrown.body)).toMatchObject({ errorType: "TypeError", errorMessage: "thrown later" });
    expect(JSON.parse((await invoke(host, {})).body)).toEqual({ served: 1 });
  });

  it("answers 502 with the init error when the handler cannot be loaded, on every call", async () => {
    const missing = await startHost(["--code", join(dir, "code"), "--handler", "index.nothing"]);
    for (let i = 0; i < 2; i++) {
      const { status, body } = await invoke(missing, {});
      expect(status).toBe(502);
      expect(JSON.parse(body)).toMatchObject({ errorType: "Runtime.HandlerNotFound" });
    }
    const broken = await startHost(["--code", join(dir, "code"), "--handler", "broken.handler"]);
    const { status, body } = await invoke(broken, {});
    expect(status).toBe(502);
    // What the module throws as it loads comes back under its own name, as from the Node.js runtime.
    expect(JSON.parse(body)).toMatchObject({ errorType: "Error", errorMessage: "cannot load" });
    const syntax = await invoke(
      await startHost(["--code", join(dir, "code"), "--handler", "syntax.handler"]),
      {},
    );
    expect(syntax.status).toBe(502);
    expect(JSON.parse(syntax.body)).toMatchObject({ errorType: "Runtime.UserCodeSyntaxError" });
  });

  it("imports ES modules as the Node.js runtime does: a type-module index.js with top-level await, an .mjs", async () => {
    const esm = await startHost(["--code", join(dir, "code"), "--handler", "esm/index.handler"]);
    expect(await invoke(esm, { x: 7 })).toEqual({ status: 200, body: JSON.stringify({ scaled: 21 }) });
    const mjs = await startHost(["--code", join(dir, "code"), "--handler", "pricing.handlers.price"]);
    expect(await invoke(mjs, { spot: 4 })).toEqual({ status: 200, body: JSON.stringify({ price: 8 }) });
  });

  it("imports packages from NODE_PATH's node_modules folders, as Lambda's Node.js runtime does for ES modules", async () => {
    // A package with CommonJS only, and one that exports different files to import and require.
    const modules = join(dir, "path", "deep", "node_modules");
    const files: Record<string, string> = {
      "shared-lib/package.json": '{ "main": "lib.js" }\n',
      "shared-lib/lib.js": 'exports.greet = (name) => "hello " + name;\n',
      "@team/dual/package.json": '{ "exports": { "import": "./esm.mjs", "require": "./cjs.js" } }\n',
      "@team/dual/esm.mjs": 'export const kind = "import";\n',
      "@team/dual/cjs.js": 'exports.kind = "require";\n',
      // In a node_modules above the folder, not on NODE_PATH: a lookup that climbed from the folder would find it.
      "../../node_modules/leaky/index.js": "exports.found = true;\n",
    };
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(dirname(join(modules, name)), { recursive: true });
      writeFileSync(join(modules, name), text);
    }
    const worker = join(dir, "imports");
    mkdirSync(worker);
    writeFileSync(
      join(worker, "index.mjs"),
      'import { greet } from "shared-lib";\n' +
        'import { kind } from "@team/dual";\n' +
        'import { createRequire } from "node:module";\n' +
        "export const handler = async (event) => ({\n" +
        "  greeting: greet(event.name),\n" +
        "  kind,\n" +
        '  required: createRequire(import.meta.url)("@team/dual").kind,\n' +
        '  leaky: await import("leaky").then(() => "found", (e) => e.code),\n' +
        "});\n",
    );
    const env = { ...process.env, NODE_PATH: modules };
    const host = await startHost(["--code", worker, "--handler", "index.handler"], env);
    expect(await invoke(host, { name: "grid" })).toEqual({
      status: 200,
      body: JSON.stringify({
        greeting: "hello grid",
        kind: "import",
        required: "require",
        leaky: "ERR_MODULE_NOT_FOUND",
      }),
    });
    // Without NODE_PATH the import fails as in Lambda: the module's own error.
    const without = { ...env, NODE_PATH: "" };
    const bare = await invoke(await startHost(["--code", worker, "--handler", "index.handler"], without), {});
    expect(bare.status).toBe(502);
    expect(JSON.parse(bare.body)).toMatchObject({ errorType: "Error" });
    expect(JSON.parse(bare.body).errorMessage).toContain("Cannot find package 'shared-lib'");
  });

  it("runs a handler from a zip", async () => {
    const zip = join(dir, "worker.zip");
    writeFileSync(
      zip,
      zipEntries([
        { name: "lib/main.js", data: Buffer.from("exports.run = async (e) => ({ doubled: e.x * 2 });\n") },
      ]),
    );
    const endpoint = await startHost(["--code", zip, "--handler", "lib/main.run"]);
    expect(JSON.parse((await invoke(endpoint, { x: 21 })).body)).toEqual({ doubled: 42 });
  });

  it("extracts a zip into htc-task-<pid>-*, removed on SIGTERM; a SIGKILLed host's is removed by the next host", async () => {
    const tmp = mkdtempSync(join(dir, "tmp-"));
    const env = { ...process.env, TMPDIR: tmp };
    const zip = join(dir, "worker.zip");
    writeFileSync(
      zip,
      zipEntries([{ name: "index.js", data: Buffer.from("exports.handler = async () => 1;\n") }]),
    );
    const roots = () => readdirSync(tmp).filter((n) => n.startsWith("htc-task-"));
    await startHost(["--code", zip], env);
    const killed = hosts[hosts.length - 1];
    expect(roots()).toEqual([expect.stringMatching(new RegExp(`^htc-task-${killed.pid}-`))]);
    await stopHost(killed, "SIGKILL");
    expect(roots().length).toBe(1); // left behind

    await startHost(["--code", zip], env);
    const next = hosts[hosts.length - 1];
    expect(roots()).toEqual([expect.stringMatching(new RegExp(`^htc-task-${next.pid}-`))]);
    await stopHost(next, "SIGTERM");
    expect(roots()).toEqual([]);
  });

  it("refuses a zip whose entries would land outside the task root, and says so on one line", async () => {
    const zip = join(dir, "evil.zip");
    writeFileSync(zip, zipEntries([{ name: "../escape.js", data: Buffer.from("1") }]));
    const port = await freePort();
    const child = spawn(process.execPath, [hostScript, "--code", zip, "--port", String(port)], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise((resolve) => child.once("exit", resolve));
    expect(code).toBe(1);
    expect(stderr.trim()).toMatch(/^worker-host: .*"\.\.\/escape\.js" would be written outside/);
    expect(stderr.trim().split("\n")).toHaveLength(1);
  });
});
