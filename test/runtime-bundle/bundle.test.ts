// The Lambda bundles: one self-contained index.js per handler, deterministic, cached, and small
// enough (zipped < 1 MB; raw deflate is the upper-bound proxy for the zip entry).

import { builtinModules } from "node:module";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateRawSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  HANDLER_ENTRIES,
  HANDLER_NAMES,
  bundleHandler,
  findRepoRoot,
  sourceHash,
} from "../../modules/runtime-bundle/bundle";

const ONE_MB = 1024 * 1024;
let work: string;
const bundles = new Map<string, Buffer>();

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "htc-bundle-"));
  for (const name of HANDLER_NAMES) {
    bundleHandler(name, join(work, name));
    bundles.set(name, readFileSync(join(work, name, "index.js")));
  }
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("lambda bundles", () => {
  it("covers the five control-plane handlers", () => {
    expect([...HANDLER_NAMES]).toEqual([
      "submit_tasks",
      "get_results",
      "cancel_tasks",
      "ttl_checker",
      "scaling_metrics",
    ]);
    expect(Object.keys(HANDLER_ENTRIES).sort()).toEqual([...HANDLER_NAMES].sort());
  });

  it.each(HANDLER_NAMES)("keeps %s under 1 MB compressed", (name) => {
    const size = deflateRawSync(bundles.get(name) ?? Buffer.alloc(0), { level: 9 }).length;
    expect(size).toBeGreaterThan(10_000);
    expect(size).toBeLessThan(ONE_MB);
  });

  it.each(HANDLER_NAMES)("bundles %s with every dependency and a handler export", (name) => {
    const code = (bundles.get(name) ?? Buffer.alloc(0)).toString("utf8");
    // Only Node built-ins stay external, plus the SDK's optional CRT signer, which it loads inside
    // a try/catch for SigV4a only (none of these services needs it).
    const required = [...code.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
    const external = required.filter((id) => !builtinModules.includes(id.replace(/^node:/, "")));
    expect(external.filter((id) => id !== "@aws-sdk/signature-v4-crt")).toEqual([]);
    expect(required).not.toContain("@aws-sdk/client-dynamodb");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const loaded = require(join(work, name, "index.js")) as { handler?: unknown };
    expect(typeof loaded.handler).toBe("function");
  });

  it("embeds no absolute paths of the build machine", () => {
    const root = findRepoRoot();
    for (const [name, code] of bundles) {
      expect(code.includes(Buffer.from(root)), name).toBe(false);
      expect(code.includes(Buffer.from(tmpdir())), name).toBe(false);
    }
  });

  it("serves a repeated bundle from the cache with identical bytes", () => {
    const again = bundleHandler("get_results", join(work, "again"));
    expect(again.cached).toBe(true);
    expect(again.sourceHash).toBe(sourceHash());
    expect(
      readFileSync(join(work, "again", "index.js")).equals(bundles.get("get_results") ?? Buffer.alloc(0)),
    ).toBe(true);
  });

  it("rejects an unknown handler name", () => {
    expect(() => bundleHandler("node_drainer", join(work, "x"))).toThrow(
      /unknown control-plane handler "node_drainer"/,
    );
  });
});
