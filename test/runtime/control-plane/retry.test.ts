import { describe, expect, it } from "vitest";
import { mapLimit, mapOrdered } from "../../../runtime/src/aws/retry";

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

describe("mapOrdered", () => {
  const collect = async <T>(items: AsyncIterable<T>) => {
    const out: T[] = [];
    for await (const item of items) out.push(item);
    return out;
  };

  it("yields in input order, at most `limit` calls in flight, reading ahead while the consumer works", async () => {
    let running = 0;
    let peak = 0;
    const started: number[] = [];
    const out: number[] = [];
    for await (const r of mapOrdered([5, 1, 4, 2, 3, 1], 2, async (x, i) => {
      started.push(i);
      peak = Math.max(peak, ++running);
      await sleep(x * 2);
      running--;
      return x * 10;
    })) {
      out.push(r);
      // While the consumer holds a result, the next read is already started: one ahead of it plus its own.
      expect(started.length).toBe(Math.min(6, out.length + 2));
    }
    expect(out).toEqual([50, 10, 40, 20, 30, 10]);
    expect(peak).toBe(2);
  });

  it("after a failure starts nothing new, yields what came before it, and throws once the rest settle", async () => {
    const started: number[] = [];
    const finished: number[] = [];
    const out: number[] = [];
    const run = async () => {
      for await (const r of mapOrdered([0, 1, 2, 3, 4, 5], 3, async (x) => {
        started.push(x);
        if (x === 1) throw new Error("boom");
        await sleep(30);
        finished.push(x);
        return x;
      }))
        out.push(r);
    };
    await expect(run()).rejects.toThrow("boom");
    expect(out).toEqual([0]);
    expect(started).toEqual([0, 1, 2]);
    expect(finished).toEqual([0, 2]);
    await sleep(50);
    expect(started).toEqual([0, 1, 2]);
    expect(await collect(mapOrdered([], 4, async () => 1))).toEqual([]);
  });
});
