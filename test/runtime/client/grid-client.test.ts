// GridClient end to end on a local grid: the real control-plane handlers behind the local API Gateway front
// (API key checked), dynalite, local-aws-sqs, s3rver and redis-server, with the test-only stand-in agent
// (support/stand-in-agent.ts) making tasks finish. Session ids are drawn collision-free for dynalite's session
// index (see README "Known emulator limit"). The 10,000-task session is grid-client-scale.test.ts.

import { ScanCommand } from "@aws-sdk/client-dynamodb";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handler as realSubmit } from "../../../runtime/src/control-plane/handlers/submit-tasks";
import { handler as realResults } from "../../../runtime/src/control-plane/handlers/get-results";
import {
  ApiError,
  AuthError,
  GridClient,
  GridTimeoutError,
  UnknownSessionError,
  UsageError,
  type SubmitOptions,
  type TaskResult,
} from "../../../runtime/src/client";
import { MAX_WORKER_PAYLOAD_BYTES } from "../../../runtime/src/contract";
import { newSessionId } from "../control-plane/integration/fixtures";
import { BUCKET, TABLE } from "../control-plane/integration/local-grid";
import { API_KEY, REDIS_EXPIRATION_SEC, startHarness, type Harness, type Mode } from "./support/harness";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.stop());

async function rowsOf(sessionId: string): Promise<number> {
  let count = 0;
  let start: Record<string, never> | undefined;
  do {
    const out = await h.grid.ddb.send(
      new ScanCommand({
        TableName: TABLE,
        FilterExpression: "session_id = :s",
        ExpressionAttributeValues: { ":s": { S: sessionId } },
        ExclusiveStartKey: start,
      }),
    );
    count += out.Count ?? 0;
    start = out.LastEvaluatedKey as typeof start;
  } while (start);
  return count;
}

const tasks = (n: number) => Array.from({ length: n }, (_, i) => ({ x: i }));

async function roundTrip(
  mode: Mode,
  count: number,
  options: Pick<SubmitOptions, "maxTasksPerCall" | "onUpload" | "onProgress"> = {},
) {
  const client = await h.client(mode);
  const agent = h.agent(mode);
  try {
    const sessionId = newSessionId();
    const submission = await client.submit(tasks(count), { sessionId, ...options });
    const results = await client.wait(submission, { timeoutMs: 45_000 });
    return { client, submission, results };
  } finally {
    await agent.stop();
  }
}

describe.each<[string, Mode]>([
  ["S3", { storage: "S3", external: true }],
  ["REDIS", { storage: "REDIS", external: true }],
  ["S3+REDIS", { storage: "S3+REDIS", external: true }],
])("GridClient with %s storage", (_name, mode) => {
  it("runs a session of 1 task and returns its output decoded", async () => {
    const { submission, results } = await roundTrip(mode, 1);
    expect(submission.taskIds).toEqual([`${submission.sessionId}_0`]);
    expect(results).toMatchObject({
      complete: true,
      total: 1,
      finished: 1,
      failed: 0,
      cancelled: 0,
      pending: 0,
    });
    expect(results.results).toEqual([
      { taskId: `${submission.sessionId}_0`, status: "finished", output: { echo: { x: 0 } } },
    ]);
  });

  it("runs a session of 100 tasks split over 3 submit calls, outputs matched to their tasks", async () => {
    const uploads: [number, number][] = [];
    const submitted: number[] = [];
    const { submission, results, client } = await roundTrip(mode, 100, {
      maxTasksPerCall: 40,
      onUpload: (written, total) => uploads.push([written, total]),
      onProgress: (done) => submitted.push(done),
    });
    expect(submission).toMatchObject({ calls: 3, duplicates: 0 });
    // One call per input written, counting up; one per submit call.
    expect(uploads).toEqual(Array.from({ length: 100 }, (_, i) => [i + 1, 100]));
    expect(submitted).toEqual([40, 80, 100]);
    // The same results read one at a time, in order (what htc prints from).
    const streamed: TaskResult[] = [];
    for await (const r of client.eachResult(
      results.results.map(({ taskId, status }) => ({ taskId, status })),
    ))
      streamed.push(r);
    expect(streamed).toEqual(results.results);
    expect(submission.taskIds).toEqual(Array.from({ length: 100 }, (_, i) => `${submission.sessionId}_${i}`));
    expect(results.finished).toBe(100);
    for (const r of results.results)
      expect(r.output).toEqual({ echo: { x: Number(r.taskId.split("_")[1]) } });
    // Every part's payload says how big the whole session is (htc watch reads it).
    expect(await client.sessionSize(submission.sessionId)).toBe(100);
  });
});

describe("GridClient data plane", () => {
  it("stores inputs as base64 JSON and the payload as urlsafe base64, with SSE-KMS under the grid's key", async () => {
    const mode: Mode = { storage: "S3", external: true };
    const client = await h.client(mode);
    const sessionId = newSessionId();
    await client.submit([{ a: "é" }, { b: 2 }], { sessionId, priority: 2 });
    const get = (key: string) => h.grid.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    const input = await get(`${sessionId}_0-input`);
    expect(JSON.parse(Buffer.from(await input.Body!.transformToString(), "base64").toString("utf8"))).toEqual(
      {
        a: "é",
      },
    );
    const payload = JSON.parse(
      Buffer.from(
        await (await get(`${sessionId}-payload`)).Body!.transformToString(),
        "base64url",
      ).toString(),
    );
    expect(payload).toMatchObject({
      session_id: sessionId,
      tasks_list: { tasks: [`${sessionId}_0`, `${sessionId}_1`] },
      context: { tasks_priority: 2 },
      scheduler_data: { tasks_in_session: 2, inline_outputs: true },
    });
    expect(Object.keys(payload.stats)).toHaveLength(8);
    // Priority 2 tasks are queued on queue __2.
    expect((await h.grid.drain(2)).filter((m) => m.Body?.includes(sessionId))).toHaveLength(2);
  });

  it("refuses, before writing anything, a task larger than a worker's event can be", async () => {
    const client = await h.client({ storage: "S3", external: true });
    const sessionId = newSessionId();
    const before = h.api.invocations.submit;
    // {"pad":"…"} is the padding plus 10 bytes.
    const big = { pad: "x".repeat(MAX_WORKER_PAYLOAD_BYTES - 9) };
    const error = await client.submit([{ n: 0 }, big], { sessionId }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toBe(
      `task 1 is ${MAX_WORKER_PAYLOAD_BYTES + 1} bytes of JSON, above the 6291556-byte limit of a worker's event ` +
        "(Lambda's invoke limit, which the worker's emulator applies): put large data in S3 and pass its key",
    );
    expect(h.api.invocations.submit).toBe(before);
    expect(await rowsOf(sessionId)).toBe(0);
    // One byte less is a task like any other.
    const fits = { pad: "x".repeat(MAX_WORKER_PAYLOAD_BYTES - 10) };
    expect((await client.submit([fits])).taskIds).toHaveLength(1);
  });
});

describe("GridClient outputs kept in the task rows (inline_outputs)", () => {
  const mode: Mode = { storage: "S3", external: true };
  const inS3 = async (key: string) =>
    h.grid.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key })).then(
      () => true,
      (error: { name?: string }) => {
        if (error.name === "NoSuchKey") return false;
        throw error;
      },
    );
  // 4,000 characters echoed back: above MAX_INLINE_OUTPUT_BYTES once base64-encoded.
  const big = "y".repeat(4000);
  const mixed = (n: number) => Array.from({ length: n }, (_, i) => (i % 50 === 7 ? { x: i, big } : { x: i }));

  it("reads small outputs from the rows (one get_results call per 100 tasks) and large ones from the data plane", async () => {
    const client = await h.client(mode);
    const agent = h.agent(mode);
    try {
      const submission = await client.submit(mixed(250));
      const results = await client.wait(submission, { timeoutMs: 45_000, readOutputs: false });
      const before = client.requestsSent.results;
      const read: TaskResult[] = [];
      for await (const r of client.eachResult(results.results)) read.push(r);
      expect(client.requestsSent.results - before).toBe(3);
      expect(read.map((r) => r.output)).toEqual(mixed(250).map((task) => ({ echo: task })));
      expect(await inS3(`${submission.sessionId}_0-output`)).toBe(false);
      expect(await inS3(`${submission.sessionId}_7-output`)).toBe(true);
    } finally {
      await agent.stop();
    }
  });

  it("puts every output in the data plane for a session submitted with inlineOutputs: false", async () => {
    const client = await h.client(mode);
    const agent = h.agent(mode);
    try {
      const submission = await client.submit(tasks(3), { inlineOutputs: false });
      const results = await client.wait(submission, { timeoutMs: 45_000 });
      expect(results.results.map((r) => r.output)).toEqual(tasks(3).map((task) => ({ echo: task })));
      for (const taskId of submission.taskIds) expect(await inS3(`${taskId}-output`), taskId).toBe(true);
    } finally {
      await agent.stop();
    }
  });

  it("reads every output from the data plane when the control plane ignores task_ids (upstream's)", async () => {
    // Upstream's get_results reads only session_id: it answers the whole session, with placeholders.
    const front = await h.front({
      auth: { kind: "apiKey", apiKeys: [API_KEY] },
      handlers: {
        results: (event) => {
          const content = event.queryStringParameters?.submission_content ?? "";
          const { session_id } = JSON.parse(Buffer.from(content, "base64url").toString()) as {
            session_id: string;
          };
          const sessionOnly = Buffer.from(JSON.stringify({ session_id })).toString("base64url");
          return realResults({ ...event, queryStringParameters: { submission_content: sessionOnly } });
        },
      },
    });
    const client = await h.client(mode, { apiUrl: front.url });
    const agent = h.agent(mode);
    try {
      // Upstream's agents write every output to the data plane, as ours do for a session that did not ask.
      const submission = await client.submit(tasks(250), { inlineOutputs: false });
      const results = await client.wait(submission, { timeoutMs: 45_000, readOutputs: false });
      const before = client.requestsSent.results;
      const read: TaskResult[] = [];
      for await (const r of client.eachResult(results.results)) read.push(r);
      // The first answer named tasks it was not asked for: the client asked for no other part.
      expect(client.requestsSent.results - before).toBe(1);
      expect(read.map((r) => r.output)).toEqual(tasks(250).map((task) => ({ echo: task })));
    } finally {
      await agent.stop();
    }
  });
});

describe("GridClient with REDIS storage", () => {
  const mode: Mode = { storage: "REDIS", external: true };

  it("writes inputs and the payload with redis_data_expiration_sec, so a store with no room to evict drains itself", async () => {
    const client = await h.client(mode);
    const sessionId = newSessionId();
    await client.submit(tasks(2), { sessionId });
    for (const key of [`${sessionId}_0-input`, `${sessionId}_1-input`, `${sessionId}-payload`]) {
      const ttl = await h.grid.redis!.ttl(key);
      expect(ttl, key).toBeGreaterThan(REDIS_EXPIRATION_SEC - 60);
      expect(ttl, key).toBeLessThanOrEqual(REDIS_EXPIRATION_SEC);
    }
    await h.grid.drain(0);
  });

  it("refuses a submission that a full Redis cannot hold, in one line, and submits nothing", async () => {
    const client = await h.client(mode);
    const sessionId = newSessionId();
    const redis = h.grid.redis!;
    // A cache node at its memory limit with the REDIS storage policy.
    await redis.config("SET", "maxmemory-policy", "noeviction");
    await redis.config("SET", "maxmemory", "1");
    try {
      const error = await client.submit(tasks(3), { sessionId }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ApiError);
      const message = (error as Error).message;
      expect(message).toMatch(
        new RegExp(
          `^the data plane \\(REDIS\\): Redis is full and refused to store ${sessionId}_\\d-input \\(OOM command not allowed when used memory > 'maxmemory'\\): keys leave as they expire \\(redis_data_expiration_hours\\); use a larger redis_node_type or a shorter expiry$`,
        ),
      );
      expect(message).not.toMatch(/reachable|credentials/);
    } finally {
      await redis.config("SET", "maxmemory", "0");
    }
    expect(await rowsOf(sessionId)).toBe(0);
  });
});

describe("GridClient inline task input (task_input_passed_via_external_storage = 0)", () => {
  it("submits definitions in the request body, split with first_index, and reads the outputs", async () => {
    const mode: Mode = { storage: "REDIS", external: false };
    const { submission, results } = await roundTrip(mode, 100, { maxTasksPerCall: 30 });
    expect(submission.calls).toBe(4);
    expect(results.finished).toBe(100);
    expect(results.results.find((r) => r.taskId === `${submission.sessionId}_99`)?.output).toEqual({
      echo: { x: 99 },
    });
  });

  it("needs the task count to wait for an inline session by id (there is no payload to read it from)", async () => {
    const client = await h.client({ storage: "REDIS", external: false });
    await expect(client.wait(newSessionId())).rejects.toThrow(
      /inline submissions keep no payload; pass the task count/,
    );
    await expect(client.wait(newSessionId())).rejects.toThrow(UsageError);
  });

  it("refuses tasks that are not objects or are too large, before sending anything", async () => {
    const client = await h.client({ storage: "REDIS", external: false });
    const before = h.api.invocations.submit;
    await expect(client.submit([1, 2])).rejects.toThrow(UsageError);
    await expect(client.submit([{ big: "x".repeat(70 * 1024) }])).rejects.toThrow(/65536-byte limit/);
    expect(h.api.invocations.submit).toBe(before);
  });
});

describe("GridClient outcomes", () => {
  const mode: Mode = { storage: "REDIS", external: true };

  it("reports failed tasks with their errors next to the finished ones, all in the order they were submitted", async () => {
    const client = await h.client(mode);
    const agent = h.agent(mode);
    const sessionId = newSessionId();
    const submission = await client.submit(
      [{ x: 1 }, { fail: "division by zero" }, { x: 3 }, { fail: "boom" }],
      {
        sessionId,
      },
    );
    const results = await client.wait(submission, { timeoutMs: 20_000 });
    await agent.stop();
    expect(results).toMatchObject({ complete: true, finished: 2, failed: 2 });
    expect(results.results).toEqual([
      { taskId: `${sessionId}_0`, status: "finished", output: expect.anything() },
      { taskId: `${sessionId}_1`, status: "failed", error: "division by zero" },
      { taskId: `${sessionId}_2`, status: "finished", output: expect.anything() },
      { taskId: `${sessionId}_3`, status: "failed", error: "boom" },
    ]);
  });

  it("cancels a session: every pending task ends cancelled", async () => {
    const client = await h.client(mode);
    const sessionId = newSessionId();
    const submission = await client.submit(tasks(50), { sessionId });
    const counts = await client.cancel([sessionId]);
    expect(counts[sessionId]).toEqual({
      cancelled_pending: 50,
      cancelled_processing: 0,
      total_cancelled_tasks: 50,
    });
    const results = await client.wait(submission, { timeoutMs: 10_000 });
    expect(results).toMatchObject({ complete: true, cancelled: 50, finished: 0 });
    expect(results.results.every((r) => r.status === "cancelled")).toBe(true);
    await h.grid.purge(0);
  });

  it("reports an unknown session on cancel", async () => {
    const client = await h.client(mode);
    await expect(client.cancel([newSessionId()])).rejects.toThrow(UnknownSessionError);
  });

  it("gives up after the timeout with the progress so far", async () => {
    const client = await h.client(mode);
    const sessionId = newSessionId();
    await client.submit(tasks(3), { sessionId });
    const started = Date.now();
    const error = await client.wait(sessionId, { timeoutMs: 600 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GridTimeoutError);
    expect((error as GridTimeoutError).progress).toMatchObject({ total: 3, pending: 3, finished: 0 });
    expect((error as Error).message).toMatch(/timed out after .* 0 of 3 tasks done/);
    expect(Date.now() - started).toBeLessThan(5_000);
    await client.cancel([sessionId]);
    await h.grid.purge(0);
  });

  it("calls a session with neither tasks nor payload unknown instead of waiting forever", async () => {
    const client = await h.client(mode);
    await expect(client.wait(newSessionId(), { timeoutMs: 5_000 })).rejects.toThrow(UnknownSessionError);
    await expect(client.results(newSessionId())).rejects.toThrow(/no .*-payload in the data plane/);
  });
});

describe("GridClient retries", () => {
  const mode: Mode = { storage: "REDIS", external: true };

  it("repeats a submit whose answer was lost; the grid answers the repeat as a duplicate and queues nothing twice", async () => {
    let lost = 0;
    const front = await h.front({
      auth: { kind: "apiKey", apiKeys: [API_KEY] },
      handlers: {
        // The submission is taken, then the answer is lost (API Gateway: 502), once.
        submit: async (event) => {
          const answer = await realSubmit(event);
          if (lost++ === 0) throw new Error("connection reset after the handler ran");
          return answer;
        },
      },
    });
    const client = await h.client(mode, { apiUrl: front.url, http: { backoffMs: { base: 10, cap: 20 } } });
    const sessionId = newSessionId();
    const submission = await client.submit(tasks(20), { sessionId });
    expect(submission).toMatchObject({ calls: 1, duplicates: 1 });
    expect(client.requestsSent.submit).toBe(2);
    expect(await rowsOf(sessionId)).toBe(20);
    expect((await h.grid.drain(0)).filter((m) => m.Body?.includes(sessionId))).toHaveLength(20);
    await h.grid.purge(0);
  });

  it("retries get_results through transient gateway errors", async () => {
    let failures = 2;
    const front = await h.front({
      auth: { kind: "apiKey", apiKeys: [API_KEY] },
      handlers: {
        results: async (event) => {
          if (failures-- > 0) throw new Error("transient");
          return realResults(event);
        },
      },
    });
    const client = await h.client(mode, { apiUrl: front.url, http: { backoffMs: { base: 10, cap: 20 } } });
    const lists = await client.finalTasks(newSessionId());
    expect(lists).toEqual({ finished: [], failed: [], cancelled: [] });
    expect(client.requestsSent.results).toBe(3);
  });

  it("cancels more than 100 sessions in calls of at most 100", async () => {
    const sizes: number[] = [];
    const front = await h.front({
      auth: { kind: "apiKey", apiKeys: [API_KEY] },
      handlers: {
        cancel: async (event) => {
          const ids = JSON.parse(
            Buffer.from(event.queryStringParameters?.submission_content ?? "", "base64url").toString(),
          ).session_ids_to_cancel as string[];
          sizes.push(ids.length);
          const counts = { cancelled_pending: 0, cancelled_processing: 0, total_cancelled_tasks: 0 };
          return { statusCode: 200, body: JSON.stringify(Object.fromEntries(ids.map((id) => [id, counts]))) };
        },
      },
    });
    const client = await h.client(mode, { apiUrl: front.url });
    const sessions = Array.from({ length: 250 }, () => newSessionId());
    const counts = await client.cancel(sessions);
    expect(sizes).toEqual([100, 100, 50]);
    expect(Object.keys(counts)).toHaveLength(250);
  });

  it("does not retry a handler's refusal", async () => {
    const client = await h.client(mode);
    const before = client.requestsSent.submit;
    // A priority the grid does not have: submit_tasks answers 543.
    await expect(client.submit(tasks(1), { priority: 7 })).rejects.toThrow(
      /543: Invalid submission.*out of range/,
    );
    expect(client.requestsSent.submit - before).toBe(1);
  });

  it("says what the library needs for the public API when no credentials are given", () => {
    const document = {
      region: "eu-west-1",
      grid_storage_service: "S3",
      task_input_passed_via_external_storage: 1,
      public_api_gateway_url: "https://abc.execute-api.eu-west-1.amazonaws.com/v1",
      user_pool_id: "eu-west-1_abcdef",
      cognito_userpool_client_id: "client",
    };
    let error: unknown;
    try {
      GridClient.fromConfig(document, { env: {} });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AuthError);
    expect((error as Error).message).toBe(
      "the public API needs a Cognito sign-in: pass credentials ({username, password} or {refreshToken}) to " +
        'GridClient, or use the private API from inside the VPC (api: "private", INTRA_VPC=1)',
    );
    expect(
      GridClient.fromConfig(document, { env: {}, credentials: { username: "u", password: "p" } }),
    ).toBeInstanceOf(GridClient);
  });

  it("reports a wrong API key as an auth error without the key in the message, and submits nothing", async () => {
    const client = await h.client(mode, { apiKey: "wrong-key-value-123" });
    const sessionId = newSessionId();
    const error = await client.submit(tasks(1), { sessionId }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthError);
    expect((error as Error).message).toMatch(/refused the API key \(x-api-key\) \(403 Forbidden\)/);
    expect((error as Error).message).not.toContain("wrong-key-value-123");
    expect(await rowsOf(sessionId)).toBe(0);
  });

  it("reports an unreachable API after its retries", async () => {
    const client = await h.client(mode, {
      apiUrl: "http://127.0.0.1:9/v1",
      http: { maxAttempts: 2, backoffMs: { base: 5, cap: 10 } },
    });
    await expect(client.finalTasks(newSessionId())).rejects.toThrow(ApiError);
  });
});
