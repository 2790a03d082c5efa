// Bundles runtime code (runtime/: control-plane handlers, agent, worker host, client, sample workers) into
// single deterministic `index.js` files with esbuild, dependencies included, so their versions are the ones our
// lockfile pins. Pure Node: no cdktf import; the constructs that wrap bundles in TerraformAssets live elsewhere.
// Bundles are cached under node_modules/.cache/htc-runtime/<hash> so repeated synths and runs skip esbuild.

import { createHash } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { buildSync, version as esbuildVersion, type BuildOptions } from "esbuild";
import { LAMBDA_HANDLERS, type LambdaHandler } from "../../runtime/src/contract";

/** The control-plane Lambdas, by their upstream names. */
export const HANDLER_NAMES = LAMBDA_HANDLERS;
export type HandlerName = LambdaHandler;

/** Entry file of each runtime bundle, relative to the repository root. */
export const RUNTIME_ENTRIES = {
  submit_tasks: "runtime/src/control-plane/handlers/submit-tasks.ts",
  get_results: "runtime/src/control-plane/handlers/get-results.ts",
  cancel_tasks: "runtime/src/control-plane/handlers/cancel-tasks.ts",
  ttl_checker: "runtime/src/control-plane/handlers/ttl-checker.ts",
  scaling_metrics: "runtime/src/control-plane/handlers/scaling-metrics.ts",
  agent: "runtime/src/agent/main.ts",
  client: "runtime/src/client/main.ts",
  "worker-host": "runtime/src/worker-host/main.ts",
  fetch: "runtime/src/fetch/main.ts",
  "local-dynamodb": "runtime/src/local/dynalite-main.ts",
  "mock-compute-engine": "runtime/src/workers/mock-compute-engine/index.ts",
  "monte-carlo": "runtime/src/workers/monte-carlo/index.ts",
} as const satisfies Record<string, string>;
export type RuntimeBundle = keyof typeof RUNTIME_ENTRIES;

/** Entry file of each handler, relative to the repository root. */
export const HANDLER_ENTRIES: Readonly<Record<HandlerName, string>> = Object.fromEntries(
  HANDLER_NAMES.map((name) => [name, RUNTIME_ENTRIES[name]]),
) as Record<HandlerName, string>;

/** The Lambda `handler` setting for every bundle. */
export const LAMBDA_HANDLER = "index.handler";
/** The Lambda runtime the handler bundles target. */
export const LAMBDA_RUNTIME = "nodejs22.x";

export interface BundleResult {
  /** Directory holding `index.js` (the outDir passed in). */
  readonly outDir: string;
  /** Hash of everything that determines the bundle (sources, lockfile, esbuild version and options). */
  readonly sourceHash: string;
  /** True when the bundle came from the cache without running esbuild. */
  readonly cached: boolean;
}

/**
 * Options that fix the output: no source maps, no legal comments, relative paths only. Lambdas run on Node 22;
 * the rest also runs on the Node 20 machines the project supports.
 */
function buildOptions(root: string, entry: string, outfile: string, lambda: boolean): BuildOptions {
  return {
    absWorkingDir: root,
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "node",
    target: lambda ? "node22" : "node20",
    format: "cjs",
    minify: true,
    // ESM builds of the AWS SDK tree-shake far better than its CommonJS builds.
    mainFields: ["module", "main"],
    legalComments: "none",
    sourcemap: false,
    charset: "utf8",
    logLevel: "silent",
    metafile: false,
  };
}

/** The repository root: the nearest ancestor holding runtime/tsconfig.json. */
export function findRepoRoot(start: string = __dirname): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "runtime", "tsconfig.json")) && existsSync(join(dir, "package.json")))
      return dir;
    if (dirname(dir) === dir) throw new Error(`no repository root with runtime/tsconfig.json above ${start}`);
  }
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(path));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

const hashCache = new Map<string, string>();

/**
 * Hash of the runtime/ sources, the lockfile, the esbuild version and the build options. Computed once per
 * process (a synth bundles several entries from the same sources).
 */
export function sourceHash(root: string = findRepoRoot()): string {
  const known = hashCache.get(root);
  if (known) return known;
  const hash = createHash("sha256");
  hash.update(`esbuild ${esbuildVersion}\n`);
  for (const lambda of [true, false]) hash.update(`${JSON.stringify(buildOptions(".", "e", "o", lambda))}\n`);
  const files = listFiles(join(root, "runtime", "src"))
    .map((file) => relative(root, file).split(sep).join("/"))
    .sort();
  for (const file of [...files, "package-lock.json"]) {
    hash.update(`${file}\n`);
    hash.update(readFileSync(join(root, file)));
  }
  const digest = hash.digest("hex");
  hashCache.set(root, digest);
  return digest;
}

/**
 * Bundles runtime entry `name` into `<outDir>/index.js`. Returns where it is and whether esbuild ran.
 * Throws on an unknown name or a build error.
 */
export function bundleRuntime(name: string, outDir: string): BundleResult {
  if (!(name in RUNTIME_ENTRIES)) {
    throw new Error(
      `unknown runtime bundle ${JSON.stringify(name)}; expected one of ${Object.keys(RUNTIME_ENTRIES).join(", ")}`,
    );
  }
  const root = findRepoRoot();
  const hash = sourceHash(root);
  const cacheDir = join(root, "node_modules", ".cache", "htc-runtime", hash.slice(0, 32));
  const cachedFile = join(cacheDir, `${name}.js`);
  let cached = true;
  if (!existsSync(cachedFile)) {
    cached = false;
    mkdirSync(cacheDir, { recursive: true });
    const lambda = (HANDLER_NAMES as readonly string[]).includes(name);
    const result = buildSync({
      ...buildOptions(root, RUNTIME_ENTRIES[name as RuntimeBundle], "index.js", lambda),
      write: false,
    });
    const output = result.outputFiles?.[0];
    if (!output) throw new Error(`esbuild produced no output for ${name}`);
    // Write then rename, so a concurrent synth never reads a half-written bundle.
    const temp = `${cachedFile}.${process.pid}.tmp`;
    writeFileSync(temp, output.contents);
    renameSync(temp, cachedFile);
  }
  mkdirSync(outDir, { recursive: true });
  copyFileSync(cachedFile, join(outDir, "index.js"));
  return { outDir, sourceHash: hash, cached };
}

/** Bundles control-plane handler `name` (one of HANDLER_NAMES) into `<outDir>/index.js`. */
export function bundleHandler(name: string, outDir: string): BundleResult {
  if (!(HANDLER_NAMES as readonly string[]).includes(name)) {
    throw new Error(
      `unknown control-plane handler ${JSON.stringify(name)}; expected one of ${HANDLER_NAMES.join(", ")}`,
    );
  }
  return bundleRuntime(name, outDir);
}
