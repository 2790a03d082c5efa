// A submit_tasks invocation that dies part-way (a Lambda timeout or crash) against dynalite + local-aws-sqs +
// s3rver: the invocation is cut by making the real servers' calls hang from some point on, and the TTL checker,
// run with its clock past the submission's deadline, must leave every task queued or visibly failed, never lost.

import { GetItemCommand, UpdateItemCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { Message } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { checkTtl, type TtlSummary } from "../../../../runtime/src/control-plane/handlers/ttl-checker";
import { resetColdStart, submitTasks } from "../../../../runtime/src/control-plane/handlers/submit-tasks";
import {
  SUBMISSION_DEADLINE_MARGIN_SEC,
  SUBMISSION_SIZE_ATTRIBUTE,
  SUBMIT_TASKS_TIMEOUT_SEC,
  stateKeyForSession,
  stateKeyForTask,
} from "../../../../runtime/src/contract";
import { dataPlane, errorLogger, stateTable, taskQueue } from "../../../../runtime/src/control-plane/runtime";
import type { SubmitDeps } from "../../../../runtime/src/control-plane/handlers/submit-tasks";
import { apiEvent, applyEnv, b64, getRow, newSessionId, putPayloadS3, submissionPayload } from "./fixtures";
import { TABLE, startLocalGrid, type LocalGrid } from "./local-grid";

let grid: LocalGrid;

beforeAll(async () => {
  grid = await startLocalGrid({ priorities: 1 });
  applyEnv(grid.env);
});
afterAll(async () => {
  await resetColdStart();
  await grid?.stop();
});
beforeEach(async () => {
  applyEnv(grid.env);
  await grid.purge(0);
});

type Send = (command: unknown) => Promise<unknown>;
const commandName = (command: unknown) => (command as { constructor: { name: string } }).constructor.name;
const never = () => new Promise<never>(() => undefined);

/**
 * The handler's dependencies on the real local servers, with each client's send wrapped: `ddb`/`sqs` decide per
 * call whether it goes through (`orig`) or hangs for good, which is what the invocation sees when it is killed.
 */
async function submitDeps(
  externalStorage: boolean,
  wrap: {
    ddb?: (orig: Send, command: unknown) => Promise<unknown>;
    sqs?: (orig: Send, command: unknown) => Promise<unknown>;
  },
): Promise<SubmitDeps> {
  const table = stateTable(process.env);
  const queue = taskQueue(process.env);
  for (const [client, fn] of [
    [(table as unknown as { ddb: { send: Send } }).ddb, wrap.ddb],
    [(queue as unknown as { sqs: { send: Send } }).sqs, wrap.sqs],
  ] as const) {
    if (!fn) continue;
    const orig = client.send.bind(client);
    client.send = (command) => fn(orig, command);
  }
  return {
    stateTable: table,
    taskQueue: queue,
    dataPlane: externalStorage ? (await dataPlane(process.env)).dataPlane : undefined,
    externalStorage,
    logger: errorLogger(process.env, "submit_tasks"),
  };
}

/** Dependencies whose invocation is killed at the `after + 1`th `command` sent through `client`: it hangs for good. */
async function killedAt(externalStorage: boolean, client: "ddb" | "sqs", command: string, after: number) {
  let calls = 0;
  const deps = await submitDeps(externalStorage, {
    [client]: (orig: Send, c: unknown) =>
      commandName(c) !== command || ++calls <= after ? orig(c) : never(),
  });
  return { deps, killed: () => calls > after };
}

/** Starts a submission and returns once `killed` says its invocation is stuck (the handler never answers). */
async function submitUntilKilled(
  event: Parameters<typeof submitTasks>[0],
  deps: SubmitDeps,
  killed: () => boolean,
) {
  let answered = false;
  void submitTasks(event, deps).then(() => (answered = true));
  for (let waited = 0; !killed(); waited += 10) {
    if (waited > 10_000 || answered) throw new Error("the submission was not cut where the test wanted");
    await new Promise((r) => setTimeout(r, 10));
  }
  // Let the calls that were let through land.
  await new Promise((r) => setTimeout(r, 200));
  expect(answered).toBe(false);
}

function ttl(offsetSec = 0, queue = taskQueue(process.env)): Promise<TtlSummary> {
  return checkTtl({
    stateTable: stateTable(process.env),
    taskQueue: queue,
    maxRetries: 2,
    logger: errorLogger(process.env, "ttl_checker"),
    nowMs: () => Date.now() + offsetSec * 1000,
  });
}

/** Past every deadline a submission started now can have. */
const AFTER_DEADLINE_SEC = SUBMIT_TASKS_TIMEOUT_SEC + SUBMISSION_DEADLINE_MARGIN_SEC + 5;

async function rawItem(ddb: DynamoDBClient, taskId: string) {
  return (
    await ddb.send(
      new GetItemCommand({ TableName: TABLE, Key: { task_id: { S: taskId } }, ConsistentRead: true }),
    )
  ).Item;
}

/** This session's visible messages (received, so hidden for 30 s); other tests' are left out. */
async function messagesOf(sessionId: string): Promise<Message[]> {
  return (await grid.drain(0)).filter((m) => taskIdOf(m).startsWith(`${sessionId}_`));
}

const taskIdOf = (m: Message) => (JSON.parse(m.Body ?? "{}") as { task_id: string }).task_id;

/**
 * Claims every message as an agent does (pending and unowned -> processing, conditional): how many claims
 * succeeded per task. A second copy of a message must fail its claim.
 */
async function claimAll(messages: Message[]): Promise<Map<string, number>> {
  const claims = new Map<string, number>();
  for (const m of messages) {
    const taskId = taskIdOf(m);
    try {
      await grid.ddb.send(
        new UpdateItemCommand({
          TableName: TABLE,
          Key: { task_id: { S: taskId } },
          UpdateExpression: "SET task_status = :p, task_owner = :o, heartbeat_expiration_timestamp = :hb",
          ConditionExpression: "task_status = :pending AND task_owner = :none",
          ExpressionAttributeValues: {
            ":p": { S: stateKeyForTask("processing", taskId) },
            ":o": { S: "agent-test" },
            ":hb": { N: String(Math.floor(Date.now() / 1000) + 86_400) },
            ":pending": { S: stateKeyForTask("pending", taskId) },
            ":none": { S: "None" },
          },
        }),
      );
      claims.set(taskId, (claims.get(taskId) ?? 0) + 1);
    } catch (error) {
      if ((error as Error).name !== "ConditionalCheckFailedException") throw error;
      claims.set(taskId, claims.get(taskId) ?? 0);
    }
  }
  return claims;
}

describe("a submission that completes", () => {
  it("marks its first row open, sends that task's message last, then clears the marks", async () => {
    const sessionId = newSessionId();
    await putPayloadS3(grid.s3, sessionId, submissionPayload(sessionId, 25));
    const sent: string[][] = [];
    let openWhenLastSent: unknown;
    const deps = await submitDeps(true, {
      sqs: async (orig, command) => {
        if (commandName(command) === "SendMessageBatchCommand") {
          const ids = (command as { input: { Entries: { Id: string }[] } }).input.Entries.map((e) => e.Id);
          sent.push(ids);
          if (ids.includes(`${sessionId}_0`)) openWhenLastSent = await rawItem(grid.ddb, `${sessionId}_0`);
        }
        return orig(command);
      },
    });
    const response = await submitTasks(apiEvent(sessionId), deps);
    expect(response.statusCode, response.body).toBe(200);
    expect(sent.at(-1)).toEqual([`${sessionId}_0`]);
    expect(sent.flat().sort()).toEqual(Array.from({ length: 25 }, (_, i) => `${sessionId}_${i}`).sort());
    // While its message was being sent the row was open: the size, and a deadline past the function's timeout.
    const open = openWhenLastSent as Record<string, { N?: string }>;
    expect(open[SUBMISSION_SIZE_ATTRIBUTE]?.N).toBe("25");
    expect(Number(open.heartbeat_expiration_timestamp?.N)).toBeGreaterThan(
      Date.now() / 1000 + SUBMIT_TASKS_TIMEOUT_SEC,
    );
    const closed = await rawItem(grid.ddb, `${sessionId}_0`);
    expect(closed?.[SUBMISSION_SIZE_ATTRIBUTE]).toBeUndefined();
    expect(closed?.heartbeat_expiration_timestamp?.N).toBe("0");
    // Nothing for the TTL checker to do, even long after.
    expect(await ttl(AFTER_DEADLINE_SEC)).toMatchObject({ resumedSubmissions: 0, resent: 0, errors: 0 });
    expect(await messagesOf(sessionId)).toHaveLength(25);
  });
});

describe("a submission whose invocation dies part-way", () => {
  it("while queueing: the TTL checker queues every task after the deadline, and each is claimed once", async () => {
    const sessionId = newSessionId();
    await putPayloadS3(grid.s3, sessionId, submissionPayload(sessionId, 60));
    const { deps, killed } = await killedAt(true, "sqs", "SendMessageBatchCommand", 2);
    await submitUntilKilled(apiEvent(sessionId), deps, killed);

    // Not before the deadline: the invocation might still be running.
    expect(await ttl(0)).toMatchObject({ resumedSubmissions: 0, resent: 0 });
    expect(await ttl(SUBMIT_TASKS_TIMEOUT_SEC)).toMatchObject({ resumedSubmissions: 0, resent: 0 });

    expect(await ttl(AFTER_DEADLINE_SEC)).toMatchObject({
      resumedSubmissions: 1,
      resent: 60,
      rowsWritten: 0,
      rowsFailed: 0,
      errors: 0,
    });
    const messages = await messagesOf(sessionId);
    // Two batches of ten before the invocation died, then every task again, the first one last.
    expect(messages).toHaveLength(80);
    expect(new Set(messages.map(taskIdOf)).size).toBe(60);
    expect(taskIdOf(messages.at(-1)!)).toBe(`${sessionId}_0`);
    // The copies sent before the invocation died and the new ones: each task is claimed exactly once.
    const claims = await claimAll(messages);
    expect([...claims.values()].every((n) => n === 1)).toBe(true);
    expect(claims.size).toBe(60);
    // Closed: the next run does nothing.
    expect((await rawItem(grid.ddb, `${sessionId}_0`))?.[SUBMISSION_SIZE_ATTRIBUTE]).toBeUndefined();
    expect(await ttl(AFTER_DEADLINE_SEC)).toMatchObject({ resumedSubmissions: 0, resent: 0 });
  }, 30_000);

  it("while writing rows, inline input: written rows are queued, rows never written end failed with a reason", async () => {
    applyEnv({ TASK_INPUT_PASSED_VIA_EXTERNAL_STORAGE: "0" });
    const sessionId = newSessionId();
    const tasks = Array.from({ length: 60 }, (_, i) => ({ i }));
    const { deps, killed } = await killedAt(false, "ddb", "BatchWriteItemCommand", 1);
    await submitUntilKilled(apiEvent(b64({ session_id: sessionId, tasks_list: { tasks } })), deps, killed);
    const written = (await Promise.all(tasks.map((_, i) => getRow(grid.ddb, `${sessionId}_${i}`)))).filter(
      Boolean,
    );
    expect(written.length).toBe(26); // the open first row and one batch of 25
    expect(await messagesOf(sessionId)).toHaveLength(0);

    const summary = await ttl(AFTER_DEADLINE_SEC);
    expect(summary).toMatchObject({
      resumedSubmissions: 1,
      resent: 26,
      rowsWritten: 0,
      rowsFailed: 34,
      errors: 0,
    });
    const messages = await messagesOf(sessionId);
    expect(messages).toHaveLength(26);
    for (const m of messages) {
      const body = JSON.parse(m.Body ?? "{}") as { task_id: string; task_definition: string };
      expect(JSON.parse(body.task_definition)).toEqual(tasks[Number(body.task_id.split("_")[1])]);
    }
    const rows = await Promise.all(tasks.map((_, i) => getRow(grid.ddb, `${sessionId}_${i}`)));
    const states = rows.map((r) => r?.task_status);
    expect(states.filter((s) => s === stateKeyForSession("pending", sessionId))).toHaveLength(26);
    expect(states.filter((s) => s === stateKeyForSession("failed", sessionId))).toHaveLength(34);
    expect(
      grid.recorded.some((c) =>
        JSON.stringify(c.body).includes(`interrupted before 34 of its rows were written`),
      ),
    ).toBe(true);
  }, 30_000);

  it("while writing rows, input in the data plane: the rows never written are written and every task is queued", async () => {
    const sessionId = newSessionId();
    await putPayloadS3(grid.s3, sessionId, submissionPayload(sessionId, 60, 0));
    const { deps, killed } = await killedAt(true, "ddb", "BatchWriteItemCommand", 1);
    await submitUntilKilled(apiEvent(sessionId), deps, killed);
    expect(await ttl(AFTER_DEADLINE_SEC)).toMatchObject({
      resumedSubmissions: 1,
      resent: 60,
      rowsWritten: 34,
      rowsFailed: 0,
      errors: 0,
    });
    const messages = await messagesOf(sessionId);
    expect(new Set(messages.map(taskIdOf)).size).toBe(60);
    const rows = await Promise.all(messages.map((m) => getRow(grid.ddb, taskIdOf(m))));
    for (const row of rows)
      expect(row).toMatchObject({
        task_status: stateKeyForSession("pending", sessionId),
        task_definition: "none",
      });
    expect([...(await claimAll(messages)).values()].every((n) => n === 1)).toBe(true);
  }, 30_000);

  it("is completed by the next TTL run when one run fails part-way", async () => {
    const sessionId = newSessionId();
    await putPayloadS3(grid.s3, sessionId, submissionPayload(sessionId, 30));
    const { deps, killed } = await killedAt(true, "sqs", "SendMessageBatchCommand", 1);
    await submitUntilKilled(apiEvent(sessionId), deps, killed);
    // The first run's sends fail after one batch (SQS unavailable): it reports an error and clears nothing.
    const failing = taskQueue(process.env);
    const sqs = (failing as unknown as { sqs: { send: Send } }).sqs;
    const orig = sqs.send.bind(sqs);
    let sent = 0;
    sqs.send = (command) =>
      commandName(command) !== "SendMessageBatchCommand" || ++sent <= 1
        ? orig(command)
        : Promise.reject(Object.assign(new Error("unavailable"), { name: "ServiceUnavailable" }));
    expect(await ttl(AFTER_DEADLINE_SEC, failing)).toMatchObject({ resumedSubmissions: 0, errors: 1 });
    expect((await rawItem(grid.ddb, `${sessionId}_0`))?.[SUBMISSION_SIZE_ATTRIBUTE]?.N).toBe("30");
    expect(await ttl(AFTER_DEADLINE_SEC)).toMatchObject({ resumedSubmissions: 1, resent: 30, errors: 0 });
    const messages = await messagesOf(sessionId);
    expect(new Set(messages.map(taskIdOf)).size).toBe(30);
    expect([...(await claimAll(messages)).values()].every((n) => n === 1)).toBe(true);
  }, 30_000);

  it("with a client's own task ids: the session's written rows are queued", async () => {
    const sessionId = newSessionId();
    const ids = ["a", "b", "c", "d", "e"].map((s) => `${sessionId}_${s}`);
    await putPayloadS3(grid.s3, sessionId, {
      ...submissionPayload(sessionId, 5),
      tasks_list: { tasks: ids },
    });
    const { deps, killed } = await killedAt(true, "sqs", "SendMessageBatchCommand", 0);
    await submitUntilKilled(apiEvent(sessionId), deps, killed);
    expect((await rawItem(grid.ddb, ids[0]))?.[SUBMISSION_SIZE_ATTRIBUTE]?.N).toBe("0");
    expect(await ttl(AFTER_DEADLINE_SEC)).toMatchObject({ resumedSubmissions: 1, resent: 5, errors: 0 });
    expect((await messagesOf(sessionId)).map(taskIdOf).sort()).toEqual(ids.sort());
  }, 30_000);

  it("leaves a submission alone whose first task an agent already claimed (every message was sent)", async () => {
    const sessionId = newSessionId();
    await putPayloadS3(grid.s3, sessionId, submissionPayload(sessionId, 3));
    let closes = 0;
    // The invocation dies right before clearing the marks, and an agent claims the first task meanwhile.
    const deps = await submitDeps(true, {
      ddb: (orig, command) =>
        commandName(command) === "UpdateItemCommand" &&
        JSON.stringify((command as { input: unknown }).input).includes("REMOVE")
          ? (closes++, never())
          : orig(command),
    });
    await submitUntilKilled(apiEvent(sessionId), deps, () => closes > 0);
    expect(await claimAll(await messagesOf(sessionId))).toEqual(
      new Map([0, 1, 2].map((i) => [`${sessionId}_${i}`, 1])),
    );
    expect(await ttl(AFTER_DEADLINE_SEC)).toMatchObject({ resumedSubmissions: 0, resent: 0, errors: 0 });
    expect(await messagesOf(sessionId)).toHaveLength(0);
  }, 30_000);
});
