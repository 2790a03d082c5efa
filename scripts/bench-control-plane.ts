// Benchmark of the control-plane Lambdas on local servers (dynalite, local-aws-sqs, s3rver):
// bundles the handlers exactly as they are deployed, loads the bundles and measures submit
// throughput for batches of 1, 100 and 10,000 tasks and get_results latency on a 10,000-task session.
// Run: npm run bench:control-plane. Numbers reflect the emulators, not DynamoDB/SQS themselves.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HANDLER_NAMES, bundleHandler, findRepoRoot, sourceHash } from "../modules/runtime-bundle/bundle";
import {
  b64,
  newSessionId,
  putPayloadS3,
  submissionPayload,
} from "../test/runtime/control-plane/integration/fixtures";
import { startLocalGrid } from "../test/runtime/control-plane/integration/local-grid";

interface ApiResponse {
  statusCode: number;
  body: string;
}
type ApiHandler = (event: unknown) => Promise<ApiResponse>;

interface Row {
  scenario: string;
  tasksPerCall: number;
  calls: number;
  totalMs: number;
}

function table(rows: Row[]): string {
  const header = ["scenario", "tasks/call", "calls", "total ms", "ms/call", "tasks/s"];
  const lines = rows.map((r) => [
    r.scenario,
    String(r.tasksPerCall),
    String(r.calls),
    r.totalMs.toFixed(0),
    (r.totalMs / r.calls).toFixed(1),
    r.tasksPerCall > 0 ? ((r.tasksPerCall * r.calls * 1000) / r.totalMs).toFixed(0) : "-",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  return [fmt(header), widths.map((w) => "-".repeat(w)).join("  "), ...lines.map(fmt)].join("\n");
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "htc-bench-"));
  const grid = await startLocalGrid({ priorities: 1 });
  try {
    // Bundling: cold (cache entry removed) and cached, for all five handlers.
    const cacheDir = join(findRepoRoot(), "node_modules", ".cache", "htc-runtime", sourceHash().slice(0, 32));
    rmSync(cacheDir, { recursive: true, force: true });
    let t = performance.now();
    for (const name of HANDLER_NAMES) bundleHandler(name, join(work, name));
    const coldMs = performance.now() - t;
    t = performance.now();
    for (const name of HANDLER_NAMES) bundleHandler(name, join(work, name));
    const cachedMs = performance.now() - t;

    Object.assign(process.env, grid.env);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const load = (name: string) => (require(join(work, name, "index.js")) as { handler: ApiHandler }).handler;
    const submit = load("submit_tasks");
    const getResults = load("get_results");
    const cancel = load("cancel_tasks");
    const event = (content: string) => ({ queryStringParameters: { submission_content: content } });

    const rows: Row[] = [];
    let bigSession = "";
    for (const [size, calls] of [
      [1, 50],
      [100, 10],
      [10_000, 2],
    ] as const) {
      const sessions = Array.from({ length: calls }, () => newSessionId());
      for (const s of sessions) await putPayloadS3(grid.s3, s, submissionPayload(s, size));
      await submit(event(sessions[0])); // warm-up: cold start, connections
      const timed = sessions.slice(1);
      const start = performance.now();
      for (const s of timed) {
        const response = await submit(event(s));
        if (response.statusCode !== 200) throw new Error(`submit failed: ${response.body}`);
      }
      rows.push({
        scenario: `submit_tasks, ${size} tasks`,
        tasksPerCall: size,
        calls: timed.length,
        totalMs: performance.now() - start,
      });
      await grid.purge(0);
      if (size === 10_000) bigSession = timed[0];
    }

    const cancelStart = performance.now();
    const cancelled = await cancel(event(b64({ session_ids_to_cancel: [bigSession] })));
    if (cancelled.statusCode !== 200) throw new Error(`cancel failed: ${cancelled.body}`);
    rows.push({
      scenario: "cancel_tasks, 10,000 pending",
      tasksPerCall: 10_000,
      calls: 1,
      totalMs: performance.now() - cancelStart,
    });

    const resultsStart = performance.now();
    const resultCalls = 3;
    let listed = 0;
    for (let i = 0; i < resultCalls; i++) {
      const response = await getResults(event(b64({ session_id: bigSession })));
      if (response.statusCode !== 200) throw new Error(`get_results failed: ${response.body}`);
      listed = (JSON.parse(response.body) as { metadata: { tasks_in_response: number } }).metadata
        .tasks_in_response;
    }
    rows.push({
      scenario: "get_results, 10,000-task session",
      tasksPerCall: listed,
      calls: resultCalls,
      totalMs: performance.now() - resultsStart,
    });

    console.log(table(rows));
    console.log(
      `\nbundle 5 handlers: ${coldMs.toFixed(0)} ms cold (esbuild), ${cachedMs.toFixed(0)} ms cached`,
    );
  } finally {
    await grid.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
