// The runtime process of the worker host: loads a Node.js Lambda handler from the task root and runs one
// invocation at a time for the host, which talks to it over the IPC channel. Handler semantics follow the Node.js
// Lambda runtime: the handler is found and loaded as it does (handler.ts), answers come as it takes them (see
// invoke), errors as {errorType, errorMessage, trace}.

import { register } from "node:module";
import { basename, delimiter, dirname, isAbsolute, join } from "node:path";
import { pathToFileURL } from "node:url";
import { types } from "node:util";
import { MAX_WORKER_PAYLOAD_BYTES } from "../contract/api";
import { loadHandler, locateHandler, type Handler } from "./handler";

export type HostToRunner = { type: "invoke"; id: string; payload: string; deadlineMs: number };
export type RunnerToHost =
  | { type: "ready" }
  | { type: "init-error"; error: LambdaError }
  | { type: "result"; id: string; body: string }
  | { type: "error"; id: string; error: LambdaError; fatal?: true };

export interface LambdaError {
  errorType: string;
  errorMessage: string;
  trace: string[];
}

/**
 * An error as the Node.js runtime reports it: an Error's name, message and stack; any other value thrown or rejected
 * with as its type and its string form (a thrown string is `{"errorType": "string", ...}`).
 */
export function toLambdaError(error: unknown): LambdaError {
  const like = error as { name?: unknown; message?: unknown; stack?: unknown } | null;
  if (
    types.isNativeError(error) ||
    (typeof like?.name === "string" && typeof like.message === "string" && typeof like.stack === "string")
  ) {
    const { name, message, stack } = error as Error;
    return { errorType: name, errorMessage: message, trace: (stack ?? "").split("\n") };
  }
  let message: string;
  try {
    message = String(error);
  } catch {
    message = "the thrown value cannot be converted to a string";
  }
  return { errorType: typeof error, errorMessage: message, trace: [] };
}

/** What the invocation in flight does once the runner has nothing left to run (the runtime's `beforeExit` hook). */
let onEmptyEventLoop: (() => void) | undefined;

/** An async handler whose promise never settled, with nothing left to run: the runtime ends the invocation. */
const NEVER_SETTLED: LambdaError = {
  errorType: "Runtime.NodeJsExit",
  errorMessage:
    "the handler's promise never settled and nothing was left to run (the Node.js runtime ends the invocation here)",
  trace: [],
};

/**
 * Runs one invocation as the Node.js Lambda runtime does. A promise's value (or rejection) answers at once. A callback
 * answers once the event loop is empty (`context.callbackWaitsForEmptyEventLoop`, true by default; false: at once),
 * `context.succeed`, `fail` and `done` at once; the first of them counts. A handler that returns anything else answers
 * nothing by returning: when the event loop empties without an answer, a plain function's invocation answers null and
 * an async one's fails with Runtime.NodeJsExit. So a handler that works here works in a pod, and the other way round.
 */
function invoke(handler: Handler, event: unknown, id: string, deadlineMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const answer = (error: unknown, result: unknown) => {
      if (answered) return;
      answered = true;
      onEmptyEventLoop = undefined;
      if (error !== undefined && error !== null) reject(error);
      else resolve(result);
    };
    let waitForEmptyEventLoop = true;
    let called = false;
    const once =
      <A extends unknown[]>(fn: (...args: A) => void) =>
      (...args: A) => {
        if (called) return;
        called = true;
        fn(...args);
      };
    const done = once((error?: unknown, result?: unknown) => answer(error, result));
    const callback = once((error?: unknown, result?: unknown) => {
      if (error !== undefined && error !== null) answer(error, undefined);
      else if (!waitForEmptyEventLoop) answer(null, result);
      else onEmptyEventLoop = () => setImmediate(() => answer(null, result));
    });
    const name = process.env.AWS_LAMBDA_FUNCTION_NAME ?? "function";
    const ctx = {
      awsRequestId: id,
      functionName: name,
      functionVersion: "$LATEST",
      invokedFunctionArn: `arn:aws:lambda:${process.env.AWS_REGION ?? "us-east-1"}:000000000000:function:${name}`,
      memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? "3008",
      logGroupName: `/aws/lambda/${name}`,
      logStreamName: "$LATEST",
      get callbackWaitsForEmptyEventLoop() {
        return waitForEmptyEventLoop;
      },
      set callbackWaitsForEmptyEventLoop(value: boolean) {
        waitForEmptyEventLoop = value;
      },
      getRemainingTimeInMillis: () => Math.max(0, deadlineMs - Date.now()),
      succeed: (result?: unknown) => done(null, result),
      // As the runtime: fail() without an error fails with the string "handled".
      fail: (error?: unknown) => done(error === undefined || error === null ? "handled" : error),
      done,
    };
    const isAsync = handler.constructor?.name === "AsyncFunction";
    onEmptyEventLoop = () => answer(isAsync ? NEVER_SETTLED : null, null);
    try {
      const returned = handler(event, ctx, callback);
      if (returned && typeof (returned as Promise<unknown>).then === "function") {
        (returned as Promise<unknown>).then(ctx.succeed, ctx.fail);
      }
    } catch (error) {
      callback(error);
    }
  });
}

/**
 * The response body of a handler's result as the Node.js runtime sends it (JSON; undefined is null), or the error
 * the runtime and the emulator answer instead: a result JSON cannot represent (a cycle, a BigInt) and a response
 * over MAX_WORKER_PAYLOAD_BYTES (refused with Function.ResponseSizeTooLarge).
 */
export function responseOf(result: unknown): string | LambdaError {
  let body: string;
  try {
    body = JSON.stringify(result === undefined ? null : result) ?? "null";
  } catch {
    return {
      errorType: "Runtime.JSONStringifyError",
      errorMessage: "Unable to stringify response body",
      trace: [],
    };
  }
  const size = Buffer.byteLength(body, "utf8");
  if (size > MAX_WORKER_PAYLOAD_BYTES) {
    return {
      errorType: "Function.ResponseSizeTooLarge",
      errorMessage: `Response payload size (${size} bytes) exceeded maximum allowed payload size (${MAX_WORKER_PAYLOAD_BYTES} bytes).`,
      trace: [],
    };
  }
  return body;
}

// Node searches NODE_PATH for require() only; Lambda's Node.js runtime (18 and later) searches it for import too, so
// an ES-module worker there imports the SDK the runtime ships. This resolve hook does the same: a bare specifier
// nothing else resolves is looked up in each NODE_PATH folder that holds a package of that name (checked first, so
// that the folder's ancestors are never searched). Resolving from a file beside the folder makes Node's own resolver
// look in it, with the importer's conditions, so the folder must be named node_modules (the local grid's is).
const NODE_PATH_HOOK = `
import { existsSync } from "node:fs";
let folders = [];
export function initialize(data) { folders = data.folders; }
export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    if (error?.code !== "ERR_MODULE_NOT_FOUND" || /^[./#]|^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(specifier)) throw error;
    const parts = specifier.split("/");
    const name = specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
    for (const { path, beside } of folders) {
      if (existsSync(path + "/" + name)) return nextResolve(specifier, { ...context, parentURL: beside });
    }
    throw error;
  }
}`;

/**
 * Registers NODE_PATH_HOOK for a handler the runtime imports, when NODE_PATH names a node_modules folder. Hooks run on
 * a thread of their own (about 11 MB), so a CommonJS handler, which finds NODE_PATH through require(), goes without:
 * its dynamic import() of a package there fails here. module.register needs Node 20.6 or later.
 */
function importFromNodePath(taskRoot: string, handlerName: string): void {
  try {
    if (locateHandler(taskRoot, handlerName).load !== "import") return;
  } catch {
    return; // loadHandler reports it
  }
  const folders = (process.env.NODE_PATH ?? "")
    .split(delimiter)
    .filter((path) => isAbsolute(path) && basename(path) === "node_modules")
    .map((path) => ({ path, beside: pathToFileURL(join(dirname(path), "importer.mjs")).href }));
  if (folders.length === 0 || typeof register !== "function") return;
  register(`data:text/javascript,${encodeURIComponent(NODE_PATH_HOOK)}`, { data: { folders } });
}

/** The runner's main loop (the worker host forks this file with --runner). */
export async function runRunner(taskRoot: string, handlerName: string): Promise<void> {
  const send = (message: RunnerToHost) => process.send?.(message);
  // The host is gone: nothing will ever read our answers.
  process.on("disconnect", () => process.exit(0));
  let handler: Handler;
  try {
    importFromNodePath(taskRoot, handlerName);
    handler = await loadHandler(taskRoot, handlerName);
  } catch (error) {
    send({ type: "init-error", error: toLambdaError(error) });
    return;
  }
  // An exception nothing caught, or a promise rejected with no handler, while an invocation runs: as the Node.js
  // runtime does, the invocation fails with it and the runtime is not used again (`fatal`: the host starts a fresh
  // one). Outside an invocation the runner exits, and the next invocation starts a fresh one too.
  let inFlight: string | undefined;
  const fatal = (error: LambdaError) => {
    if (inFlight === undefined) {
      console.error(`${error.errorType}: ${error.errorMessage}`);
      process.exit(129);
    }
    send({ type: "error", id: inFlight, error, fatal: true });
    inFlight = undefined;
  };
  process.on("uncaughtException", (error) => fatal(toLambdaError(error)));
  process.on("unhandledRejection", (reason) =>
    fatal({
      errorType: "Runtime.UnhandledPromiseRejection",
      errorMessage: String(reason),
      trace: reason instanceof Error ? (reason.stack ?? "").split("\n") : [],
    }),
  );
  process.on("message", (message: HostToRunner) => {
    if (message.type !== "invoke") return;
    let event: unknown;
    try {
      event = message.payload === "" ? {} : JSON.parse(message.payload);
    } catch {
      send({
        type: "error",
        id: message.id,
        error: { errorType: "Runtime.UnmarshalError", errorMessage: "the event is not JSON", trace: [] },
      });
      return;
    }
    // While the handler runs, the IPC channel does not keep the runner alive, so that the event loop empties when
    // the handler's own work is done (see invoke); between invocations it does, to wait for the next one.
    process.channel?.unref();
    inFlight = message.id;
    invoke(handler, event, message.id, message.deadlineMs)
      .then(
        (result) => {
          const answer = responseOf(result);
          return typeof answer === "string"
            ? ({ type: "result", id: message.id, body: answer } as const)
            : ({ type: "error", id: message.id, error: answer } as const);
        },
        (error: unknown) =>
          ({
            type: "error",
            id: message.id,
            error: error === NEVER_SETTLED ? NEVER_SETTLED : toLambdaError(error),
          }) as const,
      )
      .then((answer) => {
        // Already failed by an uncaught exception: the host has its answer and replaces this runtime.
        if (inFlight !== message.id) return;
        inFlight = undefined;
        send(answer);
      })
      .finally(() => process.channel?.ref());
  });
  process.on("beforeExit", () => onEmptyEventLoop?.());
  send({ type: "ready" });
}
