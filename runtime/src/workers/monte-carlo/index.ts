// A quantitative workload: Monte Carlo pricing of a European call or put under geometric Brownian motion, with a
// seeded generator (xoshiro128** seeded by splitmix32, normals by Box-Muller) and antithetic variates, so the same
// task always returns the same price. The output carries the standard error and the Black-Scholes closed form, so
// a client (and the tests) can check the estimate.
//   input:  {"option": {"type": "call", "spot": 100, "strike": 105, "rate": 0.03, "volatility": 0.2,
//            "maturity": 1, "dividend": 0}, "paths": 100000, "seed": 42}
//   output: {"price", "standard_error", "black_scholes", "paths", "seed", "elapsed_ms"}

export interface EuropeanOption {
  type: "call" | "put";
  spot: number;
  strike: number;
  /** Continuously compounded risk-free rate. */
  rate: number;
  volatility: number;
  /** Years. */
  maturity: number;
  /** Continuous dividend yield. */
  dividend?: number;
}

export interface PricingTask {
  option: EuropeanOption;
  paths?: number;
  seed?: number;
}

export interface PricingResult {
  price: number;
  standard_error: number;
  black_scholes: number;
  paths: number;
  seed: number;
  elapsed_ms: number;
}

/** Most paths one task may simulate (keeps a task bounded in time). */
export const MAX_PATHS = 50_000_000;

/** xoshiro128**: a small, fast generator with a 2^128 period; seeded through splitmix32. */
export class Xoshiro128 {
  private readonly s = new Uint32Array(4);

  constructor(seed: number) {
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }

  /** A uniform integer in [0, 2^32). */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** A uniform double in (0, 1): never 0, so log() is safe. */
  nextOpen01(): number {
    return (this.nextUint32() + 0.5) / 4294967296;
  }
}

const rotl = (x: number, k: number): number => ((x << k) | (x >>> (32 - k))) >>> 0;

/** Standard normal CDF through erfc (rational Chebyshev approximation, relative error below 1.2e-7). */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x / Math.SQRT2);
}

function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** The Black-Scholes-Merton price of a European option. */
export function blackScholes(option: EuropeanOption): number {
  const { spot: s, strike: k, rate: r, volatility: v, maturity: t } = option;
  const q = option.dividend ?? 0;
  const d1 = (Math.log(s / k) + (r - q + (v * v) / 2) * t) / (v * Math.sqrt(t));
  const d2 = d1 - v * Math.sqrt(t);
  return option.type === "call"
    ? s * Math.exp(-q * t) * normalCdf(d1) - k * Math.exp(-r * t) * normalCdf(d2)
    : k * Math.exp(-r * t) * normalCdf(-d2) - s * Math.exp(-q * t) * normalCdf(-d1);
}

function check(option: unknown): EuropeanOption {
  if (typeof option !== "object" || option === null) throw new TypeError("option must be an object");
  const o = option as Record<string, unknown>;
  if (o.type !== "call" && o.type !== "put")
    throw new TypeError(`option.type = ${JSON.stringify(o.type)}; use "call" or "put"`);
  for (const [field, min] of [
    ["spot", 0],
    ["strike", 0],
    ["volatility", 0],
    ["maturity", 0],
  ] as const) {
    const value = o[field];
    if (typeof value !== "number" || !Number.isFinite(value) || value <= min) {
      throw new TypeError(`option.${field} = ${JSON.stringify(value)} must be a number > ${min}`);
    }
  }
  for (const field of ["rate", "dividend"] as const) {
    const value = o[field];
    if (value !== undefined && (typeof value !== "number" || !Number.isFinite(value))) {
      throw new TypeError(`option.${field} = ${JSON.stringify(value)} must be a number`);
    }
  }
  return { ...(o as unknown as EuropeanOption), rate: (o.rate as number | undefined) ?? 0 };
}

/** Prices the option with `paths` simulated terminal prices (antithetic pairs). */
export function price(task: PricingTask): PricingResult {
  const started = Date.now();
  const option = check(task.option);
  const paths = task.paths ?? 100_000;
  if (!Number.isInteger(paths) || paths < 2 || paths > MAX_PATHS) {
    throw new RangeError(`paths = ${JSON.stringify(task.paths)} must be an integer from 2 to ${MAX_PATHS}`);
  }
  const seed = task.seed ?? 1;
  const rng = new Xoshiro128(seed);
  const { spot, strike, rate, volatility, maturity } = option;
  const q = option.dividend ?? 0;
  const drift = (rate - q - (volatility * volatility) / 2) * maturity;
  const diffusion = volatility * Math.sqrt(maturity);
  const payoff =
    option.type === "call"
      ? (st: number) => Math.max(st - strike, 0)
      : (st: number) => Math.max(strike - st, 0);
  const pairs = Math.floor(paths / 2);
  let sum = 0;
  let sumSquares = 0;
  let spare: number | undefined;
  for (let i = 0; i < pairs; i++) {
    let z: number;
    if (spare === undefined) {
      const radius = Math.sqrt(-2 * Math.log(rng.nextOpen01()));
      const angle = 2 * Math.PI * rng.nextOpen01();
      z = radius * Math.cos(angle);
      spare = radius * Math.sin(angle);
    } else {
      z = spare;
      spare = undefined;
    }
    // The mean of an antithetic pair is one sample: the estimator's variance is computed over pairs.
    const pair =
      (payoff(spot * Math.exp(drift + diffusion * z)) + payoff(spot * Math.exp(drift - diffusion * z))) / 2;
    sum += pair;
    sumSquares += pair * pair;
  }
  const discount = Math.exp(-rate * maturity);
  const mean = sum / pairs;
  const variance = Math.max(0, sumSquares / pairs - mean * mean) * (pairs / Math.max(pairs - 1, 1));
  return {
    price: discount * mean,
    standard_error: (discount * Math.sqrt(variance)) / Math.sqrt(pairs),
    black_scholes: blackScholes(option),
    paths: pairs * 2,
    seed,
    elapsed_ms: Date.now() - started,
  };
}

export async function handler(event: PricingTask): Promise<PricingResult> {
  return price(event);
}
