// The mock compute engine (upstream's sample workload, as a Node.js Lambda handler): the task's
// `worker_arguments` are [forced_delay_ms, ram_limit_gb, iterations_millions]. A delay >= 0 sleeps that long; a
// negative delay computes instead: a Fibonacci-like recurrence mod 1e9 over a ring buffer of about ram_limit_gb
// gigabytes for iterations_millions million steps. The output echoes the arguments with the result (the delay, or
// the last value computed), so a client can check every task came back with its own answer.

export interface MockTask {
  worker_arguments?: unknown[];
}

export interface MockResult {
  worker_arguments: string[];
  result: number;
  mode: "sleep" | "compute";
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function argument(args: string[], index: number, name: string, fallback: number): number {
  if (args[index] === undefined || args[index] === "") return fallback;
  const value = Number(args[index]);
  if (!Number.isFinite(value))
    throw new TypeError(
      `worker_arguments[${index}] (${name}) = ${JSON.stringify(args[index])} is not a number`,
    );
  return value;
}

/** The recurrence upstream's C++ engine computes, with the ring buffer capped at 64 Mi entries. */
export function compute(ramGb: number, iterationsMillions: number): number {
  const slots = Math.max(2, Math.min(64 * 1024 * 1024, Math.floor((ramGb * 1e9) / 8)));
  const ring = new Float64Array(Math.min(slots, Math.max(2, iterationsMillions * 1e6)));
  ring[0] = 0;
  ring[1] = 1;
  let value = 123;
  const total = Math.floor(iterationsMillions * 1e6);
  for (let i = 2; i < total; i++) {
    value = (ring[(i - 2) % ring.length] + ring[(i - 1) % ring.length]) % 1_000_000_000;
    ring[i % ring.length] = value;
  }
  return value;
}

export async function handler(event: MockTask): Promise<MockResult> {
  const raw = event?.worker_arguments;
  if (!Array.isArray(raw))
    throw new TypeError("the task needs worker_arguments: [delay_ms, ram_gb, iterations_millions]");
  const args = raw.map((a) => String(a));
  const delayMs = argument(args, 0, "forced_delay_ms", 0);
  if (delayMs >= 0) {
    if (delayMs > 0) await sleep(delayMs);
    return { worker_arguments: args, result: delayMs, mode: "sleep" };
  }
  const result = compute(
    argument(args, 1, "ram_limit_gb", 0.001),
    argument(args, 2, "iterations_millions", 1),
  );
  return { worker_arguments: args, result, mode: "compute" };
}
