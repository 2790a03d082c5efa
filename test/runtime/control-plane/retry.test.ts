import { describe, expect, it } from "vitest";
import { mapLimit } from "../../../runtime/src/aws/retry";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("mapLimit", () => {
  it("keeps results in input order with bounded concurrency", async () => {
    let running = 0;
    let peak = 0;
    const out = await mapLimit([5, 1, 4, 2, 3], 2, async (x) => {
      peak = Math.max(peak, ++running);
      await sleep(x);
      running--;
      return x * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30]);
    expect(peak).toBe(2);
  });

  it("starts nothing after a failure and settles only when the items in flight have finished", async () => {
    const started: number[] = [];
    const finished: number[] = [];
    const call = mapLimit([0, 1, 2, 3, 4, 5], 2, async (x) => {
      started.push(x);
      if (x === 0) {
        await sleep(5);
        throw new Error("boom");
      }
      await sleep(30);
      finished.push(x);
      return x;
    });
    await expect(call).rejects.toThrow("boom");
    // Item 1 was in flight when item 0 failed: it finished before the call rejected; nothing else started.
    expect(started).toEqual([0, 1]);
    expect(finished).toEqual([1]);
    await sleep(50);
    expect(started).toEqual([0, 1]);
  });
});
