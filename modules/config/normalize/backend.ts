// State backend: local, S3 or Terraform Cloud, from the file or (overriding it) the environment.
import type { BackendConfig } from "../model";
import type { RawGridConfig } from "../schema";
import { show, type ConfigEnvironment, type IssueSink } from "./issues";

const KEY_ID = "(?:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}|mrk-[0-9a-f]{32})";
/** What Terraform's S3 backend accepts as kms_key_id (it checks key ids are UUID v4 or multi-Region). */
const KMS_KEY_REF = new RegExp(
  `^(?:arn:aws(?:-cn|-us-gov)?:kms:[a-z0-9-]+:\\d{12}:(?:key/${KEY_ID}|alias/.+)|alias/.+|${KEY_ID})$`,
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
