// submit_tasks against dynalite + local-aws-sqs + s3rver: rows, messages, priorities, malformed
// requests, the inline-input mode and failure injection on the state table and the queue.

import { ScanCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import type { Message } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  handler,
  resetColdStart,
  submitTasks,
} from "../../../../runtime/src/control-plane/handlers/submit-tasks";
import { stateKeyForSession } from "../../../../runtime/src/contract";
import {
  dataPlane,
  dynamoClient,
  errorLogger,
  stateTable,
  taskQueue,
} from "../../../../runtime/src/control-plane/runtime";
import { MAX_TASKS_PER_SUBMISSION } from "../../../../runtime/src/contract";
import {
  apiEvent,
  applyEnv,
  b64,
  finishAsAgent,
  getRow,
  newSessionId,
  putPayloadS3,
  submissionPayload,
} from "./fixtures";
import { StateTable } from "../../../../runtime/src/aws/state-table";
import { BUCKET, LOG_GROUP, LOG_STREAM, TABLE, startLocalGrid, type LocalGrid } from "./local-grid";

let grid: LocalGrid;

async function rowCount(ddb: DynamoDBClient, sessionId: string): Promise<number> {
  const out = await ddb.send(
    new ScanCommand({
      TableName: TABLE,
      FilterExpression: "session_id = :s",
      ExpressionAttributeValues: { ":s": { S: sessionId } },
    }),
  );
  return out.Count ?? 0;
}

/** Messages of one session on a queue (drains the queue; other sessions' messages are dropped). */
async function messagesOf(sessionId: string, priority: number): Promise<Message[]> {
  return (await grid.drain(priority)).filter((m) => (m.Body ?? "").includes(sessionId));
}

beforeAll(async () => {
  grid = await startLocalGrid({ priorities: 3 });
  applyEnv(grid.env);
});
afterAll(async () => {
  await resetColdStart();
  await grid?.stop();
});
beforeEach(async () => {
  await resetColdStart();
  applyEnv(grid.env);
});

describe("submit_tasks with external storage (S3)", () => {
  it("creates one pending row and one message per task on the session's priority queue", async () => {
    const sessionId = newSessionId();
    await putPayloadS3(grid.s3, sessionId, submissionPayload(sessionId, 25, 2));
    const response = await handler(apiEvent(sessionId));
    expect(response.statusCode).toBe(200);
    const body = JSON.parse(response.body) as { session_id: string; task_ids: string[] };
    expect(body.session_id).toBe(sessionId);
    expect(body.task_ids).toHaveLength(25);

    const row = await getRow(grid.ddb, `${sessionId}_7`);
    expect(row).toMatchObject({
      session_id: sessionId,
      parent_session_id: sessionId,
      task_status: stateKeyForSession("pending", sessionId),
      task_owner: "None",
      retries: 0,
      task_definition: "none",
      sqs_handler_id: "None",
      heartbeat_expiration_timestamp: 0,
      task_completion_timestamp: 0,
      task_priority: 2,
    });
    expect(await rowCount(grid.ddb, sessionId)).toBe(25);

    const messages = await grid.drain(2);
    expect(messages.map((m) => m.MessageId).length).toBe(25);
    const bodies = messages.map((m) => JSON.parse(m.Body ?? "{}") as Record<string, unknown>);
    expect(new Set(bodies.map((b) => b.task_id))).toEqual(new Set(body.task_ids));
    expect(bodies[0]).toMatchObject({
      session_id: sessionId,
      task_priority: 2,
      task_status: stateKeyForSession("pending", sessionId),
    });
    expect(
      (bodies[0].stats as Record<string, { tstmp: number }>).stage2_sbmtlmba_01_invocation_tstmp.tstmp,
    ).toBeGreaterThan(0);
    expect(messages[0].MessageAttributes?.priority?.StringValue).toBe("2");
    expect(await messagesOf(sessionId, 0)).toHaveLength(0);
    expect(await messagesOf(sessionId, 1)).toHaveLength(0);
  });

  it("queues to priority 0 when the submission names no priority", async () => {
    const sessionId = newSessionId();
    await putPayloadS3(grid.s3, sessionId, submissionPayload(sessionId, 3));
    expect((await handler(apiEvent(sessionId))).statusCode).toBe(200);
    expect(await grid.drain(0)).toHaveLength(3);
  });

  it.each([
    ["an unknown session (no payload)", () => newSessionId(), /Unknown session/],
    ["a session id with bad characters", () => "../../etc/passwd", /session id/],
  ])("rejects %s with 543 and writes nothing", async (_name, makeId, message) => {
    const response = await handler(apiEvent(makeId()));
    expect(response.statusCode).toBe(543);
    expect(response.body).toMatch(message);
  });

  it.each([
    ["a payload that is not base64", () => "not base64 !!"],
    ["a payload that is not JSON", () => Buffer.from("{oops").toString("base64url")],
    [
      "task ids from another session",
      (s: string) => b64({ ...submissionPayload(s, 2), tasks_list: { tasks: ["other_1", "other_2"] } }),
    ],
    ["a priority outside the configured range", (s: string) => b64(submissionPayload(s, 2, 3))],
    ["too many tasks", (s: string) => b64(submissionPayload(s, MAX_TASKS_PER_SUBMISSION + 1))],
    [
      "duplicate task ids",
      (s: string) => b64({ ...submissionPayload(s, 1), tasks_list: { tasks: [`${s}_1`, `${s}_1`] } }),
    ],
    [
      "an inline_outputs that is not a boolean",
      (s: string) =>
        b64({ ...submissionPayload(s, 2), scheduler_data: { retry_count: 5, inline_outputs: "yes" } }),
    ],
  ])("rejects %s with 543 and writes nothing", async (_name, makePayload) => {
    const sessionId = newSessionId();
    await grid.s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: `${sessionId}-payload`, Body: makePayload(sessionId) }),
    );
    const response = await handler(apiEvent(sessionId));
    expect(response.statusCode).toBe(543);
    expect(response.body.length).toBeGreaterThan(0);
    expect(await rowCount(grid.ddb, sessionId)).toBe(0);
    expect(await messagesOf(sessionId, 0)).toHaveLength(0);
  });

  it("marks the rows and messages of a session that asks for inline outputs, and only those", async () => {
    const asking = newSessionId();
    await putPayloadS3(grid.s3, asking, {
      ...submissionPayload(asking, 2),
      scheduler_data: { task_timeout_sec: 3600, retry_count: 5, inline_outputs: true },
    });
    const plain = newSessionId();
    await putPayloadS3(grid.s3, plain, submissionPayload(plain, 2));
    expect((await handler(apiEvent(asking))).statusCode).toBe(200);
    expect((await handler(apiEvent(plain))).statusCode).toBe(200);
    expect((await getRow(grid.ddb, `${asking}_1`))?.inline_outputs).toBe(1);
    expect((await getRow(grid.ddb, `${plain}_1`))?.inline_outputs).toBeUndefined();
    const bodies = (await grid.drain(0)).map((m) => JSON.parse(m.Body ?? "{}") as Record<string, unknown>);
    expect(bodies).toHaveLength(4);
    for (const body of bodies) {
      expect(body.inline_outputs, String(body.task_id)).toBe(
        String(body.task_id).startsWith(asking) ? 1 : undefined,
      );
    }
  });

  it("refuses, before writing anything, a submission whose queue messages would exceed SQS's 256 KiB", async () => {
    const sessionId = newSessionId();
    // Each message is the task's row plus the submission's stats: 300 KB of stats cannot be queued.
    const payload = { ...submissionPayload(sessionId, 3), stats: { note: "x".repeat(300 * 1024) } };
    await putPayloadS3(grid.s3, sessionId, payload);
    const response = await handler(apiEvent(sessionId));
    expect(response.statusCode).toBe(543);
    expect(response.body).toMatch(/above SQS's 262144-byte limit.*Nothing was written/);
    expect(await rowCount(grid.ddb, sessionId)).toBe(0);
    expect(await messagesOf(sessionId, 0)).toHaveLength(0);
  });

  it("queues a submission whose messages are large but within SQS's limit", async () => {
    const sessionId = newSessionId();
    const payload = { ...submissionPayload(sessionId, 2), stats: { note: "x".repeat(200 * 1024) } };
    await putPayloadS3(grid.s3, sessionId, payload);
    expect((await handler(apiEvent(sessionId))).statusCode).toBe(200);
    expect(await rowCount(grid.ddb, sessionId)).toBe(2);
    expect(await messagesOf(sessionId, 0)).toHaveLength(2);
  });

  it("rejects a request without submission_content", async () => {
    const response = await handler({ queryStringParameters: null });
    expect(response).toMatchObject({ statusCode: 543, body: expect.stringMatching(/submission_content/) });
  });
});

describe("submit_tasks with inline task input (TASK_INPUT_PASSED_VIA_EXTERNAL_STORAGE=0)", () => {
  it("assigns ids, stores each definition in its row and queues the tasks", async () => {
    applyEnv({ TASK_INPUT_PASSED_VIA_EXTERNAL_STORAGE: "0" });
    const tasks = [{ worker_arguments: ["1000", "1", "1"] }, { worker_arguments: ["2000", "1", "1"] }];
    const response = await handler(apiEvent(b64({ session_id: "None", tasks_list: { tasks }, stats: {} })));
    expect(response.statusCode).toBe(200);
    const body = JSON.parse(response.body) as { session_id: string; task_ids: string[] };
    expect(body.task_ids).toEqual([`${body.session_id}_0`, `${body.session_id}_1`]);
    const row = await getRow(grid.ddb, body.task_ids[1]);
    expect(JSON.parse(row?.task_definition ?? "null")).toEqual(tasks[1]);
    const messages = await grid.drain(0);
    expect(
      messages.map((m) => (JSON.parse(m.Body ?? "{}") as { task_definition: string }).task_definition).sort(),
    ).toEqual(tasks.map((t) => JSON.stringify(t)).sort());
  });

  it("numbers a later part of a split session from tasks_list.first_index", async () => {
    applyEnv({ TASK_INPUT_PASSED_VIA_EXTERNAL_STORAGE: "0" });
    const sessionId = newSessionId();
    const part = (first: number, count: number) =>
      apiEvent(
        b64({
          session_id: sessionId,
          tasks_list: { tasks: Array.from({ length: count }, () => ({})), first_index: first },
        }),
      );
    expect(JSON.parse((await handler(part(0, 2))).body).task_ids).toEqual([
      `${sessionId}_0`,
      `${sessionId}_1`,
    ]);
    expect(JSON.parse((await handler(part(2, 3))).body).task_ids).toEqual(
      [2, 3, 4].map((i) => `${sessionId}_${i}`),
    );
    expect(await rowCount(grid.ddb, sessionId)).toBe(5);
    const bad = await handler(part(-1, 1));
    expect(bad.statusCode).toBe(543);
    expect(bad.body).toMatch(/first_index/);
  });

  it("reads the submission from the request body when there is one (large inline submissions)", async () => {
    applyEnv({ TASK_INPUT_PASSED_VIA_EXTERNAL_STORAGE: "0" });
    const sessionId = newSessionId();
    // 200 definitions of 1 KB: far above what fits in a query string.
    const tasks = Array.from({ length: 200 }, (_, i) => ({ i, pad: "p".repeat(1024) }));
    const response = await handler({
      queryStringParameters: { submission_content: sessionId },
      body: b64({ session_id: sessionId, tasks_list: { tasks } }),
      isBase64Encoded: false,
    });
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body).task_ids).toHaveLength(200);
    expect(JSON.parse((await getRow(grid.ddb, `${sessionId}_7`))?.task_definition ?? "{}")).toEqual(tasks[7]);
  });

  it("rejects task ids (strings) in inline mode", async () => {
    applyEnv({ TASK_INPUT_PASSED_VIA_EXTERNAL_STORAGE: "0" });
    const sessionId = newSessionId();
    const response = await handler(apiEvent(b64(submissionPayload(sessionId, 2))));
    expect(response.statusCode).toBe(543);
    expect(await rowCount(grid.ddb, sessionId)).toBe(0);
  });
});

describe("submit_tasks retried or repeated", () => {
  it("answers a repeated submission as a duplicate and writes and queues nothing again", async () => {
    const sessionId = newSessionId();
    await putPayloadS3(grid.s3, sessionId, submissionPayload(sessionId, 5));
    const first = JSON.parse((await handler(apiEvent(sessionId))).body);
    expect(first.duplicate).toBeUndefined();
    expect(await messagesOf(sessionId, 0)).toHaveLength(5);
    // An agent finished one task meanwhile: a blind rewrite would have reset it to pending and queued it again.
    await finishAsAgent(grid.ddb, `${sessionId}_0`);
    const again = await handler(apiEvent(sessionId));
    expect(again.statusCode).toBe(200);
    expect(JSON.parse(again.body)).toEqual({
      session_id: sessionId,
      task_ids: first.task_ids,
      duplicate: true,
    });
    expect((await getRow(grid.ddb, `${sessionId}_0`))?.task_status).toBe(
      stateKeyForSession("finished", sessionId),
    );
    expect(await messagesOf(sessionId, 0)).toHaveLength(0);
  });

  it("lets exactly one of two concurrent copies of a submission write and queue", async () => {
    const sessionId = newSessionId();
    await putPayloadS3(grid.s3, sessionId, submissionPayload(sessionId, 30));
    const answers = await Promise.all([handler(apiEvent(sessionId)), handler(apiEvent(sessionId))]);
    expect(answers.map((a) => a.statusCode)).toEqual([200, 200]);
    expect(answers.filter((a) => JSON.parse(a.body).duplicate === true)).toHaveLength(1);
    expect(await rowCount(grid.ddb, sessionId)).toBe(30);
    expect(await messagesOf(sessionId, 0)).toHaveLength(30);
  });
});

describe("submit_tasks under failure injection", () => {
  async function deps(wrap: {
    batchWriteAttempts?: number;
    ddbSend?: (orig: (c: unknown) => Promise<unknown>, c: unknown) => Promise<unknown>;
    sqsSend?: (orig: (c: unknown) => Promise<unknown>, c: unknown) => Promise<unknown>;
  }) {
    const table = wrap.batchWriteAttempts
      ? new StateTable(dynamoClient(process.env), TABLE, wrap.batchWriteAttempts)
      : stateTable(process.env);
    const queue = taskQueue(process.env);
    // Reach the real clients and wrap their send: the servers stay real, only failures are injected.
    const ddb = (table as unknown as { ddb: { send: (c: unknown) => Promise<unknown> } }).ddb;
    const sqs = (queue as unknown as { sqs: { send: (c: unknown) => Promise<unknown> } }).sqs;
    if (wrap.ddbSend) {
      const orig = ddb.send.bind(ddb);
      ddb.send = (c) => wrap.ddbSend!(orig, c);
    }
    if (wrap.sqsSend) {
      const orig = sqs.send.bind(sqs);
      sqs.send = (c) => wrap.sqsSend!(orig, c);
    }
    const data = await dataPlane(process.env);
    return {
      stateTable: table,
      taskQueue: queue,
      dataPlane: data.dataPlane,
      externalStorage: true,
      logger: errorLogger(process.env, "submit_tasks"),
    };
  }

  it("retries UnprocessedItems and throttling until every row is written", async () => {
    const sessionId = newSessionId();
    await putPayloadS3(grid.s3, sessionId, submissionPayload(sessionId, 60));
    let calls = 0;
    const d = await deps({
      ddbSend: async (orig, command) => {
        const name = (command as { constructor: { name: string } }).constructor.name;
        if (name !== "BatchWriteItemCommand") return orig(command);
        calls++;
        if (calls === 1)
          throw Object.assign(new Error("throttled"), { name: "ProvisionedThroughputExceededException" });
        // Let DynamoDB write only the first half of each batch; report the rest as unprocessed.
        const input = (command as { input: { RequestItems: Record<string, unknown[]> } }).input;
        const items = input.RequestItems[TABLE];
        const half = Math.ceil(items.length / 2);
        const { BatchWriteItemCommand } = await import("@aws-sdk/client-dynamodb");
        await orig(new BatchWriteItemCommand({ RequestItems: { [TABLE]: items.slice(0, half) as never } }));
        return { UnprocessedItems: items.length > half ? { [TABLE]: items.slice(half) } : {} };
      },
    });
    const response = await submitTasks(apiEvent(sessionId), d);
    expect(response.statusCode).toBe(200);
    expect(calls).toBeGreaterThan(5);
    expect(await rowCount(grid.ddb, sessionId)).toBe(60);
    expect(await messagesOf(sessionId, 0)).toHaveLength(60);
  });

  it("reports a state table that stays throttled, removes partial rows and queues nothing", async () => {
    const sessionId = newSessionId();
    await putPayloadS3(grid.s3, sessionId, submissionPayload(sessionId, 60));
    let writes = 0;
    const d = await deps({
      batchWriteAttempts: 3,
      ddbSend: async (orig, command) => {
        const name = (command as { constructor: { name: string } }).constructor.name;
        if (name !== "BatchWriteItemCommand") return orig(command);
        // The first batch gets through, everything after it is throttled for good.
        if (writes++ === 0) return orig(command);
        throw Object.assign(new Error("throttled"), { name: "ProvisionedThroughputExceededException" });
      },
    });
    const response = await submitTasks(apiEvent(sessionId), d);
    expect(response.statusCode).toBe(543);
    expect(response.body).toMatch(/nothing was queued/);
    expect(await rowCount(grid.ddb, sessionId)).toBe(0);
    expect(await messagesOf(sessionId, 0)).toHaveLength(0);
    // The rollback removed the first row (the submission's claim) too, so resubmitting is not a duplicate.
    const again = await handler(apiEvent(sessionId));
    expect(JSON.parse(again.body).duplicate).toBeUndefined();
    expect(await rowCount(grid.ddb, sessionId)).toBe(60);
    expect(
      grid.recorded.some(
        (c) =>
          c.target.endsWith("PutLogEvents") &&
          c.body.logGroupName === LOG_GROUP &&
          c.body.logStreamName === LOG_STREAM,
      ),
    ).toBe(true);
  }, 30_000);

  it("marks tasks whose message could not be sent as failed instead of leaving them pending", async () => {
    const sessionId = newSessionId();
    await putPayloadS3(grid.s3, sessionId, submissionPayload(sessionId, 20));
    const d = await deps({
      sqsSend: async (orig, command) => {
        const name = (command as { constructor: { name: string } }).constructor.name;
        if (name !== "SendMessageBatchCommand") return orig(command);
        const entries = (command as { input: { Entries: { Id: string }[] } }).input.Entries;
        // Entries of task 3 always fail; the others are sent.
        const ok = entries.filter((e) => e.Id !== `${sessionId}_3`);
        const { SendMessageBatchCommand } = await import("@aws-sdk/client-sqs");
        const input = (command as { input: ConstructorParameters<typeof SendMessageBatchCommand>[0] }).input;
        if (ok.length > 0)
          await orig(
            new SendMessageBatchCommand({
              ...input,
              Entries: input.Entries?.filter((e) => e.Id !== `${sessionId}_3`),
            }),
          );
        return {
          Successful: ok,
          Failed: entries
            .filter((e) => e.Id === `${sessionId}_3`)
            .map((e) => ({ Id: e.Id, Code: "InternalError", SenderFault: false })),
        };
      },
    });
    const response = await submitTasks(apiEvent(sessionId), d);
    expect(response.statusCode).toBe(543);
    expect((await getRow(grid.ddb, `${sessionId}_3`))?.task_status).toBe(
      stateKeyForSession("failed", sessionId),
    );
    expect((await getRow(grid.ddb, `${sessionId}_4`))?.task_status).toBe(
      stateKeyForSession("pending", sessionId),
    );
    expect(await messagesOf(sessionId, 0)).toHaveLength(19);
  }, 30_000);
});
