// What the local grid counts for the benchmarks: AWS requests as sent (a DynamoDB batch write is one request) and
// billing units (its items are write units; each API call is one Lambda invocation). bench:e2e prints both, so a
// wrong count would misstate requests per task or the price per million tasks.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadGridConfig } from "../../../modules/config/load";
import { localGridLayout } from "../../../modules/local-grid/layout";
import { bundleRuntime } from "../../../modules/runtime-bundle/bundle";
import { GridClient } from "../../../runtime/src/client";
import { startGrid, type LocalGrid } from "../../../runtime/src/local/grid";

const TASKS = 60;
let work: string;
let grid: LocalGrid;
let client: GridClient;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "htc-grid-usage-"));
  for (const entry of ["agent", "worker-host", "mock-compute-engine", "local-dynamodb"] as const)
    bundleRuntime(entry, join(work, entry));
  const configPath = join(work, "grid_config.json");
  writeFileSync(configPath, JSON.stringify({ project_name: "usage", grid_storage_service: "S3" }));
  grid = await startGrid({
    layout: localGridLayout(loadGridConfig({ HTCGRID_CONFIG: configPath }, work).config),
    agents: 1,
    agentScript: join(work, "agent", "index.js"),
    workerHostScript: join(work, "worker-host", "index.js"),
    dynamoScript: join(work, "local-dynamodb", "index.js"),
    workerCode: join(work, "mock-compute-engine"),
    workerHandler: "index.handler",
    dir: join(work, "grid"),
    ttlIntervalSec: 60,
    agentOutput: "ignore",
  });
  client = GridClient.fromFile(grid.configPath, { env: { ...process.env, ...grid.clientEnv } });
}, 60_000);

afterAll(async () => {
  await client?.close();
  await grid?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("the local grid's own server processes", () => {
  it("runs DynamoDB in a process of its own and names it in serverPids (bench:e2e counts its CPU)", () => {
    expect(grid.serverPids.length).toBe(1);
    const cmdline = readFileSync(`/proc/${grid.serverPids[0]}/cmdline`, "utf8");
    expect(cmdline).toContain(join("local-dynamodb", "index.js"));
  });
});

describe("local grid usage counts", () => {
  it("counts a batch write as one request but its items as write units, and each API call as one invocation", async () => {
    grid.resetUsage();
    const submission = await client.submit(
      Array.from({ length: TASKS }, (_, i) => ({ worker_arguments: ["0", "1", String(i)] })),
    );
    const results = await client.wait(submission, { timeoutMs: 60_000 });
    expect(results.finished).toBe(TASKS);

    const requests = grid.requests();
    const usage = grid.usage();
    const batchRequests = requests.get("dynamodb:BatchWriteItem") ?? 0;
    // Submission claims the session with its first row (a conditional UpdateItem) and batch-writes the others, at
    // most 25 per request.
    expect(usage.get("dynamodb:BatchWriteItem")).toBe(TASKS - 1);
    expect(batchRequests).toBe(Math.ceil((TASKS - 1) / 25));
    expect(batchRequests).toBeLessThan(TASKS);
    // The client read the outputs kept in the rows: one BatchGetItem per 100 tasks, billed per key read.
    expect(usage.get("dynamodb:BatchGetItem")).toBe(TASKS);
    expect(requests.get("dynamodb:BatchGetItem")).toBe(Math.ceil(TASKS / 100));
    // S3 writes: the inputs and the session's payload; no output (each travelled in its finish).
    expect(requests.get("s3:PutObject")).toBe(TASKS + 1);
    // Everything else is the same in both views.
    for (const [key, n] of requests)
      if (key !== "dynamodb:BatchWriteItem" && key !== "dynamodb:BatchGetItem")
        expect(usage.get(key)).toBe(n);
    expect(requests.get("apigateway")).toBeGreaterThan(0);
    expect(usage.get("lambda")).toBe(requests.get("apigateway"));
    expect(requests.has("lambda")).toBe(false);
    // Every agent poll, claim and completion went through the proxies.
    expect(requests.get("sqs:ReceiveMessage") ?? 0).toBeGreaterThan(0);
    // The first row, written open and closed once every message was sent, then a claim and a completion per task.
    expect(requests.get("dynamodb:UpdateItem") ?? 0).toBeGreaterThanOrEqual(2 + 2 * TASKS);
    expect((await grid.status()).duplicateFinals).toBe(0);

    grid.resetUsage();
    expect(grid.requests().get("apigateway")).toBe(0);
    expect(grid.requests().get("dynamodb:BatchWriteItem") ?? 0).toBe(0);
  }, 90_000);

  it("times each request at the server behind the proxy, without the delay the proxy adds", async () => {
    const delayMs = 60;
    grid.setDelayMs(delayMs);
    try {
      grid.resetUsage();
      expect(grid.serverMs().size).toBe(0);
      // Outputs in the data plane: the output write is a step of its own.
      const submission = await client.submit(
        Array.from({ length: 5 }, (_, i) => ({ worker_arguments: ["0", "1", String(i)] })),
        { inlineOutputs: false },
      );
      expect((await client.wait(submission, { timeoutMs: 60_000 })).finished).toBe(5);
      // Each task's steps from claim to finish, in order; the two requests after the claim each waited the delay.
      for (const id of submission.taskIds) {
        const t = grid.taskTimes.get(id);
        const steps = [t?.claimed, t?.outputSent, t?.outputWritten, t?.endSent, t?.ended];
        expect(
          steps.every((v) => typeof v === "number"),
          id,
        ).toBe(true);
        const [claimed, outputSent, outputWritten, endSent, ended] = steps as number[];
        expect(claimed).toBeLessThanOrEqual(outputSent);
        expect(outputWritten - outputSent).toBeGreaterThanOrEqual(delayMs - 1);
        expect(outputWritten).toBeLessThanOrEqual(endSent);
        expect(ended - endSent).toBeGreaterThanOrEqual(delayMs - 1);
      }
      // Outputs kept in the rows: the finish that carries the output is the one request after the claim.
      const inline = await client.submit([{ worker_arguments: ["0", "1", "1"] }]);
      expect((await client.wait(inline, { timeoutMs: 60_000 })).finished).toBe(1);
      const t = grid.taskTimes.get(inline.taskIds[0]);
      expect(t?.outputSent).toBeUndefined();
      expect((t?.ended ?? 0) - (t?.endSent ?? Infinity)).toBeGreaterThanOrEqual(delayMs - 1);
      expect(t?.claimed).toBeLessThanOrEqual(t?.endSent ?? -1);
      const serverMs = grid.serverMs();
      // (ReceiveMessage long-polls: the server holds it until a message arrives or the poll ends.)
      const timed = [...grid.requests()]
        .filter(([key, n]) => key !== "apigateway" && key !== "sqs:ReceiveMessage" && n > 0)
        .map(([key]) => key);
      expect(timed).toContain("dynamodb:UpdateItem");
      for (const key of timed) {
        expect(serverMs.get(key), key).toBeGreaterThan(0);
        // Each of these requests waited 60 ms at the proxy before it was sent: that wait is not server time.
        expect(serverMs.get(key), key).toBeLessThan(delayMs);
      }
    } finally {
      grid.setDelayMs(0);
    }
  }, 90_000);
});
