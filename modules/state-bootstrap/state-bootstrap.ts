// What must exist before the other stacks: the remote-state bucket (own key, optional DynamoDB lock table) and
// the workload bucket that holds the worker lambda.zip.
import { Construct } from "constructs";
import { TerraformOutput } from "cdktf";
import { DynamodbTable } from "@cdktf/provider-aws/lib/dynamodb-table";
import type { AccountContext } from "../account/account-context";
import type { GridConfig, KmsConfig } from "../config/model";
import { GridKey } from "../kms/grid-key";
import type { GridNames } from "../naming/names";
import { GridBucket } from "../s3/grid-bucket";
import { WORKLOAD_KEY_PURPOSE, defaultWorkerZipLocation, workloadBucketName } from "./workload";

/** Base name of the remote-state bucket. */
export const STATE_BUCKET_BASE = "htc-tfstate";
/** Base name of the DynamoDB lock table (stateLocking "dynamodb"). */
export const LOCK_TABLE_BASE = "htc-tfstate-lock";

/** Terraform output names of the bootstrap stack (what an operator copies into the backend config). */
export const BOOTSTRAP_OUTPUTS = {
  stateBucketName: "state_bucket_name",
  stateKeyArn: "state_key_arn",
  lockTableName: "lock_table_name",
  workloadBucketName: "workload_bucket_name",
  workloadKeyArn: "workload_key_arn",
  workerZipLocation: "worker_zip_location",
} as const;

export interface StateBootstrapProps {
  readonly names: GridNames;
  readonly account: AccountContext;
  /** Deletion window and extra administrators of the two keys. */
  readonly kms: KmsConfig;
  /** "s3-lockfile": S3 native locking (nothing extra); "dynamodb": a lock table. */
  readonly stateLocking: GridConfig["stateLocking"];
  /**
   * Teardown switch (`allow_destroy`): the buckets are emptied (every version) on destroy and the lock table loses
   * its deletion protection. @default false
   */
  readonly allowDestroy?: boolean;
}

/** Remote-state bucket, its key and lock table, and the workload bucket. */
export class StateBootstrap extends Construct {
  public readonly stateKey: GridKey;
  public readonly stateBucket: GridBucket;
  /** Present when stateLocking is "dynamodb". */
  public readonly lockTable?: DynamodbTable;
  public readonly workloadKey: GridKey;
  public readonly workloadBucket: GridBucket;
  /** `s3://<workload bucket>/lambda.zip`. */
  public readonly workerZipLocation: string;

  constructor(scope: Construct, id: string, props: StateBootstrapProps) {
    super(scope, id);
    const { names, account, kms } = props;
    const lockTable = props.stateLocking === "dynamodb";
    const allowDestroy = props.allowDestroy ?? false;

    this.stateKey = new GridKey(this, "state-key", {
      alias: names.kmsAlias("tfstate"),
      description: `HTC-Grid ${names.projectName}: Terraform remote state`,
      account,
      deletionWindowDays: kms.deletionWindowDays,
      adminRoleArns: kms.adminRoleArns,
      viaServices: lockTable ? ["s3", "dynamodb"] : ["s3"],
    });
    this.stateBucket = new GridBucket(this, "state-bucket", {
      bucketName: names.bucketName(STATE_BUCKET_BASE, account.accountId, account.region),
      key: this.stateKey,
      // State history is the one thing that must survive a mistaken destroy: emptied only with allow_destroy.
      forceDestroy: allowDestroy,
    });
    if (lockTable) {
      this.lockTable = new DynamodbTable(this, "lock-table", {
        name: names.name("dynamodbTable", LOCK_TABLE_BASE),
        billingMode: "PAY_PER_REQUEST",
        // The attribute name Terraform's S3 backend writes.
        hashKey: "LockID",
        attribute: [{ name: "LockID", type: "S" }],
        pointInTimeRecovery: { enabled: true },
        serverSideEncryption: { enabled: true, kmsKeyArn: this.stateKey.arn },
        deletionProtectionEnabled: !allowDestroy,
      });
    }

    // A separate key: nodes that download the worker zip get decrypt on it, never on the state key.
    this.workloadKey = new GridKey(this, "workload-key", {
      alias: names.kmsAlias(WORKLOAD_KEY_PURPOSE),
      description: `HTC-Grid ${names.projectName}: worker code (lambda.zip)`,
      account,
      deletionWindowDays: kms.deletionWindowDays,
      adminRoleArns: kms.adminRoleArns,
      viaServices: ["s3"],
    });
    this.workloadBucket = new GridBucket(this, "workload-bucket", {
      bucketName: workloadBucketName(names, account),
      key: this.workloadKey,
      // Holds every version of the uploaded runtime and worker code; emptied only with allow_destroy.
      forceDestroy: allowDestroy,
    });
    this.workerZipLocation = defaultWorkerZipLocation(this.workloadBucket.name);

    const output = (name: string, value: string, description: string) =>
      new TerraformOutput(this, name, { value, description }).overrideLogicalId(name);
    output(BOOTSTRAP_OUTPUTS.stateBucketName, this.stateBucket.name, "Remote-state bucket (backend.bucket)");
    output(
      BOOTSTRAP_OUTPUTS.stateKeyArn,
      this.stateKey.arn,
      "Remote-state key ARN (backend.kms_key_id; the bucket refuses objects under any other key)",
    );
    if (this.lockTable) {
      output(BOOTSTRAP_OUTPUTS.lockTableName, this.lockTable.name, "Lock table (backend.dynamodb_table)");
    }
    output(BOOTSTRAP_OUTPUTS.workloadBucketName, this.workloadBucket.name, "Bucket of the worker lambda.zip");
    output(BOOTSTRAP_OUTPUTS.workloadKeyArn, this.workloadKey.arn, "Key of the workload bucket");
    output(BOOTSTRAP_OUTPUTS.workerZipLocation, this.workerZipLocation, "Default worker zip location");
  }
}
