// When GridClient.wait polls: it backs off while nothing changes, and once tasks finish it polls when the
// session's rate says it will be done, so a session's end is seen within one first interval, not up to a whole
// backed-off one. Driven with fake timers and a get_results that answers from the fake clock (no server).

import { getEventListeners } from "node:events";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { GridClient, nextPollDelayMs, type SessionResults } from "../../../runtime/src/client/grid-client";

describe("nextPollDelayMs", () => {
  it("keeps the backed-off interval while no rate is known or nothing has finished", () => {
    expect(nextPollDelayMs({ interval: 1_125, floor: 500, left: 10, rate: undefined })).toBe(1_125);
    expect(nextPollDelayMs({ interval: 1_125, floor: 500, left: 10, rate: 0 })).toBe(1_125);
    expect(nextPollDelayMs({ interval: 1_125, floor: 500, left: 10, rate: Number.NaN })).toBe(1_125);
  });

  it("polls when the rate says the session ends, if that comes before the interval", () => {
    // 300 left at 0.3 tasks/ms: done in 1,000 ms.
    expect(nextPollDelayMs({ interval: 5_000, floor: 500, left: 300, rate: 0.3 })).toBe(1_000);
    expect(nextPollDelayMs({ interval: 800, floor: 500, left: 300, rate: 0.3 })).toBe(800);
  });

  it("never polls sooner than the first interval", () => {
    expect(nextPollDelayMs({ interval: 5_000, floor: 500, left: 3, rate: 0.3 })).toBe(500);
  });
});

describe("GridClient.wait", () => {
  const TOTAL = 1_000;
  const ids = Array.from({ length: TOTAL }, (_, i) => `s_${i}`);
  let client: GridClient;
  let polls: number[];

  /** A grid whose session has `doneAt(ms)` tasks done `ms` after the wait began (fake clock). */
  function grid(doneAt: (ms: number) => number) {
    const t0 = Date.now();
    client.finalTasks = async () => {
      const now = Date.now() - t0;
      polls.push(now);
      const done = Math.min(TOTAL, Math.max(0, Math.floor(doneAt(now))));
      return { finished: ids.slice(0, done), failed: [], cancelled: [] };
    };
  }

  /** wait() from a 500 ms first interval up to 5 s, run to its end on the fake clock: its results or its error. */
  async function waitToEnd(
    timeoutMs?: number,
    signal?: AbortSignal,
  ): Promise<{ results?: SessionResults; error?: unknown }> {
    const waiting = client
      .wait("s", {
        total: TOTAL,
        pollIntervalMs: 500,
        maxPollIntervalMs: 5_000,
        timeoutMs,
        signal,
        readOutputs: false,
      })
      .then(
        (results) => ({ results }),
        (error: unknown) => ({ error }),
      );
    await vi.runAllTimersAsync();
    return waiting;
  }

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    polls = [];
    client = GridClient.fromConfig(
      {
        region: "eu-west-1",
        grid_storage_service: "S3",
        task_input_passed_via_external_storage: 0,
        private_api_gateway_url: "http://127.0.0.1:9/v1",
        api_gateway_key: "key",
      },
      { api: "private" },
    );
  });
  afterEach(async () => {
    vi.useRealTimers();
    await client.close();
  });

  it("sees the end of a session within one first interval of its last task", async () => {
    grid((ms) => ms * 0.3); // 1,000 tasks in 3,334 ms
    const { results } = await waitToEnd();
    expect(results?.finished).toBe(TOTAL);
    expect(results?.complete).toBe(true);
    const seen = polls[polls.length - 1];
    // Backing off alone (0, 500, 1,250, 2,375, 4,062 ms) would see it at 4,062 ms.
    expect(seen).toBeGreaterThanOrEqual(3_334);
    expect(seen).toBeLessThanOrEqual(3_334 + 500);
    expect(polls.length).toBeLessThanOrEqual(6);
    // No two polls closer than the first interval.
    for (let i = 1; i < polls.length; i++) expect(polls[i] - polls[i - 1]).toBeGreaterThanOrEqual(500);
  });

  it("backs off to the longest interval while nothing finishes", async () => {
    grid((ms) => (ms - 60_000) * 0.3); // nothing for a minute
    const { error } = await waitToEnd(30_000);
    expect(String(error)).toMatch(/timed out after 30\.0 s: 0 of 1000 tasks done/);
    // Intervals of 500 ms growing by half (fake timers drop the fractions), then every 5 s up to the 30 s deadline.
    expect(polls).toEqual([0, 500, 1_250, 2_375, 4_062, 6_593, 10_389, 15_389, 20_389, 25_389, 30_000]);
  });

  it("backs off again when a session's last tasks straggle", async () => {
    grid((ms) => (ms < 60_000 ? Math.min(995, ms * 0.3) : TOTAL)); // 995 in 3.3 s, the last 5 at 60 s
    expect((await waitToEnd()).results?.finished).toBe(TOTAL);
    // Once a poll sees nothing new, the interval backs off to 5 s: about a dozen polls in the minute, not one
    // every 500 ms.
    const tail = polls.filter((t) => t > 4_000);
    expect(tail.length).toBeLessThanOrEqual(14);
    for (let i = 1; i < tail.length; i++) expect(tail[i] - tail[i - 1]).toBeGreaterThanOrEqual(3_700);
    expect(polls[polls.length - 1]).toBeLessThanOrEqual(65_000);
  });

  it("leaves no listener on the caller's abort signal between polls, however many it makes", async () => {
    // One listener left behind per poll made Node warn of a leak (MaxListenersExceededWarning) in htc's output
    // after ten polls.
    const signal = new AbortController().signal;
    const listeners: number[] = [];
    grid((ms) => {
      listeners.push(getEventListeners(signal, "abort").length);
      return ms < 60_000 ? Math.min(995, ms * 0.3) : TOTAL;
    });
    expect((await waitToEnd(undefined, signal)).results?.finished).toBe(TOTAL);
    expect(listeners.length).toBeGreaterThan(10);
    expect(Math.max(...listeners)).toBe(0);
    expect(getEventListeners(signal, "abort")).toHaveLength(0);
  });

  it("stops waiting as soon as the signal aborts", async () => {
    const controller = new AbortController();
    grid((ms) => {
      if (ms >= 2_000) controller.abort();
      return 0;
    });
    const { error } = await waitToEnd(undefined, controller.signal);
    expect(String(error)).toMatch(/was interrupted: 0 of 1000 tasks done/);
    expect(polls[polls.length - 1]).toBeLessThan(5_000);
  });
});
