// API Gateway Lambda-proxy shapes the handlers receive and return.

/** The subset of an API Gateway REST proxy event the handlers read. */
export interface ApiGatewayEvent {
  queryStringParameters?: Record<string, string | undefined> | null;
  body?: string | null;
  isBase64Encoded?: boolean;
}

/** API Gateway proxy response. Errors carry the plain message as body, like upstream. */
export interface ApiResponse {
  statusCode: number;
  body: string;
  headers?: Record<string, string>;
}
