// A conditional transition whose first attempt is applied but whose response is lost: the SDK retries, the retry
// fails its condition, and the transition must still count as applied (cancel counts, TTL requeues depend on it).
// A proxy on 127.0.0.1 sits between the client and the local DynamoDB. It drops the response of the next UpdateItem
// after the server applied it (the socket is destroyed, so the SDK sees ECONNRESET and retries). The local DynamoDB
// (patched dynalite) returns the old item with ConditionalCheckFailedException as DynamoDB does; the proxy can strip
// it to play an endpoint that ignores ReturnValuesOnConditionCheckFailure.

import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { DynamoDBClient, GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { stateKeyForTask } from "../../../../runtime/src/contract";
import { StateTable } from "../../../../runtime/src/aws/state-table";
import { getRow, newSessionId } from "./fixtures";
import { REGION, TABLE, startLocalGrid, type LocalGrid } from "./local-grid";

let grid: LocalGrid;
let proxy: Server;
let proxied: StateTable;
let direct: StateTable;
/** UpdateItem responses to drop after dynalite applied them. */
let dropUpdates = 0;
/** UpdateItem requests the proxy received. */
let updateRequests = 0;
/** false: strip the old item from ConditionalCheckFailedException. */
let keepOldItem = true;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
}

async function forward(req: IncomingMessage, body: string, endpoint: string): Promise<[number, string]> {
  const headers: Record<string, string> = {};
  for (const name of ["content-type", "x-amz-target", "x-amz-date", "authorization"]) {
    const value = req.headers[name];
    if (typeof value === "string") headers[name] = value;
  }
  const upstream = await fetch(endpoint, { method: "POST", headers, body });
  return [upstream.status, await upstream.text()];
}

beforeAll(async () => {
  grid = await startLocalGrid();
  const dynamoEndpoint = grid.env.AWS_ENDPOINT_URL_DYNAMODB;
  proxy = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const [status, forwarded] = await forward(req, body, dynamoEndpoint);
      let text = forwarded;
      if (String(req.headers["x-amz-target"]).endsWith(".UpdateItem")) {
        updateRequests++;
        if (!keepOldItem && status === 400 && text.includes("ConditionalCheckFailedException")) {
          const parsed = JSON.parse(text) as { Item?: unknown };
          delete parsed.Item;
          text = JSON.stringify(parsed);
        }
        if (status === 200 && dropUpdates > 0) {
          dropUpdates--;
          req.socket.destroy();
          return;
        }
      }
      res.writeHead(status, { "content-type": "application/x-amz-json-1.0" });
      res.end(text);
    })();
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  const { port } = proxy.address() as AddressInfo;
  const credentials = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };
  const client = new DynamoDBClient({
    region: REGION,
    endpoint: `http://127.0.0.1:${port}`,
    credentials,
    maxAttempts: 3,
  });
  proxied = new StateTable(client, TABLE);
  direct = new StateTable(grid.ddb, TABLE);
});

afterAll(async () => {
  proxy?.closeAllConnections();
  await new Promise((resolve) => proxy?.close(resolve));
  await grid?.stop();
});

beforeEach(() => {
  dropUpdates = 0;
  updateRequests = 0;
  keepOldItem = true;
});

async function putTask(state: "pending" | "processing", heartbeatSec = 0): Promise<string> {
  const taskId = `${newSessionId()}_0`;
  await grid.ddb.send(
    new PutItemCommand({
      TableName: TABLE,
      Item: {
        task_id: { S: taskId },
        session_id: { S: taskId.slice(0, -2) },
        task_status: { S: stateKeyForTask(state, taskId) },
        task_owner: { S: state === "pending" ? "None" : "agent-1" },
        retries: { N: "0" },
        heartbeat_expiration_timestamp: { N: String(heartbeatSec) },
      },
    }),
  );
  return taskId;
}

describe("conditional transitions with a lost response", () => {
  it("a cancel applied by the first attempt counts as applied when the SDK's retry fails its condition", async () => {
    const taskId = await putTask("pending");
    dropUpdates = 1;
    expect(await proxied.cancelTask(taskId, "pending")).toBe(true);
    expect(updateRequests).toBe(2); // the dropped attempt and the retry
    expect((await getRow(grid.ddb, taskId))?.task_status).toBe(stateKeyForTask("cancelled", taskId));
  });

  it("a TTL retry applied by the first attempt counts as applied, so the checker goes on to requeue it", async () => {
    const nowSec = Math.floor(Date.now() / 1000);
    const taskId = await putTask("processing", nowSec - 60);
    dropUpdates = 1;
    expect(await proxied.retryTask(taskId, nowSec)).toBe(true);
    expect(updateRequests).toBe(2);
    expect(await getRow(grid.ddb, taskId)).toMatchObject({
      task_status: stateKeyForTask("pending", taskId),
      retries: 1,
    });
  });

  it("a transition someone else made first is not counted as this call's", async () => {
    const taskId = await putTask("pending");
    expect(await direct.cancelTask(taskId, "pending")).toBe(true);
    expect(await proxied.cancelTask(taskId, "pending")).toBe(false);
    expect(updateRequests).toBe(1);
  });

  it("every transition stamps a fresh id, so two transitions of one task never share one", async () => {
    const nowSec = Math.floor(Date.now() / 1000);
    const taskId = await putTask("processing", nowSec - 60);
    const read = async () =>
      (
        await grid.ddb.send(
          new GetItemCommand({ TableName: TABLE, Key: { task_id: { S: taskId } }, ConsistentRead: true }),
        )
      ).Item?.["last_transition_id"]?.S;
    expect(await direct.retryTask(taskId, nowSec)).toBe(true);
    const first = await read();
    expect(await direct.cancelTask(taskId, "pending")).toBe(true);
    const second = await read();
    expect(first).toMatch(/^[0-9a-f-]{36}$/);
    expect(second).toMatch(/^[0-9a-f-]{36}$/);
    expect(second).not.toBe(first);
  });

  it("without the old item in the error (an endpoint that ignores ALL_OLD), a failed condition stays a no", async () => {
    keepOldItem = false;
    const taskId = await putTask("pending");
    dropUpdates = 1;
    expect(await proxied.cancelTask(taskId, "pending")).toBe(false);
    expect((await getRow(grid.ddb, taskId))?.task_status).toBe(stateKeyForTask("cancelled", taskId));
  });
});
