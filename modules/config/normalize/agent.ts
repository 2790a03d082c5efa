// Agent area: the agent pods' images, container resources, the worker (Lambda-compatible) runtime and handler,
// and the tuning knobs written into the agent configuration.
import type { AgentConfig, ImageRef } from "../model";
import type { RawGridConfig } from "../schema";
import { flag, show, toNumber, type IssueSink } from "./issues";

function image(
  path: string,
  given: { image?: string; tag?: string; pullPolicy?: ImageRef["pullPolicy"] } | undefined,
  defaultRepo: string,
  defaultTag: string,
): ImageRef {
  void path;
  return {
    repository: given?.image ?? defaultRepo,
    tag: given?.tag ?? defaultTag,
    pullPolicy: given?.pullPolicy ?? "IfNotPresent",
  };
}

export function normalizeAgent(raw: RawGridConfig, issue: IssueSink): AgentConfig | undefined {
  const ac = raw.agent_configuration;
  const tag = raw.project_name;
  const res = (
    path: string,
    r:
      | {
          minCPU?: number | string;
          maxCPU?: number | string;
          minMemory?: number | string;
          maxMemory?: number | string;
        }
      | undefined,
    d: [number, number, number, number],
  ) => {
    const v = {
      cpuRequestMilli: toNumber(r?.minCPU, d[0]),
      cpuLimitMilli: toNumber(r?.maxCPU, d[1]),
      memoryRequestMi: toNumber(r?.minMemory, d[2]),
      memoryLimitMi: toNumber(r?.maxMemory, d[3]),
    };
    for (const [key, val] of [
      ["minCPU", v.cpuRequestMilli],
      ["maxCPU", v.cpuLimitMilli],
      ["minMemory", v.memoryRequestMi],
      ["maxMemory", v.memoryLimitMi],
    ] as const) {
      if (!Number.isInteger(val) || val <= 0)
        issue(`${path}.${key}`, `${show(val)} is not allowed; allowed: a positive whole number`);
    }
    if (v.cpuRequestMilli > v.cpuLimitMilli)
      issue(`${path}.minCPU`, `${v.cpuRequestMilli} is greater than maxCPU (${v.cpuLimitMilli})`);
    if (v.memoryRequestMi > v.memoryLimitMi)
      issue(`${path}.minMemory`, `${v.memoryRequestMi} is greater than maxMemory (${v.memoryLimitMi})`);
    return v;
  };
  const agentRes = res("agent_configuration.agent", ac.agent, [10, 50, 50, 100]);
  const lambdaRes = res("agent_configuration.lambda", ac.lambda, [800, 900, 1200, 1900]);
  const l = ac.lambda ?? {};
  if (l.location !== undefined && l.s3_source !== undefined) {
    issue(
      "agent_configuration.lambda.location",
      "is given together with s3_source; use one (location is the workshop's name for s3_source)",
    );
  }
  const s3Source = l.s3_source ?? l.location;
  if (s3Source !== undefined && !/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/.+/.test(s3Source)) {
    issue(
      `agent_configuration.lambda.${l.s3_source !== undefined ? "s3_source" : "location"}`,
      `${show(s3Source)} is not an S3 URL (s3://bucket/key)`,
    );
  }
  if (
    l.s3_source_kms_key_arn !== undefined &&
    !/^arn:aws(-cn|-us-gov)?:kms:[a-z0-9-]+:\d{12}:(key|alias)\/.+$/.test(l.s3_source_kms_key_arn)
  ) {
    issue(
      "agent_configuration.lambda.s3_source_kms_key_arn",
      `${show(l.s3_source_kms_key_arn)} is not a KMS key ARN`,
    );
  }
  const file = l.lambda_handler_file_name ?? "";
  const fn = l.lambda_handler_function_name ?? "";
  if ((file === "") !== (fn === "") && !file.includes(".")) {
    issue(
      "agent_configuration.lambda.lambda_handler_function_name",
      "give both lambda_handler_file_name and lambda_handler_function_name, or neither",
    );
  }
  // Upstream passes `file` as-is when it already contains the function ("mock.lambda_handler").
  const handler = file === "" && fn === "" ? "bootstrap.main" : file.includes(".") ? file : `${file}.${fn}`;
  const ecr = raw.aws_htc_ecr === "" ? undefined : raw.aws_htc_ecr.replace(/\/$/, "");
  const repo = (name: string) => (ecr ? `${ecr}/${name}` : name);
  const runtime = l.runtime ?? "provided";
  return {
    name: raw.htc_agent_name,
    namespace: raw.htc_agent_namespace,
    minAgents: raw.min_htc_agents,
    maxAgents: raw.max_htc_agents,
    targetValue: raw.htc_agent_target_value,
    gracefulTerminationDelaySec: raw.graceful_termination_delay,
    ecrRegistry: ecr,
    agent: { ...image("agent_configuration.agent", ac.agent, repo("awshpc-lambda"), tag), ...agentRes },
    lambda: {
      image: image(
        "agent_configuration.lambda",
        { image: l.image, tag: runtime, pullPolicy: l.pullPolicy },
        repo("lambda"),
        runtime,
      ),
      runtime,
      ...lambdaRes,
      s3Source,
      s3SourceKmsKeyArn: l.s3_source_kms_key_arn,
      functionName: l.function_name ?? "function",
      handler,
    },
    getLayer: image("agent_configuration.get_layer", ac.get_layer, repo("lambda-init"), tag),
    test: image("agent_configuration.test", ac.test, repo("submitter"), tag),
    tuning: {
      emptyTaskQueueBackoffTimeoutSec: raw.empty_task_queue_backoff_timeout_sec,
      workProcStatusPullIntervalSec: raw.work_proc_status_pull_interval_sec,
      taskTtlExpirationOffsetSec: raw.task_ttl_expiration_offset_sec,
      taskTtlRefreshIntervalSec: raw.task_ttl_refresh_interval_sec,
      dynamodbResultsPullIntervalSec: raw.dynamodb_results_pull_interval_sec,
      agentTaskVisibilityTimeoutSec: raw.agent_task_visibility_timeout_sec,
    },
    metricsAreEnabled: flag(raw.metrics_are_enabled),
    enableXray: flag(raw.enable_xray),
    agentUseCongestionControl: flag(raw.agent_use_congestion_control),
    htcPathLogs: raw.htc_path_logs,
    includeSecretsInGeneratedConfig: raw.agent_config_include_secrets,
  };
}
