// Compute-plane area: the EKS version and its add-on pins, the public endpoint, cluster access for IAM roles,
// the core node group and the worker node groups (either key set), and the sizes every group obeys.
import { CLUSTER_AUTOSCALER_IMAGE_TAGS } from "../../cluster-addons/versions";
import type { CapacityType, ComputePlaneConfig, InputRole, WorkerGroup } from "../model";
import type { RawGridConfig } from "../schema";
import { checkArnPartition } from "./identity";
import { show, type IssueSink } from "./issues";
import { checkCidrList, checkPublicEndpointCidrs, type PublicAccessKey } from "./network";

export const DEFAULT_CORE_GROUP = { instanceTypes: ["m6i.large"], minSize: 2, maxSize: 6, desiredSize: 2 };

/**
 * Kubernetes minors EKS offers for new clusters (standard or extended support) as of 2026-11; add a row when EKS
 * releases one, drop it when extended support ends.
 */
export const EKS_KUBERNETES_VERSIONS = ["1.32", "1.33", "1.34", "1.35", "1.36"] as const;

/** Name of the core node group; a worker group may not take it (node-groups.ts builds both from it). */
export const CORE_GROUP_NAME = "core";

const ROLE_ARN = /^arn:aws(-cn|-us-gov)?:iam::(\d{12}|\{\{account_id\}\}):role\/[\w+=,.@/-]+$/;
/** Prefixes EKS access entries refuse in user names and Kubernetes groups. */
const EKS_RESERVED_PREFIXES = ["system:", "eks:", "aws:", "amazon:", "iam:"];
/**
 * Reserved groups with an EKS access-policy equivalent (compute-plane/access.ts translates them); any other
 * reserved group is refused.
 */
const TRANSLATED_SYSTEM_GROUPS = ["system:masters"];

/**
 * EC2 instance families the grid's AL2023_x86_64_STANDARD node AMI cannot run: Graviton (arm64) families and
 * accelerated families, which need the ARM64, NVIDIA or Neuron AMI variants.
 */
const ARM_FAMILY = /^(a1|[a-z]+\d+g[a-z]*)$/;
const ACCELERATED_FAMILY =
  /^(p\d+[a-z]*|g\d+[a-z]*|gr\d+[a-z]*|inf\d+[a-z]*|trn\d+[a-z]*|dl\d+[a-z]*|f\d+[a-z]*|vt\d+[a-z]*)$/;

/** Problems with a list of EC2 instance types for the grid's node AMI, one issue per bad entry. */
export function checkInstanceTypes(path: string, types: string[], issue: IssueSink): void {
  if (types.length === 0) issue(path, `[] is not allowed; list at least one instance type`);
  const seen = new Map<string, number>();
  types.forEach((t, j) => {
    const at = `${path}[${j}]`;
    const m = /^([a-z][a-z0-9-]*)\.([a-z0-9]+)$/.exec(t);
    if (!m) {
      issue(at, `${show(t)} is not an EC2 instance type (e.g. "m5.xlarge")`);
      return;
    }
    const family = m[1];
    if (seen.has(t)) issue(at, `${show(t)} is already listed at ${path}[${seen.get(t)}]`);
    seen.set(t, j);
    if (ARM_FAMILY.test(family)) {
      issue(
        at,
        `${show(t)} is a Graviton (arm64) type; the grid's nodes run the x86_64 AL2023 AMI; allowed: x86_64 types such as "m6i.xlarge", "m5.xlarge", "c6i.2xlarge"`,
      );
    } else if (ACCELERATED_FAMILY.test(family)) {
      issue(
        at,
        `${show(t)} is an accelerated (GPU/Inferentia/Trainium/FPGA) type, which needs an AMI variant the grid does not configure; allowed: x86_64 general-purpose, compute- or memory-optimized types`,
      );
    }
  });
}

export function normalizeComputePlane(
  raw: RawGridConfig,
  acknowledged: ReadonlySet<PublicAccessKey>,
  issue: IssueSink,
): ComputePlaneConfig | undefined {
  const workerGroups = normalizeWorkerGroups(raw.eks_worker_groups, issue);
  const core = {
    instanceTypes: raw.core_node_group.instance_types ?? DEFAULT_CORE_GROUP.instanceTypes,
    minSize: raw.core_node_group.min_size ?? DEFAULT_CORE_GROUP.minSize,
    maxSize: raw.core_node_group.max_size ?? DEFAULT_CORE_GROUP.maxSize,
    desiredSize: raw.core_node_group.desired_size ?? DEFAULT_CORE_GROUP.desiredSize,
  };
  checkInstanceTypes("core_node_group.instance_types", core.instanceTypes, issue);
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

  // Kubernetes version and the add-on pins that must match it.
  const version = raw.kubernetes_version;
  const knownVersion = (EKS_KUBERNETES_VERSIONS as readonly string[]).includes(version);
  if (!knownVersion) {
    issue(
      "kubernetes_version",
      `${show(version)} is not a Kubernetes version EKS offers; allowed: ${EKS_KUBERNETES_VERSIONS.map((v) => `"${v}"`).join(", ")}`,
    );
  }
  let autoscalerTag: string | undefined = raw.k8s_ca_version ?? CLUSTER_AUTOSCALER_IMAGE_TAGS[version];
  if (raw.k8s_ca_version !== undefined) {
    const m = /^v(\d+\.\d+)\.\d+$/.exec(raw.k8s_ca_version);
    if (!m) {
      issue(
        "k8s_ca_version",
        `${show(raw.k8s_ca_version)} is not a cluster-autoscaler image tag; allowed: "v<major>.<minor>.<patch>", e.g. "v${version}.0"`,
      );
      autoscalerTag = undefined;
    } else if (knownVersion && m[1] !== version) {
      issue(
        "k8s_ca_version",
        `${show(raw.k8s_ca_version)} is for Kubernetes ${m[1]} but kubernetes_version is ${show(version)}; the autoscaler must match the cluster's minor; allowed: "v${version}.<patch>"`,
      );
    }
  } else if (knownVersion && autoscalerTag === undefined) {
    issue(
      "kubernetes_version",
      `${show(version)} has no pinned cluster-autoscaler image (pinned for ${Object.keys(CLUSTER_AUTOSCALER_IMAGE_TAGS).join(", ")}); set k8s_ca_version to a cluster-autoscaler tag of the same minor, e.g. "v${version}.0"`,
    );
  }
  if (raw.k8s_keda_version !== undefined && !/^\d+\.\d+\.\d+$/.test(raw.k8s_keda_version)) {
    issue(
      "k8s_keda_version",
      `${show(raw.k8s_keda_version)} is not a KEDA chart version; allowed: "<major>.<minor>.<patch>", e.g. "2.20.1"`,
    );
  }

  // The API endpoint: private access is always on; public access only for listed CIDRs.
  if (raw.eks_public_access && raw.eks_public_access_cidrs.length === 0) {
    issue(
      "eks_public_access_cidrs",
      `[] is not allowed when eks_public_access is true; list the public CIDRs that may reach the API server, e.g. ["203.0.113.7/32"] for the machine that runs cdktf deploy`,
    );
  }
  if (!raw.eks_public_access && raw.eks_public_access_cidrs.length > 0) {
    issue(
      "eks_public_access_cidrs",
      `${show(raw.eks_public_access_cidrs)} has no effect while eks_public_access is false; remove it or enable public access`,
    );
  }
  const endpointCidrs = checkDeployerPlaceholders(
    "eks_public_access_cidrs",
    raw.eks_public_access_cidrs,
    issue,
  );
  const parsedEndpoint = checkCidrList("eks_public_access_cidrs", endpointCidrs, issue, {
    allowPublic: acknowledged.has("eks_public_access_cidrs"),
    publicAccessKey: "eks_public_access_cidrs",
  });
  if (parsedEndpoint.length === endpointCidrs.length)
    checkPublicEndpointCidrs("eks_public_access_cidrs", endpointCidrs, issue);
  checkCidrList("grafana_allowed_cidrs", raw.grafana_allowed_cidrs, issue, {
    allowPublic: acknowledged.has("grafana_allowed_cidrs"),
    publicAccessKey: "grafana_allowed_cidrs",
  });
  if (raw.grafana_allowed_cidrs.length > 0 && !raw.enable_monitoring) {
    issue(
      "grafana_allowed_cidrs",
      `${show(raw.grafana_allowed_cidrs)} has no effect while enable_monitoring is false`,
    );
  }

  // Cluster access for IAM roles (EKS access entries).
  const inputRoles: InputRole[] = raw.input_role.map((r, i) => {
    const path = `input_role[${i}]`;
    if (!ROLE_ARN.test(r.rolearn)) {
      issue(
        `${path}.rolearn`,
        `${show(r.rolearn)} is not an IAM role ARN (arn:aws:iam::<12-digit account or {{account_id}}>:role/<name>)`,
      );
    } else checkArnPartition(`${path}.rolearn`, r.rolearn, raw.region, issue);
    if (r.username.trim() === "") issue(`${path}.username`, `"" is not allowed; give a Kubernetes user name`);
    const reservedUser = EKS_RESERVED_PREFIXES.find((p) => r.username.startsWith(p));
    if (reservedUser)
      issue(
        `${path}.username`,
        `${show(r.username)} starts with "${reservedUser}", a prefix EKS reserves (${EKS_RESERVED_PREFIXES.join(", ")}); choose another user name`,
      );
    r.groups.forEach((g, j) => {
      const reserved = EKS_RESERVED_PREFIXES.find((p) => g.startsWith(p));
      if (reserved && !TRANSLATED_SYSTEM_GROUPS.includes(g))
        issue(
          `${path}.groups[${j}]`,
          `${show(g)} is a reserved Kubernetes group that EKS access entries refuse and that has no access-policy equivalent; allowed reserved groups: ${TRANSLATED_SYSTEM_GROUPS.join(", ")}, or any group not starting with ${EKS_RESERVED_PREFIXES.join(", ")}`,
        );
      else if (g.trim() === "")
        issue(`${path}.groups[${j}]`, `"" is not allowed; give a Kubernetes group name`);
    });
    return { roleArn: r.rolearn, username: r.username, groups: [...r.groups] };
  });
  const seenRoles = new Map<string, number>();
  raw.input_role.forEach((r, i) => {
    if (seenRoles.has(r.rolearn))
      issue(
        `input_role[${i}].rolearn`,
        `${show(r.rolearn)} is already listed at input_role[${seenRoles.get(r.rolearn)}]; each role gets one access entry`,
      );
    seenRoles.set(r.rolearn, i);
  });
  if (autoscalerTag === undefined) return undefined;
  return {
    kubernetesVersion: version,
    workerGroups,
    coreGroup: core,
    nodeVolumeSizeGb: raw.eks_node_volume_size,
    inputRoles,
    publicEndpoint: raw.eks_public_access,
    publicEndpointCidrs: [...raw.eks_public_access_cidrs],
    deployerInsideVpc: raw.deployer_inside_vpc,
    clusterAutoscalerImageTag: autoscalerTag,
    kedaChartVersion: raw.k8s_keda_version,
    monitoring: { enabled: raw.enable_monitoring, grafanaAllowedCidrs: [...raw.grafana_allowed_cidrs] },
  };
}

/**
 * The placeholder `npm run generate` writes when it was not told the deployer's address. Refused with a message
 * that says exactly what to put there.
 */
export const DEPLOYER_CIDR_PLACEHOLDER = "<your-public-ip>/32";

function checkDeployerPlaceholders(path: string, cidrs: string[], issue: IssueSink): string[] {
  const rest: string[] = [];
  cidrs.forEach((text, i) => {
    if (text === DEPLOYER_CIDR_PLACEHOLDER) {
      issue(
        `${path}[${i}]`,
        `${show(text)} is a placeholder: replace it with the public address of the machine that runs cdktf deploy (grid-k8s's helm and kubernetes providers connect from there), e.g. "203.0.113.7/32" from \`curl -s https://checkip.amazonaws.com\`, or re-run \`npm run generate -- --deployer-cidr <cidr> --force\`. If you deploy from inside the VPC instead, set eks_public_access false, remove eks_public_access_cidrs and set deployer_inside_vpc true`,
      );
    } else rest.push(text);
  });
  return rest.length === cidrs.length ? cidrs : [];
}

/** An IAM role ARN as the config accepts it (a 12-digit account or the `{{account_id}}` placeholder). */
export function isRoleArn(text: string): boolean {
  return ROLE_ARN.test(text);
}

export function checkSizes(
  base: string,
  minKey: string,
  maxKey: string,
  desiredKey: string,
  min: number,
  max: number,
  desired: number,
  issue: IssueSink,
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

export function normalizeWorkerGroups(
  groups: RawGridConfig["eks_worker_groups"],
  issue: IssueSink,
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
    if (name.toLowerCase() === CORE_GROUP_NAME) {
      issue(
        `${path}.${nameKey}`,
        `${show(name)} is reserved for the grid's core node group (system add-ons); choose another name`,
      );
    }
    if (names.has(name)) {
      issue(
        `${path}.${nameKey}`,
        `${show(name)} duplicates eks_worker_groups[${names.get(name)}]; node group names must be unique`,
      );
    }
    names.set(name, i);
    checkInstanceTypes(`${path}.${typesKey}`, types, issue);
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
