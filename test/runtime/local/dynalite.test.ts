// The local DynamoDB: dynalite 4.0.0 patched at load time (runtime/src/local/dynalite.ts), in this process and in
// one of its own (the local grid's).

import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DynamoDBClient, PutItemCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleRuntime } from "../../../modules/runtime-bundle/bundle";
import { patchDynaliteSource } from "../../../runtime/src/local/dynalite";
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
    // Stopped, not lost: `lost` (which stops a local grid) stays pending.
    const pending = Symbol("pending");
    expect(await Promise.race([dynamo.lost, new Promise((r) => setTimeout(() => r(pending), 200))])).toBe(
      pending,
    );
  });

  it("reports a process that exits on its own in `lost`, with how it ended", async () => {
    const dynamo = await startDynamoProcess(script);
    process.kill(dynamo.pid!, "SIGKILL");
    expect(await dynamo.lost).toBe("signal SIGKILL");
    await dynamo.stop();
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
});
