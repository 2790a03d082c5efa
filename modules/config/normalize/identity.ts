// Identity area: the grid's names, its region (and so its AWS partition), the ARNs that must live in that
// partition, and the tags every resource carries.
import { REGION_AZ_COUNT } from "../regions";
import type { RawGridConfig } from "../schema";
import { editDistance } from "../text";
import { PROJECT_NAME_PATTERN } from "../../naming/names";
import { show, type IssueSink } from "./issues";

/** The tags the grid sets itself on every resource (stacks/common.ts `gridTags`); a config cannot override them. */
export const GRID_OWN_TAG_KEYS = ["htc:project", "htc:grid", "managed-by"] as const;

/** AWS tag limits shared by every service the grid tags (IAM, S3, EC2, EKS, ...). */
const TAG_LIMITS = { maxTags: 50, maxKeyLength: 128, maxValueLength: 256 } as const;
/** Characters every tagging service accepts: letters, digits, spaces and _ . : / = + - @ (EC2 accepts more). */
const TAG_TEXT = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

/** The AWS partition of a region: China and GovCloud regions have their own ARN prefix. */
export function partitionOf(region: string): "aws" | "aws-cn" | "aws-us-gov" {
  if (region.startsWith("cn-")) return "aws-cn";
  if (region.startsWith("us-gov-")) return "aws-us-gov";
  return "aws";
}

/** The partition named by an ARN, or undefined when the text is no ARN. */
function arnPartition(arn: string): string | undefined {
  return /^arn:([a-z-]+):/.exec(arn)?.[1];
}

/**
 * Checks that an ARN lives in the grid's partition: an `arn:aws:` role cannot be used in a China region (and the
 * other way round), and AWS refuses it only at apply time.
 */
export function checkArnPartition(path: string, arn: string, region: string, issue: IssueSink): void {
  const expected = partitionOf(region);
  const actual = arnPartition(arn);
  if (actual !== undefined && actual !== expected) {
    issue(
      path,
      `${show(arn)} is in partition "${actual}" but region ${region} is in "${expected}"; allowed: an ARN starting "arn:${expected}:"`,
    );
  }
}

/** Project name, cluster name and region. Returns the number of AZs the region offers (undefined if unknown). */
export function checkIdentity(raw: RawGridConfig, issue: IssueSink): number | undefined {
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
  return azAvailable;
}

/** Tags the grid adds on its nodes' instances and volumes besides its own (modules/compute-plane/node-groups.ts). */
export const GRID_NODE_TAG_KEYS = ["Name", "htc/node-type"] as const;

/** The config's extra tags against AWS's tag rules and the grid's own tags. */
export function checkTags(tags: Record<string, string>, issue: IssueSink): void {
  const entries = Object.entries(tags);
  const gridSets = [...GRID_OWN_TAG_KEYS, ...GRID_NODE_TAG_KEYS];
  const room = TAG_LIMITS.maxTags - gridSets.length;
  if (entries.length > room) {
    issue(
      "tags",
      `${entries.length} tags is too many; AWS allows ${TAG_LIMITS.maxTags} per resource and the grid sets up to ${gridSets.length} itself (${gridSets.join(", ")}, the last two on its nodes); allowed: at most ${room}`,
    );
  }
  for (const [key, value] of entries) {
    const path = `tags.${key}`;
    if ((GRID_OWN_TAG_KEYS as readonly string[]).includes(key)) {
      issue(path, `${show(key)} is set by the grid itself on every resource; choose another key`);
    } else if (key.toLowerCase().startsWith("aws:")) {
      issue(path, `tag keys starting with "aws:" are reserved by AWS (value ${show(value)})`);
    }
    if (key.length < 1 || key.length > TAG_LIMITS.maxKeyLength)
      issue(path, `the key has ${key.length} characters; allowed: 1 to ${TAG_LIMITS.maxKeyLength}`);
    else if (!TAG_TEXT.test(key))
      issue(
        path,
        `the key ${show(key)} is not allowed; allowed: letters, digits, spaces and _ . : / = + - @`,
      );
    if (value.length > TAG_LIMITS.maxValueLength)
      issue(
        path,
        `${show(value)} has ${value.length} characters; allowed: at most ${TAG_LIMITS.maxValueLength}`,
      );
    else if (!TAG_TEXT.test(value))
      issue(path, `${show(value)} is not allowed; allowed: letters, digits, spaces and _ . : / = + - @`);
  }
}
