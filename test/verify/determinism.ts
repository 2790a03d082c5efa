// Determinism and ID-stability helpers: synthesize an app twice and compare the outputs byte for
// byte, and list the construct paths / logical IDs a synth produces, for a stability snapshot
// (a changed logical ID means Terraform replaces a real resource).
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { findStackFiles } from "./schema-check";

export interface FileDifference {
  readonly file: string;
  readonly kind: "only-in-first" | "only-in-second" | "differs";
  /** For `differs`: the first differing line of each side (1-based line number). */
  readonly line?: { number: number; first: string; second: string };
}

function listFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else out.push(relative(root, path));
    }
  };
  walk(root);
  return out;
}

/** Byte-for-byte comparison of two directory trees. */
export function diffDirectories(first: string, second: string): FileDifference[] {
  const a = new Set(listFiles(first));
  const b = new Set(listFiles(second));
  const out: FileDifference[] = [];
  for (const file of [...new Set([...a, ...b])].sort()) {
    if (!b.has(file)) out.push({ file, kind: "only-in-first" });
    else if (!a.has(file)) out.push({ file, kind: "only-in-second" });
    else {
      const x = readFileSync(join(first, file));
      const y = readFileSync(join(second, file));
      if (x.equals(y)) continue;
      const xl = x.toString("utf8").split("\n");
      const yl = y.toString("utf8").split("\n");
      let i = 0;
      while (i < Math.max(xl.length, yl.length) && xl[i] === yl[i]) i++;
      out.push({ file, kind: "differs", line: { number: i + 1, first: xl[i] ?? "", second: yl[i] ?? "" } });
    }
  }
  return out;
}

/**
 * Runs `synth(outdir)` twice into two fresh temp dirs and diffs them. `synth` must write a complete
 * cdktf output into the dir it gets (e.g. `(d) => buildApp({ outdir: d }).synth()`).
 */
export function synthTwiceAndDiff(synth: (outdir: string) => void): FileDifference[] {
  const root = mkdtempSync(join(tmpdir(), "htc-determinism-"));
  try {
    const [first, second] = [join(root, "first"), join(root, "second")];
    synth(first);
    synth(second);
    return diffDirectories(first, second);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** One resource or data source: `<stack> <address> <construct path>`, sorted, for a snapshot. */
export function constructPaths(target: string): string[] {
  const lines: string[] = [];
  for (const { stack, file } of findStackFiles(target)) {
    const doc = JSON.parse(readFileSync(file, "utf8")) as Record<
      string,
      Record<string, Record<string, { "//"?: { metadata?: { path?: string } } }>>
    >;
    for (const section of ["resource", "data"]) {
      for (const [type, byName] of Object.entries(doc[section] ?? {})) {
        for (const [name, config] of Object.entries(byName)) {
          const address = `${section === "data" ? "data." : ""}${type}.${name}`;
          lines.push(`${stack} ${address} ${config["//"]?.metadata?.path ?? "<no metadata path>"}`);
        }
      }
    }
  }
  return lines.sort();
}
