// The HTC agent: takes tasks from the priority queues, claims each in the state table, runs it on the worker and
// records the result, with upstream's observable contract (state transitions, data-plane keys, queue handling).
//
// One task runs on the worker at a time. Around it the agent pipelines, so the worker rarely waits:
//  - it receives up to 10 messages per call when tasks are short (fewer as they get longer, so long tasks are not
//    hoarded), claims the next task and fetches its input while the current one runs;
//  - it writes outputs, marks tasks finished and deletes their messages (in batches) while the next one runs.
// A task is never lost and never finishes twice: every state change is conditional on "processing and owned by
// me" (lease.ts), a message is deleted only once its task reached a final state, and a task whose heartbeat stops
// (killed agent, lost lease) goes back to pending through the TTL checker.

import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { SQSClient } from "@aws-sdk/client-sqs";
import {
  DEFINITION_IN_DATA_PLANE,
  INLINE_OUTPUTS_ATTRIBUTE,
  MAX_INLINE_OUTPUT_BYTES,
  MAX_WORKER_PAYLOAD_BYTES,
  TASK_ID_PATTERN,
  errorKey,
  fromBase64,
  inputKey,
  outputKey,
  toBase64,
} from "../contract";
import { RedisFullError, type DataPlane } from "../aws/data-plane";
import type { StateTableWrites } from "../aws/signed-dynamodb";
import type { ErrorLogger } from "../aws/error-log";
import { backoffMs, sleep } from "../aws/retry";
import { TaskInbox, type MessageRef, type ReceivedMessage } from "./inbox";
import { TaskLease, type LeaseOutcome } from "./lease";
import type { AgentSettings } from "./settings";
import type { InvokeResult, WorkerClient } from "./worker";

/** Tasks expected to finish within this horizon are received together (up to 10). */
const BATCH_HORIZON_MS = 2_000;
/** Below this average run time the next task is claimed while the current one runs. */
const PREFETCH_BELOW_MS = 500;
/** Completions (output write, finish, delete) in flight at once. */
const MAX_COMPLETIONS = 8;
/** The pause after a failure to read an input or complete a task: 1 s, doubling up to 30 s while they go on. */
const FAILURE_PAUSE_MS = { first: 1_000, max: 30_000 } as const;
/** How long the agent waits for a worker that is not there before looking again (ms). */
const WORKER_WAIT_STEP_MS = 5_000;
/** Attempts to write an output or error before the task is handed back for retry. */
const WRITE_ATTEMPTS = 4;

export interface AgentDeps {
  readonly settings: AgentSettings;
  /** The state table: the SDK client, or the signed-HTTP client (main.ts picks). */
  readonly ddb: DynamoDBClient | StateTableWrites;
  readonly sqs: SQSClient;
  readonly dataPlane: DataPlane;
  readonly worker: WorkerClient;
  readonly logger: ErrorLogger;
  /** Informational lines (start, stop, summary). */
  readonly log?: (line: string) => void;
}

export interface AgentCounters {
  /** Tasks this agent marked finished. */
  finished: number;
  /** Tasks whose worker failed, handed back for retry (or failing at the retry limit) through the TTL checker. */
  workerErrors: number;
  /** Tasks failed for good by this agent (missing or too large input). */
  failed: number;
  /** Tasks cancelled (or finished elsewhere) while this agent held them. */
  cancelled: number;
  /** Tasks another party took over while this agent ran them (expired heartbeat). */
  lost: number;
  /** Messages moved to a dead-letter queue (malformed, or their row is gone). */
  deadLettered: number;
  /** Claims that found the task already in a final state or held by another agent. */
  skipped: number;
  /** Tasks claimed and given back unrun, with no retry spent: at shutdown, or when the worker was not there. */
  released: number;
}

type Lost = "cancelled" | "final" | "taken" | "vanished";

interface Claimed {
  readonly message: ReceivedMessage;
  readonly taskId: string;
  payload: Buffer;
  lastBeatMs: number;
  beating: boolean;
  /** When the message becomes visible again (ms). */
  visibleUntilMs: number;
  extending: boolean;
  completing: boolean;
  lost?: Lost;
  /** Claimed while another task ran (prefetched): given back rather than run when the agent stops. */
  prefetched: boolean;
  /** The task's row allows a small output in it (INLINE_OUTPUTS_ATTRIBUTE). */
  readonly inlineOutputs: boolean;
  readonly abort: AbortController;
}

/**
 * What a queue message carries that the agent needs: the task id, for inline input its definition, and whether
 * its output may be kept in its row.
 */
export function parseTaskMessage(
  body: string,
): { taskId: string; definition?: string; inlineOutputs: boolean } | { error: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { error: "message body is not JSON" };
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return { error: "message body is not a JSON object" };
  }
  const {
    task_id: taskId,
    task_definition: definition,
    [INLINE_OUTPUTS_ATTRIBUTE]: inlineOutputs,
  } = parsed as Record<string, unknown>;
  if (typeof taskId !== "string" || !TASK_ID_PATTERN.test(taskId) || !taskId.includes("_")) {
    return { error: `task_id ${JSON.stringify(taskId)?.slice(0, 90)} is not a task id <session>_<n>` };
  }
  if (definition !== undefined && typeof definition !== "string") {
    return { error: "task_definition must be a string" };
  }
  return { taskId, definition, inlineOutputs: inlineOutputs === 1 };
}

export class Agent {
  readonly counters: AgentCounters = {
    finished: 0,
    workerErrors: 0,
    failed: 0,
    cancelled: 0,
    lost: 0,
    deadLettered: 0,
    skipped: 0,
    released: 0,
  };
  private readonly settings: AgentSettings;
  private readonly inbox: TaskInbox;
  private readonly lease: TaskLease;
  private readonly held: ReceivedMessage[] = [];
  private readonly owned = new Map<string, Claimed>();
  private readonly deletes: MessageRef[] = [];
  private readonly completions = new Set<Promise<void>>();
  private stopping = false;
  private visibilitySec = 30;
  private averageRunMs?: number;
  /** Until then no new task is taken: the data plane refused a write because it is full (see fullPauseSec). */
  private fullUntilMs = 0;
  /** Until then no new task is taken: reading an input or completing a task failed (see pauseAfterFailure). */
  private failingUntilMs = 0;
  /** Failures in a row behind failingUntilMs; the pause doubles with each. */
  private failuresInRow = 0;
  private housekeeping?: NodeJS.Timeout;
  private readonly log: (line: string) => void;

  constructor(private readonly deps: AgentDeps) {
    this.settings = deps.settings;
    this.inbox = new TaskInbox(deps.sqs, deps.settings.queues, deps.settings.longPollSec);
    this.lease = new TaskLease(deps.ddb, deps.settings.stateTable.name, deps.settings.agentId);
    this.log = deps.log ?? ((line) => console.log(line));
  }

  /** Asks the agent to stop: it takes no new task, finishes the one in hand, and `run` resolves. */
  stop(): void {
    this.stopping = true;
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  /** Runs until `stop()`; resolves once every task in hand is finished or handed back. */
  async run(): Promise<AgentCounters> {
    this.visibilitySec = await this.inbox.visibilityTimeoutSec();
    const { agentId, queues, storage } = this.settings;
    this.log(
      `agent ${agentId}: taking tasks from ${queues.queueBase}__0..${queues.priorities - 1} (${queues.service}), data plane ${storage}, worker ${this.deps.worker.endpoint}`,
    );
    const tick = Math.min(1_000, this.settings.heartbeatIntervalSec * 500);
    this.housekeeping = setInterval(() => this.housekeep(), tick);
    try {
      let next: Promise<Claimed | undefined> = this.prepareNext();
      for (;;) {
        const current = await next;
        // Stopping: the task in hand (claimed while idle) still runs; a prefetched one goes back.
        if (this.stopping && (!current || current.prefetched)) {
          if (current) await this.release(current);
          break;
        }
        if (!current) {
          next = this.prepareNext();
          continue;
        }
        if (current.lost) {
          this.track(this.complete(current, { kind: "abandoned" }));
          next = this.prepareNext();
          continue;
        }
        // Short tasks: claim the next one while this one runs.
        const prefetch =
          !this.stopping && this.averageRunMs !== undefined && this.averageRunMs < PREFETCH_BELOW_MS;
        next = prefetch ? this.prepareNext(true) : Promise.resolve(undefined);
        const result = await this.execute(current);
        if (result.kind === "unavailable") {
          // The task never reached a worker: back to its queue with no retry spent, and so is a prefetched one;
          // no task is taken until the worker answers again (a pod's worker container restarting).
          await this.release(current);
          const prefetched = await next;
          if (prefetched) await this.release(prefetched);
          await this.waitForWorker(result.reason);
          next = this.prepareNext();
          continue;
        }
        this.track(this.complete(current, result));
        while (this.completions.size >= MAX_COMPLETIONS) await Promise.race(this.completions);
        if (!prefetch) next = this.prepareNext();
      }
    } finally {
      await this.drain();
    }
    this.log(`agent ${agentId}: stopped; ${JSON.stringify(this.counters)}`);
    return this.counters;
  }

  /** Messages to receive at once: as many as should finish within BATCH_HORIZON_MS, 1 to 10. */
  private batchSize(): number {
    if (this.averageRunMs === undefined) return 1;
    return Math.max(1, Math.min(10, Math.floor(BATCH_HORIZON_MS / Math.max(this.averageRunMs, 1))));
  }

  /** The next task claimed and ready to run, or undefined when there is none right now. */
  private async prepareNext(prefetched = false): Promise<Claimed | undefined> {
    for (;;) {
      if (this.stopping) return undefined;
      const pausedUntil = Math.max(this.fullUntilMs, this.failingUntilMs);
      if (Date.now() < pausedUntil) {
        await sleep(Math.min(1_000, pausedUntil - Date.now()));
        continue;
      }
      if (this.held.length === 0) {
        await this.flushDeletes();
        let received: ReceivedMessage[];
        try {
          received = await this.inbox.receive(this.batchSize());
        } catch (error) {
          await this.deps.logger.log(`agent ${this.settings.agentId}: receiving tasks failed`, error);
          await this.pause();
          return undefined;
        }
        if (this.stopping) {
          await this.inbox.setVisibility(received, 0).catch(() => undefined);
          return undefined;
        }
        if (received.length === 0) {
          // A long poll already waited; without one, back off as upstream does.
          if (this.settings.longPollSec < this.settings.backoffSec) await this.pause();
          return undefined;
        }
        this.held.push(...received);
      }
      const message = this.held.shift();
      if (!message) continue;
      const claimed = await this.claim(message, prefetched);
      if (claimed) return claimed;
    }
  }

  /** Waits until the worker accepts connections again (starting it again where the agent owns it), or stop(). */
  private async waitForWorker(reason: string): Promise<void> {
    const { agentId } = this.settings;
    this.log(
      `agent ${agentId}: the worker at ${this.deps.worker.endpoint} is not accepting connections (${reason}); ` +
        "its task went back to the queue unrun, with no retry spent; taking no task until the worker is back",
    );
    const since = Date.now();
    while (!this.stopping) {
      try {
        await this.deps.worker.recover(WORKER_WAIT_STEP_MS);
        this.log(`agent ${agentId}: the worker is back after ${((Date.now() - since) / 1000).toFixed(1)} s`);
        return;
      } catch {
        await sleep(WORKER_WAIT_STEP_MS / 5);
      }
    }
  }

  /** Sleeps uniform(b, 2b) with b = empty_task_queue_backoff_timeout_sec (upstream's idle back-off). */
  private pause(): Promise<void> {
    const base = this.settings.backoffSec * 1000;
    return sleep(base + Math.random() * base);
  }

  private async claim(message: ReceivedMessage, prefetched: boolean): Promise<Claimed | undefined> {
    const parsed = parseTaskMessage(message.body);
    if ("error" in parsed) {
      await this.deadLetter(message, `malformed task message (${parsed.error})`);
      return undefined;
    }
    const { taskId, definition, inlineOutputs } = parsed;
    let outcome: LeaseOutcome;
    try {
      outcome = await this.lease.claim(taskId, message.receiptHandle, this.expiry());
    } catch (error) {
      await this.deps.logger.log(`agent ${this.settings.agentId}: claiming task ${taskId} failed`, error);
      // Let another agent (or this one, later) try: the row is still pending.
      await this.inbox.setVisibility([message], 0).catch(() => undefined);
      await this.pause();
      return undefined;
    }
    if (!outcome.ok) {
      if (outcome.reason === "vanished") {
        await this.deadLetter(message, `task ${taskId} has no state-table row`);
      } else if (outcome.reason === "final") {
        // Cancelled, or finished by another agent: nothing left to do with this message.
        this.counters.skipped++;
        this.deletes.push(message);
      } else {
        // Another agent holds it; its message reappears if that agent dies.
        this.counters.skipped++;
      }
      return undefined;
    }
    const claimed: Claimed = {
      message,
      taskId,
      payload: Buffer.alloc(0),
      lastBeatMs: Date.now(),
      beating: false,
      visibleUntilMs: message.receivedAtMs + this.visibilitySec * 1000,
      extending: false,
      completing: false,
      prefetched,
      inlineOutputs,
      abort: new AbortController(),
    };
    this.owned.set(taskId, claimed);
    try {
      const payload = await this.input(taskId, definition);
      if (payload === undefined) {
        await this.failForGood(claimed, "MissingInput", this.missingInputReason(taskId));
        return undefined;
      }
      if (payload.length > MAX_WORKER_PAYLOAD_BYTES) {
        // The worker's emulator would cut the event short and the runtime fail to parse it, on every retry.
        await this.failForGood(
          claimed,
          "InputTooLarge",
          `the input of ${taskId} is ${payload.length} bytes; a worker's event is at most ${MAX_WORKER_PAYLOAD_BYTES} ` +
            "bytes (Lambda's invoke limit, which the worker's emulator applies): put large data in S3 and pass its key",
        );
        return undefined;
      }
      claimed.payload = payload;
    } catch (error) {
      await this.deps.logger.log(
        `agent ${this.settings.agentId}: reading the input of ${taskId} failed`,
        error,
      );
      await this.handBack(claimed);
      this.pauseAfterFailure("reading an input");
      return undefined;
    }
    return claimed;
  }

  /** The worker's input: the inline definition, or `<task_id>-input` (base64 JSON) from the data plane. */
  private async input(taskId: string, definition: string | undefined): Promise<Buffer | undefined> {
    if (definition !== undefined && definition !== "" && definition !== DEFINITION_IN_DATA_PLANE) {
      return Buffer.from(definition, "utf8");
    }
    const stored = await this.deps.dataPlane.get(inputKey(taskId));
    return stored === undefined ? undefined : fromBase64(stored);
  }

  private async execute(claimed: Claimed): Promise<InvokeResult> {
    const started = Date.now();
    const result = await this.deps.worker.invoke(claimed.payload, claimed.abort.signal);
    if (result.kind !== "abandoned") {
      const ms = Date.now() - started;
      this.averageRunMs = this.averageRunMs === undefined ? ms : 0.8 * this.averageRunMs + 0.2 * ms;
    }
    return result;
  }

  private track(completion: Promise<void>): void {
    this.completions.add(completion);
    void completion.finally(() => this.completions.delete(completion));
  }

  /** Records a run's outcome: output + finished, error + handed back for retry, or the abandoned task's end. */
  private async complete(
    claimed: Claimed,
    result: Exclude<InvokeResult, { kind: "unavailable" }>,
  ): Promise<void> {
    claimed.completing = true;
    const { taskId } = claimed;
    try {
      if (result.kind === "abandoned" || claimed.lost) {
        this.endLost(claimed);
        return;
      }
      if (result.kind === "error") {
        await this.writeWithRetry(errorKey(taskId), toBase64(result.body));
        await this.deps.logger.log(
          `agent ${this.settings.agentId}: task ${taskId} failed in the worker (${result.reason}): ${result.body.toString("utf8").slice(0, 300)}`,
        );
        const outcome = await this.lease.expire(taskId);
        if (outcome.ok) this.counters.workerErrors++;
        else this.endAfterConflict(claimed, outcome);
        return;
      }
      // A small output of a task whose client reads outputs from the rows travels in the finish itself: one
      // request, and the task is finished with its output or not at all.
      const output = toBase64(result.body);
      const inline = claimed.inlineOutputs && output.length <= MAX_INLINE_OUTPUT_BYTES;
      if (!inline) await this.writeWithRetry(outputKey(taskId), output);
      const outcome = await this.lease.finish(taskId, Date.now(), inline ? output : undefined);
      if (outcome.ok) {
        this.counters.finished++;
        this.failuresInRow = 0;
        this.queueDelete(claimed.message);
      } else {
        this.endAfterConflict(claimed, outcome);
      }
    } catch (error) {
      await this.deps.logger.log(`agent ${this.settings.agentId}: completing task ${taskId} failed`, error);
      if (!this.pauseIfFull(error)) this.pauseAfterFailure("completing a task");
      await this.handBack(claimed);
    } finally {
      this.owned.delete(taskId);
    }
  }

  /** A task found cancelled, finished elsewhere, taken over or gone while this agent held it. */
  private endLost(claimed: Claimed): void {
    if (claimed.lost === "taken") {
      this.counters.lost++;
    } else {
      this.counters.cancelled++;
      this.queueDelete(claimed.message);
    }
  }

  private endAfterConflict(claimed: Claimed, outcome: Exclude<LeaseOutcome, { ok: true }>): void {
    claimed.lost = outcome.reason === "final" ? "final" : outcome.reason;
    this.endLost(claimed);
  }

  private queueDelete(message: ReceivedMessage): void {
    this.deletes.push({ priority: message.priority, receiptHandle: message.receiptHandle });
    if (this.deletes.length >= 10) void this.flushDeletes();
  }

  private async flushDeletes(): Promise<void> {
    if (this.deletes.length === 0) return;
    const batch = this.deletes.splice(0, this.deletes.length);
    try {
      await this.inbox.delete(batch);
    } catch (error) {
      // The messages reappear later; their claim then finds the task final and deletes them.
      await this.deps.logger.log(
        `agent ${this.settings.agentId}: deleting ${batch.length} messages failed`,
        error,
      );
    }
  }

  private async writeWithRetry(key: string, value: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.deps.dataPlane.put(key, value);
        return;
      } catch (error) {
        if (attempt + 1 >= WRITE_ATTEMPTS) throw error;
        await sleep(backoffMs(attempt + 2, 50, 2_000));
      }
    }
  }

  /** The task's input is gone: it can never run. Record why, fail it, drop its message. */
  private missingInputReason(taskId: string): string {
    const { storage, redisExpirationSec } = this.settings;
    const expiry =
      storage === "REDIS" && redisExpirationSec > 0
        ? `; Redis keys expire ${redisExpirationSec} s after they are written (redis_data_expiration_sec)`
        : "";
    return `input ${inputKey(taskId)} is not in the data plane (${storage})${expiry}`;
  }

  /** Fails a task that could never succeed (its input is missing or too large), saying why in `<task_id>-error`. */
  private async failForGood(claimed: Claimed, errorType: string, reason: string): Promise<void> {
    const { taskId } = claimed;
    try {
      await this.deps.logger.log(`agent ${this.settings.agentId}: task ${taskId} failed: ${reason}`);
      await this.writeWithRetry(
        errorKey(taskId),
        toBase64(JSON.stringify({ errorType, errorMessage: reason })),
      );
      const outcome = await this.lease.fail(taskId, Date.now());
      if (outcome.ok) {
        this.counters.failed++;
        this.queueDelete(claimed.message);
      } else {
        this.endAfterConflict(claimed, outcome);
      }
    } catch (error) {
      await this.deps.logger.log(`agent ${this.settings.agentId}: failing task ${taskId} failed`, error);
      if (!this.pauseIfFull(error)) this.pauseAfterFailure("failing a task");
      await this.handBack(claimed);
    } finally {
      this.owned.delete(taskId);
    }
  }

  /**
   * After a write the data plane refused because it is full, takes no new task for fullPauseSec: each would run only
   * to fail its write and spend a retry. Tasks wait in their queue meanwhile, pending and with their retries intact.
   */
  private pauseIfFull(error: unknown): boolean {
    const pauseSec = this.settings.fullPauseSec;
    if (!(error instanceof RedisFullError)) return false;
    if (pauseSec <= 0) return true;
    if (Date.now() >= this.fullUntilMs)
      this.log(
        `agent ${this.settings.agentId}: the data plane is full; taking no new task for ${pauseSec} s`,
      );
    this.fullUntilMs = Date.now() + pauseSec * 1000;
    return true;
  }

  /**
   * After a task went back because the data plane or the state table failed (an outage, a failover: the SDK's own
   * retries are spent), takes no new task for 1 s, doubling with each failure in a row up to 30 s: each task taken
   * meanwhile would fail the same way and spend a retry, so an outage of a minute could cost every queued task one.
   * A task that finishes ends the run of failures.
   */
  private pauseAfterFailure(what: string): void {
    const ms = Math.min(FAILURE_PAUSE_MS.max, FAILURE_PAUSE_MS.first * 2 ** this.failuresInRow);
    this.failuresInRow++;
    this.failingUntilMs = Date.now() + ms;
    this.log(`agent ${this.settings.agentId}: ${what} failed; taking no new task for ${ms / 1000} s`);
  }

  /** Hands a task back for retry (heartbeat expired now; the TTL checker requeues it). Never throws. */
  private async handBack(claimed: Claimed): Promise<void> {
    try {
      await this.lease.expire(claimed.taskId);
    } catch (error) {
      // The heartbeat expires by itself within task_ttl_expiration_offset_sec.
      await this.deps.logger.log(
        `agent ${this.settings.agentId}: handing back ${claimed.taskId} failed`,
        error,
      );
    } finally {
      this.owned.delete(claimed.taskId);
    }
  }

  /** Gives back a claimed task that will not run (shutdown): pending again, message visible, no retry counted. */
  private async release(claimed: Claimed): Promise<void> {
    try {
      const outcome = await this.lease.release(claimed.taskId);
      if (outcome.ok) {
        this.counters.released++;
        await this.inbox.setVisibility([claimed.message], 0);
      }
    } catch (error) {
      await this.deps.logger.log(`agent ${this.settings.agentId}: releasing ${claimed.taskId} failed`, error);
    } finally {
      this.owned.delete(claimed.taskId);
    }
  }

  private async deadLetter(message: ReceivedMessage, reason: string): Promise<void> {
    this.counters.deadLettered++;
    await this.deps.logger.log(
      `agent ${this.settings.agentId}: ${reason}; message ${message.messageId} moved to the dead-letter queue`,
    );
    try {
      await this.inbox.toDeadLetter(message, reason);
    } catch (error) {
      await this.deps.logger.log(
        `agent ${this.settings.agentId}: moving message ${message.messageId} failed`,
        error,
      );
    }
  }

  private expiry(): number {
    return Math.floor(Date.now() / 1000 + this.settings.heartbeatOffsetSec);
  }

  /**
   * Every tick: heartbeats for held tasks that are due, longer visibility for claimed messages about to reappear,
   * and unclaimed messages held too long given back to the queue.
   */
  private housekeep(): void {
    const now = Date.now();
    const intervalMs = this.settings.heartbeatIntervalSec * 1000;
    for (const claimed of this.owned.values()) {
      if (claimed.beating || now - claimed.lastBeatMs < intervalMs) continue;
      claimed.beating = true;
      const expiresAt = this.expiry();
      this.lease
        .heartbeat(claimed.taskId, expiresAt)
        .then((outcome) => {
          if (outcome.ok) {
            claimed.lastBeatMs = Date.now();
          } else if (!claimed.completing) {
            claimed.lost =
              outcome.reason === "final"
                ? outcome.state === "cancelled"
                  ? "cancelled"
                  : "final"
                : outcome.reason;
            claimed.abort.abort();
          }
        })
        .catch((error) =>
          this.deps.logger.log(
            `agent ${this.settings.agentId}: heartbeat of ${claimed.taskId} failed`,
            error,
          ),
        )
        .finally(() => (claimed.beating = false));
    }
    const halfVisibility = (this.visibilitySec * 1000) / 2;
    const extend = [...this.owned.values()].filter(
      (c) => !c.extending && c.visibleUntilMs - now < halfVisibility,
    );
    if (extend.length > 0) {
      for (const c of extend) c.extending = true;
      this.inbox
        .setVisibility(
          extend.map((c) => c.message),
          this.settings.claimedVisibilitySec,
        )
        .then(() => {
          for (const c of extend) c.visibleUntilMs = Date.now() + this.settings.claimedVisibilitySec * 1000;
        })
        .catch((error) =>
          this.deps.logger.log(`agent ${this.settings.agentId}: extending message visibility failed`, error),
        )
        .finally(() => {
          for (const c of extend) c.extending = false;
        });
    }
    const stale = this.held.filter((m) => now - m.receivedAtMs > halfVisibility);
    if (stale.length > 0) {
      for (const m of stale) this.held.splice(this.held.indexOf(m), 1);
      void this.inbox.setVisibility(stale, 0).catch(() => undefined);
    }
  }

  private async drain(): Promise<void> {
    if (this.held.length > 0) {
      await this.inbox.setVisibility(this.held.splice(0, this.held.length), 0).catch(() => undefined);
    }
    while (this.completions.size > 0) await Promise.race(this.completions);
    await this.flushDeletes();
    clearInterval(this.housekeeping);
  }
}
