// The task queues: one SQS queue per priority named `<base>__<p>` (SQS mode uses only `<base>__0`).
// Sends in batches of 10 (Id = task_id) with retries of failed entries; visibility and delete for
// the TTL checker, which also takes the messages of still-pending tasks back from the dead-letter queues;
// backlog length for scaling.

import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  type Message,
  type SQSClient,
  type SendMessageBatchRequestEntry,
} from "@aws-sdk/client-sqs";
import { NONE, PRIORITY_ATTRIBUTE, SQS_LIMITS, queueName, type TaskQueueService } from "../contract";
import { backoffMs, errorName, isThrottling, mapLimit, retryOnThrottling, sleep } from "./retry";

/** SQS limits: 10 entries and 256 KiB per SendMessageBatch. */
const SQS_BATCH_ENTRIES = SQS_LIMITS.maxBatchEntries;
const SQS_BATCH_BYTES = SQS_LIMITS.maxMessageBytes;
const SEND_CONCURRENCY = 8;
const SEND_ATTEMPTS = 8;

export interface TaskMessage {
  /** The task id (SQS batch entry Id: [A-Za-z0-9_-]{1,80}). */
  readonly id: string;
  readonly body: string;
}

/** Bytes SQS counts for one task message: the body plus the priority attribute (name, data type, value). */
export function messageBytes(body: string, priority: number): number {
  return Buffer.byteLength(body) + PRIORITY_ATTRIBUTE.length + "Number".length + String(priority).length;
}

/** Groups messages into SendMessageBatch calls: at most 10 entries and 256 KiB each. */
export function packBatches(messages: readonly TaskMessage[]): TaskMessage[][] {
  const batches: TaskMessage[][] = [];
  let current: TaskMessage[] = [];
  let bytes = 0;
  for (const message of messages) {
    const size = Buffer.byteLength(message.body) + 64; // + attribute bytes, generously
    if (current.length === SQS_BATCH_ENTRIES || (current.length > 0 && bytes + size > SQS_BATCH_BYTES)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(message);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** The grid's queues as agents and Lambdas see them. */
export interface TaskQueueSettings {
  readonly service: TaskQueueService;
  /** Priority levels: always 1 for SQS. */
  readonly priorities: number;
  /** Queue base name: priority p is `<base>__<p>`. */
  readonly queueBase: string;
  /** Dead-letter queue base name. */
  readonly dlqBase: string;
}

export class TaskQueue {
  private readonly urls = new Map<string, Promise<string>>();

  constructor(
    private readonly sqs: SQSClient,
    readonly config: TaskQueueSettings,
  ) {}

  /** The queue a priority maps to; SQS mode has one queue, so every priority maps to 0. */
  effectivePriority(priority: number): number {
    return this.config.service === "SQS" ? 0 : priority;
  }

  queueUrl(priority: number): Promise<string> {
    return this.urlOf(queueName(this.config.queueBase, this.effectivePriority(priority)));
  }

  private urlOf(name: string): Promise<string> {
    let url = this.urls.get(name);
    if (!url) {
      url = retryOnThrottling(() => this.sqs.send(new GetQueueUrlCommand({ QueueName: name }))).then(
        (out) => {
          if (!out.QueueUrl) throw new Error(`queue ${name} has no URL`);
          return out.QueueUrl;
        },
      );
      url.catch(() => this.urls.delete(name));
      this.urls.set(name, url);
    }
    return url;
  }

  /**
   * Sends the messages to the queue of `priority`. Failed entries and throttled calls are retried
   * with back-off; returns the ids that still could not be sent.
   */
  async send(priority: number, messages: readonly TaskMessage[]): Promise<string[]> {
    const url = await this.queueUrl(priority);
    const attributes = { [PRIORITY_ATTRIBUTE]: { DataType: "Number", StringValue: String(priority) } };
    const unsent: string[] = [];
    await mapLimit(packBatches(messages), SEND_CONCURRENCY, async (batch) => {
      let entries: SendMessageBatchRequestEntry[] = batch.map((m) => ({
        Id: m.id,
        MessageBody: m.body,
        MessageAttributes: attributes,
      }));
      for (let attempt = 0; entries.length > 0 && attempt < SEND_ATTEMPTS; attempt++) {
        if (attempt > 0) await sleep(backoffMs(attempt));
        try {
          const out = await this.sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: entries }));
          const failed = new Set((out.Failed ?? []).map((f) => f.Id));
          entries = entries.filter((e) => failed.has(e.Id));
        } catch (error) {
          if (!isThrottling(error) && attempt + 1 >= SEND_ATTEMPTS) break;
        }
      }
      for (const entry of entries) unsent.push(entry.Id ?? "?");
    });
    return unsent;
  }

  /** Sends one message (used to re-queue a task whose original message is gone). */
  async sendOne(priority: number, message: TaskMessage): Promise<void> {
    const url = await this.queueUrl(priority);
    await retryOnThrottling(() =>
      this.sqs.send(
        new SendMessageCommand({
          QueueUrl: url,
          MessageBody: message.body,
          MessageAttributes: { priority: { DataType: "Number", StringValue: String(priority) } },
        }),
      ),
    );
  }

  /**
   * Makes a claimed message visible again. Returns false when the receipt handle no longer works
   * (message deleted, moved to the DLQ, or handle expired), so the caller can re-queue the task.
   */
  async makeVisible(priority: number, receiptHandle: string): Promise<boolean> {
    if (!receiptHandle || receiptHandle === NONE) return false;
    const url = await this.queueUrl(priority);
    try {
      await retryOnThrottling(() =>
        this.sqs.send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: url,
            ReceiptHandle: receiptHandle,
            VisibilityTimeout: 0,
          }),
        ),
      );
      return true;
    } catch (error) {
      if (isThrottling(error)) throw error;
      return false;
    }
  }

  /** Deletes a message; a handle that no longer works is not an error (nothing left to delete). */
  async delete(priority: number, receiptHandle: string): Promise<void> {
    if (!receiptHandle || receiptHandle === NONE) return;
    const url = await this.queueUrl(priority);
    try {
      await retryOnThrottling(() =>
        this.sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: receiptHandle })),
      );
    } catch (error) {
      if (isThrottling(error) || errorName(error) === "QueueDoesNotExist") throw error;
    }
  }

  /**
   * Up to `max` visible messages of the dead-letter queue of `priority`, each hidden for `hideSec` (so one left
   * there is looked at again only after that).
   */
  async receiveDead(priority: number, max: number, hideSec: number): Promise<Message[]> {
    const url = await this.urlOf(queueName(this.config.dlqBase, this.effectivePriority(priority)));
    const messages: Message[] = [];
    while (messages.length < max) {
      const out = await retryOnThrottling(() =>
        this.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: url,
            MaxNumberOfMessages: Math.min(SQS_BATCH_ENTRIES, max - messages.length),
            VisibilityTimeout: hideSec,
            WaitTimeSeconds: 0,
          }),
        ),
      );
      if (!out.Messages?.length) break;
      messages.push(...out.Messages);
    }
    return messages;
  }

  /** Deletes a message from the dead-letter queue of `priority`. */
  async deleteDead(priority: number, receiptHandle: string): Promise<void> {
    const url = await this.urlOf(queueName(this.config.dlqBase, this.effectivePriority(priority)));
    await retryOnThrottling(() =>
      this.sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: receiptHandle })),
    );
  }

  /** Backlog: ApproximateNumberOfMessages summed over all priority queues. */
  async length(): Promise<number> {
    const counts = await Promise.all(
      Array.from({ length: this.config.priorities }, async (_, p) => {
        const out = await retryOnThrottling(async () =>
          this.sqs.send(
            new GetQueueAttributesCommand({
              QueueUrl: await this.queueUrl(p),
              AttributeNames: ["ApproximateNumberOfMessages"],
            }),
          ),
        );
        return Number(out.Attributes?.ApproximateNumberOfMessages ?? "0");
      }),
    );
    return counts.reduce((a, b) => a + b, 0);
  }
}
