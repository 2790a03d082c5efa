// How the Node.js Lambda runtime finds and loads a handler named `[dir/]module.path.to.function`, followed here so
// that code which loads in a pod (AWS's Lambda base image) loads locally, and code which fails there fails here the
// same way: the module is the part before the first dot; `.js` is imported as an ES module when the nearest
// package.json says `"type": "module"` (so top-level await works), `.mjs` is imported, `.cjs` and extensionless files
// are required; the rest of the name is a property path into the module.

import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

export type Handler = (
  event: unknown,
  context: Record<string, unknown>,
  callback?: (e?: unknown, r?: unknown) => void,
) => unknown;

/** Where a handler's module is and how the runtime loads it. */
export interface HandlerLocation {
  /** The module's file. */
  readonly file: string;
  /** `import` for ES modules, `require` for CommonJS. */
  readonly load: "import" | "require";
  /** The property path to the function inside the module (`handlers.compute` for `app.handlers.compute`). */
  readonly functionPath: string;
}

/** An error named as the Node.js runtime names its own (`Runtime.ImportModuleError`, ...). */
function runtimeError(name: string, message: string, cause?: unknown): Error {
  const error = new Error(message);
  error.name = `Runtime.${name}`;
  if (cause instanceof Error && cause.stack) error.stack = `${error.name}: ${message}\n${cause.stack}`;
  return error;
}

/** Whether the package.json nearest to `folder` says `"type": "module"` (a node_modules folder ends the search). */
function inModulePackage(folder: string): boolean {
  for (let current = folder; ; current = dirname(current)) {
    if (basename(current) === "node_modules") return false;
    const manifest = join(current, "package.json");
    if (existsSync(manifest)) {
      try {
        return (JSON.parse(readFileSync(manifest, "utf8")) as { type?: unknown })?.type === "module";
      } catch {
        return false; // the runtime ignores a package.json it cannot read
      }
    }
    if (dirname(current) === current) return false;
  }
}

/**
 * Finds the module of `handler` under `taskRoot` without loading it. Throws Runtime.MalformedHandlerName for a name
 * without a dot or with `..`, Runtime.ImportModuleError when no file matches.
 */
export function locateHandler(taskRoot: string, handler: string): HandlerLocation {
  if (handler.includes("..")) {
    throw runtimeError(
      "MalformedHandlerName",
      `'${handler}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const name = basename(handler);
  const moduleRoot = resolve(taskRoot, handler.slice(0, handler.length - name.length));
  const match = /^([^.]*)\.(.*)$/.exec(name);
  if (!match) throw runtimeError("MalformedHandlerName", "Bad handler");
  const [, module, functionPath] = match;
  const base = join(moduleRoot, module);
  const esm = inModulePackage(dirname(base));
  const candidates: [string, HandlerLocation["load"]][] = [
    [base, "require"],
    [`${base}.js`, esm ? "import" : "require"],
    [`${base}.mjs`, "import"],
    [`${base}.cjs`, "require"],
  ];
  // As the runtime does, any path that exists counts (a folder is required, i.e. its index or package main).
  for (const [file, load] of candidates) if (existsSync(file)) return { file, load, functionPath };
  // Last, as the runtime does: a package of that name under node_modules.
  try {
    const file = createRequire(join(taskRoot, "index.js")).resolve(module, { paths: [taskRoot, moduleRoot] });
    return { file, load: "require", functionPath };
  } catch (error) {
    // The first line of the runtime's message (its require stack names the runtime's own files).
    throw runtimeError("ImportModuleError", `Error: Cannot find module '${module}'`, error);
  }
}

/**
 * Loads the handler as the Node.js runtime does. A syntax error becomes Runtime.UserCodeSyntaxError, a missing module
 * Runtime.ImportModuleError, a missing or non-function export Runtime.HandlerNotFound; anything the module throws
 * while it loads is passed on as it is (the runtime reports it under its own name).
 */
export async function loadHandler(taskRoot: string, handler: string): Promise<Handler> {
  const { file, load, functionPath } = locateHandler(taskRoot, handler);
  let loaded: unknown;
  try {
    loaded =
      load === "import"
        ? // new Function keeps the bundler from turning import() into require(), which cannot wait for top-level await.
          await (new Function("url", "return import(url)") as (url: string) => Promise<unknown>)(
            pathToFileURL(file).href,
          )
        : createRequire(file)(file);
  } catch (error) {
    if (error instanceof SyntaxError) throw runtimeError("UserCodeSyntaxError", String(error), error);
    if ((error as { code?: unknown })?.code === "MODULE_NOT_FOUND") {
      throw runtimeError("ImportModuleError", String(error), error);
    }
    throw error;
  }
  const fn = functionPath
    .split(".")
    .reduce<unknown>((object, key) => (object as Record<string, unknown> | undefined)?.[key], loaded);
  if (fn === undefined || fn === null) {
    throw runtimeError("HandlerNotFound", `${handler} is undefined or not exported`);
  }
  if (typeof fn !== "function") throw runtimeError("HandlerNotFound", `${handler} is not a function`);
  return fn as Handler;
}
