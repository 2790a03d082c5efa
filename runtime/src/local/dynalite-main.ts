// The local grid's DynamoDB in a process of its own (node local-dynamodb/index.js), as the real service runs off the
// grid's machines: on its own event loop, a state-table write no longer queues behind the local S3, SQS, proxies,
// API and client. It loads the patched dynalite (dynalite.ts) from the repository's node_modules, through the
// file HTC_DYNALITE_FROM names (the bundle itself lives elsewhere), and exits when its stdin closes: the grid
// stopped, or died without a chance to stop it.
//
// With HTC_DYNAMO_FRONT=1 the grid's counting front (proxy.ts: request counts, the added delay) runs here too, in
// front of dynalite, so an agent's state-table call makes no hop through the grid's busy process: it listens on
// HTC_DYNALITE_PORT, dynalite on a port of its own, and each call's record (dynamo-calls.ts) goes to stdout as one
// JSON line `{"call":{...}}`. A stdin line `delay <ms>` changes the added delay.
// Once listening it prints {"port":N} (the port clients use) and, with the front, {"port":N,"direct":M}.

import { loadPatchedDynalite } from "./dynalite";
import { dynamoCallRecord } from "./dynamo-calls";
import { endpointOf, listen } from "./ports";
import { startAwsProxy } from "./proxy";

async function main(): Promise<void> {
  const anchor = process.env.HTC_DYNALITE_FROM;
  if (!anchor) {
    console.error("local-dynamodb: HTC_DYNALITE_FROM (a file next to dynalite in node_modules) is required");
    process.exit(2);
  }
  const port = Number(process.env.HTC_DYNALITE_PORT ?? 0);
  const front = process.env.HTC_DYNAMO_FRONT === "1";
  const server = loadPatchedDynalite(anchor)({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const direct = await listen(server, front ? 0 : port, "DynamoDB (dynalite)");
  process.stdin.on("end", () => process.exit(0));
  if (!front) {
    process.stdout.write(`${JSON.stringify({ port: direct })}\n`);
    process.stdin.resume();
    return;
  }

  const proxy = await startAwsProxy(
    "dynamodb",
    endpointOf(direct),
    Number(process.env.HTC_DYNAMO_DELAY_MS ?? 0),
    port,
  );
  // Records leave in one write per turn of the event loop, not one per call.
  let pending: string[] = [];
  proxy.setHook((call) => {
    if (pending.length === 0)
      setImmediate(() => {
        const lines = pending.join("");
        pending = [];
        process.stdout.write(lines);
      });
    pending.push(`${JSON.stringify({ call: dynamoCallRecord(call) })}\n`);
  });
  let input = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk: string) => {
    input += chunk;
    let newline;
    while ((newline = input.indexOf("\n")) >= 0) {
      const line = input.slice(0, newline).trim();
      input = input.slice(newline + 1);
      const delay = /^delay (\d+(?:\.\d+)?)$/.exec(line);
      if (delay) proxy.setDelayMs(Number(delay[1]));
      else if (line) console.error(`local-dynamodb: unknown command ${JSON.stringify(line)}`);
    }
  });
  const frontPort = Number(new URL(proxy.endpoint).port);
  process.stdout.write(`${JSON.stringify({ port: frontPort, direct })}\n`);
}

main().catch((error: unknown) => {
  console.error(`local-dynamodb: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
