// The runtime process of the worker host: loads a Node.js Lambda handler from the task root and runs one
// invocation at a time for the host, which talks to it over the IPC channel. Handler semantics follow the Node.js
// Lambda runtime: `file.export` (or `dir/file.export`), async handlers or (event, context, callback), errors as
// {errorType, errorMessage, trace}.

import { existsSync } from "node:fs";
import { join } from "node:path";
import { MAX_WORKER_PAYLOAD_BYTES } from "../contract/api";

export type HostToRunner = { type: "invoke"; id: string; payload: string; deadlineMs: number };
export type RunnerToHost =
  | { type: "ready" }
  | { type: "init-error"; error: LambdaError }
  | { type: "result"; id: string; body: string }
  | { type: "error"; id: string; error: LambdaError };

export interface LambdaError {
  errorType: string;
  errorMessage: string;
  trace: string[];
}

type Handler = (
  event: unknown,
  context: Record<string, unknown>,
  callback?: (e?: unknown, r?: unknown) => void,
) => unknown;

export function toLambdaError(error: unknown, fallbackType = "Error"): LambdaError {
  if (error instanceof Error) {
    return {
      errorType: error.name || fallbackType,
      errorMessage: error.message,
      trace: (error.stack ?? "").split("\n"),
    };
  }
  return {
    errorType: fallbackType,
    errorMessage: typeof error === "string" ? error : (JSON.stringify(error) ?? String(error)),
    trace: [],
  };
}

/**
 * The file of handler `<module>.<export>` in the task root, as the Node.js runtime looks for it (.js, .cjs, .mjs),
 * and the export's name; throws Runtime.MalformedHandlerName or Runtime.ImportModuleError as the runtime does.
 */
export function handlerModule(taskRoot: string, handler: string): { file: string; exportName: string } {
  const dot = handler.lastIndexOf(".");
  if (dot <= 0 || dot === handler.length - 1) {
    throw Object.assign(new Error(`Bad handler ${handler}: expected <module>.<function>`), {
      name: "Runtime.MalformedHandlerName",
    });
  }
  const modulePath = handler.slice(0, dot);
  const candidates = [".js", ".cjs", ".mjs"].map((ext) => join(taskRoot, modulePath + ext));
  const file = candidates.find((candidate) => existsSync(candidate));
  if (!file) {
    throw Object.assign(new Error(`Cannot find module '${modulePath}' in ${taskRoot}`), {
      name: "Runtime.ImportModuleError",
    });
  }
  return { file, exportName: handler.slice(dot + 1) };
}

/** Loads `<module>.<export>` from the task root, as the Node.js runtime does. */
async function loadHandler(taskRoot: string, handler: string): Promise<Handler> {
  const { file, exportName } = handlerModule(taskRoot, handler);
  const modulePath = handler.slice(0, handler.lastIndexOf("."));
  let loaded: Record<string, unknown>;
  try {
    // An ES module needs import(); the Function keeps the bundler from turning it into require().
    loaded = file.endsWith(".mjs")
      ? ((await (new Function("p", "return import(p)") as (p: string) => Promise<unknown>)(file)) as Record<
          string,
          unknown
        >)
      : // eslint-disable-next-line @typescript-eslint/no-require-imports
        (require(file) as Record<string, unknown>);
  } catch (error) {
    throw Object.assign(new Error((error as Error).message), {
      name: "Runtime.ImportModuleError",
      stack: (error as Error).stack,
    });
  }
  const fn = loaded[exportName] ?? (loaded.default as Record<string, unknown> | undefined)?.[exportName];
  if (typeof fn !== "function") {
    throw Object.assign(new Error(`${modulePath}.${exportName} is undefined or not exported`), {
      name: "Runtime.HandlerNotFound",
    });
  }
  return fn as Handler;
}

function context(id: string, deadlineMs: number): Record<string, unknown> {
  const name = process.env.AWS_LAMBDA_FUNCTION_NAME ?? "function";
  return {
    awsRequestId: id,
    functionName: name,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:${process.env.AWS_REGION ?? "us-east-1"}:000000000000:function:${name}`,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? "3008",
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: "$LATEST",
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadlineMs - Date.now()),
  };
}

/** Runs one invocation: a promise-returning handler, or one that answers through its callback. */
function invoke(handler: Handler, event: unknown, ctx: Record<string, unknown>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const callback = (error?: unknown, result?: unknown) => {
      if (settled) return;
      settled = true;
      if (error !== undefined && error !== null) reject(error);
      else resolve(result);
    };
    try {
      const returned = handler(event, ctx, callback);
      if (returned && typeof (returned as Promise<unknown>).then === "function") {
        (returned as Promise<unknown>).then(
          (r) => callback(null, r),
          (e: unknown) => callback(e ?? new Error("handler rejected")),
        );
      } else if (handler.length < 3) {
        callback(null, returned);
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

/** The runner's main loop (the worker host forks this file with --runner). */
export async function runRunner(taskRoot: string, handlerName: string): Promise<void> {
  const send = (message: RunnerToHost) => process.send?.(message);
  // The host is gone: nothing will ever read our answers.
  process.on("disconnect", () => process.exit(0));
  let handler: Handler;
  try {
    handler = await loadHandler(taskRoot, handlerName);
  } catch (error) {
    send({ type: "init-error", error: toLambdaError(error, "Runtime.ImportModuleError") });
    return;
  }
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
    invoke(handler, event, context(message.id, message.deadlineMs)).then(
      (result) => {
        const answer = responseOf(result);
        send(
          typeof answer === "string"
            ? { type: "result", id: message.id, body: answer }
            : { type: "error", id: message.id, error: answer },
        );
      },
      (error: unknown) => send({ type: "error", id: message.id, error: toLambdaError(error) }),
    );
  });
  send({ type: "ready" });
}
