// Small concurrency and back-off helpers shared by the state table and the task queue.

export const THROTTLING_ERRORS = new Set([
  "ThrottlingException",
  "ProvisionedThroughputExceededException",
  "RequestLimitExceeded",
  "Throttling",
  "ThrottledException",
  "TooManyRequestsException",
]);

export function errorName(error: unknown): string {
  return typeof error === "object" && error !== null && "name" in error
    ? String((error as { name: unknown }).name)
    : "";
}

export function isThrottling(error: unknown): boolean {
  return THROTTLING_ERRORS.has(errorName(error));
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Full-jitter exponential back-off: attempt 0 waits up to `baseMs`, capped at `capMs`. */
export function backoffMs(attempt: number, baseMs = 20, capMs = 1_000): number {
  return Math.random() * Math.min(capMs, baseMs * 2 ** attempt);
}

/** Retries `fn` while it throws a throttling error, up to `attempts` tries in all. */
export async function retryOnThrottling<T>(fn: () => Promise<T>, attempts = 8): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (!isThrottling(error) || attempt + 1 >= attempts) throw error;
      await sleep(backoffMs(attempt));
    }
  }
}

/** Runs `fn` over `items` with at most `limit` calls in flight; results keep the input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  // After the first failure no new item starts, and the call settles only once every item already started has
  // finished: callers clean up after a failure (submit deletes the rows it wrote), and must not race writes
  // still in flight.
  const worker = async (): Promise<void> => {
    while (next < items.length && failure === undefined) {
      const index = next++;
      try {
        results[index] = await fn(items[index], index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
  return results;
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * `fn` over `items` with at most `limit` calls in flight, yielded in the items' order: a consumer that writes each
 * result out holds at most `limit` of them at a time, where mapLimit holds them all. After a failure no new call
 * starts; the ones in flight settle, then the error is thrown. A consumer that stops early leaves the calls in
 * flight to finish unobserved.
 */
export async function* mapOrdered<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): AsyncGenerator<R> {
  const inFlight: Promise<R>[] = [];
  let next = 0;
  let failed = false;
  const start = () => {
    const index = next++;
    const call = fn(items[index], index);
    // Thrown when its turn comes; meanwhile it only stops new calls (and is never an unhandled rejection).
    call.catch(() => (failed = true));
    inFlight.push(call);
  };
  while (next < items.length && inFlight.length < Math.max(1, limit)) start();
  while (inFlight.length > 0) {
    let result: R;
    try {
      result = await inFlight[0];
    } catch (error) {
      await Promise.allSettled(inFlight);
      throw error;
    }
    inFlight.shift();
    if (next < items.length && !failed) start();
    yield result;
  }
}
