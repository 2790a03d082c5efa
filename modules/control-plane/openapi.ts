// The grid's REST API as an OpenAPI 3 document (upstream's api_definition.yaml shape): POST /submit, GET /result,
// POST /cancel, each taking the required query parameter `submission_content` and proxied to one Lambda.
// Pure data: no cdktf import, so the same document can be fed to a client generator. Error responses are declared
// as they really arrive: the handlers' plain-text 542/543 messages, and API Gateway's own JSON `{"message"}`
// answers (validator, authorizer or API key, throttling, Lambda failure, timeout).

import {
  ERROR_CONTENT_TYPE,
  GATEWAY_ERRORS,
  JSON_CONTENT_TYPE,
  QUERY_ERROR_STATUS,
  SUBMIT_ERROR_STATUS,
} from "../../runtime/src/contract";

/** Query parameter every route requires. */
export const SUBMISSION_PARAM = "submission_content";

/** API Gateway waits at most 29 s for a Lambda proxy integration. */
export const INTEGRATION_TIMEOUT_MS = 29_000;

/** The three routes and the handler each one calls. */
export const API_ROUTES = [
  { path: "/submit", method: "post", handler: "submitTasks", operationId: "submitTasks" },
  { path: "/result", method: "get", handler: "getResults", operationId: "getResults" },
  { path: "/cancel", method: "post", handler: "cancelTasks", operationId: "cancelTasks" },
] as const;

export type ApiHandler = (typeof API_ROUTES)[number]["handler"];

/** How callers authenticate. */
export type ApiAuth =
  { readonly kind: "cognito"; readonly userPoolArn: string } | { readonly kind: "apiKey" };

export interface OpenApiInput {
  readonly title: string;
  readonly stageName: string;
  readonly auth: ApiAuth;
  /** Lambda invoke ARN (`aws_lambda_function.invoke_arn`) per handler. */
  readonly invokeArns: Record<ApiHandler, string>;
}

/** Name of the Cognito authorizer (upstream's; clients and docs refer to it). */
export const COGNITO_AUTHORIZER = "htc_cognito_authorizer";
/** Name of the API-key security scheme. */
export const API_KEY_SCHEME = "api_key";
const VALIDATOR = "params-only";

const RESPONSE_SCHEMAS = {
  PostSubmitResponse: {
    type: "object",
    properties: { task_ids: { type: "array", items: { type: "string" } }, session_id: { type: "string" } },
  },
  GetResponse: {
    type: "object",
    properties: {
      finished: { type: "array", items: { type: "string" } },
      finished_OUTPUT: { type: "array", items: { type: "string" } },
      cancelled: { type: "array", items: { type: "string" } },
      cancelled_OUTPUT: { type: "array", items: { type: "string" } },
      failed: { type: "array", items: { type: "string" } },
      failed_OUTPUT: { type: "array", items: { type: "string" } },
      message: { type: "string" },
      metadata: { type: "object", properties: { tasks_in_response: { type: "integer", format: "int64" } } },
    },
  },
  PostCancelResponse: { type: "object" },
  /** API Gateway's own error body. */
  ErrorResponse: { type: "object", properties: { message: { type: "string" } } },
  /** A handler's error body: one line saying what was wrong. */
  HandlerError: { type: "string" },
} as const;

const HANDLER_ERROR_STATUS: Record<ApiHandler, number> = {
  submitTasks: SUBMIT_ERROR_STATUS,
  getResults: QUERY_ERROR_STATUS,
  cancelTasks: QUERY_ERROR_STATUS,
};

const gatewayError = (description: string) => ({
  description,
  content: { [JSON_CONTENT_TYPE]: { schema: { $ref: "#/components/schemas/ErrorResponse" } } },
});

/** The error responses of one route, keyed by status code. */
function errorResponses(handler: ApiHandler, auth: ApiAuth["kind"]): Record<string, unknown> {
  const e = GATEWAY_ERRORS;
  return {
    [String(HANDLER_ERROR_STATUS[handler])]: {
      description: "The handler refused or failed the request (text/plain: one line saying what was wrong)",
      content: { [ERROR_CONTENT_TYPE]: { schema: { $ref: "#/components/schemas/HandlerError" } } },
    },
    [String(e.missingParameter.status)]: gatewayError(
      `Request validator: submission_content is missing or blank ("${e.missingParameter.message}")`,
    ),
    ...(auth === "cognito"
      ? {
          [String(e.unauthorized.status)]: gatewayError(
            "Cognito authorizer: the Authorization header is missing, or its id token is invalid or expired",
          ),
        }
      : {
          [String(e.forbidden.status)]: gatewayError(
            `API key: the x-api-key header is missing or wrong ("${e.forbidden.message}")`,
          ),
        }),
    [String(e.tooLarge.status)]: gatewayError("The request is above API Gateway's or Lambda's payload limit"),
    [String(e.throttled.status)]: gatewayError("Throttled by the stage or usage plan; retry with back-off"),
    [String(e.lambdaError.status)]: gatewayError("The Lambda function failed or answered malformed output"),
    [String(e.timeout.status)]: gatewayError(
      "The Lambda function took longer than the 29 s integration timeout (it may still complete)",
    ),
  };
}

const RESPONSE_SCHEMA_OF: Record<ApiHandler, keyof typeof RESPONSE_SCHEMAS> = {
  submitTasks: "PostSubmitResponse",
  getResults: "GetResponse",
  cancelTasks: "PostCancelResponse",
};

/** The OpenAPI document of one grid API. */
export function gridOpenApi(input: OpenApiInput): Record<string, unknown> {
  const schemeName = input.auth.kind === "cognito" ? COGNITO_AUTHORIZER : API_KEY_SCHEME;
  const securitySchemes =
    input.auth.kind === "cognito"
      ? {
          [COGNITO_AUTHORIZER]: {
            type: "apiKey",
            name: "Authorization",
            in: "header",
            "x-amazon-apigateway-authtype": "cognito_user_pools",
            "x-amazon-apigateway-authorizer": {
              type: "cognito_user_pools",
              providerARNs: [input.auth.userPoolArn],
            },
          },
        }
      : { [API_KEY_SCHEME]: { type: "apiKey", name: "x-api-key", in: "header" } };

  const paths: Record<string, unknown> = {};
  for (const route of API_ROUTES) {
    paths[route.path] = {
      [route.method]: {
        operationId: route.operationId,
        parameters: [{ name: SUBMISSION_PARAM, in: "query", required: true, schema: { type: "string" } }],
        security: [{ [schemeName]: [] }],
        responses: {
          "200": {
            description: "OK",
            content: {
              [JSON_CONTENT_TYPE]: {
                schema: { $ref: `#/components/schemas/${RESPONSE_SCHEMA_OF[route.handler]}` },
              },
            },
          },
          ...errorResponses(route.handler, input.auth.kind),
        },
        // API Gateway only enforces `required` parameters through a request validator.
        "x-amazon-apigateway-request-validator": VALIDATOR,
        "x-amazon-apigateway-integration": {
          type: "aws_proxy",
          httpMethod: "POST",
          uri: input.invokeArns[route.handler],
          passthroughBehavior: "when_no_match",
          timeoutInMillis: INTEGRATION_TIMEOUT_MS,
        },
      },
    };
  }

  return {
    openapi: "3.0.1",
    info: { title: input.title, version: "1.0.0" },
    servers: [{ url: `/${input.stageName}` }],
    paths,
    components: { schemas: RESPONSE_SCHEMAS, securitySchemes },
    "x-amazon-apigateway-request-validators": {
      [VALIDATOR]: { validateRequestParameters: true, validateRequestBody: false },
    },
    ...(input.auth.kind === "apiKey" ? { "x-amazon-apigateway-api-key-source": "HEADER" } : {}),
  };
}
