// The state-table item: one row per task, keyed by task_id, written by submit_tasks and moved through its
// states by agents, cancel_tasks and the TTL checker. Field names are upstream's and shared by every party.

/** Primary key attribute of the state table. */
export const STATE_TABLE_KEY = "task_id";
/** Index queried by the TTL checker: expired heartbeats per `processing<p>` partition. */
export const TTL_INDEX = "gsi_ttl_index";
/** Index queried by get_results and cancel_tasks: a session's tasks per status. */
export const SESSION_INDEX = "gsi_session_index";

/** Key and projected attributes of each index (the infrastructure creates exactly these). */
export const STATE_TABLE_INDEXES = {
  [TTL_INDEX]: {
    hashKey: "task_status",
    rangeKey: "heartbeat_expiration_timestamp",
    projected: ["task_id", "task_owner", "task_priority"],
  },
  [SESSION_INDEX]: { hashKey: "session_id", rangeKey: "task_status", projected: ["task_id"] },
} as const;

/** Typed key attributes of the table and its indexes. */
export const STATE_TABLE_ATTRIBUTES = {
  task_id: "S",
  session_id: "S",
  task_status: "S",
  heartbeat_expiration_timestamp: "N",
} as const;

/**
 * An open submission. submit_tasks writes a submission's first row before anything else, with two marks: this
 * attribute (the number of tasks in the submission when their ids are `<session>_<n>` numbered on from the
 * first, as submit_tasks numbers inline tasks and both clients number theirs; 0 for other ids) and, although the
 * row is pending, a non-zero `heartbeat_expiration_timestamp`: the time (epoch seconds) by which the invocation
 * must have ended. Its message is sent after every other task's, and then both marks are cleared. A pending row
 * still marked after that time belongs to a submission whose invocation died part-way (a timeout, a crash): the
 * TTL checker finds it on the TTL index (`pending<p>`, expiry from 1 to now) and completes or accounts for the
 * submission. Any other pending row has an expiry of 0; an agent's claim overwrites the expiry (its message was
 * then sent last).
 */
export const SUBMISSION_SIZE_ATTRIBUTE = "submission_size";

/**
 * Output of a finished task kept in its row (the stored form: base64 of the worker's response) instead of the data
 * plane's `<task_id>-output`. An agent writes it in the same conditional update that marks the task finished, so
 * the task is finished with its output or not at all, in one request. Only for a task whose row says
 * INLINE_OUTPUTS_ATTRIBUTE (upstream's clients read every output from the data plane, so their tasks never get
 * one) and only up to MAX_INLINE_OUTPUT_BYTES; a larger output goes to the data plane as before.
 */
export const OUTPUT_ATTRIBUTE = "task_output";
/**
 * Row and message attribute (number 1) set by submit_tasks when the client asked for inline outputs
 * (`scheduler_data.inline_outputs`): it reads outputs through get_results' `task_ids` request.
 */
export const INLINE_OUTPUTS_ATTRIBUTE = "inline_outputs";
/**
 * Largest output (stored form, base64 characters) kept in the row. A DynamoDB write is billed per KB of the item,
 * so 4 KB costs about five write units ($3.5 per million at eu-west-1 prices), still less than the S3 PUT and GET
 * it replaces ($5.4), and get_results answers 100 of them in well under Lambda's 6 MB.
 */
export const MAX_INLINE_OUTPUT_BYTES = 4096;

/** The value of `task_owner` and `sqs_handler_id` while no agent holds the task. */
export const NONE = "None";
/** `task_definition` of a task whose input lives in the data plane (`<task_id>-input`). */
export const DEFINITION_IN_DATA_PLANE = "none";

/**
 * Attribute every conditional transition stamps with a fresh id. When the SDK retries an UpdateItem whose first
 * attempt was applied but whose response was lost, the retry fails its condition; the id in the old item
 * (ReturnValuesOnConditionCheckFailure ALL_OLD) tells that apart from a change made by someone else.
 */
export const TRANSITION_ID_ATTRIBUTE = "last_transition_id";

/** One state-table item as written by submit_tasks. */
export interface TaskRow {
  session_id: string;
  task_id: string;
  parent_session_id: string;
  /** Milliseconds since epoch. */
  submission_timestamp: number;
  /** 0 until finished, then milliseconds since epoch. */
  task_completion_timestamp: number;
  /** `<state><partition>`, see task-state.ts. */
  task_status: string;
  /** NONE or the agent id holding the task. */
  task_owner: string;
  retries: number;
  /** DEFINITION_IN_DATA_PLANE, or the inline task definition (JSON text). */
  task_definition: string;
  /** NONE until an agent claims the task, then its SQS receipt handle. */
  sqs_handler_id: string;
  /** 0 until claimed, then epoch seconds. */
  heartbeat_expiration_timestamp: number;
  task_priority: number;
  /** 1 when the task's output may be kept in its row (INLINE_OUTPUTS_ATTRIBUTE); absent otherwise. */
  inline_outputs?: 1;
}

/** Every field of a row, with its DynamoDB type. */
export const STATE_ITEM_FIELDS: Readonly<Record<keyof TaskRow, "S" | "N">> = {
  session_id: "S",
  task_id: "S",
  parent_session_id: "S",
  submission_timestamp: "N",
  task_completion_timestamp: "N",
  task_status: "S",
  task_owner: "S",
  retries: "N",
  task_definition: "S",
  sqs_handler_id: "S",
  heartbeat_expiration_timestamp: "N",
  task_priority: "N",
  inline_outputs: "N",
};
