// Every customer-managed key of the grid stack, one per store, made in one place so key policies stay uniform.
import { Construct } from "constructs";
import type { AccountContext } from "../account/account-context";
import type { KmsConfig } from "../config/model";
import type { GridNames } from "../naming/names";
import { GridKey } from "./grid-key";

export interface GridKeysProps {
  readonly kms: KmsConfig;
  readonly account: AccountContext;
  readonly names: GridNames;
}

/** The grid stack's keys: one per store, each usable only through the service that owns the store. */
export class GridKeys extends Construct {
  /** DynamoDB state table. */
  public readonly stateTable: GridKey;
  /** SQS task queues and their dead-letter queues. */
  public readonly taskQueues: GridKey;
  /** S3 data bucket (task payloads). */
  public readonly dataBucket: GridKey;
  /** ElastiCache Redis at rest. */
  public readonly redis: GridKey;
  /** Secrets Manager secrets (Redis AUTH token, private API key copy). */
  public readonly secrets: GridKey;
  /** Every CloudWatch log group of the grid (flow logs, Lambdas, API access logs, EKS, errors). */
  public readonly logs: GridKey;
  /** EKS envelope encryption of Kubernetes secrets. */
  public readonly eksSecrets: GridKey;
  /** EBS root volumes of the nodes (used through EC2 and the Auto Scaling service-linked role). */
  public readonly nodeVolumes: GridKey;

  constructor(scope: Construct, id: string, props: GridKeysProps) {
    super(scope, id);
    const { account, names, kms } = props;
    const key = (
      keyId: string,
      purpose: string,
      description: string,
      extra: Partial<ConstructorParameters<typeof GridKey>[2]>,
    ) =>
      new GridKey(this, keyId, {
        alias: names.kmsAlias(purpose),
        description: `HTC-Grid ${names.projectName}: ${description}`,
        account,
        deletionWindowDays: kms.deletionWindowDays,
        adminRoleArns: kms.adminRoleArns,
        ...extra,
      });
    this.stateTable = key("state-table", "dynamodb", "task state table", { viaServices: ["dynamodb"] });
    this.taskQueues = key("task-queues", "sqs", "task queues", { viaServices: ["sqs"] });
    this.dataBucket = key("data-bucket", "s3-data", "data bucket", { viaServices: ["s3"] });
    this.redis = key("redis", "elasticache", "Redis data cache", { viaServices: ["elasticache"] });
    this.secrets = key("secrets", "secretsmanager", "grid secrets", { viaServices: ["secretsmanager"] });
    this.logs = key("logs", "logs", "CloudWatch log groups", { cloudWatchLogs: true });
    this.eksSecrets = key("eks-secrets", "eks", "EKS secrets encryption", { viaServices: ["eks"] });
    this.nodeVolumes = key("node-volumes", "ebs", "EKS node volumes", {
      viaServices: ["ec2"],
      // Auto Scaling launches the nodes, so its service-linked role must use the key directly.
      principalArns: [
        `arn:${account.partition}:iam::${account.accountId}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling`,
      ],
    });
  }
}
