// The local DynamoDB: dynalite 4.0.0 patched at load time (runtime/src/local/dynalite.ts), in this process and in
// one of its own (the local grid's).

import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  BatchWriteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleRuntime } from "../../../modules/runtime-bundle/bundle";
import { patchDynaliteSource } from "../../../runtime/src/local/dynalite";
import type { DynamoCallRecord } from "../../../runtime/src/local/dynamo-calls";
import { stateKeyForSession } from "../../../runtime/src/contract";
import {
  LOCAL_CREDENTIALS,
  createStateTable,
  startDynamo,
  startDynamoProcess,
  type LocalServer,
} from "../../../runtime/src/local/servers";

/** An update of row "a" whose condition fails (its status is not "other"). */
const failingUpdate = (returnValues?: "ALL_OLD") =>
  new UpdateItemCommand({
    TableName: "tasks",
    Key: { task_id: { S: "a" } },
    UpdateExpression: "SET note = :n",
    ConditionExpression: "task_status = :s",
    ExpressionAttributeValues: { ":n": { S: "x" }, ":s": { S: "other" } },
    ReturnValuesOnConditionCheckFailure: returnValues,
  });

let server: LocalServer;
let ddb: DynamoDBClient;

beforeAll(async () => {
  server = await startDynamo();
  ddb = new DynamoDBClient({
    region: "us-east-1",
    endpoint: server.endpoint,
    credentials: LOCAL_CREDENTIALS,
  });
  await createStateTable(ddb, "tasks");
});
afterAll(async () => {
  ddb?.destroy();
  await server?.stop();
});

describe("patched dynalite", () => {
  it("applies every patch to the pinned source and refuses a source it does not recognise", () => {
    const source = readFileSync(require.resolve("dynalite/db/index.js"), "utf8");
    const patched = patchDynaliteSource(source);
    expect(patched).not.toBe(source);
    expect(patched).toContain("withOldItem");
    expect(() => patchDynaliteSource(source.replace("hashPrefix.apply(this, tableKeyPieces)", "x"))).toThrow(
      /does not apply/,
    );
  });

  it("returns the old item with a failed condition when asked (ReturnValuesOnConditionCheckFailure ALL_OLD)", async () => {
    await ddb.send(
      new PutItemCommand({ TableName: "tasks", Item: { task_id: { S: "a" }, task_status: { S: "p1" } } }),
    );
    const update = (returnValues?: "ALL_OLD") => ddb.send(failingUpdate(returnValues));
    await expect(update("ALL_OLD")).rejects.toMatchObject({
      name: "ConditionalCheckFailedException",
      Item: { task_id: { S: "a" }, task_status: { S: "p1" } },
    });
    const without = await update().catch((e: { Item?: unknown }) => e);
    expect(without).toMatchObject({ name: "ConditionalCheckFailedException" });
    expect((without as { Item?: unknown }).Item).toBeUndefined();
    // A missing item has nothing to return.
    const missing = await ddb
      .send(
        new UpdateItemCommand({
          TableName: "tasks",
          Key: { task_id: { S: "nope" } },
          UpdateExpression: "SET note = :n",
          ConditionExpression: "attribute_exists(task_id)",
          ExpressionAttributeValues: { ":n": { S: "x" } },
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
      )
      .catch((e: { Item?: unknown }) => e);
    expect((missing as { Item?: unknown }).Item).toBeUndefined();
  });
});

describe("in a process of its own (the local-dynamodb bundle the local grid runs)", () => {
  let dir: string;
  let script: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "htc-dynamo-process-"));
    bundleRuntime("local-dynamodb", dir);
    script = join(dir, "index.js");
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const alive = (pid: number) => existsSync(`/proc/${pid}`);

  it("serves the patched dynalite from outside the repository, and stop() leaves no process", async () => {
    const dynamo = await startDynamoProcess(script);
    const client = new DynamoDBClient({
      region: "us-east-1",
      endpoint: dynamo.endpoint,
      credentials: LOCAL_CREDENTIALS,
    });
    try {
      await createStateTable(client, "tasks");
      await client.send(
        new PutItemCommand({ TableName: "tasks", Item: { task_id: { S: "a" }, task_status: { S: "p1" } } }),
      );
      // The patch is in: a failed condition returns the old item.
      await expect(client.send(failingUpdate("ALL_OLD"))).rejects.toMatchObject({
        Item: { task_status: { S: "p1" } },
      });
    } finally {
      client.destroy();
      await dynamo.stop();
    }
    expect(dynamo.pid).toBeGreaterThan(0);
    expect(alive(dynamo.pid!)).toBe(false);
  });

  it("exits by itself when its parent goes away (stdin closed)", async () => {
    const child = spawn(process.execPath, [script], {
      env: { PATH: process.env.PATH, HTC_DYNALITE_FROM: require.resolve("dynalite") },
      stdio: ["pipe", "pipe", "inherit"],
    });
    await new Promise<void>((resolve) => child.stdout.once("data", () => resolve()));
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.stdin.end();
    expect(await exited).toBe(0);
  });

  it("refuses to start without HTC_DYNALITE_FROM, and a taken port is named", async () => {
    const missing = spawnSync(process.execPath, [script], {
      env: { PATH: process.env.PATH },
      encoding: "utf8",
    });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/HTC_DYNALITE_FROM .* is required/);
    const first = await startDynamoProcess(script);
    try {
      await expect(startDynamoProcess(script, first.port)).rejects.toThrow(
        new RegExp(`port ${first.port} on 127.0.0.1 is already in use`),
      );
    } finally {
      await first.stop();
    }
  });
  it("with the front: counts, delays and records each call, and sends it to the grid in order", async () => {
    const records: DynamoCallRecord[] = [];
    const dynamo = await startDynamoProcess(script, 0, { delayMs: 60, onCall: (r) => records.push(r) });
    const through = (endpoint: string) =>
      new DynamoDBClient({ region: "us-east-1", endpoint, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
    const front = through(dynamo.endpoint);
    const direct = through(dynamo.direct);
    try {
      expect(dynamo.direct).not.toBe(dynamo.endpoint);
      // Setup through the direct endpoint is neither recorded nor delayed.
      await createStateTable(direct, "tasks");
      const put = (id: string) =>
        direct.send(
          new PutItemCommand({
            TableName: "tasks",
            Item: { task_id: { S: id }, task_status: { S: stateKeyForSession("pending", "s1") } },
          }),
        );
      await put("s1_0");
      await put("s1_1");
      expect(records).toEqual([]);

      const transition = (id: string, to: string, extra: Record<string, { S: string }> = {}) =>
        front.send(
          new UpdateItemCommand({
            TableName: "tasks",
            Key: { task_id: { S: id } },
            UpdateExpression: `SET task_status = :to${":handle" in extra ? ", sqs_handler_id = :handle" : ""}`,
            ExpressionAttributeValues: { ":to": { S: to }, ...extra },
          }),
        );
      const started = performance.now();
      await transition("s1_0", stateKeyForSession("processing", "s1"), { ":handle": { S: "receipt-1" } });
      expect(performance.now() - started).toBeGreaterThanOrEqual(60);
      await transition("s1_0", stateKeyForSession("finished", "s1"));
      await transition("s1_1", stateKeyForSession("failed", "s1"));
      // Not a state key: counted, but no transition.
      await transition("s1_1", "finished-or-not");
      await front.send(
        new BatchWriteItemCommand({
          RequestItems: {
            tasks: [1, 2, 3].map((i) => ({
              PutRequest: { Item: { task_id: { S: `b${i}` }, task_status: { S: "pendings2" } } },
            })),
          },
        }),
      );
      dynamo.setDelayMs(0);
      await new Promise((r) => setTimeout(r, 100)); // the delay command travels over stdin
      const quick = performance.now();
      await front.send(new GetItemCommand({ TableName: "tasks", Key: { task_id: { S: "s1_0" } } }));
      expect(performance.now() - quick).toBeLessThan(60);
      await expect
        .poll(() => records.map((r) => r.op))
        .toEqual(["UpdateItem", "UpdateItem", "UpdateItem", "UpdateItem", "BatchWriteItem", "GetItem"]);
      expect(records[0]).toMatchObject({ status: 200, claimed: "s1_0" });
      expect(records[1]).toMatchObject({ final: { taskId: "s1_0", state: "finished" } });
      expect(records[2]).toMatchObject({ final: { taskId: "s1_1", state: "failed" } });
      expect(records[3].final).toBeUndefined();
      expect(records[3].claimed).toBeUndefined();
      expect(records[4]).toMatchObject({ items: 3 });
      for (const r of records) {
        expect(r.serverMs).toBeGreaterThanOrEqual(0);
        // Epoch times, comparable with this process's clock; the added delay lies between arrival and answer.
        expect(Math.abs(r.answeredAt - Date.now())).toBeLessThan(10_000);
      }
      expect(records[0].answeredAt - records[0].arrivedAt).toBeGreaterThanOrEqual(60);
      expect(records[0].serverMs).toBeLessThan(records[0].answeredAt - records[0].arrivedAt);
    } finally {
      front.destroy();
      direct.destroy();
      await dynamo.stop();
    }
    expect(existsSync(`/proc/${dynamo.pid}`)).toBe(false);
  });

  it("names a taken port for the front too", async () => {
    const first = await startDynamoProcess(script);
    try {
      await expect(
        startDynamoProcess(script, first.port, { delayMs: 0, onCall: () => undefined }),
      ).rejects.toThrow(new RegExp(`port ${first.port} on 127.0.0.1 is already in use`));
    } finally {
      await first.stop();
    }
  });
});
