// The runtime process of the worker host: loads a Node.js Lambda handler from the task root and runs one
// invocation at a time for the host, which talks to it over the IPC channel. Handler semantics follow the Node.js
// Lambda runtime: the handler is found and loaded as it does (handler.ts), async handlers or (event, context,
// callback), errors as {errorType, errorMessage, trace}.

import { types } from "node:util";
import { MAX_WORKER_PAYLOAD_BYTES } from "../contract/api";
import { loadHandler, type Handler } from "./handler";

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
    send({ type: "init-error", error: toLambdaError(error) });
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
