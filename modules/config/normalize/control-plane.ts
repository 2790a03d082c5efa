// Control-plane area: the state table, the task queues, the Lambdas' names, the APIs, the error log and the
// scaling metric.
import type { ControlPlaneConfig } from "../model";
import type { RawGridConfig } from "../schema";
import { flag, parseLooseJson, show, toNumber, type IssueSink } from "./issues";

export function normalizeControlPlane(raw: RawGridConfig, issue: IssueSink): ControlPlaneConfig | undefined {
  // Queues.
  let priorities = 1;
  let rawQueueConfig: Record<string, unknown> = { priorities: 1 };
  if (typeof raw.task_queue_config === "string") {
    try {
      const parsed = parseLooseJson(raw.task_queue_config);
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
        throw new Error("not an object");
      rawQueueConfig = parsed as Record<string, unknown>;
    } catch {
      issue(
        "task_queue_config",
        `${show(raw.task_queue_config)} is not a JSON object; allowed: {"priorities": N} with N from 1 to 16`,
      );
    }
  } else {
    rawQueueConfig = { ...raw.task_queue_config };
  }
  const p = rawQueueConfig.priorities;
  if (raw.task_queue_service === "PrioritySQS") {
    if (typeof p !== "number" || !Number.isInteger(p) || p < 1 || p > 16) {
      issue("task_queue_config.priorities", `${show(p)} is not allowed; allowed: an integer from 1 to 16`);
    } else {
      priorities = p;
    }
  }
  const maxRetries = raw.task_max_retries;
  // A message is received once per attempt (1 + retries); two receives of slack keep a retried task from being
  // moved to the DLQ while its row still says pending (upstream: 4 receives vs 5 retries).
  const maxReceiveCount = maxRetries + 3;

  // State table.
  if (raw.dynamodb_billing_mode === "PAY_PER_REQUEST" && raw.dynamodb_autoscaling_enabled) {
    issue(
      "dynamodb_autoscaling_enabled",
      'true is not allowed with dynamodb_billing_mode "PAY_PER_REQUEST" (on-demand tables scale themselves)',
    );
  }
  let sdkConfig: unknown;
  try {
    sdkConfig = parseLooseJson(raw.state_table_config);
  } catch {
    issue("state_table_config", `${show(raw.state_table_config)} is not a JSON object`);
  }

  // Scaling metric.
  const periodMetrics = toNumber(raw.period_metrics, 1);
  if (periodMetrics !== 1 && periodMetrics !== 60) {
    issue("period_metrics", `${show(raw.period_metrics)} is not allowed; allowed: 1 (high resolution) or 60`);
  }
  if (sdkConfig === undefined) return undefined;
  return {
    stateTable: {
      billingMode: raw.dynamodb_billing_mode,
      readCapacity: raw.dynamodb_default_read_capacity,
      writeCapacity: raw.dynamodb_default_write_capacity,
      autoscaling: raw.dynamodb_autoscaling_enabled,
      deletionProtection: raw.dynamodb_deletion_protection,
      service: raw.state_table_service,
      sdkConfig: JSON.stringify(sdkConfig),
      baseName: raw.ddb_state_table,
    },
    taskQueue: {
      service: raw.task_queue_service,
      priorities,
      rawConfig: JSON.stringify({ ...rawQueueConfig, priorities }),
      visibilityTimeoutSec: raw.sqs_visibility_timeout_sec,
      maxRetries,
      maxReceiveCount,
      baseName: raw.sqs_queue,
      dlqBaseName: raw.sqs_dlq,
    },
    apiStageName: raw.api_gateway_version,
    apiThrottlingRateLimit: raw.api_throttling_rate_limit,
    apiThrottlingBurstLimit: raw.api_throttling_burst_limit,
    taskInputPassedViaExternalStorage: flag(raw.task_input_passed_via_external_storage) ? 1 : 0,
    lambdaNames: {
      submitTasks: raw.lambda_name_submit_tasks,
      getResults: raw.lambda_name_get_results,
      cancelTasks: raw.lambda_name_cancel_tasks,
      ttlChecker: raw.lambda_name_ttl_checker,
      scalingMetrics: raw.lambda_name_scaling_metrics,
    },
    errorLogGroup: raw.error_log_group,
    errorLoggingStream: raw.error_logging_stream,
    metrics: {
      namespace: raw.namespace_metrics,
      dimensionName: raw.dimension_name_metrics,
      name: raw.metrics_name,
      periodSec: periodMetrics,
      scheduleExpression: raw.metrics_event_rule_time,
    },
  };
}
