// The local DynamoDB: dynalite 4.0.0 patched at load time (runtime/src/local/dynalite.ts).

import { readFileSync } from "node:fs";
import { DynamoDBClient, PutItemCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { patchDynaliteSource } from "../../../runtime/src/local/dynalite";
import {
  LOCAL_CREDENTIALS,
  createStateTable,
  startDynamo,
  type LocalServer,
} from "../../../runtime/src/local/servers";

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
    const update = (returnValues?: "ALL_OLD") =>
      ddb.send(
        new UpdateItemCommand({
          TableName: "tasks",
          Key: { task_id: { S: "a" } },
          UpdateExpression: "SET note = :n",
          ConditionExpression: "task_status = :s",
          ExpressionAttributeValues: { ":n": { S: "x" }, ":s": { S: "other" } },
          ReturnValuesOnConditionCheckFailure: returnValues,
        }),
      );
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
