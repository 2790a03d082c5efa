// State backend: local, S3 or Terraform Cloud, from the file or (overriding it) the environment.
import type { BackendConfig } from "../model";
import { REGION_AZ_COUNT } from "../regions";
import type { RawGridConfig } from "../schema";
import { checkArnPartition } from "./identity";
import { show, type ConfigEnvironment, type IssueSink } from "./issues";

/** Stack names (stacks/common.ts STACK_NAMES); the longest one bounds a workspace prefix. */
const LONGEST_STACK_NAME = "bootstrap";
/** Terraform Cloud's limit on workspace names. */
const WORKSPACE_NAME_MAX = 90;

const KEY_ID = "(?:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}|mrk-[0-9a-f]{32})";
/** What Terraform's S3 backend accepts as kms_key_id (it checks key ids are UUID v4 or multi-Region). */
const KMS_KEY_REF = new RegExp(
  `^(?:arn:aws(?:-cn|-us-gov)?:kms:[a-z0-9-]+:\\d{12}:(?:key/${KEY_ID}|alias/[A-Za-z0-9/_-]+)|alias/[A-Za-z0-9/_-]+|${KEY_ID})$`,
);

export function normalizeBackend(
  raw: RawGridConfig,
  env: ConfigEnvironment,
  issue: IssueSink,
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
      issue(
        env.HTCGRID_STATE_BUCKET !== undefined ? "HTCGRID_STATE_BUCKET" : "backend.bucket",
        `${show(bucket)} is not a valid S3 bucket name`,
      );
    const f = fromFile.type === "s3" ? fromFile : undefined;
    const kmsKeyId = env.HTCGRID_STATE_KMS_KEY ?? f?.kms_key_id;
    const where = (key: string, variable: string) =>
      env[variable] !== undefined ? variable : `backend.${key}`;
    if (kmsKeyId !== undefined && !KMS_KEY_REF.test(kmsKeyId)) {
      issue(
        where("kms_key_id", "HTCGRID_STATE_KMS_KEY"),
        `${show(kmsKeyId)} is not a KMS key reference Terraform's S3 backend accepts; allowed: a key ARN or id (UUID v4 or mrk-...), an alias ARN, or alias/<name>`,
      );
    } else if (kmsKeyId !== undefined) {
      checkArnPartition(where("kms_key_id", "HTCGRID_STATE_KMS_KEY"), kmsKeyId, raw.region, issue);
    }
    const keyPrefix = env.HTCGRID_STATE_KEY_PREFIX ?? f?.key_prefix ?? `htc-grid/${raw.project_name}`;
    // Terraform's S3 backend refuses keys that start or end with "/" or hold "//".
    if (
      !/^[A-Za-z0-9!_.*'()\-/]+$/.test(keyPrefix) ||
      keyPrefix.startsWith("/") ||
      keyPrefix.endsWith("/") ||
      keyPrefix.includes("//")
    )
      issue(
        where("key_prefix", "HTCGRID_STATE_KEY_PREFIX"),
        `${show(keyPrefix)} is not allowed as an S3 backend key prefix; allowed: letters, digits and ! _ . * ' ( ) - / with no leading, trailing or doubled "/"`,
      );
    const region = env.HTCGRID_STATE_REGION ?? f?.region ?? raw.region;
    if (REGION_AZ_COUNT[region] === undefined)
      issue(where("region", "HTCGRID_STATE_REGION"), `unknown region ${show(region)}`);
    const dynamodbTable = env.HTCGRID_STATE_LOCK_TABLE ?? f?.dynamodb_table;
    if (dynamodbTable !== undefined && !/^[A-Za-z0-9_.-]{3,255}$/.test(dynamodbTable))
      issue(
        where("dynamodb_table", "HTCGRID_STATE_LOCK_TABLE"),
        `${show(dynamodbTable)} is not a DynamoDB table name; allowed: 3 to 255 letters, digits, "_", "." or "-"`,
      );
    return { type: "s3", bucket, keyPrefix, region, kmsKeyId, dynamodbTable };
  }
  if (type === "cloud") {
    const f = fromFile.type === "cloud" ? fromFile : undefined;
    const organization = env.TF_CLOUD_ORGANIZATION ?? f?.organization;
    if (!organization) {
      issue("backend.organization", "is required for the cloud backend (or set TF_CLOUD_ORGANIZATION)");
      return undefined;
    }
    const where = (key: string, variable: string) =>
      env[variable] !== undefined ? variable : `backend.${key}`;
    if (!/^[A-Za-z0-9_-]{1,40}$/.test(organization))
      issue(
        where("organization", "TF_CLOUD_ORGANIZATION"),
        `${show(organization)} is not a Terraform Cloud organization name; allowed: letters, digits, "_" and "-"`,
      );
    const hostname = env.TF_CLOUD_HOSTNAME ?? f?.hostname ?? "app.terraform.io";
    if (!/^[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::\d{1,5})?$/i.test(hostname))
      issue(
        where("hostname", "TF_CLOUD_HOSTNAME"),
        `${show(hostname)} is not a host name (e.g. "app.terraform.io")`,
      );
    const workspacePrefix = env.HTCGRID_WORKSPACE_PREFIX ?? f?.workspace_prefix ?? `htc-${raw.project_name}-`;
    if (
      !/^[A-Za-z0-9_-]*$/.test(workspacePrefix) ||
      `${workspacePrefix}${LONGEST_STACK_NAME}`.length > WORKSPACE_NAME_MAX
    )
      issue(
        where("workspace_prefix", "HTCGRID_WORKSPACE_PREFIX"),
        `${show(workspacePrefix)} is not allowed; workspace names "<prefix><stack>" take letters, digits, "_" and "-", at most ${WORKSPACE_NAME_MAX} characters`,
      );
    return { type: "cloud", organization, hostname, workspacePrefix };
  }
  issue(
    env.HTCGRID_BACKEND !== undefined ? "HTCGRID_BACKEND" : "backend.type",
    `${show(type)} is not allowed; allowed: "local", "s3", "cloud"`,
  );
  return undefined;
}
