// The agent's side of the task queues: receive batches highest priority first, delete and re-hide in batches,
// and move messages no agent can ever process to the priority's dead-letter queue.

import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { SQS_LIMITS, queueName } from "../contract";
import { chunk, retryOnThrottling } from "../aws/retry";
import type { TaskQueueSettings } from "../aws/task-queue";

/** A message received from a task queue, not yet claimed. */
export interface ReceivedMessage {
  /** Priority (index of the queue it came from). */
  readonly priority: number;
  readonly receiptHandle: string;
  readonly messageId: string;
  readonly body: string;
  /** When it was received (ms); its visibility runs from here. */
  readonly receivedAtMs: number;
}

/** A message handle to delete or re-hide. */
export interface MessageRef {
  readonly priority: number;
  readonly receiptHandle: string;
}

/** Used when the queue's own VisibilityTimeout attribute cannot be read. */
const DEFAULT_VISIBILITY_SEC = 30;

export class TaskInbox {
  private readonly urls = new Map<string, Promise<string>>();
  private visibility?: Promise<number>;

  constructor(
    private readonly sqs: SQSClient,
    readonly queues: TaskQueueSettings,
    /** Long-poll wait of an idle receive (seconds, at most 20). */
    private readonly longPollSec: number,
  ) {}

  private url(name: string): Promise<string> {
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

  queueUrl(priority: number): Promise<string> {
    return this.url(queueName(this.queues.queueBase, priority));
  }

  /**
   * Seconds a received message stays hidden: the task queues' own VisibilityTimeout (read once, from the highest
   * priority queue; the infrastructure gives every priority the same).
   */
  visibilityTimeoutSec(): Promise<number> {
    this.visibility ??= (async () => {
      try {
        const out = await this.sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: await this.queueUrl(this.queues.priorities - 1),
            AttributeNames: ["VisibilityTimeout"],
          }),
        );
        const value = Number(out.Attributes?.VisibilityTimeout);
        return Number.isFinite(value) && value > 0 ? value : DEFAULT_VISIBILITY_SEC;
      } catch {
        return DEFAULT_VISIBILITY_SEC;
      }
    })();
    return this.visibility;
  }

  /**
   * Up to `max` messages, from the highest priority queue that has any. With one queue this is a single long
   * poll. With several, each queue is polled without waiting, highest first; when all are empty the highest is
   * long-polled, so a high-priority task is picked up at once and a lower one within one long-poll period.
   */
  async receive(max: number): Promise<ReceivedMessage[]> {
    const top = this.queues.priorities - 1;
    if (top === 0) return this.receiveFrom(0, max, this.longPollSec);
    for (let priority = top; priority >= 0; priority--) {
      const messages = await this.receiveFrom(priority, max, 0);
      if (messages.length > 0) return messages;
    }
    return this.receiveFrom(top, max, this.longPollSec);
  }

  private async receiveFrom(priority: number, max: number, waitSec: number): Promise<ReceivedMessage[]> {
    const out = await retryOnThrottling(async () =>
      this.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: await this.queueUrl(priority),
          MaxNumberOfMessages: Math.min(max, SQS_LIMITS.maxBatchEntries),
          WaitTimeSeconds: Math.min(waitSec, SQS_LIMITS.maxWaitTimeSec),
        }),
      ),
    );
    const receivedAtMs = Date.now();
    return (out.Messages ?? [])
      .filter((m) => m.ReceiptHandle)
      .map((m) => ({
        priority,
        receiptHandle: m.ReceiptHandle ?? "",
        messageId: m.MessageId ?? "",
        body: m.Body ?? "",
        receivedAtMs,
      }));
  }

  /** Deletes messages, 10 per call per queue. Handles that no longer work count as deleted (nothing to delete). */
  async delete(refs: readonly MessageRef[]): Promise<void> {
    await this.perQueue(refs, async (url, batch) => {
      await retryOnThrottling(() =>
        this.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: url,
            Entries: batch.map((ref, i) => ({ Id: String(i), ReceiptHandle: ref.receiptHandle })),
          }),
        ),
      );
    });
  }

  /** Sets the visibility of messages (0 = visible again now), 10 per call per queue. */
  async setVisibility(refs: readonly MessageRef[], timeoutSec: number): Promise<void> {
    await this.perQueue(refs, async (url, batch) => {
      await retryOnThrottling(() =>
        this.sqs.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: url,
            Entries: batch.map((ref, i) => ({
              Id: String(i),
              ReceiptHandle: ref.receiptHandle,
              VisibilityTimeout: Math.min(timeoutSec, SQS_LIMITS.maxVisibilityTimeoutSec),
            })),
          }),
        ),
      );
    });
  }

  /** Moves a message no agent can process (malformed, or its row is gone) to its priority's dead-letter queue. */
  async toDeadLetter(message: ReceivedMessage, reason: string): Promise<void> {
    const dlqUrl = await this.url(queueName(this.queues.dlqBase, message.priority));
    await retryOnThrottling(() =>
      this.sqs.send(
        new SendMessageCommand({
          QueueUrl: dlqUrl,
          MessageBody: message.body === "" ? "(empty message body)" : message.body,
          MessageAttributes: {
            htc_dead_letter_reason: { DataType: "String", StringValue: reason.slice(0, 256) },
          },
        }),
      ),
    );
    const url = await this.queueUrl(message.priority);
    await retryOnThrottling(() =>
      this.sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: message.receiptHandle })),
    );
  }

  private async perQueue(
    refs: readonly MessageRef[],
    call: (url: string, batch: MessageRef[]) => Promise<void>,
  ): Promise<void> {
    const byPriority = new Map<number, MessageRef[]>();
    for (const ref of refs) byPriority.set(ref.priority, [...(byPriority.get(ref.priority) ?? []), ref]);
    await Promise.all(
      [...byPriority].map(async ([priority, list]) => {
        const url = await this.queueUrl(priority);
        for (const batch of chunk(list, SQS_LIMITS.maxBatchEntries)) await call(url, batch);
      }),
    );
  }
}
