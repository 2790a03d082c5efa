// The three data-plane modes end to end through submit_tasks (which reads `<session_id>-payload`):
// S3 (s3rver), REDIS (Debian redis-server, AUTH token from Secrets Manager) and S3+REDIS
// (write-through, Redis read with S3 back-fill).

import { GetObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  handler as submit,
  resetColdStart,
} from "../../../../runtime/src/control-plane/handlers/submit-tasks";
import { payloadKey } from "../../../../runtime/src/contract";
import { dataPlane } from "../../../../runtime/src/control-plane/runtime";
import { apiEvent, applyEnv, b64, getRow, newSessionId, putPayloadS3, submissionPayload } from "./fixtures";
import { BUCKET, startLocalGrid, startRedisServer, type LocalGrid } from "./local-grid";

let grid: LocalGrid;

beforeAll(async () => {
  grid = await startLocalGrid({ withRedis: true });
});
afterAll(async () => {
  await resetColdStart();
  await grid?.stop();
});
beforeEach(async () => {
  await resetColdStart();
  applyEnv({ ...grid.env, REDIS_AUTH_SECRET_ARN: undefined, REDIS_PASSWORD: undefined });
});

async function submitOk(sessionId: string, count: number): Promise<void> {
  const response = await submit(apiEvent(sessionId));
  expect(response.body).toContain(sessionId);
  expect(response.statusCode).toBe(200);
  expect((await getRow(grid.ddb, `${sessionId}_${count - 1}`))?.session_id).toBe(sessionId);
}

describe("S3 data plane", () => {
  it("reads the submission payload from the bucket", async () => {
    applyEnv({ GRID_STORAGE_SERVICE: "S3" });
    const sessionId = newSessionId();
    await putPayloadS3(grid.s3, sessionId, submissionPayload(sessionId, 4));
    await submitOk(sessionId, 4);
  });

  it("stores base64 text under <key> and reads it back unchanged", async () => {
    applyEnv({ GRID_STORAGE_SERVICE: "S3" });
    const handle = await dataPlane(process.env);
    const value = b64({ worker_arguments: ["1000", "1", "1"], blob: "é€".repeat(1000) });
    await handle.dataPlane.put("t_0-input", value);
    expect(await handle.dataPlane.get("t_0-input")).toBe(value);
    expect(await handle.dataPlane.get("missing-input")).toBeUndefined();
    const object = await grid.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "t_0-input" }));
    expect(await object.Body?.transformToString()).toBe(value);
  });
});

describe("REDIS data plane", () => {
  it("reads the submission payload from Redis", async () => {
    applyEnv({ GRID_STORAGE_SERVICE: "REDIS", S3_BUCKET: undefined, S3_KMS_KEY_ID: undefined });
    const sessionId = newSessionId();
    await grid.redis?.set(payloadKey(sessionId), b64(submissionPayload(sessionId, 3)));
    await submitOk(sessionId, 3);
  });

  it("answers 543 for a session whose payload is not in Redis", async () => {
    applyEnv({ GRID_STORAGE_SERVICE: "REDIS" });
    const sessionId = newSessionId();
    // Present in S3 only: the REDIS mode must not look there.
    await putPayloadS3(grid.s3, sessionId, submissionPayload(sessionId, 1));
    const response = await submit(apiEvent(sessionId));
    expect(response.statusCode).toBe(543);
    expect(response.body).toMatch(/Unknown session/);
  });

  it("authenticates with the token from Secrets Manager, fetched once per cold start", async () => {
    const token = "s3cr3t!&#$token";
    const secured = await startRedisServer(token);
    try {
      grid.setSecretString(JSON.stringify({ auth_token: token }));
      applyEnv({
        GRID_STORAGE_SERVICE: "REDIS",
        REDIS_URL: `127.0.0.1:${secured.port}`,
        REDIS_AUTH_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:redis-auth",
        // Ignored when the secret ARN is set.
        REDIS_PASSWORD: "wrong",
      });
      const { Redis } = await import("ioredis");
      const admin = new Redis({ host: "127.0.0.1", port: secured.port, password: token });
      const sessions = [newSessionId(), newSessionId()];
      for (const s of sessions) await admin.set(payloadKey(s), b64(submissionPayload(s, 2)));
      admin.disconnect();
      const before = grid.recorded.filter((c) => c.target.endsWith("GetSecretValue")).length;
      for (const s of sessions) await submitOk(s, 2);
      expect(grid.recorded.filter((c) => c.target.endsWith("GetSecretValue")).length - before).toBe(1);
    } finally {
      await resetColdStart();
      await secured.stop();
    }
  });
});

describe("S3+REDIS data plane", () => {
  it("back-fills Redis from S3 on a cache miss", async () => {
    applyEnv({ GRID_STORAGE_SERVICE: "S3+REDIS" });
    const sessionId = newSessionId();
    const payload = submissionPayload(sessionId, 5);
    await putPayloadS3(grid.s3, sessionId, payload);
    expect(await grid.redis?.get(payloadKey(sessionId))).toBeNull();
    await submitOk(sessionId, 5);
    expect(await grid.redis?.get(payloadKey(sessionId))).toBe(b64(payload));
  });

  it("prefers the Redis copy when present", async () => {
    applyEnv({ GRID_STORAGE_SERVICE: "S3+REDIS" });
    const sessionId = newSessionId();
    await grid.redis?.set(payloadKey(sessionId), b64(submissionPayload(sessionId, 2)));
    // The S3 copy is stale (3 tasks); Redis wins.
    await putPayloadS3(grid.s3, sessionId, submissionPayload(sessionId, 3));
    await submitOk(sessionId, 2);
    expect(await getRow(grid.ddb, `${sessionId}_2`)).toBeUndefined();
  });

  it("writes through to both stores", async () => {
    applyEnv({ GRID_STORAGE_SERVICE: "S3+REDIS" });
    const handle = await dataPlane(process.env);
    try {
      await handle.dataPlane.put("wt_0-output", "b3V0cHV0");
      expect(await grid.redis?.get("wt_0-output")).toBe("b3V0cHV0");
      const object = await grid.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "wt_0-output" }));
      expect(await object.Body?.transformToString()).toBe("b3V0cHV0");
    } finally {
      await handle.close();
    }
  });
});
