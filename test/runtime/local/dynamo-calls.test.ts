// What the local grid learns from a DynamoDB call (runtime/src/local/dynamo-calls.ts): claims, final states and
// the items a batch write stored, from the request and response bodies its front sees.

import { describe, expect, it } from "vitest";
import { stateKeyForSession } from "../../../runtime/src/contract";
import { dynamoCallRecord, localTime } from "../../../runtime/src/local/dynamo-calls";

const update = (taskId: string, to: string, handle?: string) =>
  JSON.stringify({
    TableName: "t",
    Key: { task_id: { S: taskId } },
    ExpressionAttributeValues: { ":to": { S: to }, ...(handle ? { ":handle": { S: handle } } : {}) },
  });
const call = (operation: string, body: string, status = 200, response = "{}") => ({
  operation,
  body,
  status,
  response,
  arrivedAt: performance.now() - 7,
  serverMs: 2,
});

describe("dynamoCallRecord", () => {
  it("tells a claim (it records the receipt handle) from a final state, and ignores other updates", () => {
    expect(
      dynamoCallRecord(call("UpdateItem", update("s_0", stateKeyForSession("processing", "s"), "rh"))),
    ).toMatchObject({ op: "UpdateItem", claimed: "s_0" });
    for (const state of ["finished", "failed", "cancelled"] as const)
      expect(
        dynamoCallRecord(call("UpdateItem", update("s_1", stateKeyForSession(state, "s")))),
      ).toMatchObject({
        final: { taskId: "s_1", state },
      });
    const heartbeat = dynamoCallRecord(
      call("UpdateItem", update("s_2", stateKeyForSession("processing", "s"))),
    );
    expect(heartbeat.claimed).toBeUndefined();
    expect(heartbeat.final).toBeUndefined();
  });

  it("records no transition for a refused update (a failed condition is not a state change)", () => {
    const refused = dynamoCallRecord(
      call("UpdateItem", update("s_1", stateKeyForSession("finished", "s")), 400, '{"__type":"x"}'),
    );
    expect(refused).toMatchObject({ op: "UpdateItem", status: 400 });
    expect(refused.final).toBeUndefined();
  });

  it("counts the items a batch write stored, less those it left unprocessed", () => {
    const put = (id: string) => ({ PutRequest: { Item: { task_id: { S: id } } } });
    const record = dynamoCallRecord(
      call(
        "BatchWriteItem",
        JSON.stringify({ RequestItems: { t: [put("a"), put("b"), put("c")] } }),
        200,
        JSON.stringify({ UnprocessedItems: { t: [put("c")] } }),
      ),
    );
    expect(record.items).toBe(2);
  });

  it("stamps epoch times that come back to this process's clock", () => {
    const record = dynamoCallRecord(call("GetItem", "{}"));
    expect(Math.abs(record.answeredAt - Date.now())).toBeLessThan(1_000);
    expect(record.answeredAt - record.arrivedAt).toBeGreaterThanOrEqual(7);
    expect(Math.abs(localTime(record.answeredAt) - performance.now())).toBeLessThan(1_000);
    expect(record.serverMs).toBe(2);
  });
});
