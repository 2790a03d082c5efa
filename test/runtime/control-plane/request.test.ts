// Request decoding and submission validation: base64 handling, limits and the two input modes.

import { describe, expect, it } from "vitest";
import {
  MAX_DECODED_BYTES,
  RequestError,
  decodeBase64,
  decodeBase64JsonObject,
  encodeBase64Json,
  parseCancelRequest,
  parseResultsRequest,
  submissionContent,
} from "../../../runtime/src/control-plane/request";
import {
  messageBody,
  parseSubmission,
  type SubmissionOptions,
} from "../../../runtime/src/control-plane/submission";
import { MAX_INLINE_DEFINITION_BYTES, MAX_TASKS_PER_SUBMISSION } from "../../../runtime/src/contract";

const external: SubmissionOptions = {
  externalStorage: true,
  priorities: 3,
  prioritySQS: true,
  nowMs: 1_700_000_000_000,
};
const inline: SubmissionOptions = {
  ...external,
  externalStorage: false,
  newSessionId: () => "generated-session",
};
const event = (content: string) => ({ queryStringParameters: { submission_content: content } });

describe("base64 handling", () => {
  it("decodes urlsafe base64 with or without padding, and the standard alphabet", () => {
    const json = { a: "???>>>", b: [1, 2, 3] };
    const urlsafe = encodeBase64Json(json);
    expect(urlsafe).toMatch(/[-_]/);
    expect(decodeBase64JsonObject(urlsafe)).toEqual(json);
    const padded = urlsafe + "=".repeat((4 - (urlsafe.length % 4)) % 4);
    expect(padded).not.toBe(urlsafe);
    expect(decodeBase64JsonObject(padded)).toEqual(json);
    expect(decodeBase64JsonObject(Buffer.from(JSON.stringify(json)).toString("base64"))).toEqual(json);
  });

  it.each([["spaces inside"], ["ab$c"], ["a"], ["%%%"]])("rejects %j as invalid base64", (text) => {
    expect(() => decodeBase64(text)).toThrow(RequestError);
  });

  it("rejects JSON that is not an object and bytes that are not UTF-8", () => {
    expect(() => decodeBase64JsonObject(encodeBase64Json([1, 2]))).toThrow(/JSON object/);
    expect(() => decodeBase64JsonObject(Buffer.from([0xff, 0xfe, 0x7b]).toString("base64url"))).toThrow(
      /UTF-8 JSON/,
    );
  });

  it("rejects payloads above the size limit before decoding them", () => {
    expect(() => decodeBase64("A".repeat(Math.ceil((MAX_DECODED_BYTES * 4) / 3) + 16))).toThrow(
      /larger than/,
    );
  });

  it("takes submission_content from the query string, else from the (base64) body", () => {
    expect(submissionContent(event("abc"))).toBe("abc");
    expect(submissionContent({ body: Buffer.from("xyz").toString("base64"), isBase64Encoded: true })).toBe(
      "xyz",
    );
    expect(() => submissionContent({ queryStringParameters: {} })).toThrow(/submission_content/);
  });
});

describe("get_results and cancel_tasks requests", () => {
  it("parses the session of a results request and rejects bad ids", () => {
    expect(parseResultsRequest(event(encodeBase64Json({ session_id: "abc-123" })))).toEqual({
      sessionId: "abc-123",
    });
    expect(
      parseResultsRequest(event(encodeBase64Json({ session_id: "abc-123", task_ids: ["abc-123_0"] }))),
    ).toEqual({ sessionId: "abc-123", taskIds: ["abc-123_0"] });
    expect(() => parseResultsRequest(event(encodeBase64Json({ session_id: "a_b" })))).toThrow(RequestError);
    expect(() => parseResultsRequest(event(encodeBase64Json({})))).toThrow(RequestError);
  });

  it("deduplicates sessions to cancel and bounds their number", () => {
    expect(parseCancelRequest(event(encodeBase64Json({ session_ids_to_cancel: ["a", "b", "a"] })))).toEqual([
      "a",
      "b",
    ]);
    expect(() =>
      parseCancelRequest(
        event(encodeBase64Json({ session_ids_to_cancel: Array.from({ length: 101 }, (_, i) => `s${i}`) })),
      ),
    ).toThrow(/at most 100/);
  });
});

describe("submission parsing", () => {
  const payload = (tasks: unknown[], extra: Record<string, unknown> = {}) => ({
    session_id: "sess-1",
    tasks_list: { tasks },
    ...extra,
  });

  it("builds upstream-shaped pending rows for external task ids", () => {
    const { rows, priority, sessionId } = parseSubmission(
      payload(["sess-1_0", "sess-1_1"], { context: { tasks_priority: 2 } }),
      external,
    );
    expect(sessionId).toBe("sess-1");
    expect(priority).toBe(2);
    expect(rows[1]).toEqual({
      session_id: "sess-1",
      task_id: "sess-1_1",
      parent_session_id: "sess-1",
      submission_timestamp: 1_700_000_000_000,
      task_completion_timestamp: 0,
      task_status: rows[0].task_status,
      task_owner: "None",
      retries: 0,
      task_definition: "none",
      sqs_handler_id: "None",
      heartbeat_expiration_timestamp: 0,
      task_priority: 2,
    });
    expect(rows[0].task_status).toMatch(/^pending\d+$/);
  });

  it("records priority 0 in SQS mode whatever the client asks", () => {
    expect(
      parseSubmission(payload(["sess-1_0"], { context: { tasks_priority: 7 } }), {
        ...external,
        prioritySQS: false,
        priorities: 1,
      }).priority,
    ).toBe(0);
  });

  it.each([
    ["an empty task list", payload([])],
    ["a task id of another session", payload(["other_0"])],
    ["a task id longer than 80 characters", payload([`sess-1_${"x".repeat(80)}`])],
    ["a priority out of range", payload(["sess-1_0"], { context: { tasks_priority: 3 } })],
    ["a negative priority", payload(["sess-1_0"], { context: { tasks_priority: -1 } })],
    [
      "too many tasks",
      payload(Array.from({ length: MAX_TASKS_PER_SUBMISSION + 1 }, (_, i) => `sess-1_${i}`)),
    ],
    ["a session id mismatch", { ...payload(["sess-2_0"]), session_id: "sess-2" }],
  ])("rejects %s", (_name, body) => {
    expect(() => parseSubmission(body, { ...external, requestedSessionId: "sess-1" })).toThrow(RequestError);
  });

  it("assigns ids and keeps definitions inline when external storage is off", () => {
    const { rows, sessionId } = parseSubmission(
      { session_id: "None", tasks_list: { tasks: [{ a: 1 }, { b: 2 }] } },
      inline,
    );
    expect(sessionId).toBe("generated-session");
    expect(rows.map((r) => [r.task_id, r.task_definition])).toEqual([
      ["generated-session_0", '{"a":1}'],
      ["generated-session_1", '{"b":2}'],
    ]);
  });

  it("rejects oversized inline definitions", () => {
    expect(() =>
      parseSubmission({ tasks_list: { tasks: [{ blob: "x".repeat(MAX_INLINE_DEFINITION_BYTES) }] } }, inline),
    ).toThrow(/larger than/);
  });

  it("puts the state row plus stats in the queue message", () => {
    const { rows } = parseSubmission(payload(["sess-1_0"]), external);
    expect(JSON.parse(messageBody(rows[0], { s: { tstmp: 1 } }))).toEqual({
      ...rows[0],
      stats: { s: { tstmp: 1 } },
    });
  });
});
