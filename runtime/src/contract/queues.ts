// Task queues: one SQS queue (and one dead-letter queue) per priority, named `<base>__<priority>`. With
// task_queue_service SQS only priority 0 exists; with PrioritySQS the agents drain the highest index first.

export type TaskQueueService = "SQS" | "PrioritySQS";
export const TASK_QUEUE_SERVICES: readonly TaskQueueService[] = ["SQS", "PrioritySQS"];

/** Most priority levels a grid may have. */
export const MAX_PRIORITIES = 16;

/** SQS limits the grid's messages must respect. */
export const SQS_LIMITS = {
  /** Largest message (and batch) body, bytes. */
  maxMessageBytes: 256 * 1024,
  /** Entries per SendMessageBatch / DeleteMessageBatch / ChangeMessageVisibilityBatch, messages per receive. */
  maxBatchEntries: 10,
  /** Longest long poll, seconds. */
  maxWaitTimeSec: 20,
  /** Longest visibility timeout, seconds. */
  maxVisibilityTimeoutSec: 43_200,
  /** Longest queue name. */
  maxQueueNameLength: 80,
} as const;

/** Message attribute carrying the task's priority (as upstream's PrioritySQS sends it). */
export const PRIORITY_ATTRIBUTE = "priority";

/** The queue of a priority: `<base>__<priority>`. */
export function queueName(base: string, priority: number): string {
  return `${base}__${priority}`;
}

/** The base name of a priority queue name (`htc_task_queue-x__0` -> `htc_task_queue-x`). */
export function queueBaseOf(name: string): string {
  return name.replace(/__\d+$/, "");
}

/** The queue a task of `priority` goes to: SQS mode has one queue, so every priority maps to 0. */
export function effectivePriority(service: TaskQueueService, priority: number): number {
  return service === "SQS" ? 0 : priority;
}

/**
 * Priority levels of a grid from `task_queue_service` and `task_queue_config` (`{"priorities": n}`): 1 for SQS.
 * Throws naming the setting when the value is not an integer 1-MAX_PRIORITIES.
 */
export function priorityCount(service: TaskQueueService, config: Record<string, unknown>): number {
  if (service === "SQS") return 1;
  const p = config.priorities ?? 1;
  if (typeof p !== "number" || !Number.isInteger(p) || p < 1 || p > MAX_PRIORITIES) {
    throw new Error(
      `task_queue_config.priorities = ${JSON.stringify(p)} must be an integer 1-${MAX_PRIORITIES}`,
    );
  }
  return p;
}
