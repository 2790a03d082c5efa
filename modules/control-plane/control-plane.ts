// The grid's control plane: state table, task queues, the five Lambdas that manage tasks, the public (Cognito)
// and private (API key, VPC-only) REST APIs in front of three of them, and the central error log.
import {
  SUBMIT_TASKS_TIMEOUT_SEC,
  lambdaEnvironment,
  type LambdaEnvVar,
  type LambdaHandler,
} from "../../runtime/src/contract";
import { bundleHandler } from "../runtime-bundle/bundle";
import { Construct } from "constructs";
import { TerraformOutput, Token } from "cdktf";
import { CloudwatchEventRule } from "@cdktf/provider-aws/lib/cloudwatch-event-rule";
import { CloudwatchEventTarget } from "@cdktf/provider-aws/lib/cloudwatch-event-target";
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { CloudwatchLogStream } from "@cdktf/provider-aws/lib/cloudwatch-log-stream";
import { LambdaPermission } from "@cdktf/provider-aws/lib/lambda-permission";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { VpcSecurityGroupEgressRule } from "@cdktf/provider-aws/lib/vpc-security-group-egress-rule";
import type { ApiGatewayApiKey } from "@cdktf/provider-aws/lib/api-gateway-api-key";
import type { CognitoUserPool } from "@cdktf/provider-aws/lib/cognito-user-pool";
import type { CognitoUserPoolClient } from "@cdktf/provider-aws/lib/cognito-user-pool-client";
import type { CognitoUserPoolDomain } from "@cdktf/provider-aws/lib/cognito-user-pool-domain";
import type { DynamodbTable } from "@cdktf/provider-aws/lib/dynamodb-table";
import type { SqsQueue } from "@cdktf/provider-aws/lib/sqs-queue";
import type { AccountContext } from "../account/account-context";
import type { ControlPlaneConfig } from "../config/model";
import type { DataPlaneHandoff } from "../data-plane/handoff";
import type { GridKeys } from "../kms/grid-keys";
import type { GridNames } from "../naming/names";
import type { NetworkHandoff } from "../network/handoff";
import { ApiGatewayCloudWatchRole } from "./api-gateway-account";
import { GridFunction, type HandlerBundler, type PolicyStatement } from "./grid-function";
import { GridRestApi } from "./rest-api";
import { SESSION_INDEX, StateTable, TTL_INDEX } from "./state-table";
import { TaskQueues } from "./task-queues";
import { GridUserPool } from "./user-pool";

/** The control-plane functions, by the key used in config (`lambdaNames`) and in `ControlPlane.functions`. */
export type ControlPlaneFunction =
  "submitTasks" | "getResults" | "cancelTasks" | "ttlChecker" | "scalingMetrics";

/**
 * Per-function settings: the bundled handler, timeout (upstream's), and whether the handler reads task payloads
 * from the data plane. Only submit_tasks does, and only with external storage (the submission is fetched from
 * `<session>-payload`); get_results returns placeholders and the agents read outputs themselves. Functions that
 * read the data plane run in the VPC when Redis is used; the others stay outside it.
 * test/control-plane/iam-coverage.test.ts checks the policies below against the calls the handlers make.
 */
export const CONTROL_PLANE_FUNCTIONS: Record<
  ControlPlaneFunction,
  {
    readonly handler: LambdaHandler;
    readonly timeoutSec: number;
    readonly readsDataPlane: (config: ControlPlaneConfig) => boolean;
  }
> = {
  submitTasks: {
    handler: "submit_tasks",
    // The TTL checker resumes a submission still open after this (see SUBMISSION_SIZE_ATTRIBUTE).
    timeoutSec: SUBMIT_TASKS_TIMEOUT_SEC,
    readsDataPlane: (config) => config.taskInputPassedViaExternalStorage === 1,
  },
  getResults: { handler: "get_results", timeoutSec: 300, readsDataPlane: () => false },
  cancelTasks: { handler: "cancel_tasks", timeoutSec: 300, readsDataPlane: () => false },
  // Under the 1-minute schedule so two runs never overlap (reserved concurrency 1 enforces it).
  ttlChecker: { handler: "ttl_checker", timeoutSec: 55, readsDataPlane: () => false },
  scalingMetrics: { handler: "scaling_metrics", timeoutSec: 60, readsDataPlane: () => false },
};

/** Schedule of the TTL checker (upstream's; heartbeats are checked every minute). */
export const TTL_CHECKER_SCHEDULE = "rate(1 minute)";

export interface ControlPlaneProps {
  readonly config: ControlPlaneConfig;
  /** EKS cluster name: the scaling metric's dimension value. */
  readonly clusterName: string;
  /** Retention of every log group made here. */
  readonly logRetentionDays: number;
  readonly account: AccountContext;
  readonly names: GridNames;
  readonly keys: GridKeys;
  readonly network: NetworkHandoff;
  readonly dataPlane: DataPlaneHandoff;
  /**
   * Bundles a handler; tests pass a small one.
   * @default bundleHandler from ../runtime-bundle/bundle (esbuild, cached)
   */
  readonly bundle?: HandlerBundler;
  /**
   * Set the account-wide API Gateway CloudWatch role (see api-gateway-account.ts). Turn off in every grid but one
   * that shares an account and region; the setting must then already exist, or stage logging fails.
   * @default true
   */
  readonly manageApiGatewayAccount?: boolean;
  /** Teardown switch (`allow_destroy`): the user pool loses its deletion protection. @default false */
  readonly allowDestroy?: boolean;
}

const DEFAULTS = { manageApiGatewayAccount: true, allowDestroy: false } as const;

/** The scaling metric scaling_metrics publishes and KEDA reads. */
export interface ScalingMetric {
  readonly namespace: string;
  readonly name: string;
  readonly dimensionName: string;
  readonly dimensionValue: string;
}

export class ControlPlane extends Construct {
  public readonly stateTable: DynamodbTable;
  /** Index = priority. */
  public readonly taskQueues: SqsQueue[];
  /** Index = priority. */
  public readonly deadLetterQueues: SqsQueue[];
  /** Queue base name (`SQS_QUEUE`): priority p is `<base>__<p>`. */
  public readonly taskQueueBaseName: string;
  public readonly deadLetterQueueBaseName: string;
  public readonly userPool: CognitoUserPool;
  public readonly userPoolClient: CognitoUserPoolClient;
  public readonly userPoolDomain: CognitoUserPoolDomain;
  public readonly publicApiUrl: string;
  public readonly privateApiUrl: string;
  /** Key of the private API; its `value` is sensitive and must only reach sensitive outputs or secrets. */
  public readonly privateApiKey: ApiGatewayApiKey;
  public readonly errorLogGroup: CloudwatchLogGroup;
  public readonly errorLogStream: CloudwatchLogStream;
  public readonly functions: Record<ControlPlaneFunction, GridFunction>;
  public readonly scalingMetric: ScalingMetric;
  public readonly publicApi: GridRestApi;
  public readonly privateApi: GridRestApi;
  /** Present when a function reads a Redis data plane, so runs in the VPC (Redis storage, external task input). */
  public readonly lambdaSecurityGroup?: SecurityGroup;

  constructor(scope: Construct, id: string, props: ControlPlaneProps) {
    super(scope, id);
    const { config, names, keys, account, network, dataPlane } = props;
    const retention = props.logRetentionDays;
    checkDataPlane(dataPlane);

    // --- Stores -------------------------------------------------------------------------------------------
    const state = new StateTable(this, "state-table", {
      config: config.stateTable,
      names,
      key: keys.stateTable,
    });
    this.stateTable = state.table;
    const queues = new TaskQueues(this, "task-queues", {
      config: config.taskQueue,
      names,
      key: keys.taskQueues,
    });
    this.taskQueues = queues.taskQueues;
    this.deadLetterQueues = queues.deadLetterQueues;
    this.taskQueueBaseName = queues.queueBaseName;
    this.deadLetterQueueBaseName = queues.dlqBaseName;

    this.errorLogGroup = new CloudwatchLogGroup(this, "error-logs", {
      name: names.name("logGroup", config.errorLogGroup),
      kmsKeyId: keys.logs.arn,
      retentionInDays: retention,
    });
    this.errorLogStream = new CloudwatchLogStream(this, "error-log-stream", {
      // Stream names follow the log-group character rules.
      name: names.name("logGroup", config.errorLoggingStream),
      logGroupName: this.errorLogGroup.name,
    });

    // --- Environment contract read by the handlers (runtime/src/contract/lambda-env.ts) ---------------------
    // Values for every handler; each function gets only the variables its own handler reads.
    const environment: Partial<Record<LambdaEnvVar, string>> = {
      STATE_TABLE_NAME: state.tableName,
      STATE_TABLE_CONFIG: config.stateTable.sdkConfig,
      TASK_QUEUE_SERVICE: config.taskQueue.service,
      TASK_QUEUE_CONFIG: config.taskQueue.rawConfig,
      SQS_QUEUE: queues.queueBaseName,
      SQS_DLQ: queues.dlqBaseName,
      GRID_STORAGE_SERVICE: dataPlane.storage,
      ERROR_LOG_GROUP: this.errorLogGroup.name,
      ERROR_LOGGING_STREAM: this.errorLogStream.name,
      TASK_INPUT_PASSED_VIA_EXTERNAL_STORAGE: String(config.taskInputPassedViaExternalStorage),
      MAX_RETRIES: String(config.taskQueue.maxRetries),
      REGION: account.region,
    };
    if (dataPlane.dataBucket) {
      environment.S3_BUCKET = dataPlane.dataBucket.bucket;
      environment.S3_KMS_KEY_ID = keys.dataBucket.arn;
    }
    if (dataPlane.redis && dataPlane.redisAuthSecret) {
      environment.REDIS_URL = `${dataPlane.redis.primaryEndpointAddress}:${Token.asString(dataPlane.redis.port)}`;
      // The AUTH token is fetched at cold start; it never sits in the function configuration.
      environment.REDIS_AUTH_SECRET_ARN = dataPlane.redisAuthSecret.arn;
      environment.REDIS_TLS = "1";
    }
    this.scalingMetric = {
      namespace: config.metrics.namespace,
      name: names.name("generic", config.metrics.name),
      dimensionName: config.metrics.dimensionName,
      dimensionValue: props.clusterName,
    };

    // --- IAM building blocks -------------------------------------------------------------------------------
    // Each statement names the handler code that needs it; iam-coverage.test.ts records the calls the handlers
    // make against local servers and fails when a policy grants more or less than that.
    const tableArn = state.table.arn;
    const indexArn = (index: string) => `${tableArn}/index/${index}`;
    const queueArns = queues.taskQueues.map((q) => q.arn);
    const useKey = (sid: string, arn: string, actions: string[]): PolicyStatement => ({
      Sid: sid,
      Effect: "Allow",
      Action: actions,
      Resource: arn,
    });
    const tableKey = useKey("UseStateTableKey", keys.stateTable.arn, [
      "kms:Decrypt",
      "kms:Encrypt",
      "kms:GenerateDataKey",
      "kms:DescribeKey",
    ]);
    // Sending to an SSE-KMS queue needs a data key (GenerateDataKey) and Decrypt of the cached one.
    const queueKey = useKey("UseTaskQueueKey", keys.taskQueues.arn, ["kms:Decrypt", "kms:GenerateDataKey"]);
    // ErrorLogger only calls PutLogEvents, on the stream Terraform creates (lib/error-log.ts).
    const writeErrorLog: PolicyStatement = {
      Sid: "WriteGridErrorLog",
      Effect: "Allow",
      Action: ["logs:PutLogEvents"],
      Resource: this.errorLogStream.arn,
    };
    // submit_tasks only reads `<session>-payload` (lib/data-plane.ts get; the S3+REDIS back-fill writes Redis).
    const dataPlaneStatements: PolicyStatement[] = [];
    if (dataPlane.dataBucket) {
      dataPlaneStatements.push(
        {
          Sid: "ReadTaskPayloads",
          Effect: "Allow",
          Action: ["s3:GetObject"],
          Resource: `${dataPlane.dataBucket.arn}/*`,
        },
        {
          // Without ListBucket a missing payload is AccessDenied instead of NoSuchKey ("Unknown session").
          Sid: "MissingPayloadIsNoSuchKey",
          Effect: "Allow",
          Action: ["s3:ListBucket"],
          Resource: dataPlane.dataBucket.arn,
        },
        useKey("UseDataBucketKey", keys.dataBucket.arn, ["kms:Decrypt"]),
      );
    }
    if (dataPlane.redisAuthSecret) {
      dataPlaneStatements.push(
        {
          Sid: "ReadRedisAuthToken",
          Effect: "Allow",
          Action: ["secretsmanager:GetSecretValue"],
          Resource: dataPlane.redisAuthSecret.arn,
        },
        useKey("UseSecretsKey", keys.secrets.arn, ["kms:Decrypt"]),
      );
    }
    const statements: Record<ControlPlaneFunction, PolicyStatement[]> = {
      submitTasks: [
        {
          // BatchWriteItem for new rows; DeleteItem removes them when the batch write failed; UpdateItem marks
          // a task failed when its message could not be queued.
          Sid: "WriteNewTasks",
          Effect: "Allow",
          Action: ["dynamodb:BatchWriteItem", "dynamodb:DeleteItem", "dynamodb:UpdateItem"],
          Resource: tableArn,
        },
        tableKey,
        {
          // SendMessageBatch is authorized as sqs:SendMessage.
          Sid: "EnqueueTasks",
          Effect: "Allow",
          Action: ["sqs:GetQueueUrl", "sqs:SendMessage"],
          Resource: queueArns,
        },
        queueKey,
        writeErrorLog,
      ],
      getResults: [
        {
          Sid: "QuerySessionTasks",
          Effect: "Allow",
          Action: ["dynamodb:Query"],
          Resource: indexArn(SESSION_INDEX),
        },
        {
          // A `task_ids` request reads those rows (their states and the outputs kept in them).
          Sid: "ReadTaskOutputs",
          Effect: "Allow",
          Action: ["dynamodb:BatchGetItem"],
          Resource: tableArn,
        },
        tableKey,
        writeErrorLog,
      ],
      cancelTasks: [
        {
          Sid: "QuerySessionTasks",
          Effect: "Allow",
          Action: ["dynamodb:Query"],
          Resource: indexArn(SESSION_INDEX),
        },
        {
          // Conditional UpdateItem only: a task that finished meanwhile stays finished.
          Sid: "CancelTasks",
          Effect: "Allow",
          Action: ["dynamodb:UpdateItem"],
          Resource: tableArn,
        },
        tableKey,
        writeErrorLog,
      ],
      ttlChecker: [
        {
          // The TTL index finds expired heartbeats and interrupted submissions; the session index lists the rows
          // of an interrupted submission's session.
          Sid: "QueryExpiredTasksAndInterruptedSubmissions",
          Effect: "Allow",
          Action: ["dynamodb:Query"],
          Resource: [indexArn(TTL_INDEX), indexArn(SESSION_INDEX)],
        },
        {
          Sid: "RetryOrFailTasks",
          Effect: "Allow",
          Action: ["dynamodb:GetItem", "dynamodb:UpdateItem"],
          Resource: tableArn,
        },
        tableKey,
        {
          // SendMessage re-queues a retried task whose message is gone (ChangeMessageVisibility failed), and the
          // tasks of a submission whose submit_tasks invocation died part-way.
          Sid: "RequeueOrDropMessages",
          Effect: "Allow",
          Action: ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:SendMessage"],
          Resource: queueArns,
        },
        {
          // Messages of tasks still pending go back to their queue; those of ended tasks are deleted.
          Sid: "TakeBackDeadLetters",
          Effect: "Allow",
          Action: ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"],
          Resource: queues.deadLetterQueues.map((q) => q.arn),
        },
        queueKey,
        {
          // Read-only; GetMetricStatistics has no resource-level permissions. Used to skip a cycle while the
          // state table is throttling (upstream defect 2: the table name is now the grid's own).
          Sid: "CloudWatchReadsHaveNoResourceScope",
          Effect: "Allow",
          Action: ["cloudwatch:GetMetricStatistics"],
          Resource: "*",
        },
        writeErrorLog,
      ],
      // No error logger here: a failed run surfaces as a failed invocation in its own log.
      scalingMetrics: [
        {
          Sid: "ReadBacklog",
          Effect: "Allow",
          Action: ["sqs:GetQueueAttributes", "sqs:GetQueueUrl"],
          Resource: queueArns,
        },
        {
          // PutMetricData accepts no resource ARN; the namespace condition is its only scope.
          Sid: "PublishScalingMetricInOwnNamespace",
          Effect: "Allow",
          Action: ["cloudwatch:PutMetricData"],
          Resource: "*",
          Condition: { StringEquals: { "cloudwatch:namespace": config.metrics.namespace } },
        },
      ],
    };
    const readsDataPlane = (key: ControlPlaneFunction) => CONTROL_PLANE_FUNCTIONS[key].readsDataPlane(config);

    // --- Functions -----------------------------------------------------------------------------------------
    // VPC attachment follows Redis access: only functions that read a Redis data plane run in the VPC.
    const usesRedis = dataPlane.storage !== "S3";
    const anyReadsDataPlane = (Object.keys(CONTROL_PLANE_FUNCTIONS) as ControlPlaneFunction[]).some(
      readsDataPlane,
    );
    let vpc: ConstructorParameters<typeof GridFunction>[2]["vpc"];
    if (usesRedis && anyReadsDataPlane) {
      this.lambdaSecurityGroup = new SecurityGroup(this, "lambda-sg", {
        name: names.name("securityGroup", "htc-control-plane-lambdas"),
        description: "HTC-Grid control-plane Lambdas (egress only)",
        vpcId: network.vpc.id,
      });
      new VpcSecurityGroupEgressRule(this, "lambda-egress-https", {
        securityGroupId: this.lambdaSecurityGroup.id,
        description: "AWS APIs (through VPC endpoints or NAT)",
        ipProtocol: "tcp",
        fromPort: 443,
        toPort: 443,
        cidrIpv4: "0.0.0.0/0",
      });
      new VpcSecurityGroupEgressRule(this, "lambda-egress-redis", {
        securityGroupId: this.lambdaSecurityGroup.id,
        description: "Redis (TLS) inside the VPC",
        ipProtocol: "tcp",
        fromPort: 6379,
        toPort: 6379,
        cidrIpv4: network.vpc.cidrBlock,
      });
      const securityGroups = [
        this.lambdaSecurityGroup,
        ...(dataPlane.redisClientSecurityGroup ? [dataPlane.redisClientSecurityGroup] : []),
      ];
      vpc = {
        subnetIds: network.privateSubnets.map((s) => s.id),
        securityGroupIds: securityGroups.map((g) => g.id),
        resourceArns: [...network.privateSubnets.map((s) => s.arn), ...securityGroups.map((g) => g.arn)],
        ec2ArnPrefix: `arn:${account.partition}:ec2:${account.region}:${account.accountId}`,
      };
    }

    const functionScope = new Construct(this, "functions");
    const make = (
      key: ControlPlaneFunction,
      extraEnv: Partial<Record<LambdaEnvVar, string>> = {},
      reservedConcurrency?: number,
    ) => {
      const spec = CONTROL_PLANE_FUNCTIONS[key];
      const base = config.lambdaNames[key];
      return new GridFunction(functionScope, spec.handler.replace(/_/g, "-"), {
        functionName: names.name("lambdaFunction", base),
        roleName: names.name("iamRole", `${base}-lambda`),
        handlerName: spec.handler,
        bundle: props.bundle ?? bundleHandler,
        timeoutSec: spec.timeoutSec,
        environment: lambdaEnvironment(spec.handler, { ...environment, ...extraEnv }),
        statements: [...statements[key], ...(readsDataPlane(key) ? dataPlaneStatements : [])],
        logKey: keys.logs,
        logRetentionDays: retention,
        vpc: readsDataPlane(key) ? vpc : undefined,
        reservedConcurrency,
      });
    };
    this.functions = {
      submitTasks: make("submitTasks"),
      getResults: make("getResults"),
      cancelTasks: make("cancelTasks"),
      // Single-flight: a slow run must not race the next one over the same expired rows.
      ttlChecker: make("ttlChecker", {}, 1),
      scalingMetrics: make("scalingMetrics", {
        NAMESPACE: this.scalingMetric.namespace,
        DIMENSION_NAME: this.scalingMetric.dimensionName,
        DIMENSION_VALUE: this.scalingMetric.dimensionValue,
        METRICS_NAME: this.scalingMetric.name,
        PERIOD: String(config.metrics.periodSec),
      }),
    };

    const schedules = new Construct(this, "schedules");
    for (const [key, expression] of [
      ["ttlChecker", TTL_CHECKER_SCHEDULE],
      ["scalingMetrics", config.metrics.scheduleExpression],
    ] as const) {
      const fn = this.functions[key].function;
      const rule = new CloudwatchEventRule(schedules, `${key}-rule`, {
        name: names.name("eventRule", `${config.lambdaNames[key]}-schedule`),
        scheduleExpression: expression,
      });
      new CloudwatchEventTarget(schedules, `${key}-target`, { rule: rule.name, arn: fn.arn });
      new LambdaPermission(schedules, `${key}-permission`, {
        statementId: "InvokeOnSchedule",
        action: "lambda:InvokeFunction",
        functionName: fn.functionName,
        principal: "events.amazonaws.com",
        sourceArn: rule.arn,
      });
    }

    // --- Users and APIs ------------------------------------------------------------------------------------
    const users = new GridUserPool(this, "users", {
      names,
      account,
      deletionProtection: !(props.allowDestroy ?? DEFAULTS.allowDestroy),
    });
    this.userPool = users.userPool;
    this.userPoolClient = users.userPoolClient;
    this.userPoolDomain = users.userPoolDomain;

    const loggingDependsOn =
      (props.manageApiGatewayAccount ?? DEFAULTS.manageApiGatewayAccount)
        ? [new ApiGatewayCloudWatchRole(this, "apigw-cloudwatch", { names, account }).setting]
        : [];
    const handlers = {
      submitTasks: this.functions.submitTasks.function,
      getResults: this.functions.getResults.function,
      cancelTasks: this.functions.cancelTasks.function,
    };
    const apiCommon = {
      stageName: config.apiStageName,
      handlers,
      throttling: { rateLimit: config.apiThrottlingRateLimit, burstLimit: config.apiThrottlingBurstLimit },
      logKey: keys.logs,
      logRetentionDays: retention,
      loggingDependsOn,
    };
    this.publicApi = new GridRestApi(this, "public-api", {
      ...apiCommon,
      apiName: names.name("apiGateway", "htc-public-api"),
      access: { kind: "public", userPoolArn: this.userPool.arn },
    });
    this.privateApi = new GridRestApi(this, "private-api", {
      ...apiCommon,
      apiName: names.name("apiGateway", "htc-private-api"),
      access: {
        kind: "private",
        vpcEndpoint: network.executeApiEndpoint,
        apiKeyName: names.name("generic", "htc-private-api-key"),
      },
    });
    this.publicApiUrl = this.publicApi.url;
    this.privateApiUrl = this.privateApi.url;
    this.privateApiKey = this.privateApi.apiKey!;

    // --- Outputs (nothing secret: the API key value is never an output here) -------------------------------
    const output = (logicalId: string, value: string, description: string) =>
      new TerraformOutput(this, logicalId, { value, description }).overrideLogicalId(logicalId);
    output("public_api_gateway_url", this.publicApiUrl, "Public REST API (Cognito) invoke URL");
    output("private_api_gateway_url", this.privateApiUrl, "Private REST API (API key, VPC only) invoke URL");
    output("cognito_userpool_id", this.userPool.id, "Cognito user pool of the public API");
    output("cognito_userpool_client_id", this.userPoolClient.id, "Cognito app client (no secret)");
  }
}

/** The hand-off must carry what its storage mode promises; a mismatch is a wiring bug, reported by name. */
function checkDataPlane(dataPlane: DataPlaneHandoff): void {
  const needsBucket = dataPlane.storage !== "REDIS";
  const needsRedis = dataPlane.storage !== "S3";
  if (needsBucket && !dataPlane.dataBucket) {
    throw new Error(`dataPlane.dataBucket is required for grid_storage_service "${dataPlane.storage}"`);
  }
  if (needsRedis && (!dataPlane.redis || !dataPlane.redisAuthSecret)) {
    throw new Error(
      `dataPlane.redis and dataPlane.redisAuthSecret are required for grid_storage_service "${dataPlane.storage}"`,
    );
  }
}
