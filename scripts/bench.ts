// `npm run bench`: wall time and peak memory of a full synth of the default app next to the synth of an empty
// stack, each in a fresh Node process, median of N runs. Prints a table and the ratios (target: <= 2x).
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import * as path from "node:path";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const root = path.resolve(__dirname, "..", "..");

const EMPTY_APP = `
const { App, TerraformStack } = require(${JSON.stringify(require.resolve("cdktf", { paths: [root] }))});
const { AwsProvider } = require(${JSON.stringify(require.resolve("@cdktf/provider-aws/lib/provider", { paths: [root] }))});
const app = new App();
const stack = new TerraformStack(app, "empty");
new AwsProvider(stack, "aws", { region: "eu-west-1" });
app.synth();
`;

interface Sample {
  readonly seconds: number;
  readonly peakMb: number;
}

/** Run a Node script under /usr/bin/time when available (peak RSS), else measure wall time only. */
function measure(script: string, cwd: string, outdir: string): Sample {
  const env = { ...process.env, CDKTF_OUTDIR: outdir, HTCGRID_CONFIG: "" };
  const start = process.hrtime.bigint();
  const r = spawnSync(
    process.execPath,
    [
      "--expose-gc",
      "-e",
      `${script}\nconst u=process.resourceUsage(); process.stderr.write("MAXRSS_KB=" + u.maxRSS + "\\n");`,
    ],
    {
      cwd,
      env,
      encoding: "utf8",
    },
  );
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (r.status !== 0) throw new Error(`benchmark run failed: ${r.stderr}`);
  const m = /MAXRSS_KB=(\d+)/.exec(r.stderr);
  return { seconds, peakMb: m ? Number(m[1]) / 1024 : NaN };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function bench(label: string, script: string): { label: string; seconds: number; peakMb: number } {
  const samples: Sample[] = [];
  for (let i = 0; i < RUNS; i++) {
    const work = mkdtempSync(path.join(tmpdir(), "htc-bench-"));
    try {
      samples.push(measure(script, work, path.join(work, "out")));
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
  return {
    label,
    seconds: median(samples.map((s) => s.seconds)),
    peakMb: median(samples.map((s) => s.peakMb)),
  };
}

const empty = bench("empty stack (AWS provider only)", EMPTY_APP);
const full = bench(
  "full default app (4 stacks)",
  `require(${JSON.stringify(path.join(root, "dist", "main.js"))});`,
);
const rows = [empty, full];
console.log(
  `synth benchmark: median of ${RUNS} runs, each in a fresh node process (${process.version}, ${cpus().length} cpus)`,
);
console.log("| app | wall time (s) | peak RSS (MB) |");
console.log("|---|---|---|");
for (const r of rows) console.log(`| ${r.label} | ${r.seconds.toFixed(2)} | ${r.peakMb.toFixed(0)} |`);
console.log(
  `ratio full/empty: time ${(full.seconds / empty.seconds).toFixed(2)}x, memory ${(full.peakMb / empty.peakMb).toFixed(2)}x (target <= 2x)`,
);
