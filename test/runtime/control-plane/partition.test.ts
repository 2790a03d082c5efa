// The state partition must equal upstream's `int(md5(session_id).hexdigest(), 16) % 32`, because
// agents compute it independently. Expected values were computed with Python's hashlib.

import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  MAX_STATE_PARTITIONS,
  partitionOfSession,
  sessionOfTask,
  stateKeyForSession,
  stateKeyForTask,
} from "../../../runtime/src/contract";

describe("state partitioning", () => {
  it.each([
    ["ab0c2c4e-2a8d-11ef-9e6a-0242ac120002", 19],
    ["session-1", 12],
    ["x", 6],
    ["", 30],
  ])("puts session %j in partition %i like upstream's Python", (sessionId, expected) => {
    expect(partitionOfSession(sessionId)).toBe(expected);
  });

  it("agrees with the full 128-bit integer modulo 32 for many sessions", () => {
    for (let i = 0; i < 500; i++) {
      const id = `s-${i}-${i * 7919}`;
      const full = BigInt(`0x${createHash("md5").update(id).digest("hex")}`) % BigInt(MAX_STATE_PARTITIONS);
      expect(partitionOfSession(id)).toBe(Number(full));
    }
  });

  it("derives the session from the task id prefix before the first underscore", () => {
    expect(sessionOfTask("ab0c2c4e-2a8d-11ef-9e6a-0242ac120002_17")).toBe(
      "ab0c2c4e-2a8d-11ef-9e6a-0242ac120002",
    );
    expect(stateKeyForTask("processing", "session-1_3")).toBe("processing12");
    expect(stateKeyForSession("pending", "x")).toBe("pending6");
  });
});
