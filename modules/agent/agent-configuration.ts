// Grid-stack side of the agents: the agent configuration document built from this deployment's own resources
// (output `agent_config`, no secrets), the private API key copied into Secrets Manager so the in-cluster stack
// can read it without a sensitive cross-stack output, and the least-privilege IAM policies of the agents and of the
// client pods (submission jobs, `helm test`), which read the same document.
import { Construct } from "constructs";
import { Fn, TerraformOutput } from "cdktf";
import { DataAwsKmsAlias } from "@cdktf/provider-aws/lib/data-aws-kms-alias";
import { SecretsmanagerSecret } from "@cdktf/provider-aws/lib/secretsmanager-secret";
import { SecretsmanagerSecretVersion } from "@cdktf/provider-aws/lib/secretsmanager-secret-version";
import { SsmParameter } from "@cdktf/provider-aws/lib/ssm-parameter";
import type { AccountContext } from "../account/account-context";
import type { GridConfig } from "../config/model";
import type { ComputePlane } from "../compute-plane/compute-plane";
import type { ControlPlane } from "../control-plane/control-plane";
import type { GridDataPlane } from "../data-plane/grid-data-plane";
import type { GridKeys } from "../kms/grid-keys";
import type { GridNames } from "../naming/names";
import { runtimeBundleKey } from "../runtime-delivery/runtime-delivery";
import { workloadKeyAlias } from "../state-bootstrap/workload";
import { buildAgentConfig, type AgentConfigDocument } from "./agent-config";
import { AGENT_CONFIG_OUTPUT, SECRET_OUTPUTS } from "./outputs-file";

export interface AgentConfigurationProps {
  readonly config: GridConfig;
  readonly account: AccountContext;
  readonly names: GridNames;
  readonly keys: GridKeys;
  readonly controlPlane: ControlPlane;
  readonly dataPlane: GridDataPlane;
  readonly compute: ComputePlane;
  /** `s3://bucket/key` of the worker zip (configured, or the bootstrap workload bucket's lambda.zip). */
  readonly workerZipLocation: string;
  /** The bootstrap stack's workload bucket, where the pods' runtime bundles are uploaded. */
  readonly workloadBucketName: string;
}

/**
 * A number that changes when `text` (a token) changes: the first 12 hex digits of its SHA-256. Write-only
 * arguments are re-sent only when their version number changes.
 */
export function writeOnlyRevision(text: string): number {
  return Fn.parseint(Fn.substr(Fn.sha256(text), 0, 12), 16);
}

/** Splits `s3://bucket/key` (the bucket may be a token) into bucket and key. */
function splitS3Url(url: string): { bucket: string; key: string } {
  const rest = url.slice("s3://".length);
  const slash = rest.indexOf("/");
  return { bucket: rest.slice(0, slash), key: rest.slice(slash + 1) };
}

export class AgentConfiguration extends Construct {
  /** The document; `public` is what the ConfigMap and the `agent_config` output carry. */
  public readonly document: AgentConfigDocument;
  /**
   * The public document in SSM (`/htc/<project>/agent_config`, as upstream's EC2 backend): one resource the
   * in-cluster stack references, instead of one cross-stack output per field.
   */
  public readonly parameter: SsmParameter;
  /** JSON text of the public part, read from the parameter (use this across stacks). */
  public readonly publicJson: string;
  /** Secrets Manager copy of the private API key (read by the in-cluster stack). */
  public readonly apiKeySecret: SecretsmanagerSecret;

  constructor(scope: Construct, id: string, props: AgentConfigurationProps) {
    super(scope, id);
    const { config, account, names, keys, controlPlane: cp, dataPlane: dp, compute } = props;

    this.apiKeySecret = new SecretsmanagerSecret(this, "api-key-secret", {
      name: names.name("secret", "htc-private-api-key"),
      description: "Private REST API key of the HTC grid (read by the agents' Kubernetes Secret)",
      kmsKeyId: keys.secrets.arn,
      recoveryWindowInDays: 0,
    });
    // Write-only: the key's value stays in the grid state only as the API key resource's own attribute (AWS
    // provider 6.25 has no write-only value for it). The version number follows the key's id, so a replaced key is
    // written again.
    new SecretsmanagerSecretVersion(this, "api-key-secret-value", {
      secretId: this.apiKeySecret.id,
      secretStringWo: cp.privateApiKey.value,
      secretStringWoVersion: writeOnlyRevision(cp.privateApiKey.id),
    });

    const redisUrl = dp.redisEndpoint ?? "";
    this.document = buildAgentConfig({
      controlPlane: config.controlPlane,
      dataPlane: config.dataPlane,
      agent: config.agent,
      resources: {
        region: config.region,
        sqsEndpoint: `https://sqs.${config.region}.${account.dnsSuffix}`,
        taskQueueBaseName: cp.taskQueueBaseName,
        taskDlqBaseName: cp.deadLetterQueueBaseName,
        tasksQueueName: cp.taskQueues[0].name,
        redisUrl,
        redisPassword: "",
        clusterName: compute.clusterName,
        stateTableName: cp.stateTable.name,
        lambdaNames: {
          ttlChecker: cp.functions.ttlChecker.function.functionName,
          submitTasks: cp.functions.submitTasks.function.functionName,
          getResults: cp.functions.getResults.function.functionName,
          cancelTasks: cp.functions.cancelTasks.function.functionName,
        },
        dataBucketName: dp.dataBucket?.bucket ?? "",
        dataBucketKmsKeyArn: dp.dataBucket ? keys.dataBucket.arn : "",
        errorLogGroupName: cp.errorLogGroup.name,
        errorLogStreamName: cp.errorLogStream.name,
        userPoolId: cp.userPool.id,
        userPoolClientId: cp.userPoolClient.id,
        publicApiUrl: cp.publicApiUrl,
        privateApiUrl: cp.privateApiUrl,
        privateApiKey: "",
      },
    });
    // JSON.stringify, not Fn.jsonencode: values such as task_queue_config are themselves JSON strings, which
    // cdktf's HCL object rendering does not escape (terraform validate rejects the result).
    this.parameter = new SsmParameter(this, "parameter", {
      name: `/htc/${names.projectName}/agent_config`,
      description: "HTC-Grid agent configuration without secrets (Agent_config.tfvars.json)",
      type: "String",
      tier: "Intelligent-Tiering",
      insecureValue: JSON.stringify(this.document.public),
    });
    this.publicJson = this.parameter.insecureValue;
    new TerraformOutput(scope, AGENT_CONFIG_OUTPUT, {
      value: this.publicJson,
      description:
        "Agent configuration (no secrets); `npm run outputs` writes it to generated/agent_config.json",
    });
    if (config.agent.includeSecretsInGeneratedConfig) {
      // Opt-in only: sensitive outputs, written to the outputs file only with --outputs-file-include-sensitive-outputs.
      new TerraformOutput(scope, SECRET_OUTPUTS.api_gateway_key, {
        value: cp.privateApiKey.value,
        sensitive: true,
      });
      new TerraformOutput(scope, SECRET_OUTPUTS.redis_password, {
        value: dp.redisAuthToken ?? "",
        sensitive: true,
      });
    }

    // The agents' permissions: exactly the grid's own table, queues, data plane, keys and error log.
    const zip = splitS3Url(props.workerZipLocation);
    // The workload key always (the runtime bundles live in the workload bucket), plus the key of a user's s3:// zip.
    const workloadKeyArn = new DataAwsKmsAlias(this, "workload-key", { name: workloadKeyAlias(names) })
      .targetKeyArn;
    const zipKeyArns: string[] = [workloadKeyArn];
    if (config.agent.lambda.s3SourceKmsKeyArn) zipKeyArns.push(config.agent.lambda.s3SourceKmsKeyArn);
    const queueArns = [...cp.taskQueues, ...cp.deadLetterQueues].map((q) => q.arn);
    const statements: Record<string, unknown>[] = [
      {
        Sid: "StateTable",
        Effect: "Allow",
        Action: [
          "dynamodb:GetItem",
          "dynamodb:BatchGetItem",
          "dynamodb:Query",
          "dynamodb:PutItem",
          "dynamodb:UpdateItem",
          "dynamodb:BatchWriteItem",
          "dynamodb:DescribeTable",
        ],
        Resource: [cp.stateTable.arn, `${cp.stateTable.arn}/index/*`],
      },
      {
        Sid: "TaskQueues",
        Effect: "Allow",
        Action: [
          "sqs:GetQueueUrl",
          "sqs:GetQueueAttributes",
          "sqs:ReceiveMessage",
          "sqs:SendMessage",
          "sqs:DeleteMessage",
          "sqs:ChangeMessageVisibility",
        ],
        Resource: queueArns,
      },
      {
        Sid: "ErrorLog",
        Effect: "Allow",
        Action: ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
        Resource: [cp.errorLogGroup.arn, `${cp.errorLogGroup.arn}:*`],
      },
      {
        // What the fetch step downloads at pod start: the worker zip and the agent bundle, by exact version.
        Sid: "PodCode",
        Effect: "Allow",
        Action: ["s3:GetObject", "s3:GetObjectVersion"],
        Resource: [
          `arn:${account.partition}:s3:::${zip.bucket}/${zip.key}`,
          `arn:${account.partition}:s3:::${props.workloadBucketName}/${runtimeBundleKey("agent")}`,
        ],
      },
      {
        Sid: "GridKeys",
        Effect: "Allow",
        Action: ["kms:Decrypt", "kms:GenerateDataKey"],
        Resource: [keys.stateTable.arn, keys.taskQueues.arn, ...(dp.dataBucket ? [keys.dataBucket.arn] : [])],
      },
      // The pod code is only read: its keys decrypt, never encrypt.
      { Sid: "PodCodeKeys", Effect: "Allow", Action: ["kms:Decrypt"], Resource: zipKeyArns },
    ];
    if (dp.dataBucket) {
      statements.push(
        {
          Sid: "DataBucketObjects",
          Effect: "Allow",
          Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
          Resource: [`${dp.dataBucket.arn}/*`],
        },
        { Sid: "DataBucketList", Effect: "Allow", Action: ["s3:ListBucket"], Resource: [dp.dataBucket.arn] },
      );
    }
    compute.agentRole.addPolicy("grid-access", { Version: "2012-10-17", Statement: statements });

    // The client pods: their fetch step downloads the client bundle (exact version, under the workload key), and
    // the client writes task inputs and reads outputs in the data plane. The API takes the key from the assembled
    // configuration, Redis its AUTH token: with Redis-only storage the client needs no more AWS access.
    const clientStatements: Record<string, unknown>[] = [
      {
        Sid: "ClientCode",
        Effect: "Allow",
        Action: ["s3:GetObject", "s3:GetObjectVersion"],
        Resource: [`arn:${account.partition}:s3:::${props.workloadBucketName}/${runtimeBundleKey("client")}`],
      },
      { Sid: "ClientCodeKey", Effect: "Allow", Action: ["kms:Decrypt"], Resource: [workloadKeyArn] },
    ];
    if (dp.dataBucket) {
      clientStatements.push(
        {
          Sid: "DataBucketObjects",
          Effect: "Allow",
          Action: ["s3:GetObject", "s3:PutObject"],
          Resource: [`${dp.dataBucket.arn}/*`],
        },
        // A missing object then answers 404, not 403: the client reads `<task_id>-error`, which a cancelled task
        // may not have, and `<session_id>-payload` to tell an unknown session.
        { Sid: "DataBucketList", Effect: "Allow", Action: ["s3:ListBucket"], Resource: [dp.dataBucket.arn] },
        {
          Sid: "DataBucketKey",
          Effect: "Allow",
          Action: ["kms:Decrypt", "kms:GenerateDataKey"],
          Resource: [keys.dataBucket.arn],
        },
      );
    }
    compute.clientRole.addPolicy("grid-access", { Version: "2012-10-17", Statement: clientStatements });
  }
}
