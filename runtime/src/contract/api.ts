// The grid's HTTP API (public: Cognito; private: API key), as upstream's OpenAPI document defines it: three
// operations that each take `submission_content` (urlsafe base64 JSON, or a session id for submit with external
// storage) and answer JSON on success, a plain-text message with a grid-specific status on error.

export const API_OPERATIONS = {
  submit: { method: "POST", path: "/submit", handler: "submit_tasks" },
  results: { method: "GET", path: "/result", handler: "get_results" },
  cancel: { method: "POST", path: "/cancel", handler: "cancel_tasks" },
} as const;
export type ApiOperation = keyof typeof API_OPERATIONS;

/** The query parameter every operation reads. */
export const SUBMISSION_CONTENT = "submission_content";
/** Header carrying the private API's key. */
export const API_KEY_HEADER = "x-api-key";
/** Header carrying the Cognito id token on the public API (upstream's authorizer reads `Authorization`). */
export const AUTHORIZATION_HEADER = "Authorization";

/** Error statuses (upstream's): submit_tasks answers 543, get_results and cancel_tasks 542. */
export const SUBMIT_ERROR_STATUS = 543;
export const QUERY_ERROR_STATUS = 542;
/** Content type of the handlers' 200 answers. */
export const JSON_CONTENT_TYPE = "application/json";
/** Content type of the handlers' error answers (542/543): the body is a one-line message. */
export const ERROR_CONTENT_TYPE = "text/plain; charset=utf-8";

/**
 * What API Gateway itself answers before or instead of a handler (JSON `{"message": ...}` bodies): 400 from the
 * request validator, 401 from the Cognito authorizer, 403 for a missing/wrong API key (or an unknown route),
 * 413 for a request above its payload limit, 429 when throttled, 502 when the Lambda fails, 504 when it
 * takes longer than the 29 s integration timeout.
 */
export const GATEWAY_ERRORS = {
  missingParameter: { status: 400, message: `Missing required request parameters: [submission_content]` },
  unauthorized: { status: 401, message: "Unauthorized" },
  forbidden: { status: 403, message: "Forbidden" },
  missingAuthenticationToken: { status: 403, message: "Missing Authentication Token" },
  tooLarge: { status: 413, message: "Request Too Long" },
  throttled: { status: 429, message: "Too Many Requests" },
  lambdaError: { status: 502, message: "Internal server error" },
  timeout: { status: 504, message: "Endpoint request timed out" },
} as const;

/** Most tasks one submission may carry (bounded by what one invocation writes well within 29 s). */
export const MAX_TASKS_PER_SUBMISSION = 10_000;
/**
 * submit_tasks' Lambda timeout (the infrastructure sets it from here). An invocation cannot outlive it, so a
 * submission still open this long (plus SUBMISSION_DEADLINE_MARGIN_SEC) after it started was interrupted.
 */
export const SUBMIT_TASKS_TIMEOUT_SEC = 300;
/** Clock skew and start-up allowance added to SUBMIT_TASKS_TIMEOUT_SEC before an open submission is resumed. */
export const SUBMISSION_DEADLINE_MARGIN_SEC = 60;
/**
 * Largest decoded request (JSON bytes) a handler accepts, also the largest `<session_id>-payload`. Lambda's
 * synchronous payload limit is 6 MB and base64 grows data by 4/3, so 4 MiB of JSON is the most that can arrive
 * through API Gateway at all.
 */
export const MAX_DECODED_BYTES = 4 * 1024 * 1024;
/**
 * Most tasks a client puts in one session: get_results answers every task id of a session in one response
 * (about 71 bytes per task with its output placeholder), which must stay below Lambda's 6 MB response limit
 * (about 88,000 tasks); this keeps a wide margin. Larger workloads are several sessions.
 */
export const MAX_TASKS_PER_SESSION = 50_000;
/** Largest inline task definition (JSON text bytes): keeps rows far below DynamoDB's 400 KB item limit. */
export const MAX_INLINE_DEFINITION_BYTES = 64 * 1024;
/**
 * Largest event a worker is invoked with and largest response it can give (bytes): Lambda's synchronous invoke
 * limit of 6 MiB + 100 bytes, which the Runtime Interface Emulator in the worker container applies too (it cuts a
 * longer event short, so the runtime cannot parse it, and answers a longer response with
 * Function.ResponseSizeTooLarge). A task's input is its event and its output the response.
 */
export const MAX_WORKER_PAYLOAD_BYTES = 6 * 1024 * 1024 + 100;
/** Maximum sessions per get_results / cancel_tasks request. */
export const MAX_SESSIONS_PER_REQUEST = 100;
/** Session ids are client uuid1/uuid4 strings; the character set a task id prefix can hold. */
export const SESSION_ID_PATTERN = /^[A-Za-z0-9-]{1,64}$/;
/** Task ids double as SQS batch entry ids: [A-Za-z0-9_-], at most 80 characters. */
export const TASK_ID_PATTERN = /^[A-Za-z0-9_-]{1,80}$/;

/** What the `*_OUTPUT` lists of get_results hold: the client reads `<task_id>-output` itself. */
export const OUTPUT_PLACEHOLDER = "read_from_dataplane";
/**
 * Most task ids in one get_results request for outputs (`{"session_id", "task_ids"}`): one BatchGetItem reads
 * them, and 100 outputs of MAX_INLINE_OUTPUT_BYTES fit its answer and Lambda's response many times over.
 */
export const MAX_TASK_IDS_PER_RESULTS_REQUEST = 100;

/** The submission JSON (before base64). */
export interface SubmissionPayload {
  session_id: string;
  /**
   * Task ids (`<session_id>_<suffix>`, input in the data plane) or, inline, task definitions; inline ids are
   * `<session_id>_<first_index + i>` (first_index defaults to 0; ignored with external storage).
   */
  tasks_list: { tasks: (string | Record<string, unknown>)[]; first_index?: number };
  scheduler_data?: {
    task_timeout_sec?: number;
    retry_count?: number;
    tasks_in_session?: number;
    /**
     * The client reads outputs through get_results' `task_ids` request, so agents may keep an output of up to
     * MAX_INLINE_OUTPUT_BYTES in the task's row instead of the data plane (OUTPUT_ATTRIBUTE).
     */
    inline_outputs?: boolean;
  };
  stats?: Record<string, unknown>;
  context?: { tasks_priority?: number };
}

/** 200 answer of POST /submit. */
export interface SubmitResponse {
  session_id: string;
  task_ids: string[];
  /**
   * True when the submission's first task already existed, so nothing was written or queued: a retried (or
   * concurrent) copy of a submission the grid already took. Absent otherwise.
   */
  duplicate?: true;
}

/**
 * The JSON of GET /result: a session's final tasks, or, with `task_ids`, which of those tasks (of that session)
 * are final, with the outputs kept in their rows: `finished_OUTPUT[i]` is then the stored output (base64) of
 * `finished[i]`, or OUTPUT_PLACEHOLDER when it is in the data plane. Upstream's get_results ignores `task_ids`.
 */
export interface ResultsRequest {
  session_id: string;
  task_ids?: string[];
}

/** 200 answer of GET /result. */
export interface ResultsResponse {
  finished: string[];
  finished_OUTPUT: string[];
  cancelled: string[];
  cancelled_OUTPUT: string[];
  failed: string[];
  failed_OUTPUT: string[];
  metadata: { tasks_in_response: number };
}

/** Per-session counts in the 200 answer of POST /cancel. */
export interface SessionCancelCounts {
  cancelled_pending: number;
  cancelled_processing: number;
  total_cancelled_tasks: number;
}
export type CancelResponse = Record<string, SessionCancelCounts>;

/** urlsafe base64 of JSON text, as clients encode `submission_content`. */
export function encodeSubmissionContent(value: unknown): string {
  return Buffer.from(JSON.stringify(value), "utf8").toString("base64url");
}
