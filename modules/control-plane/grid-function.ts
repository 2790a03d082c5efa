// One control-plane Lambda: esbuild bundle -> TerraformAsset (zip) -> function, with its own KMS-encrypted log
// group, X-Ray tracing and a role that holds only the statements its handler needs.
import { scratchDir } from "../runtime-bundle/scratch";
import { cachedZip } from "../runtime-bundle/zip";
import * as fs from "node:fs";
import * as path from "node:path";
import { Construct } from "constructs";
import { AssetType, TerraformAsset } from "cdktf";
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { LambdaFunction } from "@cdktf/provider-aws/lib/lambda-function";
import type { GridKey } from "../kms/grid-key";

/** Writes `index.js` (exporting `handler`) for the named handler into `outDir`. */
export type HandlerBundler = (name: string, outDir: string) => void;

/** An IAM policy statement. */
export interface PolicyStatement {
  readonly Sid: string;
  readonly Effect: "Allow" | "Deny";
  readonly Action: string[];
  readonly Resource: string | string[];
  readonly Condition?: Record<string, Record<string, string | string[]>>;
}

/** Function settings that are the same for every control-plane Lambda. */
export const GRID_FUNCTION_DEFAULTS = {
  runtime: "nodejs22.x",
  handler: "index.handler",
  architecture: "x86_64",
  memoryMb: 1024,
} as const;

export interface GridFunctionProps {
  /** Physical function name (also names the log group `/aws/lambda/<name>`). */
  readonly functionName: string;
  /** Physical role name. */
  readonly roleName: string;
  /** Handler to bundle (a name the bundler knows, e.g. `submit_tasks`). */
  readonly handlerName: string;
  /** Produces the handler bundle. */
  readonly bundle: HandlerBundler;
  /** Seconds. */
  readonly timeoutSec: number;
  /** @default GRID_FUNCTION_DEFAULTS.memoryMb */
  readonly memoryMb?: number;
  readonly environment: Record<string, string>;
  /** What the handler may do besides writing its own logs and traces. */
  readonly statements: PolicyStatement[];
  readonly logKey: GridKey;
  readonly logRetentionDays: number;
  /** Run inside the VPC (only functions that reach Redis). @default outside the VPC */
  readonly vpc?: {
    readonly subnetIds: string[];
    readonly securityGroupIds: string[];
    /** ARNs the ENI statements may touch: the subnets and security groups above. */
    readonly resourceArns: string[];
    /** `arn:<partition>:ec2:<region>:<account>` prefix for network-interface ARNs. */
    readonly ec2ArnPrefix: string;
  };
  /** Reserved concurrency (1 = single-flight). @default unreserved */
  readonly reservedConcurrency?: number;
}

/** X-Ray's write APIs accept no resource ARN; the only documented exception to resource scoping. */
export const XRAY_STATEMENT: PolicyStatement = {
  Sid: "XRayWritesHaveNoResourceScope",
  Effect: "Allow",
  Action: ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
  Resource: "*",
};

/** A control-plane Lambda function with its role, log group and code asset. */
export class GridFunction extends Construct {
  public readonly function: LambdaFunction;
  public readonly role: IamRole;
  public readonly logGroup: CloudwatchLogGroup;
  /** The role's inline policy document (for review and tests). */
  public readonly policyDocument: { Version: string; Statement: PolicyStatement[] };

  constructor(scope: Construct, id: string, props: GridFunctionProps) {
    super(scope, id);
    // The bundle goes to a fresh directory outside the project; the asset copies and zips it into the stack's
    // own folder at synth time, so cdktf.out/stacks/<stack> is self-contained and the hash depends on content only.
    const outDir = scratchDir(props.handlerName);
    props.bundle(props.handlerName, outDir);
    if (!fs.existsSync(path.join(outDir, "index.js"))) {
      throw new Error(`bundler wrote no index.js for handler "${props.handlerName}" into ${outDir}`);
    }
    // Zipped here (reproducible, in-process) rather than as an ARCHIVE asset, which spawns a process per archive
    // and stamps entries with file mtimes.
    const zipFile = path.join(scratchDir(`${props.handlerName}-zip`), "code.zip");
    fs.writeFileSync(zipFile, cachedZip(outDir));
    const code = new TerraformAsset(this, "code", { path: zipFile, type: AssetType.FILE });

    this.logGroup = new CloudwatchLogGroup(this, "logs", {
      name: `/aws/lambda/${props.functionName}`,
      kmsKeyId: props.logKey.arn,
      retentionInDays: props.logRetentionDays,
    });

    this.role = new IamRole(this, "role", {
      name: props.roleName,
      assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          { Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" },
        ],
      }),
    });

    const statements: PolicyStatement[] = [
      {
        Sid: "WriteOwnLogs",
        Effect: "Allow",
        Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
        Resource: `${this.logGroup.arn}:*`,
      },
      XRAY_STATEMENT,
      ...props.statements,
    ];
    if (props.vpc) {
      statements.push(
        {
          // Describe calls have no resource-level permissions (read-only).
          Sid: "DescribeNetworkInterfaces",
          Effect: "Allow",
          Action: ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"],
          Resource: "*",
        },
        {
          Sid: "CreateInterfacesInGridSubnets",
          Effect: "Allow",
          Action: ["ec2:CreateNetworkInterface"],
          Resource: [`${props.vpc.ec2ArnPrefix}:network-interface/*`, ...props.vpc.resourceArns],
        },
        {
          Sid: "ManageOwnInterfaces",
          Effect: "Allow",
          Action: [
            "ec2:DeleteNetworkInterface",
            "ec2:AssignPrivateIpAddresses",
            "ec2:UnassignPrivateIpAddresses",
          ],
          Resource: `${props.vpc.ec2ArnPrefix}:*/*`,
        },
      );
    }
    this.policyDocument = { Version: "2012-10-17", Statement: statements };
    const policy = new IamRolePolicy(this, "policy", {
      name: "handler",
      role: this.role.id,
      policy: JSON.stringify(this.policyDocument),
    });

    this.function = new LambdaFunction(this, "function", {
      functionName: props.functionName,
      role: this.role.arn,
      runtime: GRID_FUNCTION_DEFAULTS.runtime,
      handler: GRID_FUNCTION_DEFAULTS.handler,
      architectures: [GRID_FUNCTION_DEFAULTS.architecture],
      memorySize: props.memoryMb ?? GRID_FUNCTION_DEFAULTS.memoryMb,
      timeout: props.timeoutSec,
      filename: code.path,
      sourceCodeHash: code.assetHash,
      environment: { variables: props.environment },
      tracingConfig: { mode: "Active" },
      loggingConfig: { logFormat: "Text", logGroup: this.logGroup.name },
      vpcConfig: props.vpc
        ? { subnetIds: props.vpc.subnetIds, securityGroupIds: props.vpc.securityGroupIds }
        : undefined,
      reservedConcurrentExecutions: props.reservedConcurrency,
      // The role's policy must exist before the function is created (ENI checks, first log line) and outlive it
      // on destroy (ENI clean-up needs ec2:DeleteNetworkInterface).
      dependsOn: [policy, this.logGroup],
    });
  }
}
