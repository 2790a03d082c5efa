// The one price table the benchmarks turn counted requests into money with: AWS list prices for eu-west-1
// (Ireland), USD, request charges only (no storage, transfer, Lambda duration or EC2). Update here and only here.
// Sources: the S3, SQS, DynamoDB, API Gateway, Lambda, CloudWatch and Secrets Manager pricing pages; DynamoDB
// on-demand after the November 2024 cut (half the earlier $1.4135 / $0.283 per million).

export interface Price {
  /** USD per million billing units. */
  readonly perMillion: number;
  /** What one billing unit is. */
  readonly unit: string;
}

/** Prices by `<service>:<operation>` as the local proxies count them, plus `apigateway` and `lambda`. */
export const EU_WEST_1_PRICES: Readonly<Record<string, Price>> = {
  "s3:PutObject": { perMillion: 5.0, unit: "PUT request" },
  "s3:CreateBucket": { perMillion: 5.0, unit: "PUT request" },
  "s3:ListObjectsV2": { perMillion: 5.0, unit: "LIST request" },
  "s3:ListObjects": { perMillion: 5.0, unit: "LIST request" },
  "s3:GetObject": { perMillion: 0.4, unit: "GET request" },
  "s3:HeadObject": { perMillion: 0.4, unit: "GET-class request" },
  "sqs:*": { perMillion: 0.4, unit: "request (each 64 KiB chunk of a payload counts as one)" },
  "dynamodb:write": {
    perMillion: 0.7068,
    unit: "write request unit (item up to 1 KB; index updates not counted)",
  },
  "dynamodb:read": { perMillion: 0.1414, unit: "read request unit (strongly consistent, up to 4 KB)" },
  apigateway: { perMillion: 3.5, unit: "REST API request" },
  lambda: { perMillion: 0.2, unit: "invocation (duration not included)" },
  "cloudwatch:PutMetricData": { perMillion: 10.0, unit: "request" },
  "cloudwatch:GetMetricStatistics": { perMillion: 10.0, unit: "request" },
  "secretsmanager:*": { perMillion: 5.0, unit: "API call" },
};

const DYNAMO_WRITES = new Set([
  "UpdateItem",
  "PutItem",
  "DeleteItem",
  "BatchWriteItem",
  "TransactWriteItems",
]);

/** The price of one counted request (or item, for DynamoDB batch writes); undefined when not charged per request. */
export function priceOf(key: string): Price | undefined {
  const direct = EU_WEST_1_PRICES[key];
  if (direct) return direct;
  const [service, operation] = key.split(":");
  if (service === "dynamodb")
    return EU_WEST_1_PRICES[DYNAMO_WRITES.has(operation) ? "dynamodb:write" : "dynamodb:read"];
  return EU_WEST_1_PRICES[`${service}:*`];
}

/** USD per million tasks for a count of billing units per task, keyed like the proxies count. */
export function chargesPerMillionTasks(unitsPerTask: ReadonlyMap<string, number>): number {
  let total = 0;
  for (const [key, units] of unitsPerTask) total += units * (priceOf(key)?.perMillion ?? 0);
  return total;
}
