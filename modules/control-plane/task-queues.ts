// The task queues: one queue and one dead-letter queue per priority level, KMS-encrypted and TLS-only.
// Upstream created only priority 0 whatever `task_queue_config` said (defect 4); here every level exists.
import { Construct } from "constructs";
import { SqsQueue } from "@cdktf/provider-aws/lib/sqs-queue";
import { SqsQueuePolicy } from "@cdktf/provider-aws/lib/sqs-queue-policy";
import { SqsQueueRedriveAllowPolicy } from "@cdktf/provider-aws/lib/sqs-queue-redrive-allow-policy";
import type { TaskQueueConfig } from "../config/model";
import type { GridNames } from "../naming/names";
import { queueName } from "../../runtime/src/contract";
import type { GridKey } from "../kms/grid-key";

/** Queue settings that are not configurable. */
export const TASK_QUEUE_DEFAULTS = {
  /** SQS maximum, 14 days: a backlog outlives any grid outage. */
  messageRetentionSec: 1_209_600,
  /** How long SQS reuses a data key before asking KMS again (upstream: 300 s). */
  kmsDataKeyReusePeriodSec: 300,
} as const;

/**
 * `<base>__<priority>`: the name agents and Lambdas derive from the base name they are given (the config layer
 * checks that the longest one fits SQS's 80 characters).
 */
export function priorityQueueName(baseName: string, priority: number): string {
  return queueName(baseName, priority);
}

export interface TaskQueuesProps {
  readonly config: TaskQueueConfig;
  readonly names: GridNames;
  /** Key of the queues and dead-letter queues. */
  readonly key: GridKey;
}

/** One SQS queue + DLQ per priority, with redrive, redrive-allow and TLS-only policies. */
export class TaskQueues extends Construct {
  /** Queue base name handed to Lambdas and agents (`SQS_QUEUE`); priority p is `<base>__<p>`. */
  public readonly queueBaseName: string;
  /** Dead-letter queue base name (`SQS_DLQ`). */
  public readonly dlqBaseName: string;
  /** Task queues, index = priority. */
  public readonly taskQueues: SqsQueue[] = [];
  /** Dead-letter queues, index = priority. */
  public readonly deadLetterQueues: SqsQueue[] = [];

  constructor(scope: Construct, id: string, props: TaskQueuesProps) {
    super(scope, id);
    const { config, names, key } = props;
    this.queueBaseName = names.name("sqsQueue", config.baseName);
    this.dlqBaseName = names.name("sqsQueue", config.dlqBaseName);

    for (let priority = 0; priority < config.priorities; priority++) {
      const level = new Construct(this, `priority-${priority}`);
      const dlq = new SqsQueue(level, "dlq", {
        name: priorityQueueName(this.dlqBaseName, priority),
        messageRetentionSeconds: TASK_QUEUE_DEFAULTS.messageRetentionSec,
        kmsMasterKeyId: key.arn,
        kmsDataKeyReusePeriodSeconds: TASK_QUEUE_DEFAULTS.kmsDataKeyReusePeriodSec,
      });
      const queue = new SqsQueue(level, "queue", {
        name: priorityQueueName(this.queueBaseName, priority),
        messageRetentionSeconds: TASK_QUEUE_DEFAULTS.messageRetentionSec,
        visibilityTimeoutSeconds: config.visibilityTimeoutSec,
        kmsMasterKeyId: key.arn,
        kmsDataKeyReusePeriodSeconds: TASK_QUEUE_DEFAULTS.kmsDataKeyReusePeriodSec,
        redrivePolicy: JSON.stringify({
          deadLetterTargetArn: dlq.arn,
          maxReceiveCount: config.maxReceiveCount,
        }),
      });
      // A separate resource: the queue's redrive policy already references the DLQ, so the DLQ cannot
      // reference the queue in its own arguments without a cycle.
      new SqsQueueRedriveAllowPolicy(level, "dlq-redrive-allow", {
        queueUrl: dlq.url,
        redriveAllowPolicy: JSON.stringify({ redrivePermission: "byQueue", sourceQueueArns: [queue.arn] }),
      });
      for (const [policyId, target] of [
        ["queue-policy", queue],
        ["dlq-policy", dlq],
      ] as const) {
        new SqsQueuePolicy(level, policyId, {
          queueUrl: target.url,
          policy: JSON.stringify({
            Version: "2012-10-17",
            Statement: [
              {
                Sid: "DenyInsecureTransport",
                Effect: "Deny",
                Principal: "*",
                Action: "sqs:*",
                Resource: target.arn,
                Condition: { Bool: { "aws:SecureTransport": "false" } },
              },
            ],
          }),
        });
      }
      this.taskQueues.push(queue);
      this.deadLetterQueues.push(dlq);
    }
  }
}
