// Turns a schema-valid raw config (either key set) into the normalized GridConfig, collecting every semantic
// problem (ranges, CIDR layout, name rules) as a path-addressed issue instead of stopping at the first.
import { carve, contains, formatCidr, overlaps, parseCidr, type Cidr } from "./cidr";
import { normalizeDeployKeys } from "./deploy-keys";
import { BUILTIN_WORKER_RUNTIME, WORKER_RUNTIMES } from "../images/stock-images";
import type {
  AgentConfig,
  BackendConfig,
  CapacityType,
  GridConfig,
  GridStorageService,
  ImageRef,
  InputRole,
  WorkerGroup,
} from "./model";
import { REGION_AZ_COUNT } from "./regions";
import type { RawGridConfig } from "./schema";
import { PROJECT_NAME_PATTERN } from "../naming/names";
import { editDistance } from "./text";

/** One configuration problem: JSON path, what is wrong, the bad value. */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
}

/** Environment the entry point passes in (constructs never read the environment). */
export interface ConfigEnvironment {
  readonly [name: string]: string | undefined;
}

const KEY_ID = "(?:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}|mrk-[0-9a-f]{32})";
/** What Terraform's S3 backend accepts as kms_key_id (it checks key ids are UUID v4 or multi-Region). */
const KMS_KEY_REF = new RegExp(
  `^(?:arn:aws(?:-cn|-us-gov)?:kms:[a-z0-9-]+:\\d{12}:(?:key/${KEY_ID}|alias/.+)|alias/.+|${KEY_ID})$`,
);
const STORAGE: readonly GridStorageService[] = ["S3", "REDIS", "S3+REDIS"];
const DEFAULT_CORE_GROUP = { instanceTypes: ["m6i.large"], minSize: 2, maxSize: 6, desiredSize: 2 };

export function show(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Parse upstream's single-quoted pseudo-JSON (`{'priorities':3}`) into a value. */
export function parseLooseJson(text: string): unknown {
  return JSON.parse(text.replace(/'/g, '"'));
}

function toNumber(value: number | string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  return typeof value === "number" ? value : Number(value);
}

function flag(value: 0 | 1 | "0" | "1" | boolean): boolean {
  return value === true || value === 1 || value === "1";
}

export function normalizeConfig(
  raw: RawGridConfig,
  env: ConfigEnvironment = {},
): { config?: GridConfig; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  const issue = (path: string, message: string) => issues.push({ path, message });

  // Identity.
  if (!PROJECT_NAME_PATTERN.test(raw.project_name)) {
    issue(
      "project_name",
      `${show(raw.project_name)} is not allowed; use 1-20 lowercase letters, digits or hyphens, starting and ending with a letter or digit`,
    );
  }
  if (!/^[a-z][a-z0-9-]{0,30}$/.test(raw.cluster_name)) {
    issue(
      "cluster_name",
      `${show(raw.cluster_name)} is not allowed; use a lowercase letter then up to 30 lowercase letters, digits or hyphens`,
    );
  }
  const azAvailable = REGION_AZ_COUNT[raw.region];
  if (azAvailable === undefined) {
    const near = Object.keys(REGION_AZ_COUNT).filter((r) => editDistance(r, raw.region) <= 2);
    issue(
      "region",
      `unknown region ${show(raw.region)}${near.length ? `; did you mean ${near.map((r) => `"${r}"`).join(" or ")}?` : ""} (allowed: ${Object.keys(REGION_AZ_COUNT).join(", ")})`,
    );
  }

  // Data plane.
  let storage: GridStorageService = "REDIS";
  const storageText = raw.grid_storage_service.trim();
  if ((STORAGE as readonly string[]).includes(storageText)) {
    storage = storageText as GridStorageService;
  } else if (/^S3 \S+$/.test(storageText)) {
    issue(
      "grid_storage_service",
      `${show(raw.grid_storage_service)} is upstream's malformed default (a bucket name after the mode); allowed: "S3", "REDIS", "S3+REDIS" (the data bucket is created by the grid)`,
    );
  } else {
    issue(
      "grid_storage_service",
      `${show(raw.grid_storage_service)} is not allowed; allowed: "S3", "REDIS", "S3+REDIS"`,
    );
  }
  if (raw.redis_multi_az && raw.redis_replicas < 1) {
    issue("redis_multi_az", `true needs redis_replicas >= 1 (got redis_replicas ${raw.redis_replicas})`);
  }

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
  try {
    parseLooseJson(raw.state_table_config);
  } catch {
    issue("state_table_config", `${show(raw.state_table_config)} is not a JSON object`);
  }

  // Network.
  const network = normalizeNetwork(raw, azAvailable ?? 6, issue);

  // Compute.
  const workerGroups = normalizeWorkerGroups(raw.eks_worker_groups, issue);
  const core = {
    instanceTypes: raw.core_node_group.instance_types ?? DEFAULT_CORE_GROUP.instanceTypes,
    minSize: raw.core_node_group.min_size ?? DEFAULT_CORE_GROUP.minSize,
    maxSize: raw.core_node_group.max_size ?? DEFAULT_CORE_GROUP.maxSize,
    desiredSize: raw.core_node_group.desired_size ?? DEFAULT_CORE_GROUP.desiredSize,
  };
  checkSizes(
    "core_node_group",
    "min_size",
    "max_size",
    "desired_size",
    core.minSize,
    core.maxSize,
    core.desiredSize,
    issue,
  );
  if (!/^1\.(2[89]|3\d)$/.test(raw.kubernetes_version)) {
    issue(
      "kubernetes_version",
      `${show(raw.kubernetes_version)} is not allowed; allowed: an EKS minor version "1.28" to "1.39", e.g. "1.34"`,
    );
  }
  if (raw.eks_public_access && raw.eks_public_access_cidrs.length === 0) {
    issue(
      "eks_public_access_cidrs",
      "[] is not allowed when eks_public_access is true; list the CIDRs that may reach the API server",
    );
  }
  if (!raw.eks_public_access && raw.eks_public_access_cidrs.length > 0) {
    issue(
      "eks_public_access_cidrs",
      `${show(raw.eks_public_access_cidrs)} has no effect while eks_public_access is false; remove it or enable public access`,
    );
  }
  checkCidrList("eks_public_access_cidrs", raw.eks_public_access_cidrs, issue, { allowPublic: true });
  checkCidrList("grafana_allowed_cidrs", raw.grafana_allowed_cidrs, issue, { allowPublic: true });
  checkCidrList("allowed_access_cidr_blocks", raw.allowed_access_cidr_blocks, issue, { allowPublic: true });
  if (raw.grafana_allowed_cidrs.length > 0 && !raw.enable_monitoring) {
    issue(
      "grafana_allowed_cidrs",
      `${show(raw.grafana_allowed_cidrs)} has no effect while enable_monitoring is false`,
    );
  }
  const inputRoles: InputRole[] = raw.input_role.map((r, i) => {
    if (!/^arn:aws(-cn|-us-gov)?:iam::(\d{12}|\{\{account_id\}\}):role\/[\w+=,.@/-]+$/.test(r.rolearn)) {
      issue(
        `input_role[${i}].rolearn`,
        `${show(r.rolearn)} is not an IAM role ARN (arn:aws:iam::<12-digit account or {{account_id}}>:role/<name>)`,
      );
    }
    if (r.username.trim() === "")
      issue(`input_role[${i}].username`, `"" is not allowed; give a Kubernetes user name`);
    return { roleArn: r.rolearn, username: r.username, groups: [...r.groups] };
  });
  const seenRoles = new Set<string>();
  raw.input_role.forEach((r, i) => {
    if (seenRoles.has(r.rolearn))
      issue(
        `input_role[${i}].rolearn`,
        `${show(r.rolearn)} is listed twice; each role gets one access entry`,
      );
    seenRoles.add(r.rolearn);
  });
  raw.kms_key_admin_roles.forEach((arn, i) => {
    if (!/^arn:aws(-cn|-us-gov)?:iam::(\d{12}|\{\{account_id\}\}):role\/[\w+=,.@/-]+$/.test(arn)) {
      issue(`kms_key_admin_roles[${i}]`, `${show(arn)} is not an IAM role ARN`);
    }
  });

  // Agents.
  if (raw.min_htc_agents > raw.max_htc_agents) {
    issue(
      "min_htc_agents",
      `${raw.min_htc_agents} is greater than max_htc_agents (${raw.max_htc_agents}); allowed: 0 to max_htc_agents`,
    );
  }
  if (raw.task_ttl_refresh_interval_sec >= raw.task_ttl_expiration_offset_sec) {
    issue(
      "task_ttl_refresh_interval_sec",
      `${raw.task_ttl_refresh_interval_sec} must be smaller than task_ttl_expiration_offset_sec (${raw.task_ttl_expiration_offset_sec}), or heartbeats expire between refreshes`,
    );
  }
  if (flag(raw.metrics_are_enabled)) {
    issue(
      "metrics_are_enabled",
      `${show(raw.metrics_are_enabled)} is not allowed; only 0: the InfluxDB metrics sink is not deployed by this grid`,
    );
  }
  const periodMetrics = toNumber(raw.period_metrics, 1);
  if (periodMetrics !== 1 && periodMetrics !== 60) {
    issue("period_metrics", `${show(raw.period_metrics)} is not allowed; allowed: 1 (high resolution) or 60`);
  }
  const agent = normalizeAgent(raw, issue);
  const backend = normalizeBackend(raw, env, issue);
  const deployKeys = normalizeDeployKeys(raw, issue);

  for (const [key, value] of Object.entries(raw.tags)) {
    if (key.toLowerCase().startsWith("aws:"))
      issue(`tags.${key}`, `tag keys starting with "aws:" are reserved by AWS (value ${show(value)})`);
  }

  if (issues.length > 0 || !network) return { issues };
  const projectName = raw.project_name;
  const config: GridConfig = {
    projectName,
    region: raw.region,
    clusterName: `${raw.cluster_name}-${projectName}`,
    network,
    kms: { deletionWindowDays: raw.kms_deletion_window, adminRoleArns: [...raw.kms_key_admin_roles] },
    dataPlane: {
      storage,
      payloadExpirationDays: raw.data_bucket_expiration_days,
      redis: {
        engine: raw.redis_engine,
        engineVersion: raw.redis_engine_version,
        nodeType: raw.redis_node_type,
        replicas: raw.redis_replicas,
        multiAz: raw.redis_multi_az,
      },
    },
    controlPlane: {
      stateTable: {
        billingMode: raw.dynamodb_billing_mode,
        readCapacity: raw.dynamodb_default_read_capacity,
        writeCapacity: raw.dynamodb_default_write_capacity,
        autoscaling: raw.dynamodb_autoscaling_enabled,
        // allow_destroy is the one teardown switch; it overrides the table's own protection.
        deletionProtection: raw.dynamodb_deletion_protection && !raw.allow_destroy,
        service: raw.state_table_service,
        sdkConfig: JSON.stringify(parseLooseJson(raw.state_table_config)),
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
    },
    computePlane: {
      kubernetesVersion: raw.kubernetes_version,
      workerGroups,
      coreGroup: core,
      nodeVolumeSizeGb: raw.eks_node_volume_size,
      inputRoles,
      publicEndpoint: raw.eks_public_access,
      publicEndpointCidrs: [...raw.eks_public_access_cidrs],
      clusterAutoscalerImageTag: raw.k8s_ca_version,
      kedaChartVersion: raw.k8s_keda_version,
      monitoring: { enabled: raw.enable_monitoring, grafanaAllowedCidrs: [...raw.grafana_allowed_cidrs] },
    },
    agent: agent!,
    dataBucketBaseName: raw.s3_bucket,
    logRetentionDays: raw.log_retention_days,
    ecrImmutableTags: raw.ecr_immutable_tags,
    ...deployKeys,
    stateLocking: raw.state_locking,
    backend: backend!,
    tags: { ...raw.tags },
  };
  return { config, issues };
}

function checkSizes(
  base: string,
  minKey: string,
  maxKey: string,
  desiredKey: string,
  min: number,
  max: number,
  desired: number,
  issue: (path: string, message: string) => void,
): void {
  if (min < 0) issue(`${base}.${minKey}`, `${min} is negative; allowed: 0 or more`);
  if (max < 0) issue(`${base}.${maxKey}`, `${max} is negative; allowed: 1 or more`);
  else if (max < 1) issue(`${base}.${maxKey}`, `${max} is not allowed; a node group needs ${maxKey} >= 1`);
  if (desired < 0) issue(`${base}.${desiredKey}`, `${desired} is negative; allowed: ${minKey} to ${maxKey}`);
  if (min >= 0 && max >= 0 && min > max) {
    issue(`${base}.${minKey}`, `${min} is greater than ${maxKey} (${max}); allowed: 0 to ${maxKey}`);
  } else if (desired >= 0 && min >= 0 && max >= 0 && (desired < min || desired > max)) {
    issue(`${base}.${desiredKey}`, `${desired} is outside [${minKey} ${min}, ${maxKey} ${max}]`);
  }
}

function normalizeWorkerGroups(
  groups: RawGridConfig["eks_worker_groups"],
  issue: (path: string, message: string) => void,
): WorkerGroup[] {
  const out: WorkerGroup[] = [];
  const names = new Map<string, number>();
  groups.forEach((g, i) => {
    const path = `eks_worker_groups[${i}]`;
    const upstreamKeys = [
      "node_group_name",
      "instance_types",
      "capacity_type",
      "min_size",
      "max_size",
      "desired_size",
    ] as const;
    const seedKeys = [
      "name",
      "override_instance_types",
      "spot_instance_pools",
      "asg_min_size",
      "asg_max_size",
      "asg_desired_capacity",
      "on_demand_base_capacity",
      "on_demand_percentage_above_base_capacity",
    ] as const;
    const usesUpstream = upstreamKeys.filter((k) => g[k] !== undefined);
    const usesSeed = seedKeys.filter((k) => g[k] !== undefined);
    if (usesUpstream.length > 0 && usesSeed.length > 0) {
      issue(
        path,
        `mixes the upstream keys (${usesUpstream.join(", ")}) with the workshop keys (${usesSeed.join(", ")}); use one key set per group`,
      );
      return;
    }
    const seed = usesSeed.length > 0;
    const nameKey = seed ? "name" : "node_group_name";
    const typesKey = seed ? "override_instance_types" : "instance_types";
    const [minKey, maxKey, desiredKey] = seed
      ? ["asg_min_size", "asg_max_size", "asg_desired_capacity"]
      : ["min_size", "max_size", "desired_size"];
    const name = seed ? g.name : g.node_group_name;
    const types = seed ? g.override_instance_types : g.instance_types;
    const min = seed ? g.asg_min_size : g.min_size;
    const max = seed ? g.asg_max_size : g.max_size;
    const desired = seed ? g.asg_desired_capacity : g.desired_size;
    let ok = true;
    for (const [key, value] of [
      [nameKey, name],
      [typesKey, types],
      [minKey, min],
      [maxKey, max],
    ] as const) {
      if (value === undefined) {
        issue(
          `${path}.${key}`,
          `is required (a group needs ${nameKey}, ${typesKey}, ${minKey} and ${maxKey})`,
        );
        ok = false;
      }
    }
    if (!ok || name === undefined || types === undefined || min === undefined || max === undefined) return;
    if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,37}$/.test(name)) {
      issue(
        `${path}.${nameKey}`,
        `${show(name)} is not allowed; use up to 38 letters, digits, "-" or "_", starting with a letter or digit`,
      );
    }
    if (names.has(name)) {
      issue(
        `${path}.${nameKey}`,
        `${show(name)} duplicates eks_worker_groups[${names.get(name)}]; node group names must be unique`,
      );
    }
    names.set(name, i);
    if (types.length === 0)
      issue(`${path}.${typesKey}`, `[] is not allowed; list at least one instance type`);
    types.forEach((t, j) => {
      if (!/^[a-z][a-z0-9-]*\.[a-z0-9]+$/.test(t))
        issue(`${path}.${typesKey}[${j}]`, `${show(t)} is not an EC2 instance type (e.g. "m5.xlarge")`);
    });
    if (new Set(types).size !== types.length)
      issue(`${path}.${typesKey}`, `${show(types)} lists an instance type twice`);
    const desiredSize = desired ?? Math.max(min, 0);
    checkSizes(path, minKey, maxKey, desiredKey, min, max, desiredSize, issue);
    let capacityType: CapacityType = "SPOT";
    if (seed) {
      if ((g.spot_instance_pools ?? 0) !== 0) {
        issue(
          `${path}.spot_instance_pools`,
          `${g.spot_instance_pools} is not allowed; only 0: managed node groups pick spot pools with the price-capacity-optimized strategy`,
        );
      }
      if ((g.on_demand_base_capacity ?? 0) < 0) {
        issue(`${path}.on_demand_base_capacity`, `${g.on_demand_base_capacity} is negative; allowed: 0`);
      } else if ((g.on_demand_base_capacity ?? 0) !== 0) {
        issue(
          `${path}.on_demand_base_capacity`,
          `${g.on_demand_base_capacity} is not allowed; only 0: a node group is all spot or all on-demand (make a second, on-demand group instead)`,
        );
      }
      const pct = g.on_demand_percentage_above_base_capacity ?? 0;
      if (pct === 100) capacityType = "ON_DEMAND";
      else if (pct !== 0) {
        issue(
          `${path}.on_demand_percentage_above_base_capacity`,
          `${pct} is not allowed; allowed: 0 (all spot) or 100 (all on-demand)`,
        );
      }
    } else {
      capacityType = g.capacity_type ?? "SPOT";
    }
    out.push({ name, instanceTypes: [...types], capacityType, minSize: min, maxSize: max, desiredSize });
  });
  return out;
}

function checkCidrList(
  path: string,
  list: string[],
  issue: (path: string, message: string) => void,
  _opts: { allowPublic: boolean },
): Cidr[] {
  const out: Cidr[] = [];
  list.forEach((text, i) => {
    const c = parseCidr(text);
    if (!c)
      issue(`${path}[${i}]`, `${show(text)} is not a valid IPv4 CIDR (a.b.c.d/n with no host bits set)`);
    else out.push(c);
  });
  return out;
}

function normalizeNetwork(
  raw: RawGridConfig,
  azAvailable: number,
  issue: (path: string, message: string) => void,
): GridConfig["network"] | undefined {
  const vpc = parseCidr(raw.vpc_cidr_block);
  if (!vpc) {
    issue(
      "vpc_cidr_block",
      `${show(raw.vpc_cidr_block)} is not a valid IPv4 CIDR (a.b.c.d/n with no host bits set)`,
    );
    return undefined;
  }
  if (vpc.prefix < 16 || vpc.prefix > 24) {
    issue(
      "vpc_cidr_block",
      `${show(raw.vpc_cidr_block)} is not allowed; a VPC range has a netmask from /16 to /24`,
    );
    return undefined;
  }
  const pub = raw.vpc_cidr_block_public;
  const priv = raw.vpc_cidr_block_private;
  let azCount: number;
  let publicCidrs: Cidr[] | undefined;
  let privateCidrs: Cidr[] | undefined;
  if (Array.isArray(pub) !== Array.isArray(priv)) {
    issue(
      "vpc_cidr_block_private",
      "must use the same form as vpc_cidr_block_public: both netmask sizes or both CIDR lists",
    );
    return undefined;
  }
  if (Array.isArray(pub) && Array.isArray(priv)) {
    if (raw.availability_zone_count !== undefined && raw.availability_zone_count !== pub.length) {
      issue(
        "availability_zone_count",
        `${raw.availability_zone_count} does not match the ${pub.length} subnets listed per tier`,
      );
    }
    publicCidrs = checkCidrList("vpc_cidr_block_public", pub, issue, { allowPublic: false });
    privateCidrs = checkCidrList("vpc_cidr_block_private", priv, issue, { allowPublic: false });
    if (pub.length !== priv.length) {
      issue(
        "vpc_cidr_block_private",
        `lists ${priv.length} subnets but vpc_cidr_block_public lists ${pub.length}; give one of each per availability zone`,
      );
    }
    if (pub.length < 2)
      issue(
        "vpc_cidr_block_public",
        `${show(pub)} is not allowed; EKS needs subnets in at least 2 availability zones`,
      );
    azCount = pub.length;
    if (publicCidrs.length !== pub.length || privateCidrs.length !== priv.length) return undefined;
    const all = [
      ...publicCidrs.map((c, i) => ({ c, path: `vpc_cidr_block_public[${i}]` })),
      ...privateCidrs.map((c, i) => ({ c, path: `vpc_cidr_block_private[${i}]` })),
    ];
    for (const { c, path } of all) {
      if (!contains(vpc, c))
        issue(path, `${show(formatCidr(c))} is outside the VPC range ${raw.vpc_cidr_block}`);
      if (c.prefix > 28)
        issue(path, `${show(formatCidr(c))} is too small; subnets need a netmask of /28 or larger`);
    }
    for (let i = 0; i < all.length; i++) {
      for (let j = i + 1; j < all.length; j++) {
        if (overlaps(all[i].c, all[j].c)) {
          issue(
            all[j].path,
            `${show(formatCidr(all[j].c))} overlaps ${all[i].path} (${formatCidr(all[i].c)})`,
          );
        }
      }
    }
  } else {
    const pubMask = pub as number;
    const privMask = priv as number;
    azCount = raw.availability_zone_count ?? Math.min(3, azAvailable);
    if (pubMask < vpc.prefix || privMask < vpc.prefix) {
      const [key, mask] =
        pubMask < vpc.prefix ? ["vpc_cidr_block_public", pubMask] : ["vpc_cidr_block_private", privMask];
      issue(
        key,
        `/${mask} is larger than the VPC range ${raw.vpc_cidr_block}; allowed: /${vpc.prefix} to /28`,
      );
      return undefined;
    }
    const carved = carve(vpc, [...Array(azCount).fill(pubMask), ...Array(azCount).fill(privMask)]);
    if (!carved) {
      issue(
        "vpc_cidr_block_private",
        `${azCount} public /${pubMask} and ${azCount} private /${privMask} subnets do not fit in ${raw.vpc_cidr_block}; use smaller subnets (larger netmask numbers), fewer availability zones or a larger VPC`,
      );
      return undefined;
    }
    publicCidrs = carved.slice(0, azCount);
    privateCidrs = carved.slice(azCount);
  }
  if (azCount > azAvailable) {
    issue(
      Array.isArray(pub) ? "vpc_cidr_block_public" : "availability_zone_count",
      `${azCount} availability zones requested but ${raw.region} has ${azAvailable}; allowed: 2 to ${azAvailable}`,
    );
  }
  if (azCount < 2)
    issue("availability_zone_count", `${azCount} is not allowed; EKS needs at least 2 availability zones`);
  if (raw.nat_gateway_per_az && raw.enable_private_subnet) {
    issue(
      "nat_gateway_per_az",
      "true has no effect with enable_private_subnet true (no NAT gateways are created)",
    );
  }
  return {
    vpcCidr: raw.vpc_cidr_block,
    azCount,
    publicSubnetCidrs: publicCidrs.map(formatCidr),
    privateSubnetCidrs: privateCidrs.map(formatCidr),
    enablePrivateSubnet: raw.enable_private_subnet,
    natGatewayPerAz: raw.nat_gateway_per_az,
    allowedAccessCidrBlocks: [...raw.allowed_access_cidr_blocks],
  };
}

/** A custom image when the config names a repository or a tag; undefined keeps the grid's stock image. */
function customImage(
  given: { image?: string; tag?: string; pullPolicy?: ImageRef["pullPolicy"] } | undefined,
  defaultRepo: string,
  defaultTag: string,
): ImageRef | undefined {
  if (given?.image === undefined && given?.tag === undefined) return undefined;
  return {
    repository: given.image ?? defaultRepo,
    tag: given.tag ?? defaultTag,
    pullPolicy: given.pullPolicy ?? "IfNotPresent",
  };
}

function normalizeAgent(
  raw: RawGridConfig,
  issue: (path: string, message: string) => void,
): AgentConfig | undefined {
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
  const ecr = raw.aws_htc_ecr === "" ? undefined : raw.aws_htc_ecr.replace(/\/$/, "");
  const repo = (name: string) => (ecr ? `${ecr}/${name}` : name);
  // Without a worker location the built-in mock compute engine (Node.js) runs; upstream's default runtime was
  // `provided` (its C++ engine), which stays the default when a location is given.
  const builtinWorker = location === undefined;
  const runtime = l.runtime ?? (builtinWorker ? BUILTIN_WORKER_RUNTIME : "provided");
  const workerImage = customImage(
    l.image === undefined ? undefined : { image: l.image, tag: runtime, pullPolicy: l.pullPolicy },
    repo("lambda"),
    runtime,
  );
  const stockRuntime = WORKER_RUNTIMES[runtime];
  if (workerImage === undefined && stockRuntime === undefined) {
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
  if (handler === undefined) {
    issue(
      "agent_configuration.lambda.lambda_handler_file_name",
      `runtime ${show(runtime)} needs a handler: set lambda_handler_file_name and lambda_handler_function_name (e.g. "mock_compute_engine" and "lambda_handler")`,
    );
  }
  return {
    name: raw.htc_agent_name,
    namespace: raw.htc_agent_namespace,
    minAgents: raw.min_htc_agents,
    maxAgents: raw.max_htc_agents,
    targetValue: raw.htc_agent_target_value,
    gracefulTerminationDelaySec: raw.graceful_termination_delay,
    ecrRegistry: ecr,
    agent: {
      image: customImage(ac.agent, repo("awshpc-lambda"), tag),
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
      functionName: l.function_name ?? "function",
      handler: handler ?? "",
    },
    getLayer: customImage(ac.get_layer, repo("lambda-init"), tag),
    test: customImage(ac.test, repo("submitter"), tag),
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

function normalizeBackend(
  raw: RawGridConfig,
  env: ConfigEnvironment,
  issue: (path: string, message: string) => void,
): BackendConfig | undefined {
  // The environment overrides the file so CI systems can switch state backends without editing the config.
  // An empty variable counts as unset.
  env = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const type = env.HTCGRID_BACKEND ?? raw.backend.type;
  const fromFile = raw.backend;
  if (type === "local") return { type: "local" };
  if (type === "s3") {
    const bucket = env.HTCGRID_STATE_BUCKET ?? (fromFile.type === "s3" ? fromFile.bucket : undefined);
    if (!bucket) {
      issue("backend.bucket", "is required for the s3 backend (or set HTCGRID_STATE_BUCKET)");
      return undefined;
    }
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket))
      issue("backend.bucket", `${show(bucket)} is not a valid S3 bucket name`);
    const f = fromFile.type === "s3" ? fromFile : undefined;
    const kmsKeyId = env.HTCGRID_STATE_KMS_KEY ?? f?.kms_key_id;
    if (kmsKeyId !== undefined && !KMS_KEY_REF.test(kmsKeyId)) {
      issue(
        "backend.kms_key_id",
        `${show(kmsKeyId)} is not a KMS key reference Terraform's S3 backend accepts; allowed: a key ARN or id (UUID v4 or mrk-...), an alias ARN, or alias/<name>`,
      );
    }
    return {
      type: "s3",
      bucket,
      keyPrefix: env.HTCGRID_STATE_KEY_PREFIX ?? f?.key_prefix ?? `htc-grid/${raw.project_name}`,
      region: env.HTCGRID_STATE_REGION ?? f?.region ?? raw.region,
      kmsKeyId,
      dynamodbTable: env.HTCGRID_STATE_LOCK_TABLE ?? f?.dynamodb_table,
    };
  }
  if (type === "cloud") {
    const f = fromFile.type === "cloud" ? fromFile : undefined;
    const organization = env.TF_CLOUD_ORGANIZATION ?? f?.organization;
    if (!organization) {
      issue("backend.organization", "is required for the cloud backend (or set TF_CLOUD_ORGANIZATION)");
      return undefined;
    }
    return {
      type: "cloud",
      organization,
      hostname: env.TF_CLOUD_HOSTNAME ?? f?.hostname ?? "app.terraform.io",
      workspacePrefix: env.HTCGRID_WORKSPACE_PREFIX ?? f?.workspace_prefix ?? `htc-${raw.project_name}-`,
    };
  }
  issue(
    env.HTCGRID_BACKEND !== undefined ? "HTCGRID_BACKEND" : "backend.type",
    `${show(type)} is not allowed; allowed: "local", "s3", "cloud"`,
  );
  return undefined;
}
