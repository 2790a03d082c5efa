// Compute-plane area: worker node groups (either key set), the core group, and the sizes every group obeys.
import type { CapacityType, ComputePlaneConfig, InputRole, WorkerGroup } from "../model";
import type { RawGridConfig } from "../schema";
import { show, type IssueSink } from "./issues";
import { checkCidrList } from "./network";

export const DEFAULT_CORE_GROUP = { instanceTypes: ["m6i.large"], minSize: 2, maxSize: 6, desiredSize: 2 };

const ROLE_ARN = /^arn:aws(-cn|-us-gov)?:iam::(\d{12}|\{\{account_id\}\}):role\/[\w+=,.@/-]+$/;

export function normalizeComputePlane(raw: RawGridConfig, issue: IssueSink): ComputePlaneConfig {
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
  if (raw.grafana_allowed_cidrs.length > 0 && !raw.enable_monitoring) {
    issue(
      "grafana_allowed_cidrs",
      `${show(raw.grafana_allowed_cidrs)} has no effect while enable_monitoring is false`,
    );
  }
  const inputRoles: InputRole[] = raw.input_role.map((r, i) => {
    if (!ROLE_ARN.test(r.rolearn)) {
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
  return {
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
  };
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
