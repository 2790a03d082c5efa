import { beforeAll, describe, expect, it } from "vitest";
import { Testing } from "cdktf";
import { ApiGatewayStage } from "@cdktf/provider-aws/lib/api-gateway-stage";
import { type Synthesized, ofType, one, ref, synthControlPlane } from "./fixtures";
import { fail } from "../../runtime/src/control-plane/response";
import { SUBMIT_ERROR_STATUS } from "../../runtime/src/contract";

type Operation = {
  parameters: { name: string; in: string; required: boolean }[];
  responses: Record<string, { content: Record<string, { schema: { $ref: string } }> }>;
  security: Record<string, string[]>[];
  "x-amazon-apigateway-integration": {
    type: string;
    httpMethod: string;
    uri: string;
    timeoutInMillis: number;
  };
  "x-amazon-apigateway-request-validator": string;
};
type OpenApi = {
  paths: Record<string, Record<string, Operation>>;
  components: {
    securitySchemes: Record<string, Record<string, unknown>>;
    schemas: Record<string, { type: string }>;
  };
  "x-amazon-apigateway-request-validators": Record<string, { validateRequestParameters: boolean }>;
};

const bodyOf = (s: Synthesized, api: "public" | "private") =>
  JSON.parse(one(s, "aws_api_gateway_rest_api", `${api}-api_`).body as string) as OpenApi;
const fnRef = (s: Synthesized, handler: string) =>
  ref(s, "aws_lambda_function", `functions_${handler}_`, "invoke_arn");

const ROUTES = [
  ["/submit", "post", "submit-tasks"],
  ["/result", "get", "get-results"],
  ["/cancel", "post", "cancel-tasks"],
] as const;
/** The status each handler answers its errors with (upstream's). */
const HANDLER_ERROR = { "submit-tasks": "543", "get-results": "542", "cancel-tasks": "542" } as const;

describe("REST APIs", () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synthControlPlane();
  });

  for (const api of ["public", "private"] as const) {
    it(`${api}: routes POST /submit, GET /result, POST /cancel to their Lambdas by proxy integration`, () => {
      const body = bodyOf(s, api);
      expect(Object.keys(body.paths).sort()).toEqual(["/cancel", "/result", "/submit"]);
      for (const [path, method, handler] of ROUTES) {
        expect(Object.keys(body.paths[path])).toEqual([method]);
        expect(body.paths[path][method]["x-amazon-apigateway-integration"]).toMatchObject({
          type: "aws_proxy",
          httpMethod: "POST",
          uri: fnRef(s, handler),
          timeoutInMillis: 29000,
        });
      }
    });

    it(`${api}: requires the submission_content query parameter and validates it`, () => {
      const body = bodyOf(s, api);
      for (const [path, method] of ROUTES) {
        const op = body.paths[path][method];
        expect(op.parameters).toContainEqual(
          expect.objectContaining({ name: "submission_content", in: "query", required: true }),
        );
        const validator = op["x-amazon-apigateway-request-validator"];
        expect(body["x-amazon-apigateway-request-validators"][validator].validateRequestParameters).toBe(
          true,
        );
      }
    });

    it(`${api}: declares each handler's error status with the text/plain body the handlers really send`, () => {
      const body = bodyOf(s, api);
      // What the handlers answer, from their own response helper.
      const sent = fail(SUBMIT_ERROR_STATUS, "x").headers?.["Content-Type"];
      for (const [path, method, handler] of ROUTES) {
        const responses = body.paths[path][method].responses;
        const status = HANDLER_ERROR[handler];
        expect(Object.keys(responses[status].content), `${path} ${status}`).toEqual([sent]);
        const schema = responses[status].content[sent!].schema.$ref.split("/").pop()!;
        expect(body.components.schemas[schema].type).toBe("string");
        // The other grid status is never sent by this route.
        expect(responses[status === "542" ? "543" : "542"], path).toBeUndefined();
      }
    });

    it(`${api}: declares API Gateway's own JSON answers: validator 400, ${api === "public" ? "authorizer 401" : "API key 403"}, 429, 502, 504`, () => {
      const body = bodyOf(s, api);
      const auth = api === "public" ? "401" : "403";
      const other = api === "public" ? "403" : "401";
      for (const [path, method] of ROUTES) {
        const responses = body.paths[path][method].responses;
        for (const status of ["400", auth, "413", "429", "502", "504"]) {
          expect(Object.keys(responses[status]?.content ?? {}), `${path} ${status}`).toEqual([
            "application/json",
          ]);
          expect(responses[status].content["application/json"].schema.$ref).toBe(
            "#/components/schemas/ErrorResponse",
          );
        }
        expect(responses[other], `${path} ${other}`).toBeUndefined();
      }
    });

    it(`${api}: stage logs access to a KMS-encrypted group, traces with X-Ray, and sets metrics/ERROR logging/throttling`, () => {
      const stage = one(s, "aws_api_gateway_stage", `${api}-api_stage`);
      expect(stage.stage_name).toBe("v1");
      expect(stage.xray_tracing_enabled).toBe(true);
      const logs = stage.access_log_settings as { destination_arn: string; format: string };
      expect(logs.destination_arn).toBe(ref(s, "aws_cloudwatch_log_group", `${api}-api_access-logs`, "arn"));
      expect(JSON.parse(logs.format).requestId).toBe("$context.requestId");
      const group = one(s, "aws_cloudwatch_log_group", `${api}-api_access-logs`);
      expect(group.kms_key_id).toBe(ref(s, "aws_kms_key", "keys_logs", "arn"));
      expect(group.retention_in_days).toBe(365);
      expect(one(s, "aws_api_gateway_method_settings", `${api}-api_`)).toMatchObject({
        method_path: "*/*",
        settings: {
          metrics_enabled: true,
          logging_level: "ERROR",
          throttling_rate_limit: 1000,
          throttling_burst_limit: 2000,
        },
      });
    });

    it(`${api}: lets API Gateway invoke each function only from this API's own route`, () => {
      const exec = ref(s, "aws_api_gateway_rest_api", `${api}-api_`, "execution_arn");
      const permissions = Object.entries(ofType(s, "aws_lambda_permission")).filter(([id]) =>
        id.includes(`${api}-api_`),
      );
      expect(permissions).toHaveLength(3);
      for (const [path, method, handler] of ROUTES) {
        expect(permissions.map(([, p]) => p)).toContainEqual(
          expect.objectContaining({
            principal: "apigateway.amazonaws.com",
            action: "lambda:InvokeFunction",
            function_name: ref(s, "aws_lambda_function", `functions_${handler}_`, "function_name"),
            source_arn: `${exec}/*/${method.toUpperCase()}${path}`,
          }),
        );
      }
    });

    it(`${api}: redeploys whenever the API body changes, replacing the deployment before destroying it`, () => {
      const deployment = one(s, "aws_api_gateway_deployment", `${api}-api_deployment`);
      const apiId = Object.keys(ofType(s, "aws_api_gateway_rest_api")).find((k) => k.includes(`${api}-api_`));
      expect((deployment.triggers as Record<string, string>).redeployment).toBe(
        `\${sha256(aws_api_gateway_rest_api.${apiId}.body)}`,
      );
      expect(deployment.lifecycle).toEqual({ create_before_destroy: true });
      expect(one(s, "aws_api_gateway_rest_api", `${api}-api_`).lifecycle).toEqual({
        create_before_destroy: true,
      });
      expect(one(s, "aws_api_gateway_stage", `${api}-api_stage`).deployment_id).toBe(
        ref(s, "aws_api_gateway_deployment", `${api}-api_deployment`, "id"),
      );
    });
  }

  it("public: REGIONAL endpoint with the Cognito authorizer htc_cognito_authorizer on every route", () => {
    const api = one(s, "aws_api_gateway_rest_api", "public-api_");
    expect(api.endpoint_configuration).toEqual({ types: ["REGIONAL"] });
    const body = bodyOf(s, "public");
    expect(body.components.securitySchemes).toEqual({
      htc_cognito_authorizer: {
        type: "apiKey",
        name: "Authorization",
        in: "header",
        "x-amazon-apigateway-authtype": "cognito_user_pools",
        "x-amazon-apigateway-authorizer": {
          type: "cognito_user_pools",
          providerARNs: [ref(s, "aws_cognito_user_pool", "users_pool", "arn")],
        },
      },
    });
    for (const [path, method] of ROUTES) {
      expect(body.paths[path][method].security).toEqual([{ htc_cognito_authorizer: [] }]);
    }
  });

  it("private: PRIVATE endpoint bound to the network's execute-api VPC endpoint, API key required", () => {
    const api = one(s, "aws_api_gateway_rest_api", "private-api_");
    expect(api.endpoint_configuration).toEqual({
      types: ["PRIVATE"],
      vpc_endpoint_ids: ["${aws_vpc_endpoint.execute-api.id}"],
    });
    expect(api.api_key_source).toBe("HEADER");
    const body = bodyOf(s, "private");
    expect(body.components.securitySchemes).toEqual({
      api_key: { type: "apiKey", name: "x-api-key", in: "header" },
    });
    for (const [path, method] of ROUTES) {
      expect(body.paths[path][method].security).toEqual([{ api_key: [] }]);
    }
  });

  it("private: resource policy allows invoke only through that VPC endpoint and denies every other path", () => {
    const policy = one(s, "aws_api_gateway_rest_api_policy", "private-api_policy");
    const exec = ref(s, "aws_api_gateway_rest_api", "private-api_", "execution_arn");
    expect(policy.rest_api_id).toBe(ref(s, "aws_api_gateway_rest_api", "private-api_", "id"));
    expect(JSON.parse(policy.policy as string).Statement).toEqual([
      expect.objectContaining({
        Effect: "Allow",
        Action: "execute-api:Invoke",
        Resource: `${exec}/*`,
        Condition: { StringEquals: { "aws:SourceVpce": "${aws_vpc_endpoint.execute-api.id}" } },
      }),
      expect.objectContaining({
        Effect: "Deny",
        Action: "execute-api:Invoke",
        Resource: `${exec}/*`,
        Condition: { StringNotEquals: { "aws:SourceVpce": "${aws_vpc_endpoint.execute-api.id}" } },
      }),
    ]);
    const deployment = one(s, "aws_api_gateway_deployment", "private-api_deployment");
    expect(deployment.depends_on).toContain(
      `aws_api_gateway_rest_api_policy.${Object.keys(ofType(s, "aws_api_gateway_rest_api_policy"))[0]}`,
    );
  });

  it("private: API key in a usage plan on the stage with the configured throttle", () => {
    const key = one(s, "aws_api_gateway_api_key", "private-api_key");
    expect(key.name).toBe("htc-private-api-key-main");
    expect(key.value).toBeUndefined();
    expect(one(s, "aws_api_gateway_usage_plan", "private-api_")).toMatchObject({
      api_stages: [
        {
          api_id: ref(s, "aws_api_gateway_rest_api", "private-api_", "id"),
          stage: ref(s, "aws_api_gateway_stage", "private-api_stage", "stage_name"),
        },
      ],
      throttle_settings: { rate_limit: 1000, burst_limit: 2000 },
    });
    expect(one(s, "aws_api_gateway_usage_plan_key", "private-api_")).toEqual({
      key_id: ref(s, "aws_api_gateway_api_key", "private-api_key", "id"),
      key_type: "API_KEY",
      usage_plan_id: ref(s, "aws_api_gateway_usage_plan", "private-api_", "id"),
    });
    expect(s.plane.privateApiKey).toBeDefined();
  });

  it("the public API has no API key or usage plan", () => {
    expect(Object.keys(ofType(s, "aws_api_gateway_api_key"))).toHaveLength(1);
    expect(Object.keys(ofType(s, "aws_api_gateway_usage_plan")).every((id) => id.includes("private"))).toBe(
      true,
    );
  });

  it("sets the account's API Gateway CloudWatch role before stage logging, unless told not to", () => {
    const account = one(s, "aws_api_gateway_account", "apigw-cloudwatch");
    expect(account.cloudwatch_role_arn).toBe(ref(s, "aws_iam_role", "apigw-cloudwatch_role", "arn"));
    const accountId = Object.keys(ofType(s, "aws_api_gateway_account"))[0];
    for (const api of ["public", "private"]) {
      expect(one(s, "aws_api_gateway_stage", `${api}-api_stage`).depends_on).toContain(
        `aws_api_gateway_account.${accountId}`,
      );
    }
    const without = synthControlPlane({}, { manageApiGatewayAccount: false });
    expect(Object.keys(ofType(without, "aws_api_gateway_account"))).toHaveLength(0);
    expect(Testing.toHaveResource(without.json, ApiGatewayStage.tfResourceType)).toBe(true);
  });

  it("publishes URLs and Cognito ids as plain outputs and never the API key", () => {
    expect(Object.keys(s.outputs).sort()).toEqual([
      "cognito_userpool_client_id",
      "cognito_userpool_id",
      "private_api_gateway_url",
      "public_api_gateway_url",
    ]);
    expect(s.outputs.public_api_gateway_url.value).toBe(
      ref(s, "aws_api_gateway_stage", "public-api_stage", "invoke_url"),
    );
    expect(s.outputs.private_api_gateway_url.value).toBe(
      ref(s, "aws_api_gateway_stage", "private-api_stage", "invoke_url"),
    );
    for (const output of Object.values(s.outputs)) {
      expect(output.sensitive).toBeUndefined();
      expect(String(output.value)).not.toMatch(/aws_api_gateway_api_key|aws_secretsmanager/);
    }
  });
});

describe("redeployment trigger", () => {
  it("follows the body: the body is stable across synths and changes with its content (here the stage)", () => {
    const a = synthControlPlane();
    const b = synthControlPlane({ api_gateway_version: "v2" });
    const bodyA = one(a, "aws_api_gateway_rest_api", "public-api_").body;
    const bodyB = one(b, "aws_api_gateway_rest_api", "public-api_").body;
    expect(bodyA).not.toBe(bodyB);
    expect(bodyA).toBe(one(synthControlPlane(), "aws_api_gateway_rest_api", "public-api_").body);
  });
});
