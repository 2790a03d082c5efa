// Benchmark of the HTC agent on local servers (npm run bench:agent): 1,000 no-op tasks (the mock compute engine
// with a 0 ms delay) through 1 and through 4 agent processes, with each AWS request answered at once and with 5 ms
// added to every request at the proxy in front of each server (standing for the network). It prints tasks/s,
// claim-to-finish latency and the AWS requests per task the agents made, by service and operation, counted at
// those proxies. The local servers run in this process, so on a 2-core machine they bound the numbers.

import { stateOf } from "../runtime/src/contract";
import { startHarness, stopAgent, type Harness } from "../test/runtime/agent/harness";

const TASKS = 1_000;

interface Scenario {
  readonly agents: number;
  readonly delayMs: number;
  readonly inline: boolean;
}

interface Measured extends Scenario {
  readonly seconds: number;
  readonly tasksPerSecond: number;
  readonly p50: number;
  readonly p95: number;
  readonly requests: Map<string, number>;
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function measure(scenario: Scenario): Promise<Measured> {
  const h: Harness = await startHarness({ externalStorage: scenario.inline ? 0 : 1 });
  try {
    const claimedAt = new Map<string, number>();
    const finishedAt = new Map<string, number>();
    h.proxies.dynamodb.setHook(({ operation, body, status }) => {
      if (operation !== "UpdateItem" || status !== 200) return undefined;
      const input = JSON.parse(body) as {
        Key: { task_id: { S: string } };
        ExpressionAttributeValues?: Record<string, { S?: string }>;
      };
      const id = input.Key.task_id.S;
      const values = input.ExpressionAttributeValues ?? {};
      if (values[":handle"]) claimedAt.set(id, performance.now());
      if (stateOf(values[":to"]?.S ?? "") === "finished") finishedAt.set(id, performance.now());
      return undefined;
    });
    const { taskIds } = await h.submit(
      Array.from({ length: TASKS }, () => ({ worker_arguments: ["0", "1", "1"] })),
    );
    for (const proxy of Object.values(h.proxies)) {
      proxy.reset();
      proxy.setDelayMs(scenario.delayMs);
    }
    const agents = Array.from({ length: scenario.agents }, (_, i) => h.spawnAgent(`bench-agent-${i}`));
    const deadline = Date.now() + 600_000;
    let last = -1;
    while (finishedAt.size < TASKS) {
      if (Date.now() > deadline)
        throw new Error(`only ${finishedAt.size} of ${TASKS} tasks finished in 10 minutes`);
      if (finishedAt.size !== last) {
        last = finishedAt.size;
        process.stderr.write(
          `\r  ${scenario.agents} agent(s), +${scenario.delayMs} ms: ${finishedAt.size}/${TASKS} finished`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    process.stderr.write("\n");
    for (const agent of agents) await stopAgent(agent);
    const first = Math.min(...claimedAt.values());
    const end = Math.max(...finishedAt.values());
    const latencies = taskIds
      .map((id) => (finishedAt.get(id) ?? 0) - (claimedAt.get(id) ?? 0))
      .sort((a, b) => a - b);
    const requests = new Map<string, number>();
    for (const proxy of Object.values(h.proxies)) for (const [k, v] of proxy.counts) requests.set(k, v);
    return {
      ...scenario,
      seconds: (end - first) / 1000,
      tasksPerSecond: (TASKS * 1000) / (end - first),
      p50: percentile(latencies, 50),
      p95: percentile(latencies, 95),
      requests,
    };
  } finally {
    await h.stop();
  }
}

function render(results: Measured[]): string {
  const ops = [...new Set(results.flatMap((r) => [...r.requests.keys()]))].sort();
  const header = ["agents", "delay", "input", "tasks/s", "per agent", "p50 ms", "p95 ms", "req/task", ...ops];
  const rows = results.map((r) => {
    const total = [...r.requests.values()].reduce((a, b) => a + b, 0);
    return [
      String(r.agents),
      `${r.delayMs} ms`,
      r.inline ? "inline" : "S3",
      r.tasksPerSecond.toFixed(1),
      (r.tasksPerSecond / r.agents).toFixed(1),
      r.p50.toFixed(1),
      r.p95.toFixed(1),
      (total / TASKS).toFixed(2),
      ...ops.map((op) => ((r.requests.get(op) ?? 0) / TASKS).toFixed(3)),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

async function main(): Promise<void> {
  const scenarios: Scenario[] = [
    { agents: 1, delayMs: 0, inline: false },
    { agents: 4, delayMs: 0, inline: false },
    { agents: 1, delayMs: 5, inline: false },
    { agents: 4, delayMs: 5, inline: false },
    { agents: 1, delayMs: 5, inline: true },
  ];
  const results: Measured[] = [];
  for (const scenario of scenarios) results.push(await measure(scenario));
  console.log(
    `${TASKS} no-op tasks per run; S3 data plane; requests per task counted at the agents' proxies\n`,
  );
  console.log(render(results));
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`bench:agent failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
