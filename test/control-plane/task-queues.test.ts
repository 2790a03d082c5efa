import { beforeAll, describe, expect, it } from "vitest";
import { type Synthesized, ofType, ref, synthControlPlane } from "./fixtures";

const byName = (s: Synthesized) =>
  Object.fromEntries(
    Object.entries(ofType(s, "aws_sqs_queue")).map(([id, q]) => [q.name as string, { id, ...q }]),
  ) as Record<string, Record<string, unknown> & { id: string }>;

describe("PrioritySQS with 3 priorities", () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synthControlPlane({ task_queue_service: "PrioritySQS", task_queue_config: '{"priorities":3}' });
  });

  it("creates a queue and a dead-letter queue for every priority (upstream made only __0)", () => {
    expect(Object.keys(byName(s)).sort()).toEqual([
      "htc_task_queue-main__0",
      "htc_task_queue-main__1",
      "htc_task_queue-main__2",
      "htc_task_queue_dlq-main__0",
      "htc_task_queue_dlq-main__1",
      "htc_task_queue_dlq-main__2",
    ]);
  });

  it("exposes the queues and DLQs in priority order", () => {
    expect(s.plane.taskQueues).toHaveLength(3);
    expect(s.plane.deadLetterQueues).toHaveLength(3);
    const names = byName(s);
    s.plane.taskQueues.forEach((q, p) => {
      expect(names[`htc_task_queue-main__${p}`].id).toBe(s.stack.getLogicalId(q));
    });
    s.plane.deadLetterQueues.forEach((q, p) => {
      expect(names[`htc_task_queue_dlq-main__${p}`].id).toBe(s.stack.getLogicalId(q));
    });
  });

  it("redrives each queue to its own DLQ after maxReceiveCount > MAX_RETRIES + 1 receives", () => {
    const names = byName(s);
    const maxRetries = s.config.controlPlane.taskQueue.maxRetries;
    for (let p = 0; p < 3; p++) {
      const redrive = JSON.parse(names[`htc_task_queue-main__${p}`].redrive_policy as string);
      expect(redrive.deadLetterTargetArn).toBe(
        `\${aws_sqs_queue.${names[`htc_task_queue_dlq-main__${p}`].id}.arn}`,
      );
      expect(redrive.maxReceiveCount).toBe(s.config.controlPlane.taskQueue.maxReceiveCount);
      expect(redrive.maxReceiveCount).toBeGreaterThan(maxRetries + 1);
    }
  });

  it("lets each DLQ receive only from its own queue", () => {
    const names = byName(s);
    const allows = Object.values(ofType(s, "aws_sqs_queue_redrive_allow_policy"));
    expect(allows).toHaveLength(3);
    for (let p = 0; p < 3; p++) {
      const dlq = names[`htc_task_queue_dlq-main__${p}`].id;
      const allow = allows.find((a) => a.queue_url === `\${aws_sqs_queue.${dlq}.url}`)!;
      expect(JSON.parse(allow.redrive_allow_policy as string)).toEqual({
        redrivePermission: "byQueue",
        sourceQueueArns: [`\${aws_sqs_queue.${names[`htc_task_queue-main__${p}`].id}.arn}`],
      });
    }
  });

  it("encrypts every queue and DLQ with the task-queue key and keeps messages 14 days", () => {
    const key = ref(s, "aws_kms_key", "task-queues", "arn");
    for (const queue of Object.values(byName(s))) {
      expect(queue.kms_master_key_id).toBe(key);
      expect(queue.kms_data_key_reuse_period_seconds).toBe(300);
      expect(queue.message_retention_seconds).toBe(1_209_600);
    }
  });

  it("uses the configured visibility timeout on task queues", () => {
    const names = byName(s);
    for (let p = 0; p < 3; p++) {
      expect(names[`htc_task_queue-main__${p}`].visibility_timeout_seconds).toBe(40);
    }
  });

  it("denies non-TLS access to every queue and DLQ", () => {
    const policies = Object.values(ofType(s, "aws_sqs_queue_policy"));
    const covered = new Set<string>();
    for (const policy of policies) {
      const doc = JSON.parse(policy.policy as string);
      expect(doc.Statement).toEqual([
        expect.objectContaining({
          Effect: "Deny",
          Principal: "*",
          Action: "sqs:*",
          Condition: { Bool: { "aws:SecureTransport": "false" } },
        }),
      ]);
      const url = policy.queue_url as string;
      const arn = doc.Statement[0].Resource as string;
      expect(url.replace(/\.url}$/, "")).toBe(arn.replace(/\.arn}$/, ""));
      covered.add(url);
    }
    expect([...covered].sort()).toEqual(
      Object.values(byName(s))
        .map((q) => `\${aws_sqs_queue.${q.id}.url}`)
        .sort(),
    );
  });
});

describe("SQS (single queue)", () => {
  it("creates one queue and one DLQ", () => {
    const s = synthControlPlane({ task_queue_service: "SQS", task_queue_config: '{"priorities":3}' });
    expect(Object.keys(byName(s)).sort()).toEqual(["htc_task_queue-main__0", "htc_task_queue_dlq-main__0"]);
  });

  it("follows a configured retry budget", () => {
    const s = synthControlPlane({ task_max_retries: 9 });
    const redrive = JSON.parse(byName(s)["htc_task_queue-main__0"].redrive_policy as string);
    expect(redrive.maxReceiveCount).toBeGreaterThan(10);
  });
});
