// The state table's UpdateItem over the signed-HTTP client (DynamoDB's JSON 1.0 protocol), for the agent's claim,
// heartbeat and finish. Errors look like the SDK's: `name` is the code, and a failed condition carries the old
// `Item` when ReturnValuesOnConditionCheckFailure asks for it.

import type { UpdateItemCommandInput } from "@aws-sdk/client-dynamodb";
import {
  AwsServiceError,
  SignedHttpClient,
  type ServiceErrorDetail,
  type SignedResponse,
} from "./signed-http";

/** What the agent's lease needs from the state table. */
export interface StateTableWrites {
  updateItem(input: UpdateItemCommandInput): Promise<void>;
}

/** `{"__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException", "message": ..., "Item": ...}` */
export function dynamoError(response: SignedResponse): ServiceErrorDetail {
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(response.body.toString("utf8")) as Record<string, unknown>;
  } catch {
    // Not JSON (a proxy's page): the status says enough.
  }
  const type = String(body.__type ?? response.headers["x-amzn-errortype"] ?? "");
  const code = type.slice(type.lastIndexOf("#") + 1).split(":")[0];
  const message = String(body.message ?? body.Message ?? "");
  return { code, message, extra: body.Item ? { Item: body.Item } : undefined };
}

export class SignedDynamoDB implements StateTableWrites {
  constructor(
    private readonly http: SignedHttpClient,
    private readonly endpoint: URL,
  ) {}

  async updateItem(input: UpdateItemCommandInput): Promise<void> {
    await this.call("UpdateItem", input);
  }

  private async call(operation: string, input: object): Promise<unknown> {
    const response = await this.http.send(
      {
        method: "POST",
        url: this.endpoint,
        headers: {
          "content-type": "application/x-amz-json-1.0",
          "x-amz-target": `DynamoDB_20120810.${operation}`,
        },
        body: Buffer.from(JSON.stringify(input), "utf8"),
      },
      dynamoError,
    );
    if (response.status !== 200) {
      const detail = dynamoError(response);
      throw new AwsServiceError(detail.code || `HTTP${response.status}`, detail.message, response.status, 1);
    }
    return JSON.parse(response.body.toString("utf8") || "{}");
  }

  destroy(): void {
    this.http.destroy();
  }
}

/** https://dynamodb.<region>.<suffix>/, or the override. */
export function dynamoEndpoint(region: string, dnsSuffix: string, override?: string): URL {
  return new URL(override ?? `https://dynamodb.${region}.${dnsSuffix}/`);
}
