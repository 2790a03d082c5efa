// The worker host finds and loads a handler as the Node.js Lambda runtime does (AWS's base image runs the worker in a
// pod), from real files in a task root: which file and how (CommonJS or ES module), the module being the part of the
// name before its first dot, and the runtime's errors for each way a handler cannot be loaded. Loading ES modules
// needs Node's own import(), which vitest's module runner does not offer: worker-host.test.ts runs those through the
// bundled worker host.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadHandler, locateHandler } from "../../../runtime/src/worker-host/handler";
import { toLambdaError } from "../../../runtime/src/worker-host/runner";

const roots: string[] = [];

/** A fresh task root holding `files` (each test gets its own, as Node caches modules by path). */
function taskRoot(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "htc-handler-"));
  roots.push(root);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, name)), { recursive: true });
    writeFileSync(join(root, name), text);
  }
  return root;
}

afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

/** The error `loadHandler` rejects with, as {name, message}. */
async function loadError(root: string, handler: string): Promise<{ name: string; message: string }> {
  try {
    await loadHandler(root, handler);
  } catch (error) {
    return { name: (error as Error).name, message: (error as Error).message };
  }
  throw new Error(`${handler} loaded`);
}

describe("finding and loading a handler", () => {
  it("requires a CommonJS index.js", async () => {
    const root = taskRoot({ "index.js": "exports.handler = async (e) => ({ cjs: e.x });\n" });
    expect(locateHandler(root, "index.handler")).toEqual({
      file: join(root, "index.js"),
      load: "require",
      functionPath: "handler",
    });
    expect(await (await loadHandler(root, "index.handler"))({ x: 1 }, {})).toEqual({ cjs: 1 });
  });

  it('imports index.js as an ES module under "type": "module"', () => {
    const root = taskRoot({
      "package.json": '{ "name": "w", "type": "module" }\n',
      "index.js": "export const handler = async () => 1;\n",
    });
    expect(locateHandler(root, "index.handler")).toEqual({
      file: join(root, "index.js"),
      load: "import",
      functionPath: "handler",
    });
  });

  it("takes the nearest package.json's type, even from a parent folder, and stops at node_modules", async () => {
    const root = taskRoot({
      "package.json": '{ "type": "module" }\n',
      "src/main.js": "export const run = () => 'esm';\n",
      "node_modules/lib/main.js": "exports.run = () => 'cjs';\n",
      "broken/package.json": "{ not json",
      "broken/main.js": "exports.run = () => 'cjs';\n",
    });
    expect(locateHandler(root, "src/main.run").load).toBe("import");
    expect(locateHandler(root, "node_modules/lib/main.run").load).toBe("require");
    expect(locateHandler(root, "broken/main.run").load).toBe("require");
  });

  it("looks for .js, then .mjs, then .cjs, and loads an extensionless file first", async () => {
    const both = taskRoot({
      "index.mjs": "export const handler = () => 'mjs';\n",
      "index.cjs": "exports.handler = () => 'cjs';\n",
    });
    expect(locateHandler(both, "index.handler")).toMatchObject({
      file: join(both, "index.mjs"),
      load: "import",
    });
    const cjs = taskRoot({ "index.cjs": "exports.handler = () => 'cjs';\n" });
    expect(await (await loadHandler(cjs, "index.handler"))({}, {})).toBe("cjs");
    const bare = taskRoot({
      worker: "exports.handler = () => 'bare';\n",
      "worker.js": "exports.handler = () => 1;\n",
    });
    expect(await (await loadHandler(bare, "worker.handler"))({}, {})).toBe("bare");
  });

  it("reads the module up to the first dot and the rest as a property path, in a folder of the task root", async () => {
    const root = taskRoot({ "lib/app.js": "exports.handlers = { compute: async () => 'nested' };\n" });
    expect(locateHandler(root, "lib/app.handlers.compute")).toEqual({
      file: join(root, "lib", "app.js"),
      load: "require",
      functionPath: "handlers.compute",
    });
    expect(await (await loadHandler(root, "lib/app.handlers.compute"))({}, {})).toBe("nested");
  });

  it("falls back to a package of the module's name under node_modules", async () => {
    const root = taskRoot({
      "node_modules/pricer/package.json": '{ "name": "pricer", "main": "lib.js" }\n',
      "node_modules/pricer/lib.js": "exports.handler = () => 'from a package';\n",
    });
    expect(locateHandler(root, "pricer.handler").file).toBe(join(root, "node_modules", "pricer", "lib.js"));
    expect(await (await loadHandler(root, "pricer.handler"))({}, {})).toBe("from a package");
  });
});

describe("a handler that cannot be loaded fails as in the Node.js runtime", () => {
  const root = taskRoot({
    "index.js": "exports.handler = async () => 1;\nexports.value = 42;\n",
    "syntax.js": "exports.handler = async () => {;\n",
    "throws.js": "throw new RangeError('no licence server');\n",
    "needs.js": "require('not-installed');\n",
  });

  it("names a malformed handler: no dot, or a path with ..", async () => {
    expect(await loadError(root, "index")).toEqual({
      name: "Runtime.MalformedHandlerName",
      message: "Bad handler",
    });
    expect((await loadError(root, "../index.handler")).name).toBe("Runtime.MalformedHandlerName");
    expect((await loadError(root, "../index.handler")).message).toContain("is not a valid handler name");
  });

  it("says which module is missing, its own or one it requires", async () => {
    expect(await loadError(root, "nothing.handler")).toEqual({
      name: "Runtime.ImportModuleError",
      message: "Error: Cannot find module 'nothing'",
    });
    const needs = await loadError(root, "needs.handler");
    expect(needs.name).toBe("Runtime.ImportModuleError");
    expect(needs.message).toMatch(/^Error: Cannot find module 'not-installed'/);
  });

  it("reports a syntax error as Runtime.UserCodeSyntaxError", async () => {
    const error = await loadError(root, "syntax.handler");
    expect(error.name).toBe("Runtime.UserCodeSyntaxError");
    expect(error.message).toMatch(/^SyntaxError: /);
  });

  it("passes on what the module throws as it loads, under its own name", async () => {
    expect(await loadError(root, "throws.handler")).toEqual({
      name: "RangeError",
      message: "no licence server",
    });
  });

  it("reports an export that is missing or not a function as Runtime.HandlerNotFound", async () => {
    expect(await loadError(root, "index.nothing")).toEqual({
      name: "Runtime.HandlerNotFound",
      message: "index.nothing is undefined or not exported",
    });
    expect(await loadError(root, "index.value")).toEqual({
      name: "Runtime.HandlerNotFound",
      message: "index.value is not a function",
    });
  });
});

describe("toLambdaError", () => {
  it("reports an Error, or an object shaped like one, by its name, message and stack", () => {
    expect(toLambdaError(new TypeError("bad"))).toMatchObject({
      errorType: "TypeError",
      errorMessage: "bad",
    });
    expect(toLambdaError({ name: "Custom", message: "m", stack: "Custom: m\n    at x" })).toEqual({
      errorType: "Custom",
      errorMessage: "m",
      trace: ["Custom: m", "    at x"],
    });
  });

  it("reports any other thrown value by its type and string form, as the runtime does", () => {
    expect(toLambdaError("out of paths")).toEqual({
      errorType: "string",
      errorMessage: "out of paths",
      trace: [],
    });
    expect(toLambdaError({ code: 7 })).toEqual({
      errorType: "object",
      errorMessage: "[object Object]",
      trace: [],
    });
    expect(toLambdaError(12)).toEqual({ errorType: "number", errorMessage: "12", trace: [] });
  });
});
