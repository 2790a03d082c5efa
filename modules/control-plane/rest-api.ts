// One grid REST API (public: Cognito, REGIONAL; private: API key, reachable only through the VPC's execute-api
// endpoint), defined from the OpenAPI document, with a stage that logs, traces and throttles.
import { Construct } from "constructs";
import { Fn, type ITerraformDependable } from "cdktf";
import { ApiGatewayApiKey } from "@cdktf/provider-aws/lib/api-gateway-api-key";
import { ApiGatewayDeployment } from "@cdktf/provider-aws/lib/api-gateway-deployment";
import { ApiGatewayMethodSettings } from "@cdktf/provider-aws/lib/api-gateway-method-settings";
import { ApiGatewayRestApi } from "@cdktf/provider-aws/lib/api-gateway-rest-api";
import { ApiGatewayRestApiPolicy } from "@cdktf/provider-aws/lib/api-gateway-rest-api-policy";
import { ApiGatewayStage } from "@cdktf/provider-aws/lib/api-gateway-stage";
import { ApiGatewayUsagePlan } from "@cdktf/provider-aws/lib/api-gateway-usage-plan";
import { ApiGatewayUsagePlanKey } from "@cdktf/provider-aws/lib/api-gateway-usage-plan-key";
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { LambdaPermission } from "@cdktf/provider-aws/lib/lambda-permission";
import type { LambdaFunction } from "@cdktf/provider-aws/lib/lambda-function";
import type { VpcEndpoint } from "@cdktf/provider-aws/lib/vpc-endpoint";
import type { GridKey } from "../kms/grid-key";
import { API_ROUTES, type ApiHandler, gridOpenApi } from "./openapi";

/** Access-log line: one JSON object per request. */
export const ACCESS_LOG_FORMAT = JSON.stringify({
  requestId: "$context.requestId",
  extendedRequestId: "$context.extendedRequestId",
  ip: "$context.identity.sourceIp",
  caller: "$context.identity.caller",
  user: "$context.identity.user",
  cognitoUser: "$context.authorizer.claims.sub",
  apiKeyId: "$context.identity.apiKeyId",
  vpceId: "$context.identity.vpceId",
  requestTime: "$context.requestTime",
  httpMethod: "$context.httpMethod",
  resourcePath: "$context.resourcePath",
  status: "$context.status",
  protocol: "$context.protocol",
  responseLength: "$context.responseLength",
  integrationLatency: "$context.integrationLatency",
  integrationError: "$context.integration.error",
});

export interface GridRestApiProps {
  /** Physical API name. */
  readonly apiName: string;
  readonly stageName: string;
  /** Public: Cognito authorizer on a REGIONAL endpoint. Private: API key, PRIVATE endpoint bound to one VPC endpoint. */
  readonly access:
    | { readonly kind: "public"; readonly userPoolArn: string }
    | { readonly kind: "private"; readonly vpcEndpoint: VpcEndpoint; readonly apiKeyName: string };
  /** Function behind each route. */
  readonly handlers: Record<ApiHandler, LambdaFunction>;
  readonly throttling: { readonly rateLimit: number; readonly burstLimit: number };
  readonly logKey: GridKey;
  readonly logRetentionDays: number;
  /** Resources the stage's logging needs first (the account's API Gateway CloudWatch role). @default none */
  readonly loggingDependsOn?: ITerraformDependable[];
}

/** A REST API with deployment, stage, method settings, logs, Lambda permissions and (private) key + usage plan. */
export class GridRestApi extends Construct {
  public readonly restApi: ApiGatewayRestApi;
  /** The serialized OpenAPI body. */
  public readonly body: string;
  public readonly deployment: ApiGatewayDeployment;
  public readonly stage: ApiGatewayStage;
  public readonly accessLogGroup: CloudwatchLogGroup;
  /** Invoke URL of the stage. */
  public readonly url: string;
  /** Private API only: the key clients send as `x-api-key` (value is sensitive). */
  public readonly apiKey?: ApiGatewayApiKey;

  constructor(scope: Construct, id: string, props: GridRestApiProps) {
    super(scope, id);
    const { access } = props;
    const invokeArns = Object.fromEntries(
      Object.entries(props.handlers).map(([handler, fn]) => [handler, fn.invokeArn]),
    ) as Record<ApiHandler, string>;
    this.body = JSON.stringify(
      gridOpenApi({
        title: props.apiName,
        stageName: props.stageName,
        auth:
          access.kind === "public"
            ? { kind: "cognito", userPoolArn: access.userPoolArn }
            : { kind: "apiKey" },
        invokeArns,
      }),
    );

    this.restApi = new ApiGatewayRestApi(this, "api", {
      name: props.apiName,
      body: this.body,
      endpointConfiguration:
        access.kind === "public"
          ? { types: ["REGIONAL"] }
          : { types: ["PRIVATE"], vpcEndpointIds: [access.vpcEndpoint.id] },
      ...(access.kind === "private" ? { apiKeySource: "HEADER" } : {}),
      // A replaced API (new id, new URL) is up before the old one goes; names need not be unique.
      lifecycle: { createBeforeDestroy: true },
    });

    // Hash of the API's own body attribute: any change to the document (routes, Lambda ARNs, authorizer) gives
    // a new deployment; create_before_destroy keeps the stage pointing at a live one meanwhile.
    const triggers: Record<string, string> = { redeployment: Fn.sha256(this.restApi.body) };
    const deploymentDependsOn: ITerraformDependable[] = [];
    if (access.kind === "private") {
      const policy = JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          {
            Sid: "InvokeThroughGridEndpoint",
            Effect: "Allow",
            Principal: "*",
            Action: "execute-api:Invoke",
            Resource: `${this.restApi.executionArn}/*`,
            Condition: { StringEquals: { "aws:SourceVpce": access.vpcEndpoint.id } },
          },
          {
            Sid: "DenyOtherPaths",
            Effect: "Deny",
            Principal: "*",
            Action: "execute-api:Invoke",
            Resource: `${this.restApi.executionArn}/*`,
            Condition: { StringNotEquals: { "aws:SourceVpce": access.vpcEndpoint.id } },
          },
        ],
      });
      const restApiPolicy = new ApiGatewayRestApiPolicy(this, "policy", {
        restApiId: this.restApi.id,
        policy,
      });
      // A changed resource policy only takes effect after a new deployment.
      triggers.policy = Fn.sha256(restApiPolicy.policy);
      deploymentDependsOn.push(restApiPolicy);
    }

    this.deployment = new ApiGatewayDeployment(this, "deployment", {
      restApiId: this.restApi.id,
      triggers,
      lifecycle: { createBeforeDestroy: true },
      dependsOn: deploymentDependsOn,
    });

    this.accessLogGroup = new CloudwatchLogGroup(this, "access-logs", {
      name: `/aws/apigateway/${props.apiName}-${props.stageName}`,
      kmsKeyId: props.logKey.arn,
      retentionInDays: props.logRetentionDays,
    });
    // API Gateway creates its execution-log group on first use, unencrypted and kept forever; owning it first
    // gives it the grid's key and retention.
    const executionLogGroup = new CloudwatchLogGroup(this, "execution-logs", {
      name: `API-Gateway-Execution-Logs_${this.restApi.id}/${props.stageName}`,
      kmsKeyId: props.logKey.arn,
      retentionInDays: props.logRetentionDays,
    });

    this.stage = new ApiGatewayStage(this, "stage", {
      restApiId: this.restApi.id,
      deploymentId: this.deployment.id,
      stageName: props.stageName,
      xrayTracingEnabled: true,
      accessLogSettings: { destinationArn: this.accessLogGroup.arn, format: ACCESS_LOG_FORMAT },
      dependsOn: [...(props.loggingDependsOn ?? [])],
    });
    new ApiGatewayMethodSettings(this, "method-settings", {
      restApiId: this.restApi.id,
      stageName: this.stage.stageName,
      methodPath: "*/*",
      settings: {
        metricsEnabled: true,
        loggingLevel: "ERROR",
        throttlingRateLimit: props.throttling.rateLimit,
        throttlingBurstLimit: props.throttling.burstLimit,
      },
      dependsOn: [executionLogGroup, ...(props.loggingDependsOn ?? [])],
    });
    this.url = this.stage.invokeUrl;

    // Each function may be invoked by this API only, on its own route.
    for (const route of API_ROUTES) {
      new LambdaPermission(this, `invoke-${route.handler}`, {
        statementId: `${id}-${route.operationId}`,
        action: "lambda:InvokeFunction",
        functionName: props.handlers[route.handler].functionName,
        principal: "apigateway.amazonaws.com",
        sourceArn: `${this.restApi.executionArn}/*/${route.method.toUpperCase()}${route.path}`,
      });
    }

    if (access.kind === "private") {
      this.apiKey = new ApiGatewayApiKey(this, "key", { name: access.apiKeyName, enabled: true });
      const plan = new ApiGatewayUsagePlan(this, "usage-plan", {
        name: access.apiKeyName,
        apiStages: [{ apiId: this.restApi.id, stage: this.stage.stageName }],
        throttleSettings: { rateLimit: props.throttling.rateLimit, burstLimit: props.throttling.burstLimit },
      });
      new ApiGatewayUsagePlanKey(this, "usage-plan-key", {
        keyId: this.apiKey.id,
        keyType: "API_KEY",
        usagePlanId: plan.id,
      });
    }
  }
}
