// get_results, cancel_tasks, ttl_checker and scaling_metrics against dynalite + local-aws-sqs,
// with the agent's claim/finish transitions applied directly to the state table.

import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  handler as cancel,
  resetColdStart as resetCancel,
} from "../../../../runtime/src/control-plane/handlers/cancel-tasks";
import {
  handler as getResults,
  resetColdStart as resetResults,
} from "../../../../runtime/src/control-plane/handlers/get-results";
import {
  handler as scalingMetrics,
  resetColdStart as resetScaling,
} from "../../../../runtime/src/control-plane/handlers/scaling-metrics";
import {
  handler as submit,
  resetColdStart as resetSubmit,
} from "../../../../runtime/src/control-plane/handlers/submit-tasks";
import {
  checkTtl,
  handler as ttlChecker,
  resetColdStart as resetTtl,
} from "../../../../runtime/src/control-plane/handlers/ttl-checker";
import { stateKeyForSession, toBase64, type ResultsResponse } from "../../../../runtime/src/contract";
import {
  dynamoClient,
  errorLogger,
  stateTable,
  taskQueue,
} from "../../../../runtime/src/control-plane/runtime";
import { StateTable } from "../../../../runtime/src/aws/state-table";
import { TaskLease } from "../../../../runtime/src/agent/lease";
import {
  apiEvent,
  applyEnv,
  b64,
  claimAsAgent,
  dynaliteIndexCollisions,
  finishAsAgent,
  getRow,
  newSessionId,
  putPayloadS3,
  submissionPayload,
  taskIds,
} from "./fixtures";
import { TABLE, startLocalGrid, type LocalGrid } from "./local-grid";

let grid: LocalGrid;

beforeAll(async () => {
  grid = await startLocalGrid({ priorities: 2, maxReceiveCount: 10 });
  applyEnv(grid.env);
});
afterAll(async () => {
  await resetSubmit();
  await grid?.stop();
});
beforeEach(async () => {
  await resetSubmit();
  resetResults();
  resetCancel();
  resetTtl();
  resetScaling();
  applyEnv(grid.env);
  await grid.purge(0);
  await grid.purge(1);
});

async function submitSession(count: number, priority = 0): Promise<string> {
  const sessionId = newSessionId();
  await putPayloadS3(grid.s3, sessionId, submissionPayload(sessionId, count, priority));
  const response = await submit(apiEvent(sessionId));
  expect(response.statusCode, response.body).toBe(200);
  return sessionId;
}

/** Receives one message of a session as an agent would, returning its receipt handle per task. */
async function receiveHandles(priority: number): Promise<Map<string, string>> {
  const handles = new Map<string, string>();
  const url = await grid.queueUrl(priority);
  for (;;) {
    const out = await grid.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 3600 }),
    );
    if (!out.Messages?.length) return handles;
    for (const m of out.Messages)
      handles.set((JSON.parse(m.Body ?? "{}") as { task_id: string }).task_id, m.ReceiptHandle ?? "");
  }
}

describe("get_results", () => {
  it("lists finished, failed and cancelled tasks with output placeholders", async () => {
    const sessionId = await submitSession(6);
    const t = (i: number) => `${sessionId}_${i}`;
    for (const i of [0, 1, 2, 3])
      await claimAsAgent(grid.ddb, t(i), "agent-1", Math.floor(Date.now() / 1000) + 60);
    await finishAsAgent(grid.ddb, t(0));
    await finishAsAgent(grid.ddb, t(1));
    await finishAsAgent(grid.ddb, t(2), "failed");
    expect((await cancel(apiEvent(b64({ session_ids_to_cancel: [sessionId] })))).statusCode).toBe(200);

    const response = await getResults(apiEvent(b64({ session_id: sessionId })));
    expect(response.statusCode).toBe(200);
    const body = JSON.parse(response.body) as ResultsResponse;
    expect(body.finished.sort()).toEqual([t(0), t(1)]);
    expect(body.finished_OUTPUT).toEqual(["read_from_dataplane", "read_from_dataplane"]);
    expect(body.failed).toEqual([t(2)]);
    expect(body.failed_OUTPUT).toEqual(["read_from_dataplane"]);
    expect(body.cancelled.sort()).toEqual([t(3), t(4), t(5)]);
    expect(body.cancelled_OUTPUT).toHaveLength(3);
    expect(body.metadata.tasks_in_response).toBe(6);
  });

  it("answers task_ids with their final states and the outputs kept in their rows, in the order asked", async () => {
    const sessionId = await submitSession(5);
    const t = (i: number) => `${sessionId}_${i}`;
    const lease = new TaskLease(grid.ddb, TABLE, "agent-1");
    for (const i of [0, 1, 2, 3])
      expect(await lease.claim(t(i), "handle", Math.floor(Date.now() / 1000) + 60)).toEqual({ ok: true });
    const kept = toBase64(JSON.stringify({ value: 42 }));
    expect(await lease.finish(t(0), Date.now(), kept)).toEqual({ ok: true });
    expect(await lease.finish(t(1), Date.now())).toEqual({ ok: true });
    expect(await lease.fail(t(2), Date.now())).toEqual({ ok: true });
    // t(3) is processing and t(4) pending: neither is answered; nor is an id with no row.
    const asked = [t(4), t(3), t(2), t(1), t(0), t(0), `${sessionId}_99`];
    const response = await getResults(apiEvent(b64({ session_id: sessionId, task_ids: asked })));
    expect(response.statusCode, response.body).toBe(200);
    expect(JSON.parse(response.body)).toEqual({
      finished: [t(1), t(0)],
      finished_OUTPUT: ["read_from_dataplane", kept],
      cancelled: [],
      cancelled_OUTPUT: [],
      failed: [t(2)],
      failed_OUTPUT: ["read_from_dataplane"],
      metadata: { tasks_in_response: 3 },
    });
    // The listing without task_ids is unchanged: placeholders only.
    const listing = JSON.parse(
      (await getResults(apiEvent(b64({ session_id: sessionId })))).body,
    ) as ResultsResponse;
    expect(listing.finished_OUTPUT).toEqual(["read_from_dataplane", "read_from_dataplane"]);
  });

  it.each([
    ["an empty list", () => [], /task_ids must be a list of 1 to 100 task ids, got 0/],
    ["101 ids", (s: string) => taskIds(s, 101), /task_ids must be a list of 1 to 100 task ids, got 101/],
    ["a string", () => "all", /task_ids must be a list of 1 to 100 task ids, got "all"/],
    [
      "another session's task",
      () => [`${newSessionId()}_0`],
      /task_ids\[0\] must be a task id "[^"]+_<suffix>"/,
    ],
  ])("refuses task_ids that are %s with 542 and a one-line message", async (_name, ids, message) => {
    const sessionId = newSessionId();
    const response = await getResults(apiEvent(b64({ session_id: sessionId, task_ids: ids(sessionId) })));
    expect(response.statusCode).toBe(542);
    expect(response.body).toMatch(message);
    expect(response.body).not.toContain("\n");
  });

  it("pages through the session index until every task is listed", async () => {
    const sessionId = await submitSession(1500);
    const all = new Set(taskIds(sessionId, 1500));
    // 1,500 rows fit one 1 MB page: a 100-item page limit forces 15 pages through the same code.
    const paged = new StateTable(dynamoClient(process.env), TABLE, undefined, 100);
    expect(new Set(await paged.sessionTaskIds(sessionId, "pending"))).toEqual(all);
    const response = await cancel(apiEvent(b64({ session_ids_to_cancel: [sessionId] })));
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toEqual({
      [sessionId]: { cancelled_pending: 1500, cancelled_processing: 0, total_cancelled_tasks: 1500 },
    });
    expect(new Set(await paged.sessionTaskIds(sessionId, "cancelled"))).toEqual(all);
    const body = JSON.parse(
      (await getResults(apiEvent(b64({ session_id: sessionId })))).body,
    ) as ResultsResponse;
    expect(body.metadata.tasks_in_response).toBe(1500);
    expect(new Set(body.cancelled)).toEqual(all);
  });

  it("answers an empty result for a running session", async () => {
    const sessionId = await submitSession(2);
    const running = JSON.parse(
      (await getResults(apiEvent(b64({ session_id: sessionId })))).body,
    ) as ResultsResponse;
    expect(running.metadata.tasks_in_response).toBe(0);
    expect((await getResults(apiEvent("%%%"))).statusCode).toBe(542);
  });

  it("answers 200 with empty lists for a session with no index rows yet, as upstream does", async () => {
    // The session index is eventually consistent: right after a submit, a poll can see no rows at all. Upstream
    // answers an empty result there; a 542 made upstream's client give up on a session that was about to appear.
    const unseen = await getResults(apiEvent(b64({ session_id: newSessionId() })));
    expect(unseen.statusCode).toBe(200);
    expect(JSON.parse(unseen.body)).toEqual({
      finished: [],
      finished_OUTPUT: [],
      cancelled: [],
      cancelled_OUTPUT: [],
      failed: [],
      failed_OUTPUT: [],
      metadata: { tasks_in_response: 0 },
    });
  });
});

describe("the local DynamoDB's session index", () => {
  it("keeps both of two task ids whose 24-bit hashes collided in unpatched dynalite", async () => {
    const sessionId = newSessionId();
    let pair: [string, string] | undefined;
    for (let count = 4096; !pair; count *= 2) pair = dynaliteIndexCollisions(taskIds(sessionId, count))[0];
    await putPayloadS3(grid.s3, sessionId, {
      ...submissionPayload(sessionId, 1),
      tasks_list: { tasks: pair },
    });
    expect((await submit(apiEvent(sessionId))).statusCode).toBe(200);
    for (const taskId of pair)
      expect((await getRow(grid.ddb, taskId))?.task_status).toBe(stateKeyForSession("pending", sessionId));
    // Both rows are listed by the index, so cancel reaches both.
    expect((await stateTable(process.env).sessionTaskIds(sessionId, "pending")).sort()).toEqual(
      [...pair].sort(),
    );
    const cancelled = JSON.parse((await cancel(apiEvent(b64({ session_ids_to_cancel: [sessionId] })))).body);
    expect(cancelled[sessionId].total_cancelled_tasks).toBe(2);
  });
});

describe("cancel_tasks", () => {
  it("cancels pending and processing tasks and leaves finished ones alone", async () => {
    const sessionId = await submitSession(5);
    const t = (i: number) => `${sessionId}_${i}`;
    await claimAsAgent(grid.ddb, t(0), "agent-1", Math.floor(Date.now() / 1000) + 60);
    await claimAsAgent(grid.ddb, t(1), "agent-2", Math.floor(Date.now() / 1000) + 60);
    await finishAsAgent(grid.ddb, t(1));
    const response = await cancel(apiEvent(b64({ session_ids_to_cancel: [sessionId] })));
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toEqual({
      [sessionId]: { cancelled_pending: 3, cancelled_processing: 1, total_cancelled_tasks: 4 },
    });
    expect(await getRow(grid.ddb, t(0))).toMatchObject({
      task_status: stateKeyForSession("cancelled", sessionId),
      task_owner: "None",
    });
    expect((await getRow(grid.ddb, t(1)))?.task_status).toBe(stateKeyForSession("finished", sessionId));
  });

  it("rejects unknown sessions and malformed requests with 542 without cancelling anything", async () => {
    const sessionId = await submitSession(2);
    const mixed = await cancel(apiEvent(b64({ session_ids_to_cancel: [sessionId, newSessionId()] })));
    expect(mixed.statusCode).toBe(542);
    expect((await getRow(grid.ddb, `${sessionId}_0`))?.task_status).toBe(
      stateKeyForSession("pending", sessionId),
    );
    expect((await cancel(apiEvent(b64({ session_ids_to_cancel: [] })))).statusCode).toBe(542);
    expect((await cancel(apiEvent(b64({ wrong: 1 })))).statusCode).toBe(542);
  });
});

describe("ttl_checker", () => {
  const expiredAt = () => Math.floor(Date.now() / 1000) - 5;

  it("returns an expired task to pending with retries + 1 and makes its message visible", async () => {
    const sessionId = await submitSession(2, 1);
    const handles = await receiveHandles(1);
    const taskId = `${sessionId}_0`;
    await claimAsAgent(grid.ddb, taskId, "agent-dead", expiredAt(), handles.get(taskId));
    await claimAsAgent(
      grid.ddb,
      `${sessionId}_1`,
      "agent-alive",
      Math.floor(Date.now() / 1000) + 600,
      handles.get(`${sessionId}_1`),
    );

    const summary = await ttlChecker();
    expect(summary).toMatchObject({
      skippedForThrottling: false,
      expired: 1,
      retried: 1,
      failed: 0,
      requeued: 0,
      errors: 0,
    });
    expect(await getRow(grid.ddb, taskId)).toMatchObject({
      task_status: stateKeyForSession("pending", sessionId),
      task_owner: "None",
      retries: 1,
    });
    expect((await getRow(grid.ddb, `${sessionId}_1`))?.task_owner).toBe("agent-alive");
    const visible = await grid.drain(1);
    expect(visible.map((m) => (JSON.parse(m.Body ?? "{}") as { task_id: string }).task_id)).toEqual([taskId]);
    // The throttling check asked about this grid's table, not a hard-coded one (defect 2).
    const query = grid.recorded.filter((c) => c.target.endsWith("GetMetricStatistics")).at(-1);
    expect(query?.body.Dimensions).toEqual([
      { Name: "TableName", Value: TABLE },
      { Name: "Operation", Value: "UpdateItem" },
    ]);
  });

  it("fails a task after MAX_RETRIES retries and deletes its message", async () => {
    const sessionId = await submitSession(1);
    const taskId = `${sessionId}_0`;
    const maxRetries = Number(grid.env.MAX_RETRIES);
    for (let attempt = 0; attempt <= maxRetries; attempt++) {
      const handle = (await receiveHandles(0)).get(taskId);
      expect(handle).toBeDefined();
      await claimAsAgent(grid.ddb, taskId, `agent-${attempt}`, expiredAt(), handle);
      const summary = await ttlChecker();
      if (attempt < maxRetries) expect(summary.retried).toBe(1);
      else expect(summary.failed).toBe(1);
    }
    expect(await getRow(grid.ddb, taskId)).toMatchObject({
      task_status: stateKeyForSession("failed", sessionId),
      retries: maxRetries,
    });
    expect(await grid.visibleCount(0)).toBe(0);
    expect(await grid.visibleCount(0, true)).toBe(0);
  });

  it("re-queues a retried task whose message is gone (moved to the DLQ) instead of stranding it", async () => {
    const sessionId = await submitSession(1);
    const taskId = `${sessionId}_0`;
    const handle = (await receiveHandles(0)).get(taskId) ?? "";
    // The message disappears from the task queue (as when redriven to the DLQ).
    const { DeleteMessageCommand } = await import("@aws-sdk/client-sqs");
    await grid.sqs.send(
      new DeleteMessageCommand({ QueueUrl: await grid.queueUrl(0), ReceiptHandle: handle }),
    );
    await claimAsAgent(grid.ddb, taskId, "agent-dead", expiredAt(), handle);
    const summary = await ttlChecker();
    expect(summary).toMatchObject({ retried: 1, requeued: 1 });
    const messages = await grid.drain(0);
    expect(messages).toHaveLength(1);
    expect(JSON.parse(messages[0].Body ?? "{}")).toMatchObject({
      task_id: taskId,
      retries: 1,
      task_status: stateKeyForSession("pending", sessionId),
    });
  });

  it("skips the run while the state table is heavily throttled", async () => {
    const sessionId = await submitSession(1);
    await claimAsAgent(grid.ddb, `${sessionId}_0`, "agent-dead", expiredAt());
    grid.setThrottledRequests(5000);
    try {
      expect(await ttlChecker()).toMatchObject({ skippedForThrottling: true, expired: 0 });
      expect((await getRow(grid.ddb, `${sessionId}_0`))?.task_owner).toBe("agent-dead");
    } finally {
      grid.setThrottledRequests(0);
      await finishAsAgent(grid.ddb, `${sessionId}_0`);
    }
  });

  it("leaves a task alone when its agent heartbeats between the query and the update", async () => {
    const sessionId = await submitSession(1);
    const taskId = `${sessionId}_0`;
    await claimAsAgent(grid.ddb, taskId, "agent-slow", expiredAt());
    const table = stateTable(process.env);
    const originalGet = table.getTask.bind(table);
    // Failure injection: the agent refreshes its heartbeat right after the TTL query.
    table.getTask = async (id) => {
      const { UpdateItemCommand } = await import("@aws-sdk/client-dynamodb");
      await grid.ddb.send(
        new UpdateItemCommand({
          TableName: TABLE,
          Key: { task_id: { S: id } },
          UpdateExpression: "SET heartbeat_expiration_timestamp = :h",
          ExpressionAttributeValues: { ":h": { N: String(Math.floor(Date.now() / 1000) + 600) } },
        }),
      );
      return originalGet(id);
    };
    const summary = await checkTtl({
      stateTable: table,
      taskQueue: taskQueue(process.env),
      maxRetries: 2,
      logger: errorLogger(process.env, "ttl_checker"),
    });
    expect(summary).toMatchObject({ expired: 1, retried: 0, failed: 0, changedMeanwhile: 1 });
    expect(await getRow(grid.ddb, taskId)).toMatchObject({ task_owner: "agent-slow", retries: 0 });
  });

  it("keeps going and reports when a task update keeps failing", async () => {
    const sessionId = await submitSession(2);
    for (const i of [0, 1]) await claimAsAgent(grid.ddb, `${sessionId}_${i}`, "agent-dead", expiredAt());
    const table = stateTable(process.env);
    const originalRetry = table.retryTask.bind(table);
    table.retryTask = async (id, now) => {
      if (id.endsWith("_0")) throw Object.assign(new Error("boom"), { name: "InternalServerError" });
      return originalRetry(id, now);
    };
    const summary = await checkTtl({
      stateTable: table,
      taskQueue: taskQueue(process.env),
      maxRetries: 2,
      logger: errorLogger(process.env, "ttl_checker"),
    });
    expect(summary).toMatchObject({ expired: 2, retried: 1, errors: 1 });
    expect((await getRow(grid.ddb, `${sessionId}_1`))?.retries).toBe(1);
    expect(
      grid.recorded.some(
        (c) =>
          c.target.endsWith("PutLogEvents") &&
          String((c.body.logEvents as { message: string }[])[0].message).includes(`${sessionId}_0`),
      ),
    ).toBe(true);
  });
});

describe("scaling_metrics", () => {
  // A local grid of its own: local-aws-sqs counts in-flight messages, and messages other tests left in flight
  // come back (or move to the DLQ) at times the test does not control.
  let fresh: LocalGrid;
  beforeAll(async () => {
    fresh = await startLocalGrid({ priorities: 2, maxReceiveCount: 10 });
  });
  afterAll(async () => {
    await fresh?.stop();
  });
  beforeEach(async () => {
    await resetSubmit();
    resetScaling();
    applyEnv(fresh.env);
  });

  it("publishes the backlog summed over all priority queues", async () => {
    for (const [count, priority] of [
      [3, 0],
      [4, 1],
    ]) {
      const sessionId = newSessionId();
      await putPayloadS3(fresh.s3, sessionId, submissionPayload(sessionId, count, priority));
      expect((await submit(apiEvent(sessionId))).statusCode).toBe(200);
    }
    expect(await scalingMetrics()).toEqual({ pending_tasks: 7 });
    const put = fresh.recorded.filter((c) => c.target.endsWith("PutMetricData")).at(-1);
    expect(put?.body.Namespace).toBe("CloudGrid/HTC/Scaling/");
    expect(put?.body.MetricData).toEqual([
      expect.objectContaining({
        MetricName: "pending_tasks_ddb-test",
        Dimensions: [{ Name: "cluster_name", Value: "htc-test" }],
        Unit: "Count",
        Value: 7,
        StorageResolution: 1,
      }),
    ]);
  });
});

describe("ttl_checker and the dead-letter queues", () => {
  const taskIdOf = (body?: string) => (JSON.parse(body ?? "{}") as { task_id: string }).task_id;

  it("moves back the messages of pending tasks, deletes those of ended tasks and leaves the rest for later", async () => {
    await grid.purge(0, true);
    await grid.purge(1, true);
    const sessionId = await submitSession(4, 1);
    const bodies = new Map(
      (await grid.drain(1, { hideSec: 3600 })).map((m) => [taskIdOf(m.Body), m.Body ?? ""] as const),
    );
    const [pending, finished, running, cancelled] = taskIds(sessionId, 4);
    // Each message reached the dead-letter queue while its task was: still pending (its claims kept failing with
    // errors), finished by another copy, running under another copy, cancelled.
    await finishAsAgent(grid.ddb, finished);
    await claimAsAgent(grid.ddb, running, "agent-alive", Math.floor(Date.now() / 1000) + 600);
    await finishAsAgent(grid.ddb, cancelled, "cancelled");
    const dlq = await grid.queueUrl(1, true);
    const { SendMessageCommand } = await import("@aws-sdk/client-sqs");
    for (const body of [...[pending, finished, running, cancelled].map((id) => bodies.get(id)!), "not json"])
      await grid.sqs.send(new SendMessageCommand({ QueueUrl: dlq, MessageBody: body }));

    expect(await ttlChecker()).toMatchObject({ redriven: 1, deadLettersDropped: 2, errors: 0 });
    const back = await grid.drain(1);
    expect(back.map((m) => taskIdOf(m.Body))).toEqual([pending]);
    expect(back[0].MessageAttributes?.priority?.StringValue).toBe("1");
    // The running task's message and the malformed one stay, hidden until they are looked at again.
    expect(await grid.drain(1, { dlq: true })).toHaveLength(0);
    expect(await grid.visibleCount(1, true)).toBe(2); // local-aws-sqs counts hidden messages too
    expect(await ttlChecker()).toMatchObject({ redriven: 0, deadLettersDropped: 0 });
  });
});
