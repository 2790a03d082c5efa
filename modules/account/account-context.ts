// Account facts every stack needs, read inside Terraform (never looked up from AWS at synth time).
import { Construct } from "constructs";
import { DataAwsCallerIdentity } from "@cdktf/provider-aws/lib/data-aws-caller-identity";
import { DataAwsPartition } from "@cdktf/provider-aws/lib/data-aws-partition";

export interface AccountContextProps {
  /** The grid's region (a literal from the config, so names that embed it are known at plan time). */
  readonly region: string;
}

/** Account id, partition and DNS suffix as Terraform references, plus the literal region. */
export class AccountContext extends Construct {
  /** 12-digit account id (token). */
  public readonly accountId: string;
  /** aws, aws-cn or aws-us-gov (token). */
  public readonly partition: string;
  /** amazonaws.com or amazonaws.com.cn (token). */
  public readonly dnsSuffix: string;
  /** ARN of the identity running Terraform (token). */
  public readonly callerArn: string;
  public readonly region: string;

  constructor(scope: Construct, id: string, props: AccountContextProps) {
    super(scope, id);
    const caller = new DataAwsCallerIdentity(this, "caller");
    const partition = new DataAwsPartition(this, "partition");
    this.accountId = caller.accountId;
    this.callerArn = caller.arn;
    this.partition = partition.partition;
    this.dnsSuffix = partition.dnsSuffix;
    this.region = props.region;
  }

  /** `arn:<partition>:iam::<account>:root`. */
  get rootArn(): string {
    return `arn:${this.partition}:iam::${this.accountId}:root`;
  }

  /** Replace upstream's `{{account_id}}` placeholder in a configured ARN with this account's id. */
  resolveAccountPlaceholder(value: string): string {
    return value.split("{{account_id}}").join(this.accountId);
  }
}
