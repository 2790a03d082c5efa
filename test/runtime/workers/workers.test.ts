// The sample workers: the mock compute engine's argument convention, and the Monte Carlo pricer checked against
// the Black-Scholes closed form.

import { describe, expect, it } from "vitest";
import { compute, handler as mock } from "../../../runtime/src/workers/mock-compute-engine";
import { Xoshiro128, blackScholes, normalCdf, price } from "../../../runtime/src/workers/monte-carlo";

describe("mock compute engine", () => {
  it("sleeps the forced delay and echoes its arguments with the delay as the result", async () => {
    const started = Date.now();
    expect(await mock({ worker_arguments: ["50", "1", "1"] })).toEqual({
      worker_arguments: ["50", "1", "1"],
      result: 50,
      mode: "sleep",
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
  });

  it("computes instead when the delay is negative, deterministically", async () => {
    const a = await mock({ worker_arguments: ["-1", "0.001", "0.5"] });
    expect(a.mode).toBe("compute");
    expect(a.result).toBe(compute(0.001, 0.5));
    expect(a.result).toBeGreaterThanOrEqual(0);
    expect(a.result).toBeLessThan(1e9);
  });

  it("refuses a task without worker_arguments or with a non-numeric one", async () => {
    await expect(mock({})).rejects.toThrow(/worker_arguments/);
    await expect(mock({ worker_arguments: ["soon"] })).rejects.toThrow(/worker_arguments\[0\]/);
  });
});

describe("Monte Carlo pricer", () => {
  const option = { type: "call" as const, spot: 100, strike: 105, rate: 0.03, volatility: 0.2, maturity: 1 };

  it("has a normal CDF accurate to 1e-7 at known points", () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1.96)).toBeCloseTo(0.9750021048517795, 7);
    expect(normalCdf(-1)).toBeCloseTo(0.15865525393145707, 7);
  });

  it("gives the textbook Black-Scholes prices and put-call parity", () => {
    // Hull's example: S=42, K=40, r=10%, sigma=20%, T=0.5 -> call 4.76, put 0.81.
    const hull = { spot: 42, strike: 40, rate: 0.1, volatility: 0.2, maturity: 0.5 };
    expect(blackScholes({ ...hull, type: "call" })).toBeCloseTo(4.76, 2);
    expect(blackScholes({ ...hull, type: "put" })).toBeCloseTo(0.81, 2);
    const call = blackScholes(option);
    const put = blackScholes({ ...option, type: "put" });
    expect(call - put).toBeCloseTo(
      option.spot - option.strike * Math.exp(-option.rate * option.maturity),
      10,
    );
  });

  it("converges to the closed form within its standard error, for calls, puts and a dividend yield", () => {
    for (const o of [
      option,
      { ...option, type: "put" as const },
      { ...option, dividend: 0.02, strike: 95 },
    ]) {
      const r = price({ option: o, paths: 400_000, seed: 7 });
      expect(r.standard_error).toBeGreaterThan(0);
      expect(r.standard_error).toBeLessThan(0.03);
      expect(Math.abs(r.price - r.black_scholes)).toBeLessThan(4 * r.standard_error);
    }
  });

  it("returns the same price for the same seed and a different one for another seed", () => {
    const a = price({ option, paths: 10_000, seed: 1 });
    expect(price({ option, paths: 10_000, seed: 1 }).price).toBe(a.price);
    expect(price({ option, paths: 10_000, seed: 2 }).price).not.toBe(a.price);
  });

  it("draws uniform numbers in (0, 1) with the right mean", () => {
    const rng = new Xoshiro128(42);
    let sum = 0;
    let outside = 0;
    for (let i = 0; i < 100_000; i++) {
      const u = rng.nextOpen01();
      if (!(u > 0 && u < 1)) outside++;
      sum += u;
    }
    expect(outside).toBe(0);
    expect(sum / 100_000).toBeCloseTo(0.5, 2);
  });

  it("refuses a malformed option with the field and value", () => {
    expect(() => price({ option: { ...option, volatility: -1 } })).toThrow(
      /option.volatility = -1 must be a number > 0/,
    );
    expect(() => price({ option: { ...option, type: "swap" as never } })).toThrow(/option.type = "swap"/);
    expect(() => price({ option, paths: 1 })).toThrow(/paths = 1/);
  });
});
