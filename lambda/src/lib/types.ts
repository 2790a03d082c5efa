// Shared vocabulary of the control plane: task states, the state-table row, API Gateway shapes.

export type GridStorageService = "S3" | "REDIS" | "S3+REDIS";
export type TaskQueueService = "SQS" | "PrioritySQS";

/** Task lifecycle states; the stored `task_status` is `<state><partition>` (e.g. `pending17`). */
export const TASK_STATES = ["pending", "processing", "finished", "failed", "cancelled"] as const;
export type TaskState = (typeof TASK_STATES)[number];

/** One state-table item as written by submit_tasks (field names are the agents' contract). */
export interface TaskRow {
  session_id: string;
  task_id: string;
  parent_session_id: string;
  /** Milliseconds since epoch. */
  submission_timestamp: number;
  /** 0 until finished, then milliseconds since epoch. */
  task_completion_timestamp: number;
  task_status: string;
  /** "None" or the agent id holding the task. */
  task_owner: string;
  retries: number;
  /** "none" when the input lives in the data plane, else the inline task definition (JSON text). */
  task_definition: string;
  /** "None" until an agent claims the task, then its SQS receipt handle. */
  sqs_handler_id: string;
  /** 0 until claimed, then epoch seconds. */
  heartbeat_expiration_timestamp: number;
  task_priority: number;
}

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
