// Turns a schema-valid raw config (either key set) into the normalized GridConfig, collecting every semantic
// problem (ranges, CIDR layout, name rules) as a path-addressed issue instead of stopping at the first. Each
// config area has its own module; this one runs them in order and assembles the model.
import type { GridConfig } from "../model";
import { REGION_AZ_COUNT } from "../regions";
import type { RawGridConfig } from "../schema";
import { PROJECT_NAME_PATTERN } from "../../naming/names";
import { editDistance } from "../text";
import { normalizeAgent } from "./agent";
import { normalizeBackend } from "./backend";
import { isRoleArn, normalizeComputePlane } from "./compute-plane";
import { normalizeControlPlane } from "./control-plane";
import { normalizeDataPlane } from "./data-plane";
import { flag, show, type ConfigEnvironment, type ConfigIssue, type IssueSink } from "./issues";
import { checkCidrList, normalizeNetwork } from "./network";

export { parseLooseJson, show, type ConfigEnvironment, type ConfigIssue } from "./issues";

export function normalizeConfig(
  raw: RawGridConfig,
  env: ConfigEnvironment = {},
): { config?: GridConfig; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  const issue: IssueSink = (path, message) => issues.push({ path, message });

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

  const dataPlane = normalizeDataPlane(raw, issue);
  const controlPlane = normalizeControlPlane(raw, issue);
  const network = normalizeNetwork(raw, azAvailable ?? 6, issue);
  const computePlane = normalizeComputePlane(raw, issue);
  checkCidrList("allowed_access_cidr_blocks", raw.allowed_access_cidr_blocks, issue, { allowPublic: true });
  raw.kms_key_admin_roles.forEach((arn, i) => {
    if (!isRoleArn(arn)) issue(`kms_key_admin_roles[${i}]`, `${show(arn)} is not an IAM role ARN`);
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

  for (const [key, value] of Object.entries(raw.tags)) {
    if (key.toLowerCase().startsWith("aws:"))
      issue(`tags.${key}`, `tag keys starting with "aws:" are reserved by AWS (value ${show(value)})`);
  }

  if (issues.length > 0 || !network || !controlPlane || !agent || !backend) return { issues };
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
  return { config, issues };
}
