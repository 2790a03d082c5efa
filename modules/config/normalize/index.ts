// Turns a schema-valid raw config (either key set) into the normalized GridConfig, collecting every semantic
// problem (ranges, CIDR layout, name rules, what AWS, EKS or a chart would refuse) as a path-addressed issue
// instead of stopping at the first. Each config area has its own module; this one runs them and assembles the
// model, whose strings then go through the one Terraform-escaping step (../terraform-literal.ts).
import type { GridConfig } from "../model";
import type { RawGridConfig } from "../schema";
import { terraformLiterals } from "../terraform-literal";
import { normalizeAgent } from "./agent";
import { normalizeBackend } from "./backend";
import { isRoleArn, normalizeComputePlane } from "./compute-plane";
import { normalizeControlPlane } from "./control-plane";
import { normalizeDataPlane } from "./data-plane";
import { checkArnPartition, checkIdentity, checkTags } from "./identity";
import { flag, show, type ConfigEnvironment, type ConfigIssue, type IssueSink } from "./issues";
import { checkCidrList, checkPublicAccessAcknowledgements, normalizeNetwork } from "./network";

export { parseLooseJson, show, type ConfigEnvironment, type ConfigIssue } from "./issues";

export function normalizeConfig(
  raw: RawGridConfig,
  env: ConfigEnvironment = {},
): { config?: GridConfig; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  const issue: IssueSink = (path, message) => issues.push({ path, message });

  const azAvailable = checkIdentity(raw, issue);
  const acknowledged = checkPublicAccessAcknowledgements(raw, issue);
  const dataPlane = normalizeDataPlane(raw, issue);
  const controlPlane = normalizeControlPlane(raw, issue);
  const network = normalizeNetwork(raw, azAvailable ?? 6, issue);
  checkCidrList("allowed_access_cidr_blocks", raw.allowed_access_cidr_blocks, issue, {
    allowPublic: acknowledged.has("allowed_access_cidr_blocks"),
    publicAccessKey: "allowed_access_cidr_blocks",
  });
  const computePlane = normalizeComputePlane(raw, acknowledged, issue);
  raw.kms_key_admin_roles.forEach((arn, i) => {
    if (!isRoleArn(arn)) issue(`kms_key_admin_roles[${i}]`, `${show(arn)} is not an IAM role ARN`);
    else checkArnPartition(`kms_key_admin_roles[${i}]`, arn, raw.region, issue);
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
  const agent = normalizeAgent(raw, issue);
  const backend = normalizeBackend(raw, env, issue);
  checkTags(raw.tags, issue);

  if (issues.length > 0 || !network || !dataPlane || !controlPlane || !computePlane || !agent || !backend)
    return { issues };
  const projectName = raw.project_name;
  const config: GridConfig = {
    projectName,
    region: raw.region,
    clusterName: `${raw.cluster_name}-${projectName}`,
    network,
    kms: { deletionWindowDays: raw.kms_deletion_window, adminRoleArns: [...raw.kms_key_admin_roles] },
    dataPlane,
    controlPlane,
    computePlane,
    agent,
    dataBucketBaseName: raw.s3_bucket,
    logRetentionDays: raw.log_retention_days,
    ecrImmutableTags: raw.ecr_immutable_tags,
    stateLocking: raw.state_locking,
    backend,
    tags: { ...raw.tags },
  };
  // Checked on the raw values (lengths, characters), escaped once for Terraform.
  return { config: terraformLiterals(config), issues };
}
