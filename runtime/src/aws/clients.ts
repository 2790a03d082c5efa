// AWS SDK clients for every runtime component (Lambdas, agent, client, local grid), built one way. Endpoints come
// from the SDK's own AWS_ENDPOINT_URL_<SERVICE> variables, so production and local servers run the same code;
// S3_FORCE_PATH_STYLE=1 (local S3 servers only) switches S3 to path-style URLs.

import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SQSClient } from "@aws-sdk/client-sqs";
import { SignedDynamoDB, dynamoEndpoint } from "./signed-dynamodb";
import { SignedHttpClient, dnsSuffixOf, endpointOverride, signedHttpUsable } from "./signed-http";
import { SignedS3 } from "./signed-s3";

type Env = Readonly<Record<string, string | undefined>>;

export interface DynamoSettings {
  /** SDK max attempts (upstream `state_table_config.retries.max_attempts`). */
  readonly maxAttempts?: number;
  readonly retryMode?: "standard" | "adaptive";
}

/** SDK retry settings from upstream's `state_table_config` (`{"retries": {"max_attempts": 10, "mode": "adaptive"}}`). */
export function dynamoSettings(config: Record<string, unknown>): DynamoSettings {
  const retries = (config.retries ?? {}) as { max_attempts?: unknown; mode?: unknown };
  return {
    maxAttempts: typeof retries.max_attempts === "number" ? retries.max_attempts : undefined,
    retryMode: retries.mode === "adaptive" || retries.mode === "standard" ? retries.mode : undefined,
  };
}

/**
 * How long an SDK request may wait for its connection, and for the next byte of its exchange: beyond SQS's longest
 * long poll (20 s), so only an endpoint that stopped answering hits it. The SDK's own limits are 5 minutes
 * (DynamoDB, Secrets Manager, CloudWatch Logs), 15 (SQS, CloudWatch) or none (S3): an agent's receive loop stood
 * still that long behind a silent endpoint. A timed-out request is retried by the SDK like any transient error.
 */
export const SDK_TIMEOUTS: SdkTimeouts = { connectionTimeout: 5_000, socketTimeout: 30_000 };

/**
 * Milliseconds, as the SDK's Node.js HTTP handler takes them. `socketTimeout` is inactivity (a large body that keeps
 * moving is not cut); the handler's `requestTimeout` would only log a warning.
 */
export interface SdkTimeouts {
  readonly connectionTimeout: number;
  readonly socketTimeout: number;
}

export function dynamoClient(region: string, settings: DynamoSettings = {}): DynamoDBClient {
  return new DynamoDBClient({
    region,
    maxAttempts: settings.maxAttempts,
    retryMode: settings.retryMode,
    requestHandler: SDK_TIMEOUTS,
  });
}

/** Requests go to the client's endpoint, not to the host in a queue URL (they differ for local servers behind a
 * proxy; on AWS they are the same). */
export function sqsClient(region: string, timeouts: SdkTimeouts = SDK_TIMEOUTS): SQSClient {
  return new SQSClient({ region, useQueueUrlAsEndpoint: false, requestHandler: timeouts });
}

export function s3Client(region: string, env: Env = process.env): S3Client {
  return new S3Client({
    region,
    requestHandler: SDK_TIMEOUTS,
    forcePathStyle: env.S3_FORCE_PATH_STYLE === "1",
    // Payloads are small single-part objects; flexible checksums break some S3-compatible servers.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

export function cloudWatchClient(region: string): CloudWatchClient {
  return new CloudWatchClient({ region, requestHandler: SDK_TIMEOUTS });
}

/** Error-log writes are best effort: two attempts, then the line stays in the process log only. */
export function cloudWatchLogsClient(region: string): CloudWatchLogsClient {
  return new CloudWatchLogsClient({ region, maxAttempts: 2, requestHandler: SDK_TIMEOUTS });
}

export function secretsManagerClient(region: string): SecretsManagerClient {
  return new SecretsManagerClient({ region, requestHandler: SDK_TIMEOUTS });
}

/**
 * The state table's UpdateItem over the signed-HTTP client (a fraction of the SDK's CPU), with the SDK client's
 * credentials and retry count; undefined where only the SDK will do (see signedHttpUsable).
 */
export function signedDynamoFor(
  sdk: DynamoDBClient,
  region: string,
  settings: DynamoSettings = {},
  env: Env = process.env,
): SignedDynamoDB | undefined {
  const dnsSuffix = dnsSuffixOf(region);
  if (!dnsSuffix || !signedHttpUsable(env, region)) return undefined;
  const http = new SignedHttpClient({
    region,
    service: "dynamodb",
    credentials: () => sdk.config.credentials(),
    maxAttempts: settings.maxAttempts,
    baseDelayMs: 25,
  });
  return new SignedDynamoDB(http, dynamoEndpoint(region, dnsSuffix, endpointOverride(env, "DYNAMODB")));
}

/** S3 GetObject/PutObject over the signed-HTTP client, with the SDK client's credentials; undefined likewise. */
export function signedS3For(sdk: S3Client, region: string, env: Env = process.env): SignedS3 | undefined {
  const dnsSuffix = dnsSuffixOf(region);
  if (!dnsSuffix || !signedHttpUsable(env, region)) return undefined;
  const http = new SignedHttpClient({ region, service: "s3", credentials: () => sdk.config.credentials() });
  return new SignedS3(http, { region, dnsSuffix, endpoint: endpointOverride(env, "S3") });
}
