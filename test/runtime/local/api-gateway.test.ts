// The local API Gateway front (runtime/src/local/api-gateway.ts) on 127.0.0.1 in front of the real handlers on the
// local servers: routes, the API key, the request validator, proxy events, and API Gateway's own error answers.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resetColdStart as resetSubmit } from "../../../runtime/src/control-plane/handlers/submit-tasks";
import {
  startLocalApiGateway,
  type LocalApiGateway,
  type ProxyEvent,
} from "../../../runtime/src/local/api-gateway";
import {
  applyEnv,
  b64,
  newSessionId,
  putPayloadS3,
  submissionPayload,
} from "../control-plane/integration/fixtures";
import { startLocalGrid, type LocalGrid } from "../control-plane/integration/local-grid";
import { rawRequest, statusLine } from "../../support/raw-request";

const KEY = "local-test-api-key-0123456789";
let grid: LocalGrid;
let api: LocalApiGateway;

beforeAll(async () => {
  grid = await startLocalGrid();
  applyEnv(grid.env);
  api = await startLocalApiGateway({ auth: { kind: "apiKey", apiKeys: [KEY] } });
});
afterAll(async () => {
  await api?.stop();
  await resetSubmit();
  await grid?.stop();
});

const call = (path: string, init: RequestInit & { key?: string | null } = {}) =>
  fetch(`${api.url}${path}`, {
    ...init,
    headers: { ...(init.key === null ? {} : { "x-api-key": init.key ?? KEY }), ...(init.headers ?? {}) },
  });

describe("local API Gateway front, private flavour (API key)", () => {
  it("serves the stage's routes on 127.0.0.1", () => {
    expect(api.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
  });

  it("answers a target URL() cannot parse as an unknown route (403), not as a failed function", async () => {
    const answer = await rawRequest(
      api.url,
      `GET //[ HTTP/1.1\r\nHost: x\r\nx-api-key: ${KEY}\r\nConnection: close\r\n\r\n`,
      "close",
    );
    expect(statusLine(answer)).toBe("HTTP/1.1 403 Forbidden");
    expect(answer).toContain('"Missing Authentication Token"');
  });

  it("runs the real submit_tasks handler and passes its JSON answer through", async () => {
    const sessionId = newSessionId();
    await putPayloadS3(grid.s3, sessionId, submissionPayload(sessionId, 3));
    const res = await call(`/submit?submission_content=${sessionId}`, { method: "POST" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(res.headers.get("x-amzn-requestid")).toMatch(/^[0-9a-f-]{36}$/);
    expect(await res.json()).toMatchObject({ session_id: sessionId, task_ids: expect.any(Array) });
  });

  it("passes a handler's error through with its status and text/plain body", async () => {
    const res = await call(`/result?submission_content=${encodeURIComponent("%%%")}`);
    expect(res.status).toBe(542);
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(await res.text()).toMatch(/^Invalid request/);
  });

  it.each([
    ["no x-api-key header", null],
    ["a wrong API key", "not-the-key"],
  ])("answers 403 Forbidden for %s and invokes nothing", async (_name, key) => {
    const before = { ...api.invocations };
    const res = await call(`/submit?submission_content=${newSessionId()}`, { method: "POST", key });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ message: "Forbidden" });
    expect(api.invocations).toEqual(before);
  });

  it.each([
    ["missing", "/result"],
    ["blank", "/result?submission_content="],
  ])("answers the request validator's 400 when submission_content is %s", async (_name, path) => {
    const before = { ...api.invocations };
    const res = await call(path);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      message: "Missing required request parameters: [submission_content]",
    });
    expect(api.invocations).toEqual(before);
  });

  it.each([
    ["an unknown path", "/v1/nothing", "GET"],
    ["a known path with another method", "/v1/submit", "GET"],
    ["another stage", "/v2/result", "GET"],
  ])("answers 403 Missing Authentication Token for %s", async (_name, path, method) => {
    const res = await fetch(`http://127.0.0.1:${api.port}${path}?submission_content=x`, {
      method,
      headers: { "x-api-key": KEY },
    });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ message: "Missing Authentication Token" });
  });
});

describe("local API Gateway front, proxy event and integration failures", () => {
  let events: ProxyEvent[];
  let front: LocalApiGateway;
  beforeAll(async () => {
    events = [];
    front = await startLocalApiGateway({
      auth: { kind: "none" },
      stage: "test",
      integrationTimeoutMs: 300,
      handlers: {
        submit: async (event) => {
          events.push(event);
          return { statusCode: 200, headers: { "X-Echo": "1" }, body: JSON.stringify({ ok: true }) };
        },
        results: async () => {
          throw new Error("handler crashed");
        },
        cancel: async () =>
          new Promise((resolve) => setTimeout(() => resolve({ statusCode: 200, body: "{}" }), 2_000)),
      },
    });
  });
  afterAll(async () => front?.stop());

  it("builds the REST proxy event: decoded query parameters (multi-valued too), headers and a text body", async () => {
    const content = b64({ session_id: "s" });
    const res = await fetch(`${front.url}/submit?submission_content=${content}&a=1&a=2&plus=x+y%2Bz`, {
      method: "POST",
      headers: { "X-Custom": "v" },
      body: "hello",
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-echo")).toBe("1");
    const event = events.at(-1)!;
    expect(event).toMatchObject({
      resource: "/submit",
      httpMethod: "POST",
      queryStringParameters: { submission_content: content, a: "2", plus: "x+y+z" },
      multiValueQueryStringParameters: { a: ["1", "2"] },
      body: "hello",
      isBase64Encoded: false,
      requestContext: { stage: "test", resourcePath: "/submit", httpMethod: "POST" },
    });
    expect(event.headers["X-Custom"]).toBe("v");
  });

  it("answers 502 Internal server error when the function fails", async () => {
    const res = await fetch(`${front.url}/result?submission_content=x`);
    expect(res.status).toBe(502);
    expect(await res.json()).toEqual({ message: "Internal server error" });
  });

  it("answers 504 when the function outlives the integration timeout", async () => {
    const res = await fetch(`${front.url}/cancel?submission_content=x`, { method: "POST" });
    expect(res.status).toBe(504);
    expect(await res.json()).toEqual({ message: "Endpoint request timed out" });
  });

  it("answers 413 for a request above the Lambda payload limit", async () => {
    const res = await fetch(`${front.url}/submit?submission_content=x`, {
      method: "POST",
      body: "x".repeat(7 * 1024 * 1024),
    });
    expect(res.status).toBe(413);
  });
});
