// What every stack shares: its state backend and the AWS provider with the grid's default tags. Tags are applied
// here, once, through provider default_tags, never per resource.
import { TerraformStack, LocalBackend, S3Backend, CloudBackend, NamedCloudWorkspace } from "cdktf";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import type { BackendConfig, GridConfig } from "../modules/config/model";

/** Stack names; also the state key / workspace suffix of each stack. Renaming one moves its state. */
export const STACK_NAMES = {
  bootstrap: "bootstrap",
  images: "images",
  grid: "grid",
  gridK8s: "grid-k8s",
} as const;

/** The tags every resource of the grid carries. */
export function gridTags(config: GridConfig): Record<string, string> {
  return {
    ...config.tags,
    "htc:project": config.projectName,
    "htc:grid": config.clusterName,
    "managed-by": "cdktf",
  };
}

/**
 * Where a stack with local state keeps it: `terraform.<stack>.tfstate` in the project root (cdktf's own default
 * location, outside cdktf.out/ so a fresh synth never touches it), written relative to the stack's folder. cdktf
 * runs Terraform in `cdktf.out/stacks/<stack>`, and a cross-stack `terraform_remote_state` reuses the producer's
 * path from its own folder, which sits at the same depth: both resolve to the same file. (A bare
 * `terraform.<stack>.tfstate` resolved to two different folders; an absolute path would tie the synthesized JSON
 * to one machine.)
 */
export function localStatePath(stackName: string): string {
  return `../../../terraform.${stackName}.tfstate`;
}

/** Attach the configured backend (local, S3 or Terraform Cloud) to a stack. */
export function applyBackend(stack: TerraformStack, backend: BackendConfig, stackName: string): void {
  switch (backend.type) {
    case "local":
      new LocalBackend(stack, { path: localStatePath(stackName) });
      return;
    case "s3":
      new S3Backend(stack, {
        bucket: backend.bucket,
        key: `${backend.keyPrefix}/${stackName}.tfstate`,
        region: backend.region,
        encrypt: true,
        kmsKeyId: backend.kmsKeyId,
        dynamodbTable: backend.dynamodbTable,
      });
      // S3 native locking (Terraform >= 1.10) unless a DynamoDB lock table is configured; cdktf 0.21's
      // S3Backend predates the `use_lockfile` argument.
      if (!backend.dynamodbTable) stack.addOverride("terraform.backend.s3.use_lockfile", true);
      return;
    case "cloud":
      new CloudBackend(stack, {
        organization: backend.organization,
        hostname: backend.hostname,
        workspaces: new NamedCloudWorkspace(`${backend.workspacePrefix}${stackName}`),
      });
      return;
  }
}

/** The AWS provider for the grid's region with the grid's default tags. */
export function gridAwsProvider(stack: TerraformStack, config: GridConfig): AwsProvider {
  return new AwsProvider(stack, "aws", {
    region: config.region,
    defaultTags: [{ tags: gridTags(config) }],
  });
}
