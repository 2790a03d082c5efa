// Control-plane area: the state table, the task queues, the Lambdas' names, the APIs, the error log and the
// scaling metric.
import { tryPhysicalName, type NameKind } from "../../naming/names";
import type { ControlPlaneConfig } from "../model";
import type { RawGridConfig } from "../schema";
import { flag, parseLooseJson, show, toNumber, type IssueSink } from "./issues";

/** The five Lambda base-name keys; each names a function, its role and (for two) a schedule rule. */
const LAMBDA_NAME_KEYS = [
  "lambda_name_submit_tasks",
  "lambda_name_get_results",
  "lambda_name_cancel_tasks",
  "lambda_name_ttl_checker",
  "lambda_name_scaling_metrics",
] as const;
/** Lambdas with a schedule rule `<base>-schedule` (control-plane.ts). */
const SCHEDULED_LAMBDA_KEYS = ["lambda_name_ttl_checker", "lambda_name_scaling_metrics"] as const;
/** SQS's limit on a queue name. */
const SQS_NAME_MAX = 80;

/**
 * Checks that a configured base name gives a valid physical name for each service it is used for; returns the
 * name of the first (the one other checks compare).
 */
function physicalNames(
  path: string,
  base: string,
  project: string,
  uses: readonly [NameKind, string][],
  issue: IssueSink,
): string | undefined {
  let first: string | undefined;
  for (const [kind, suffix] of uses) {
    const result = tryPhysicalName(kind, `${base}${suffix}`, project);
    if (result.error !== undefined) {
      issue(path, `${show(base)} is not allowed: ${result.error}`);
      return undefined;
    }
    first ??= result.name;
  }
  return first;
}

/**
 * An EventBridge schedule: `rate(1 minute|hour|day)`, `rate(N minutes|hours|days)` for N > 1, or a six-field
 * `cron(...)` with `?` in the day-of-month or the day-of-week field. Returns why not, or undefined.
 */
export function scheduleProblem(expression: string): string | undefined {
  const rate = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (rate) {
    const n = Number(rate[1]);
    if (n < 1) return "a rate must be at least 1";
    const singular = !rate[2].endsWith("s");
    if (n === 1 && !singular) return `write "rate(1 ${rate[2].slice(0, -1)})" (singular unit for 1)`;
    if (n > 1 && singular) return `write "rate(${n} ${rate[2]}s)" (plural unit above 1)`;
    return undefined;
  }
  const cron = /^cron\((.*)\)$/.exec(expression);
  if (cron) {
    const fields = cron[1].trim().split(/\s+/);
    if (fields.length !== 6)
      return `a cron expression has 6 fields (minutes hours day-of-month month day-of-week year), got ${fields.length}`;
    if (fields.some((f) => !/^[0-9A-Za-z*?,/\-#L W]+$/.test(f)))
      return "a cron field holds a character cron does not take";
    if ((fields[2] === "?") === (fields[4] === "?"))
      return 'exactly one of day-of-month (3rd field) and day-of-week (5th field) must be "?"';
    return undefined;
  }
  return 'allowed: "rate(<n> <unit>)" or "cron(<6 fields>)", e.g. "rate(1 minute)"';
}

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

  if (
    sdkConfig !== undefined &&
    (typeof sdkConfig !== "object" || sdkConfig === null || Array.isArray(sdkConfig))
  ) {
    issue(
      "state_table_config",
      `${show(raw.state_table_config)} is not a JSON object (e.g. "{'retries':{'max_attempts':10}}")`,
    );
    sdkConfig = undefined;
  }

  // Physical names built from configured base names, and names that two resources would share.
  const project = raw.project_name;
  physicalNames("ddb_state_table", raw.ddb_state_table, project, [["dynamodbTable", ""]], issue);
  if (raw.ddb_state_table.length > 0 && `${raw.ddb_state_table}-${project}`.length < 3)
    issue(
      "ddb_state_table",
      `${show(raw.ddb_state_table)} is too short; DynamoDB table names have 3 to 255 characters`,
    );
  const queueNames: Record<"sqs_queue" | "sqs_dlq", string | undefined> = {
    sqs_queue: physicalNames("sqs_queue", raw.sqs_queue, project, [["sqsQueue", ""]], issue),
    sqs_dlq: physicalNames("sqs_dlq", raw.sqs_dlq, project, [["sqsQueue", ""]], issue),
  };
  for (const key of ["sqs_queue", "sqs_dlq"] as const) {
    const name = queueNames[key];
    const last = `${name}__${priorities - 1}`;
    if (name !== undefined && last.length > SQS_NAME_MAX)
      issue(
        key,
        `${show(raw[key])} gives the queue name "${last}" (${last.length} characters); SQS allows ${SQS_NAME_MAX}; shorten ${key} or project_name`,
      );
  }
  if (queueNames.sqs_queue !== undefined && queueNames.sqs_queue === queueNames.sqs_dlq)
    issue(
      "sqs_dlq",
      `${show(raw.sqs_dlq)} gives the same queue name as sqs_queue; a queue cannot be its own dead-letter queue`,
    );
  const functionNames = new Map<string, (typeof LAMBDA_NAME_KEYS)[number]>();
  for (const key of LAMBDA_NAME_KEYS) {
    const uses: [NameKind, string][] = [
      ["lambdaFunction", ""],
      ["iamRole", "-lambda"],
    ];
    if ((SCHEDULED_LAMBDA_KEYS as readonly string[]).includes(key)) uses.push(["eventRule", "-schedule"]);
    const name = physicalNames(key, raw[key], project, uses, issue);
    if (name === undefined) continue;
    const other = functionNames.get(name);
    if (other)
      issue(
        key,
        `${show(raw[key])} gives the same function name as ${other} ("${name}"); each Lambda needs its own name`,
      );
    else functionNames.set(name, key);
  }
  const errorLogGroup = physicalNames(
    "error_log_group",
    raw.error_log_group,
    project,
    [["logGroup", ""]],
    issue,
  );
  if (
    errorLogGroup !== undefined &&
    [...functionNames.keys()].some((f) => `/aws/lambda/${f}` === errorLogGroup)
  )
    issue(
      "error_log_group",
      `${show(raw.error_log_group)} gives the log group of one of the grid's Lambdas; choose another name`,
    );
  physicalNames("error_logging_stream", raw.error_logging_stream, project, [["logGroup", ""]], issue);
  if (/[:*]/.test(raw.error_logging_stream))
    issue(
      "error_logging_stream",
      `${show(raw.error_logging_stream)} is not allowed; log stream names cannot hold ":" or "*"`,
    );

  // API stage.
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(raw.api_gateway_version))
    issue(
      "api_gateway_version",
      `${show(raw.api_gateway_version)} is not an API Gateway stage name; allowed: 1 to 128 letters, digits, "-" or "_", e.g. "v1"`,
    );

  // Scaling metric (CloudWatch names; the namespace is also an IAM condition value and a KEDA trigger field).
  const periodMetrics = toNumber(raw.period_metrics, 1);
  if (periodMetrics !== 1 && periodMetrics !== 60) {
    issue("period_metrics", `${show(raw.period_metrics)} is not allowed; allowed: 1 (high resolution) or 60`);
  }
  if (!/^[A-Za-z0-9.\-_/#: ]{1,255}$/.test(raw.namespace_metrics) || raw.namespace_metrics.startsWith(":"))
    issue(
      "namespace_metrics",
      `${show(raw.namespace_metrics)} is not a CloudWatch namespace; allowed: 1 to 255 letters, digits, spaces and . - _ / # :, not starting with ":"`,
    );
  else if (raw.namespace_metrics.startsWith("AWS/"))
    issue(
      "namespace_metrics",
      `${show(raw.namespace_metrics)} is not allowed; namespaces starting with "AWS/" are reserved for AWS`,
    );
  for (const key of ["dimension_name_metrics", "metrics_name"] as const) {
    const text = key === "metrics_name" ? `${raw[key]}-${project}` : raw[key];
    if (!/^[\x20-\x7e]{1,255}$/.test(text) || text.trim() === "" || text.startsWith(":"))
      issue(
        key,
        `${show(raw[key])} is not a CloudWatch ${key === "metrics_name" ? "metric" : "dimension"} name; allowed: 1 to 255 printable ASCII characters, not starting with ":"`,
      );
  }
  const scheduleIssue = scheduleProblem(raw.metrics_event_rule_time);
  if (scheduleIssue)
    issue(
      "metrics_event_rule_time",
      `${show(raw.metrics_event_rule_time)} is not an EventBridge schedule: ${scheduleIssue}`,
    );
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
