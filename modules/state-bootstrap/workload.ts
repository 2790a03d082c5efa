// Where the worker lambda.zip lives by default. The bootstrap stack creates the workload bucket; the grid stack
// needs its name but never reads the bootstrap stack's (local) state, so both derive it here, in one place.
import type { AccountContext } from "../account/account-context";
import type { GridNames } from "../naming/names";

/** Base name of the workload bucket (`<base>-<project>-<account>-<region>`). */
export const WORKLOAD_BUCKET_BASE = "htc-workload";
/** Object key of the default worker zip inside the workload bucket. */
export const WORKER_ZIP_KEY = "lambda.zip";
/** KMS alias purpose of the workload bucket's key (`alias/htc/<project>/workload`). */
export const WORKLOAD_KEY_PURPOSE = "workload";

/** Name of the workload bucket for this grid and account (the account id is a Terraform token). */
export function workloadBucketName(names: GridNames, account: Pick<AccountContext, "accountId" | "region">) {
  return names.bucketName(WORKLOAD_BUCKET_BASE, account.accountId, account.region);
}

/** `s3://<workload bucket>/lambda.zip`, the worker zip agents download when no location is configured. */
export function defaultWorkerZipLocation(bucketName: string): string {
  return `s3://${bucketName}/${WORKER_ZIP_KEY}`;
}

/** Alias of the workload bucket's key, for a `data aws_kms_alias` lookup in another stack. */
export function workloadKeyAlias(names: GridNames): string {
  return names.kmsAlias(WORKLOAD_KEY_PURPOSE);
}
