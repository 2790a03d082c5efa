// Helpers of the end-to-end benchmark (scripts/bench-e2e.ts) that are worth a test: its --repeat argument and the
// median-and-range line of the overhead target check.

/** `--repeat N` (with --only): a whole number from 1 to 50, or a one-line error naming the value. */
export function repeatCount(argv: readonly string[]): number {
  const at = argv.indexOf("--repeat");
  if (at < 0) return 1;
  const value = argv[at + 1] ?? "";
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 50)
    throw new Error(`--repeat ${JSON.stringify(value)} must be a whole number of runs from 1 to 50`);
  if (!argv.includes("--only")) throw new Error("--repeat applies to --only TASKS/AGENTS/DELAY_MS runs");
  return Number(value);
}

/** The median and range of the runs' overhead p50, as the target check prints it. */
export function overheadSpread(values: readonly number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  const median = sorted.length % 2 ? sorted[Math.floor(mid)] : (sorted[mid - 1] + sorted[mid]) / 2;
  return `median ${median.toFixed(1)} ms over ${sorted.length} sessions (${sorted.map((v) => v.toFixed(1)).join(", ")}; range ${sorted[0].toFixed(1)}-${sorted[sorted.length - 1].toFixed(1)} ms)`;
}
