// The agent's pure parts: how a worker response (or none) is classified, what a task message must hold, and how the
// settings are read (one clear line for every bad value).

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseTaskMessage } from "../../../runtime/src/agent/agent";
import { agentSettings } from "../../../runtime/src/agent/settings";
import { classifyResponse, WorkerClient } from "../../../runtime/src/agent/worker";
import { freePort } from "../../../runtime/src/local/ports";
import { localAgentConfig } from "../../../runtime/src/local/agent-config";

const dir = mkdtempSync(join(tmpdir(), "htc-agent-units-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("worker responses", () => {
  const classify = (status: number, body: string, headers = {}) =>
    classifyResponse(status, Buffer.from(body), headers).kind;

  it("takes a 200 body as the result, JSON or not", () => {
    expect(classify(200, '{"result": 3}')).toBe("ok");
    expect(classify(200, "3")).toBe("ok");
    expect(classify(200, '{"errorMessage": "a field named like an error", "value": 1}')).toBe("ok");
  });

  it("recognises the emulator's error answers: function errors (Node and Python shapes), timeouts, 502s", () => {
    expect(classify(200, '{"errorType":"Error","errorMessage":"boom","trace":["Error: boom"]}')).toBe(
      "error",
    );
    expect(
      classify(200, '{"errorMessage":"boom","errorType":"ValueError","requestId":"","stackTrace":[]}'),
    ).toBe("error");
    expect(classify(200, "Task timed out after 3.00 seconds")).toBe("error");
    expect(classify(502, "")).toBe("error");
    expect(classify(500, "")).toBe("error");
    expect(classify(200, "x", { "x-amz-function-error": "Unhandled" })).toBe("error");
    expect(classify(200, "BOOTSTRAP ERROR: missing binary")).toBe("error");
  });
});

describe("an invocation the worker never answers", () => {
  const invoke = (port: number) =>
    new WorkerClient(`http://127.0.0.1:${port}`, "function").invoke(
      Buffer.from("{}"),
      new AbortController().signal,
    );

  it("is 'unavailable' when nothing listens (the task never reached a worker: no retry is spent)", async () => {
    const port = await freePort();
    expect(await invoke(port)).toMatchObject({ kind: "unavailable" });
  });

  it("is a worker error when the connection is lost after the task was sent (the task may have killed it)", async () => {
    const server = createServer((socket) => socket.once("data", () => socket.destroy()));
    const port = await new Promise<number>((resolve) =>
      server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)),
    );
    try {
      expect(await invoke(port)).toMatchObject({ kind: "error", reason: "worker unreachable" });
    } finally {
      server.close();
    }
  });
});

describe("task messages", () => {
  it("needs a task id <session>_<n> and accepts an inline definition", () => {
    expect(parseTaskMessage(JSON.stringify({ task_id: "s-1_0", task_definition: "none" }))).toEqual({
      taskId: "s-1_0",
      definition: "none",
      inlineOutputs: false,
    });
    // Only the number 1 that submit_tasks writes asks for inline outputs.
    expect(parseTaskMessage('{"task_id": "s-1_0", "inline_outputs": 1}')).toMatchObject({
      inlineOutputs: true,
    });
    expect(parseTaskMessage('{"task_id": "s-1_0", "inline_outputs": "1"}')).toMatchObject({
      inlineOutputs: false,
    });
    expect(parseTaskMessage("not json")).toEqual({ error: "message body is not JSON" });
    expect(parseTaskMessage("[]")).toEqual({ error: "message body is not a JSON object" });
    expect(parseTaskMessage('{"task_id": 5}')).toHaveProperty("error");
    expect(parseTaskMessage('{"task_id": "no-suffix"}')).toHaveProperty("error");
    expect(parseTaskMessage('{"task_id": "s_1", "task_definition": {}}')).toHaveProperty("error");
  });
});

describe("settings", () => {
  const base = localAgentConfig({
    region: "eu-west-1",
    stateTable: "t",
    queueBase: "htc_task_queue-x",
    dlqBase: "htc_task_queue_dlq-x",
    taskQueueService: "PrioritySQS",
    priorities: 3,
    storage: "S3",
    bucket: "b",
    kmsKeyArn: "arn:aws:kms:eu-west-1:1:key/k",
    errorLogGroup: "g",
    errorLogStream: "s",
    externalStorage: 1,
  });
  const settingsOf = (doc: Record<string, unknown>, env: Record<string, string> = {}) => {
    const path = join(dir, `config-${Math.random()}.json`);
    writeFileSync(path, JSON.stringify(doc));
    return agentSettings({ AGENT_CONFIG_FILE: path, ...env });
  };

  it("reads the queues, the state table and the pod name, with upstream's defaults for the worker endpoint", () => {
    const s = settingsOf(base, { MY_POD_NAME: "htc-agent-abc" });
    expect(s.agentId).toBe("htc-agent-abc");
    expect(s.queues).toEqual({
      service: "PrioritySQS",
      priorities: 3,
      queueBase: "htc_task_queue-x",
      dlqBase: "htc_task_queue_dlq-x",
    });
    expect(s.worker).toMatchObject({
      endpoint: "http://localhost:8080",
      functionName: "function",
      restart: "none",
    });
    expect(s.longPollSec).toBe(2);
    expect(s.fullPauseSec).toBe(30);
    expect(settingsOf(base, { HTC_AGENT_FULL_PAUSE_SEC: "0" }).fullPauseSec).toBe(0);
    expect(s.s3).toEqual({ bucket: "b", kmsKeyId: "arn:aws:kms:eu-west-1:1:key/k" });
  });

  it("connects to Redis with TLS for a bare host (the grid's) and without for redis://", () => {
    expect(
      settingsOf({
        ...base,
        grid_storage_service: "REDIS",
        redis_url: "cache.local:6379",
        redis_password: "p",
      }).redis,
    ).toEqual({
      host: "cache.local",
      port: 6379,
      tls: true,
      password: "p",
    });
    expect(
      settingsOf({ ...base, grid_storage_service: "REDIS", redis_url: "redis://127.0.0.1:7000" }).redis?.tls,
    ).toBe(false);
  });

  it("says which file, field and value is wrong, one line each", () => {
    expect(() => agentSettings({ AGENT_CONFIG_FILE: join(dir, "missing.json") })).toThrow(
      /cannot read the agent configuration .*missing\.json \(ENOENT\); set AGENT_CONFIG_FILE/,
    );
    expect(() => settingsOf({ ...base, grid_storage_service: "S3 htc-data-bucket-1" })).toThrow(
      /grid_storage_service = "S3 htc-data-bucket-1" is not allowed; use one of S3, REDIS, S3\+REDIS/,
    );
    expect(() => settingsOf({ ...base, task_ttl_refresh_interval_sec: 40 })).toThrow(
      /task_ttl_refresh_interval_sec = 40 must be below task_ttl_expiration_offset_sec = 30/,
    );
    expect(() => settingsOf({ ...base, task_queue_config: "{'priorities': 99}" })).toThrow(/priorities = 99/);
    expect(() => settingsOf({ ...base, ddb_state_table: undefined })).toThrow(/ddb_state_table is missing/);
    expect(() => settingsOf({ ...base, task_ttl_expiration_offset_sec: "soon" })).toThrow(
      /task_ttl_expiration_offset_sec = "soon" is not a number/,
    );
    expect(() => settingsOf(base, { HTC_AGENT_LONG_POLL_SEC: "30" })).toThrow(
      /HTC_AGENT_LONG_POLL_SEC = "30"/,
    );
    expect(() => settingsOf(base, { HTC_AGENT_WORKER_RESTART: "child" })).toThrow(/needs HTC_WORKER_HOST/);
    expect(() => settingsOf(base, { HTC_AGENT_FULL_PAUSE_SEC: "-1" })).toThrow(
      'HTC_AGENT_FULL_PAUSE_SEC = "-1" must be a number of seconds from 0 to 3600',
    );
    for (const bad of [-1, 1.5, "-60"]) {
      expect(() => settingsOf({ ...base, redis_data_expiration_sec: bad })).toThrow(
        `redis_data_expiration_sec = ${JSON.stringify(bad)} must be a whole number of seconds >= 0 (0: keys never expire)`,
      );
    }
  });

  it("writes Redis keys with redis_data_expiration_sec; without it (upstream's document) they never expire", () => {
    expect(settingsOf({ ...base, redis_data_expiration_sec: "3600" }).redisExpirationSec).toBe(3600);
    const upstream: Record<string, unknown> = { ...base };
    delete upstream.redis_data_expiration_sec;
    expect(settingsOf(upstream).redisExpirationSec).toBe(0);
  });
});
