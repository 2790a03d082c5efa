// Agent area: the agent pods' images, container resources, the worker (Lambda-compatible) runtime and handler,
// and the tuning knobs written into the agent configuration.
import { BUILTIN_WORKER_RUNTIME, WORKER_RUNTIMES } from "../../images/stock-images";
import type { AgentConfig, ImageRef } from "../model";
import type { RawGridConfig } from "../schema";
import { checkArnPartition } from "./identity";
import { flag, show, toNumber, type IssueSink } from "./issues";

/** Namespaces the grid's add-ons create or Kubernetes owns; the agents cannot share them. */
const RESERVED_NAMESPACES: Readonly<Record<string, string>> = {
  keda: "KEDA's (created by the grid)",
  "amazon-cloudwatch": "the CloudWatch observability add-on's",
  "kube-public": "Kubernetes'",
  "kube-node-lease": "Kubernetes'",
};
const MONITORING_NAMESPACE = "monitoring";

/** An OCI repository path (lowercase components separated by "/"), as ECR and the chart take it. */
const REPOSITORY = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
/** An image tag (OCI distribution spec). */
const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
/** A registry host with optional port and path prefix, e.g. `123456789012.dkr.ecr.eu-west-1.amazonaws.com`. */
const REGISTRY = /^[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::\d{1,5})?(?:\/[a-z0-9._-]+)*$/;
/** A DNS-1123 label: namespaces and the names derived from the release. */
const DNS_LABEL = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?$/;

/**
 * A custom image (upstream's, or the user's) when the config names a repository or a tag; undefined keeps the
 * grid's stock image (modules/images/stock-images.ts).
 */
function customImage(
  path: string,
  given: { image?: string; tag?: string; pullPolicy?: ImageRef["pullPolicy"] } | undefined,
  defaultRepo: string,
  defaultTag: string,
  issue: IssueSink,
): ImageRef | undefined {
  if (given?.image !== undefined && (!REPOSITORY.test(given.image) || given.image.length > 256))
    issue(
      `${path}.image`,
      `${show(given.image)} is not an image repository; allowed: lowercase path components such as "my-team/agent" (the registry comes from aws_htc_ecr)`,
    );
  if (given?.tag !== undefined && !IMAGE_TAG.test(given.tag))
    issue(
      `${path}.tag`,
      `${show(given.tag)} is not an image tag; allowed: up to 128 letters, digits, "_", "." or "-", not starting with "." or "-"`,
    );
  if (given?.image === undefined && given?.tag === undefined) return undefined;
  return {
    repository: given.image ?? defaultRepo,
    tag: given.tag ?? defaultTag,
    pullPolicy: given.pullPolicy ?? "IfNotPresent",
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
  // Kubernetes names: the Helm release (also the Deployment's name) and the namespace.
  if (
    !DNS_LABEL.test(raw.htc_agent_name) ||
    !/^[a-z]/.test(raw.htc_agent_name) ||
    raw.htc_agent_name.length > 53
  )
    issue(
      "htc_agent_name",
      `${show(raw.htc_agent_name)} is not allowed as a Helm release name; allowed: up to 53 lowercase letters, digits or "-", starting with a letter and ending with a letter or digit`,
    );
  const ns = raw.htc_agent_namespace;
  if (!DNS_LABEL.test(ns) || ns.length > 63)
    issue(
      "htc_agent_namespace",
      `${show(ns)} is not a Kubernetes namespace name; allowed: up to 63 lowercase letters, digits or "-", starting and ending with a letter or digit`,
    );
  else if (RESERVED_NAMESPACES[ns] !== undefined || (ns === MONITORING_NAMESPACE && raw.enable_monitoring))
    issue(
      "htc_agent_namespace",
      `${show(ns)} is ${RESERVED_NAMESPACES[ns] ?? "the monitoring add-on's (enable_monitoring is true)"} namespace; choose another, e.g. "htc-grid"`,
    );
  if (raw.aws_htc_ecr !== "" && !REGISTRY.test(raw.aws_htc_ecr.replace(/\/$/, "")))
    issue(
      "aws_htc_ecr",
      `${show(raw.aws_htc_ecr)} is not a registry prefix; allowed: a host (optionally :port and /path), e.g. "123456789012.dkr.ecr.eu-west-1.amazonaws.com"`,
    );

  // Upstream's agent image asked for 10m/50m CPU and 50/100 Mi. The stock Node.js agent needs more: it peaks at
  // about 120 MB resident and spends about 1.5 ms of CPU per AWS call (npm run bench:agent), about 0.2 of a core at
  // 33 tasks/s.
  const customAgent = ac.agent?.image !== undefined || ac.agent?.tag !== undefined;
  const agentRes = res(
    "agent_configuration.agent",
    ac.agent,
    customAgent ? [10, 50, 50, 100] : [100, 500, 160, 256],
  );
  const lambdaRes = res("agent_configuration.lambda", ac.lambda, [800, 900, 1200, 1900]);
  const l = ac.lambda ?? {};
  if (l.location !== undefined && l.s3_source !== undefined) {
    issue(
      "agent_configuration.lambda.location",
      "is given together with s3_source; use one (location is the workshop's name for s3_source)",
    );
  }
  // The worker zip: an s3:// URL is used as is; anything else is a local file the grid uploads.
  const location = l.s3_source ?? l.location;
  const locationKey = `agent_configuration.lambda.${l.s3_source !== undefined ? "s3_source" : "location"}`;
  const s3Source = location?.startsWith("s3:") ? location : undefined;
  const localZip = location !== undefined && s3Source === undefined ? location : undefined;
  if (s3Source !== undefined && !/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/.+/.test(s3Source)) {
    issue(locationKey, `${show(s3Source)} is not an S3 URL (s3://bucket/key)`);
  }
  if (localZip !== undefined && (localZip.trim() === "" || localZip.includes("://"))) {
    issue(locationKey, `${show(localZip)} is neither an S3 URL (s3://bucket/key) nor a local path to a zip`);
  }
  if (localZip !== undefined && l.s3_source_kms_key_arn !== undefined) {
    issue(
      "agent_configuration.lambda.s3_source_kms_key_arn",
      "only applies to an s3:// location; a local zip is uploaded to the workload bucket under the grid's key",
    );
  }
  if (
    l.s3_source_kms_key_arn !== undefined &&
    !/^arn:aws(-cn|-us-gov)?:kms:[a-z0-9-]+:\d{12}:(key\/(mrk-)?[0-9a-f-]{32,36}|alias\/[A-Za-z0-9/_-]+)$/.test(
      l.s3_source_kms_key_arn,
    )
  ) {
    issue(
      "agent_configuration.lambda.s3_source_kms_key_arn",
      `${show(l.s3_source_kms_key_arn)} is not a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<id> or :alias/<name>)`,
    );
  } else if (l.s3_source_kms_key_arn !== undefined) {
    checkArnPartition(
      "agent_configuration.lambda.s3_source_kms_key_arn",
      l.s3_source_kms_key_arn,
      raw.region,
      issue,
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
  // Repositories stay paths under the registry: the chart prefixes `imageRegistry` (aws_htc_ecr, else the grid's
  // ECR) once; putting the registry into them too made the chart pull `<registry>/<registry>/<name>`.
  const ecr = raw.aws_htc_ecr === "" ? undefined : raw.aws_htc_ecr.replace(/\/$/, "");
  // Without a worker location the built-in mock compute engine (Node.js) runs; upstream's default runtime was
  // `provided` (its C++ engine), which stays the default when a location is given.
  const builtinWorker = location === undefined;
  const runtime = l.runtime ?? (builtinWorker ? BUILTIN_WORKER_RUNTIME : "provided");
  const workerImage =
    l.image === undefined
      ? undefined
      : customImage(
          "agent_configuration.lambda",
          { image: l.image, tag: runtime, pullPolicy: l.pullPolicy },
          "lambda",
          runtime,
          issue,
        );
  const stockRuntime = WORKER_RUNTIMES[runtime];
  if (!IMAGE_TAG.test(runtime)) {
    issue(
      "agent_configuration.lambda.runtime",
      `${show(runtime)} is not allowed: the runtime is the worker image's tag; allowed: up to 128 letters, digits, "_", "." or "-"`,
    );
  } else if (workerImage === undefined && stockRuntime === undefined) {
    issue(
      "agent_configuration.lambda.runtime",
      `${show(runtime)} has no stock worker image; allowed: ${Object.keys(WORKER_RUNTIMES)
        .map((r) => `"${r}"`)
        .join(
          ", ",
        )}, or set agent_configuration.lambda.image to a repository with this tag (upstream's runtime images)`,
    );
  } else if (
    builtinWorker &&
    workerImage === undefined &&
    stockRuntime.image !== WORKER_RUNTIMES[BUILTIN_WORKER_RUNTIME].image
  ) {
    issue(
      "agent_configuration.lambda.runtime",
      `${show(runtime)} cannot run the built-in worker (the mock compute engine, a Node.js handler); use "${BUILTIN_WORKER_RUNTIME}", or give agent_configuration.lambda.location`,
    );
  }
  // Upstream passes `file` as-is when it already contains the function ("mock.lambda_handler").
  const givenHandler = file === "" && fn === "" ? undefined : file.includes(".") ? file : `${file}.${fn}`;
  const handler = givenHandler ?? (workerImage ? "bootstrap.main" : stockRuntime?.defaultHandler);
  if (handler === undefined && stockRuntime !== undefined) {
    issue(
      "agent_configuration.lambda.lambda_handler_file_name",
      `runtime ${show(runtime)} needs a handler: set lambda_handler_file_name and lambda_handler_function_name (e.g. "mock_compute_engine" and "lambda_handler")`,
    );
  }
  const functionName = l.function_name ?? "function";
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(functionName))
    issue(
      "agent_configuration.lambda.function_name",
      `${show(functionName)} is not allowed; allowed: 1 to 64 letters, digits, "-" or "_" (it is part of the invoke URL)`,
    );
  return {
    name: raw.htc_agent_name,
    namespace: raw.htc_agent_namespace,
    minAgents: raw.min_htc_agents,
    maxAgents: raw.max_htc_agents,
    targetValue: raw.htc_agent_target_value,
    gracefulTerminationDelaySec: raw.graceful_termination_delay,
    ecrRegistry: ecr,
    agent: {
      image: customImage("agent_configuration.agent", ac.agent, "awshpc-lambda", tag, issue),
      pullPolicy: ac.agent?.pullPolicy ?? "IfNotPresent",
      ...agentRes,
    },
    lambda: {
      image: workerImage,
      pullPolicy: l.pullPolicy ?? "IfNotPresent",
      runtime,
      ...lambdaRes,
      s3Source,
      localZip,
      s3SourceKmsKeyArn: l.s3_source_kms_key_arn,
      functionName,
      handler: handler ?? "",
    },
    getLayer: customImage("agent_configuration.get_layer", ac.get_layer, "lambda-init", tag, issue),
    test: customImage("agent_configuration.test", ac.test, "submitter", tag, issue),
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
