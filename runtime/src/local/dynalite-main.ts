// The local grid's DynamoDB in a process of its own (node local-dynamodb/index.js), as the real service runs off the
// grid's machines: on its own event loop, a state-table write no longer queues behind the local S3, SQS, proxies,
// API and client. It loads the patched dynalite (dynalite.ts) from the repository's node_modules, through the
// file HTC_DYNALITE_FROM names (the bundle itself lives elsewhere), prints {"port":N} once listening on 127.0.0.1,
// and exits when its stdin closes: the grid stopped, or died without a chance to stop it.

import { loadPatchedDynalite } from "./dynalite";

const anchor = process.env.HTC_DYNALITE_FROM;
if (!anchor) {
  console.error("local-dynamodb: HTC_DYNALITE_FROM (a file next to dynalite in node_modules) is required");
  process.exit(2);
}
const server = loadPatchedDynalite(anchor)({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
server.on("error", (error) => {
  console.error(`local-dynamodb: ${error.message}`);
  process.exit(1);
});
server.listen(Number(process.env.HTC_DYNALITE_PORT ?? 0), "127.0.0.1", () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === "object" ? address?.port : 0 })}\n`);
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
