// The one construct that makes customer-managed KMS keys: rotation on, deletion window from config, and a key
// policy scoped to the services that use the key. No other module writes a key policy.
import { Construct } from "constructs";
import { KmsKey } from "@cdktf/provider-aws/lib/kms-key";
import { KmsAlias } from "@cdktf/provider-aws/lib/kms-alias";
import { AccountContext } from "../account/account-context";

/** Actions key administrators get (no kms:* and no use of the key for data). */
const ADMIN_ACTIONS = [
  "kms:Create*",
  "kms:Describe*",
  "kms:Enable*",
  "kms:List*",
  "kms:Put*",
  "kms:Update*",
  "kms:Revoke*",
  "kms:Disable*",
  "kms:Get*",
  "kms:Delete*",
  "kms:TagResource",
  "kms:UntagResource",
  "kms:ScheduleKeyDeletion",
  "kms:CancelKeyDeletion",
  "kms:RotateKeyOnDemand",
];

/** Actions a service needs to encrypt and decrypt data on a caller's behalf. */
const USE_ACTIONS = [
  "kms:Encrypt",
  "kms:Decrypt",
  "kms:ReEncrypt*",
  "kms:GenerateDataKey*",
  "kms:DescribeKey",
];

export interface GridKeyProps {
  /** Alias, e.g. from `GridNames.kmsAlias("sqs")`. */
  readonly alias: string;
  /** What the key protects (shown in the console). */
  readonly description: string;
  readonly account: AccountContext;
  /** Days before a scheduled deletion completes (7-30). */
  readonly deletionWindowDays: number;
  /** Extra key administrators (role ARNs; `{{account_id}}` is resolved). The account root and the deploying identity always administer. */
  readonly adminRoleArns: string[];
  /**
   * Services that may use the key on behalf of principals of this account, by endpoint prefix
   * (`kms:ViaService = <service>.<region>.amazonaws.com`), e.g. ["dynamodb"], ["sqs"], ["s3"].
   * @default []
   */
  readonly viaServices?: string[];
  /** Allow CloudWatch Logs to encrypt log groups of this account and region with the key. @default false */
  readonly cloudWatchLogs?: boolean;
  /** Service principals that use the key directly (e.g. "events.amazonaws.com"). @default [] */
  readonly servicePrincipals?: string[];
  /** IAM principals (e.g. a service-linked role) that use the key directly and may create grants. @default [] */
  readonly principalArns?: string[];
}

/** A customer-managed, rotating KMS key with an alias and a least-privilege key policy. */
export class GridKey extends Construct {
  public readonly key: KmsKey;
  public readonly alias: KmsAlias;
  /** Key ARN (what resources reference). */
  public readonly arn: string;

  constructor(scope: Construct, id: string, props: GridKeyProps) {
    super(scope, id);
    const { account } = props;
    const statements: Record<string, unknown>[] = [
      {
        Sid: "KeyAdministration",
        Effect: "Allow",
        Principal: {
          AWS: [
            account.rootArn,
            account.callerArn,
            ...props.adminRoleArns.map((a) => account.resolveAccountPlaceholder(a)),
          ],
        },
        Action: ADMIN_ACTIONS,
        // In a key policy "*" means this key.
        Resource: "*",
      },
    ];
    for (const service of props.viaServices ?? []) {
      const via = {
        "kms:CallerAccount": account.accountId,
        "kms:ViaService": `${service}.${account.region}.amazonaws.com`,
      };
      const sid = service.replace(/[^A-Za-z0-9]/g, "");
      statements.push({
        Sid: `UseVia${sid}`,
        Effect: "Allow",
        Principal: { AWS: account.rootArn },
        Action: USE_ACTIONS,
        Resource: "*",
        Condition: { StringEquals: via },
      });
      statements.push({
        Sid: `GrantsVia${sid}`,
        Effect: "Allow",
        Principal: { AWS: account.rootArn },
        Action: ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
        Resource: "*",
        Condition: { StringEquals: via, Bool: { "kms:GrantIsForAWSResource": "true" } },
      });
    }
    if (props.cloudWatchLogs) {
      statements.push({
        Sid: "UseByCloudWatchLogs",
        Effect: "Allow",
        Principal: { Service: `logs.${account.region}.amazonaws.com` },
        Action: USE_ACTIONS,
        Resource: "*",
        Condition: {
          ArnLike: {
            "kms:EncryptionContext:aws:logs:arn": `arn:${account.partition}:logs:${account.region}:${account.accountId}:log-group:*`,
          },
        },
      });
    }
    if ((props.servicePrincipals ?? []).length > 0) {
      statements.push({
        Sid: "UseByServicePrincipals",
        Effect: "Allow",
        Principal: { Service: props.servicePrincipals },
        Action: USE_ACTIONS,
        Resource: "*",
        Condition: { StringEquals: { "aws:SourceAccount": account.accountId } },
      });
    }
    if ((props.principalArns ?? []).length > 0) {
      statements.push({
        Sid: "UseByPrincipals",
        Effect: "Allow",
        Principal: { AWS: props.principalArns },
        Action: [...USE_ACTIONS, "kms:CreateGrant"],
        Resource: "*",
      });
    }

    this.key = new KmsKey(this, "key", {
      description: props.description,
      enableKeyRotation: true,
      deletionWindowInDays: props.deletionWindowDays,
      policy: JSON.stringify({ Version: "2012-10-17", Statement: statements }),
    });
    this.alias = new KmsAlias(this, "alias", { name: props.alias, targetKeyId: this.key.keyId });
    this.arn = this.key.arn;
  }
}
