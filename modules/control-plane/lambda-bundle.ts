// Bundles one control-plane handler from lambda/ into a single deterministic `index.js` with
// esbuild (AWS SDK included, so its version is the one our lockfile pins). Pure Node: no cdktf
// import; the construct that wraps the directory in a TerraformAsset lives elsewhere.
// Bundles are cached under node_modules/.cache/htc-lambda/<hash> so repeated synths skip esbuild.

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

/** The control-plane Lambdas, by their upstream names. */
export const HANDLER_NAMES = [
  "submit_tasks",
  "get_results",
  "cancel_tasks",
  "ttl_checker",
  "scaling_metrics",
] as const;
export type HandlerName = (typeof HANDLER_NAMES)[number];

/** Entry file of each handler, relative to the repository root. */
export const HANDLER_ENTRIES: Readonly<Record<HandlerName, string>> = {
  submit_tasks: "lambda/src/handlers/submit-tasks.ts",
  get_results: "lambda/src/handlers/get-results.ts",
  cancel_tasks: "lambda/src/handlers/cancel-tasks.ts",
  ttl_checker: "lambda/src/handlers/ttl-checker.ts",
  scaling_metrics: "lambda/src/handlers/scaling-metrics.ts",
};

/** The Lambda `handler` setting for every bundle. */
export const LAMBDA_HANDLER = "index.handler";
/** The Lambda runtime the bundles target. */
export const LAMBDA_RUNTIME = "nodejs22.x";

export interface BundleResult {
  /** Directory holding `index.js` (the outDir passed in). */
  readonly outDir: string;
  /** Hash of everything that determines the bundle (sources, lockfile, esbuild version and options). */
  readonly sourceHash: string;
  /** True when the bundle came from the cache without running esbuild. */
  readonly cached: boolean;
}

/** Options that fix the output: no source maps, no legal comments, relative paths only. */
function buildOptions(root: string, entry: string, outfile: string): BuildOptions {
  return {
    absWorkingDir: root,
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "node",
    target: "node22",
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

/** The repository root: the nearest ancestor holding lambda/tsconfig.json. */
export function findRepoRoot(start: string = __dirname): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "lambda", "tsconfig.json")) && existsSync(join(dir, "package.json"))) return dir;
    if (dirname(dir) === dir) throw new Error(`no repository root with lambda/tsconfig.json above ${start}`);
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
 * Hash of the lambda/ sources, the lockfile, the esbuild version and the build options. Computed
 * once per process (a synth bundles five handlers from the same sources).
 */
export function sourceHash(root: string = findRepoRoot()): string {
  const known = hashCache.get(root);
  if (known) return known;
  const hash = createHash("sha256");
  hash.update(`esbuild ${esbuildVersion}\n${JSON.stringify(buildOptions(".", "entry", "out"))}\n`);
  const files = listFiles(join(root, "lambda"))
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
 * Bundles handler `name` into `<outDir>/index.js`. Returns where it is and whether esbuild ran.
 * Throws on an unknown name or a build error.
 */
export function bundleHandler(name: string, outDir: string): BundleResult {
  if (!(HANDLER_NAMES as readonly string[]).includes(name)) {
    throw new Error(
      `unknown control-plane handler ${JSON.stringify(name)}; expected one of ${HANDLER_NAMES.join(", ")}`,
    );
  }
  const root = findRepoRoot();
  const hash = sourceHash(root);
  const cacheDir = join(root, "node_modules", ".cache", "htc-lambda", hash.slice(0, 32));
  const cachedFile = join(cacheDir, `${name}.js`);
  let cached = true;
  if (!existsSync(cachedFile)) {
    cached = false;
    mkdirSync(cacheDir, { recursive: true });
    const result = buildSync({
      ...buildOptions(root, HANDLER_ENTRIES[name as HandlerName], "index.js"),
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
