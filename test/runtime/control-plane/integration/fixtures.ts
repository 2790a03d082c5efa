// Helpers shared by the integration tests: client-side submission building (as upstream's
// Python client does it) and direct state-table manipulation standing in for an agent.

import { createHash, randomUUID } from "node:crypto";
import { GetItemCommand, UpdateItemCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { stateKeyForTask } from "../../../../runtime/src/contract";
import { itemToRow } from "../../../../runtime/src/aws/state-table";
import type { TaskRow } from "../../../../runtime/src/contract";
import type { ApiGatewayEvent } from "../../../../runtime/src/control-plane/types";
import { BUCKET, KMS_KEY_ARN, TABLE } from "./local-grid";

export function newSessionId(): string {
  return randomUUID();
}

/**
 * Pairs of task ids that unpatched dynalite 4.0.0 could not both keep in one session-index key: it stored a GSI
 * entry under `<index key>/<first 6 hex digits of md5("Outliers" + table key)>`, so two rows with the same
 * (session_id, task_status) whose task ids share that 24-bit prefix overwrote each other's index entry (about 7% of
 * random 1,500-task sessions). runtime/src/local/dynalite.ts patches it; the tests use these pairs to prove it.
 */
export function dynaliteIndexCollisions(ids: readonly string[]): [string, string][] {
  const seen = new Map<string, string>();
  const pairs: [string, string][] = [];
  for (const taskId of ids) {
    const prefix = createHash("md5").update("Outliers").update(taskId, "utf8").digest("hex").slice(0, 6);
    const other = seen.get(prefix);
    if (other === undefined) seen.set(prefix, taskId);
    else pairs.push([other, taskId]);
  }
  return pairs;
}

export function taskIds(sessionId: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${sessionId}_${i}`);
}

/** The submission JSON the client builds for external storage: task ids `<session>_<i>`. */
export function submissionPayload(
  sessionId: string,
  count: number,
  priority?: number,
): Record<string, unknown> {
  return {
    session_id: sessionId,
    scheduler_data: { task_timeout_sec: 3600, retry_count: 5 },
    stats: { stage1_grid_api_01_task_creation_tstmp: { label: "upload_data_to_storage", tstmp: Date.now() } },
    tasks_list: { tasks: taskIds(sessionId, count) },
    ...(priority === undefined ? {} : { context: { tasks_priority: priority } }),
  };
}

export const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString("base64url");

export function apiEvent(submissionContent: string): ApiGatewayEvent {
  return { queryStringParameters: { submission_content: submissionContent } };
}

/** Stores `<session>-payload` in S3 the way a client does (urlsafe base64 of the JSON). */
export async function putPayloadS3(s3: S3Client, sessionId: string, payload: unknown): Promise<void> {
  await s3.send(
    new PutObjectCommand({
      Bucket: BUCKET,
      Key: `${sessionId}-payload`,
      Body: b64(payload),
      ServerSideEncryption: "aws:kms",
      SSEKMSKeyId: KMS_KEY_ARN,
    }),
  );
}

export async function getRow(ddb: DynamoDBClient, taskId: string): Promise<TaskRow | undefined> {
  const out = await ddb.send(
    new GetItemCommand({ TableName: TABLE, Key: { task_id: { S: taskId } }, ConsistentRead: true }),
  );
  return out.Item ? itemToRow(out.Item) : undefined;
}

/** What an agent does on claim: pending -> processing with owner, heartbeat and receipt handle. */
export async function claimAsAgent(
  ddb: DynamoDBClient,
  taskId: string,
  agentId: string,
  heartbeatSec: number,
  receiptHandle = "None",
): Promise<void> {
  await ddb.send(
    new UpdateItemCommand({
      TableName: TABLE,
      Key: { task_id: { S: taskId } },
      UpdateExpression:
        "SET task_status = :p, task_owner = :o, heartbeat_expiration_timestamp = :h, sqs_handler_id = :r",
      ConditionExpression: "task_status = :pending AND task_owner = :none",
      ExpressionAttributeValues: {
        ":p": { S: stateKeyForTask("processing", taskId) },
        ":o": { S: agentId },
        ":h": { N: String(heartbeatSec) },
        ":r": { S: receiptHandle },
        ":pending": { S: stateKeyForTask("pending", taskId) },
        ":none": { S: "None" },
      },
    }),
  );
}

/** What an agent does on completion: processing -> finished. */
export async function finishAsAgent(
  ddb: DynamoDBClient,
  taskId: string,
  state: "finished" | "failed" | "cancelled" = "finished",
): Promise<void> {
  await ddb.send(
    new UpdateItemCommand({
      TableName: TABLE,
      Key: { task_id: { S: taskId } },
      UpdateExpression: "SET task_status = :s, task_completion_timestamp = :t",
      ExpressionAttributeValues: {
        ":s": { S: stateKeyForTask(state, taskId) },
        ":t": { N: String(Date.now()) },
      },
    }),
  );
}

export function applyEnv(env: Record<string, string | undefined>): void {
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
}
