// Plan review for the default app: one sanitized whole-app snapshot (asset hashes replaced), the list of construct
// paths (a renamed construct ID replaces a real resource), and byte-identical output across two synths.
// Snapshots are never updated in CI (vitest does not write snapshots when CI is set); a snapshot change in a
// commit is a plan change, and the commit message says which resources change.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { constructPaths, synthTwiceAndDiff } from "../verify/determinism";

const root = path.resolve(__dirname, "..", "..");
const STACKS = ["bootstrap", "images", "grid", "grid-k8s"];

/** `node dist/main.js` (a fresh process, as `cdktf synth` runs it) with the built-in default config. */
function synthDefault(outdir: string): void {
  const cwd = mkdtempSync(path.join(tmpdir(), "htc-app-cwd-"));
  try {
    execFileSync(process.execPath, [path.join(root, "dist", "main.js")], {
      cwd,
      env: { ...process.env, CDKTF_OUTDIR: outdir, HTCGRID_CONFIG: "", HTCGRID_BACKEND: "" },
      stdio: "pipe",
    });
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}

/** Asset folders and content hashes change with every source edit; they are not plan-relevant names. */
export function sanitize(text: string): string {
  return text
    .replace(/(assets\/[A-Za-z0-9_-]+\/)[A-F0-9]{32}/g, "$1<asset-hash>")
    .replace(/("source_(?:code_)?hash": ")[A-F0-9]{32}(")/g, "$1<asset-hash>$2");
}

describe("the default app", () => {
  let outdir: string;
  beforeAll(() => {
    outdir = mkdtempSync(path.join(tmpdir(), "htc-app-"));
    synthDefault(outdir);
  });
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  it("matches the reviewed plan snapshot (sanitized Terraform JSON of every stack)", async () => {
    const whole = STACKS.map(
      (s) =>
        `// ===== stack ${s}\n${sanitize(readFileSync(path.join(outdir, "stacks", s, "cdk.tf.json"), "utf8"))}`,
    ).join("\n");
    await expect(whole).toMatchFileSnapshot("./__snapshots__/default-app.tf.json.txt");
  });

  it("keeps its construct IDs (a rename replaces a real resource)", async () => {
    await expect(`${constructPaths(outdir).join("\n")}\n`).toMatchFileSnapshot(
      "./__snapshots__/default-app.construct-paths.txt",
    );
  });

  it("synthesizes byte-identical output twice, Lambda zips and chart included", () => {
    expect(synthTwiceAndDiff(synthDefault)).toEqual([]);
  });
});
