// The local grid's schedules (TTL checker, scaling metrics): never two runs at once, and stop() waits for the run in
// flight, so the grid stops its servers only after it (a run cut off by a stopped server logged 27 failed queries),
// up to a grace period (a run against a dead server held the grid's stop for minutes).

import { describe, expect, it } from "vitest";
import { scheduleEvery } from "../../../runtime/src/local/grid";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("scheduleEvery", () => {
  it("runs one at a time and stop() resolves only once the run in flight has finished", async () => {
    const events: string[] = [];
    let running = 0;
    let overlapped = false;
    const schedule = scheduleEvery(0.02, async () => {
      running++;
      overlapped ||= running > 1;
      events.push("start");
      await sleep(150);
      events.push("end");
      running--;
    });
    await sleep(60); // the first run started at 20 ms and runs until 170 ms
    await schedule.stop();
    events.push("stopped");
    expect(overlapped).toBe(false);
    expect(events).toEqual(["start", "end", "stopped"]);
    await sleep(60);
    expect(events).toEqual(["start", "end", "stopped"]);
  });

  it("stop() waits no longer than its grace period for a run that hangs (a run against a server that died)", async () => {
    let ended = false;
    const schedule = scheduleEvery(
      0.01,
      async () => {
        await sleep(2_000);
        ended = true;
      },
      100,
    );
    await sleep(30);
    const started = Date.now();
    await schedule.stop();
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(ended).toBe(false);
  });

  it("keeps going after a failed run", async () => {
    let calls = 0;
    const schedule = scheduleEvery(0.01, async () => {
      calls++;
      throw new Error("boom");
    });
    await sleep(80);
    await schedule.stop();
    expect(calls).toBeGreaterThan(1);
  });
});
