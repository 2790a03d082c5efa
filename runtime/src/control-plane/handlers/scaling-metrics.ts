// scaling_metrics (EventBridge, every minute): publishes the task backlog (messages waiting in all
// priority queues) as the CloudWatch metric the agent autoscaler (KEDA) follows.

import { PutMetricDataCommand, type CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { readScalingMetricsEnv, type ScalingMetricsEnv } from "../env";
import { cloudWatchClient, once, taskQueue } from "../runtime";
import type { TaskQueue } from "../../aws/task-queue";

export interface ScalingDeps {
  readonly taskQueue: TaskQueue;
  readonly cloudWatch: CloudWatchClient;
  readonly metric: ScalingMetricsEnv;
  readonly nowMs?: () => number;
}

export async function publishBacklog(deps: ScalingDeps): Promise<{ pending_tasks: number }> {
  const backlog = await deps.taskQueue.length();
  await deps.cloudWatch.send(
    new PutMetricDataCommand({
      Namespace: deps.metric.namespace,
      MetricData: [
        {
          MetricName: deps.metric.metricName,
          Dimensions: [{ Name: deps.metric.dimensionName, Value: deps.metric.dimensionValue }],
          Timestamp: new Date((deps.nowMs ?? Date.now)()),
          Unit: "Count",
          Value: backlog,
          StorageResolution: deps.metric.storageResolution,
        },
      ],
    }),
  );
  return { pending_tasks: backlog };
}

const coldStart = once(async (): Promise<ScalingDeps> => ({
  taskQueue: taskQueue(process.env),
  cloudWatch: cloudWatchClient(process.env),
  metric: readScalingMetricsEnv(process.env),
}));

export async function handler(): Promise<{ pending_tasks: number }> {
  return publishBacklog(await coldStart.get());
}

/** Re-reads the environment on the next call. Tests only. */
export function resetColdStart(): void {
  coldStart.reset();
}
