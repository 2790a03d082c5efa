// API Gateway's CloudWatch role is ONE setting per account and region (`aws_api_gateway_account`), not a property
// of an API. Stages that log need it set. The grid sets it by default as upstream did; grids sharing an account
// and region should let only one of them own it (the others pass manageApiGatewayAccount: false), because
// destroying the owning grid resets the setting for everyone.
import { Construct } from "constructs";
import { ApiGatewayAccount } from "@cdktf/provider-aws/lib/api-gateway-account";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import type { AccountContext } from "../account/account-context";
import type { GridNames } from "../naming/names";

export interface ApiGatewayCloudWatchRoleProps {
  readonly names: GridNames;
  readonly account: AccountContext;
}

/** The account-wide API Gateway -> CloudWatch Logs role and the account setting that points at it. */
export class ApiGatewayCloudWatchRole extends Construct {
  public readonly role: IamRole;
  public readonly setting: ApiGatewayAccount;

  constructor(scope: Construct, id: string, props: ApiGatewayCloudWatchRoleProps) {
    super(scope, id);
    const { names, account } = props;
    this.role = new IamRole(this, "role", {
      name: names.name("iamRole", "htc-apigw-cloudwatch"),
      assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          {
            Effect: "Allow",
            Principal: { Service: "apigateway.amazonaws.com" },
            Action: "sts:AssumeRole",
            Condition: { StringEquals: { "aws:SourceAccount": account.accountId } },
          },
        ],
      }),
    });
    // The AWS-managed policy is what API Gateway documents for this role; it creates API Gateway's own
    // execution/access log groups and streams.
    const attachment = new IamRolePolicyAttachment(this, "push-to-cloudwatch", {
      role: this.role.name,
      policyArn: `arn:${account.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs`,
    });
    this.setting = new ApiGatewayAccount(this, "setting", {
      cloudwatchRoleArn: this.role.arn,
      dependsOn: [attachment],
    });
  }
}
