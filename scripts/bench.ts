// `npm run bench`: wall time and peak memory of a full synth of the default app next to the synth of an empty
// stack, median of N runs, measured two ways (target: <= 2x):
// - the app process alone (`node dist/main.js` vs an empty-stack script), each in a fresh Node process;
// - `cdktf synth` as users run it (the CLI starts, runs the app and checks the output), each in a temp project.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
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

/** Median time and peak memory of RUNS samples, each taken in a fresh temp directory. */
function bench(
  label: string,
  sample: (work: string) => Sample,
): { label: string; seconds: number; peakMb: number } {
  const samples: Sample[] = [];
  for (let i = 0; i < RUNS; i++) {
    const work = mkdtempSync(path.join(tmpdir(), "htc-bench-"));
    try {
      samples.push(sample(work));
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

const empty = bench("empty stack (AWS provider only)", (work) =>
  measure(EMPTY_APP, work, path.join(work, "out")),
);
const full = bench("full default app (4 stacks)", (work) =>
  measure(`require(${JSON.stringify(path.join(root, "dist", "main.js"))});`, work, path.join(work, "out")),
);

const CLI = path.join(root, "node_modules", ".bin", "cdktf");
const GNU_TIME = "/usr/bin/time";

/** `cdktf synth` in the temp project `work` whose cdktf.json runs `app`; peak RSS of the largest process via GNU time. */
function measureCli(app: string, work: string): Sample {
  writeFileSync(
    path.join(work, "cdktf.json"),
    JSON.stringify({ language: "typescript", app, sendCrashReports: "false", terraformProviders: [] }),
  );
  // No telemetry call, and the default grid config (no generated/ in the temp project).
  const env = { ...process.env, CHECKPOINT_DISABLE: "1", HTCGRID_CONFIG: "", CDKTF_OUTDIR: "" };
  const withTime = existsSync(GNU_TIME);
  const cmd = withTime ? GNU_TIME : CLI;
  const args = [
    ...(withTime ? ["-f", "MAXRSS_KB=%M", CLI] : []),
    "synth",
    "--output",
    path.join(work, "out"),
  ];
  const start = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { cwd: work, env, encoding: "utf8" });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (r.status !== 0) throw new Error(`cdktf synth failed: ${r.stdout}\n${r.stderr}`);
  const m = /MAXRSS_KB=(\d+)/.exec(r.stderr);
  return { seconds, peakMb: m ? Number(m[1]) / 1024 : NaN };
}

const emptyScript = path.join(mkdtempSync(path.join(tmpdir(), "htc-bench-empty-")), "empty-app.js");
writeFileSync(emptyScript, EMPTY_APP);
const emptyCli = bench("empty stack (AWS provider only)", (work) =>
  measureCli(`node ${JSON.stringify(emptyScript)}`, work),
);
const fullCli = bench("full default app (4 stacks)", (work) =>
  measureCli(`node ${JSON.stringify(path.join(root, "dist", "main.js"))}`, work),
);
rmSync(path.dirname(emptyScript), { recursive: true, force: true });

const mb = (x: number) => (Number.isNaN(x) ? "n/a" : x.toFixed(0));
const ratio = (a: number, b: number) =>
  Number.isNaN(a) || Number.isNaN(b) ? "n/a" : `${(a / b).toFixed(2)}x`;
console.log(`synth benchmark: median of ${RUNS} runs (${process.version}, ${cpus().length} cpus)`);
console.log("| measured | app | wall time (s) | peak RSS (MB) |");
console.log("|---|---|---|---|");
for (const [how, r] of [
  ["app process (node)", empty],
  ["app process (node)", full],
  ["`cdktf synth` (CLI)", emptyCli],
  ["`cdktf synth` (CLI)", fullCli],
] as const) {
  console.log(`| ${how} | ${r.label} | ${r.seconds.toFixed(2)} | ${mb(r.peakMb)} |`);
}
console.log(
  `ratio full/empty, app process: time ${ratio(full.seconds, empty.seconds)}, memory ${ratio(full.peakMb, empty.peakMb)} (target <= 2x)`,
);
console.log(
  `ratio full/empty, cdktf synth: time ${ratio(fullCli.seconds, emptyCli.seconds)}, memory ${ratio(fullCli.peakMb, emptyCli.peakMb)} (target <= 2x)`,
);
