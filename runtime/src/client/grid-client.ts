// GridClient: submit a session of tasks, wait for it, read its results, cancel it. Built from an agent
// configuration document; speaks the grid's API (runtime/src/contract/api.ts) and reads and writes the data plane
// of the grid's storage mode through runtime/src/aws.
//
// One logical session may take several submit calls (the API takes at most MAX_TASKS_PER_SUBMISSION tasks and
// MAX_DECODED_BYTES per call). All calls use the session's id, and task ids stay unique across them:
// - with external storage, the client names every task `<session_id>_<n>` (n counts across the whole session)
//   and uploads `<task_id>-input`; submit_tasks reads the task list from `<session_id>-payload`, one key per
//   session, so the parts go one after the other: part k's payload is written only after part k-1's submit was
//   answered (the handler reads the payload at its start, so an answered call is done with it). Every part's
//   payload carries `scheduler_data.tasks_in_session`, the size of the whole session, which `htc watch` reads.
// - inline (task_input_passed_via_external_storage = 0), each part says `tasks_list.first_index`, so the server
//   numbers it `<session_id>_<first_index + i>`.
// A submit call that failed without an answer (network error, 502, 504) is repeated: submit_tasks writes a
// submission's first row only if absent and answers a repeat `duplicate: true` without writing or queueing again.

import { randomUUID } from "node:crypto";
import {
  FINAL_STATES,
  GRID_STORAGE_SERVICES,
  MAX_DECODED_BYTES,
  MAX_INLINE_DEFINITION_BYTES,
  MAX_WORKER_PAYLOAD_BYTES,
  MAX_SESSIONS_PER_REQUEST,
  MAX_TASKS_PER_SESSION,
  MAX_TASKS_PER_SUBMISSION,
  MAX_TASK_IDS_PER_RESULTS_REQUEST,
  OUTPUT_PLACEHOLDER,
  SESSION_ID_PATTERN,
  encodeSubmissionContent,
  errorKey,
  fromBase64,
  inputKey,
  outputKey,
  payloadKey,
  sessionOfTask,
  toBase64,
  type AgentConfigDocument,
  type CancelResponse,
  type GridStorageService,
  type ResultsRequest,
  type ResultsResponse,
  type SubmissionPayload,
  type SubmitResponse,
  type TaskState,
} from "../contract";
import { s3Client, signedS3For } from "../aws/clients";
import {
  connectRedis,
  openDataPlane,
  parseRedisUrl,
  RedisFullError,
  RedisUnreachableError,
  type DataPlane,
  type DataPlaneHandle,
} from "../aws/data-plane";
import { chunk, mapLimit, mapOrdered } from "../aws/retry";
import {
  ApiKeyAuthenticator,
  CognitoAuthenticator,
  type ApiAuthenticator,
  type CognitoAuthenticatorOptions,
  type CognitoCredentials,
} from "./auth";
import { CognitoClient } from "./cognito";
import { loadAgentConfig, parseClientConfig, resolveAgentConfigPath } from "./config";
import {
  ApiError,
  ConfigError,
  GridTimeoutError,
  UnknownSessionError,
  UsageError,
  type SessionProgress,
} from "./errors";
import { ApiTransport, type ApiTransportOptions } from "./http";

type Env = Readonly<Record<string, string | undefined>>;

/** Which API to call: the public one (Cognito) or the private one (API key, reachable only inside the VPC). */
export type ApiFlavour = "public" | "private";

export interface GridClientOptions {
  /** @default "private" when the INTRA_VPC environment variable is set (upstream's switch), else "public" */
  readonly api?: ApiFlavour;
  /** Private API key. @default HTC_API_KEY, else the configuration's api_gateway_key */
  readonly apiKey?: string;
  /** Cognito sign-in for the public API (password for SRP, or a refresh token from `htc login`). */
  readonly credentials?: CognitoCredentials;
  /** Options of the Cognito authenticator (refresh margin, where rotated tokens go). */
  readonly cognito?: CognitoAuthenticatorOptions;
  /** Replaces the API key / Cognito authentication altogether. */
  readonly authenticator?: ApiAuthenticator;
  /** Invoke URL to use instead of the configuration's `<api>_api_gateway_url`. */
  readonly apiUrl?: string;
  /** HTTP timeouts and retries. */
  readonly http?: Pick<ApiTransportOptions, "timeoutMs" | "maxAttempts" | "backoffMs">;
  /** Redis AUTH token. @default the configuration's redis_password */
  readonly redisPassword?: string;
  /** A data plane to use instead of the one the configuration describes. */
  readonly dataPlane?: DataPlane;
  /** Parallel data-plane reads and writes. @default 32 */
  readonly dataPlaneConcurrency?: number;
  /** Environment: INTRA_VPC, HTC_API_KEY, AWS endpoints. @default process.env */
  readonly env?: Env;
  /** Diagnostics (retries, duplicates); never receives a credential. @default none */
  readonly log?: (line: string) => void;
}

export interface SubmitOptions {
  /** `context.tasks_priority`: the queue the tasks go to (0 = lowest; PrioritySQS agents drain the highest first). */
  readonly priority?: number;
  /** Session id to use. @default a new random UUID */
  readonly sessionId?: string;
  /** Most tasks per submit call (at most MAX_TASKS_PER_SUBMISSION). @default MAX_TASKS_PER_SUBMISSION */
  readonly maxTasksPerCall?: number;
  /** Called after each submit call with the tasks submitted so far. */
  readonly onProgress?: (submitted: number, total: number) => void;
  /** With inputs in the data plane: called after each input is written, with the inputs written so far. */
  readonly onUpload?: (written: number, total: number) => void;
  /**
   * `scheduler_data.inline_outputs`: agents keep an output of up to MAX_INLINE_OUTPUT_BYTES (base64) in the
   * task's row, written with its finish, instead of the data plane; results read it through get_results. Turn it
   * off when another client (upstream's, which reads every output from the data plane) reads this session.
   * @default true
   */
  readonly inlineOutputs?: boolean;
}

export interface Submission {
  readonly sessionId: string;
  readonly taskIds: string[];
  readonly priority: number;
  /** Submit calls made for the session. */
  readonly calls: number;
  /** Calls the grid answered as duplicates (a repeated call whose first attempt the grid had already taken). */
  readonly duplicates: number;
}

export type TaskStatus = Extract<TaskState, "finished" | "failed" | "cancelled">;

export interface TaskResult {
  readonly taskId: string;
  readonly status: TaskStatus;
  /** Finished tasks: the worker's response, JSON-parsed when it is JSON, else the text. */
  readonly output?: unknown;
  /** Failed (and cancelled) tasks: `<task_id>-error` when the agent wrote one. */
  readonly error?: string;
  /** A finished task whose `<task_id>-output` is not in the data plane. */
  readonly outputMissing?: true;
}

export interface SessionResults extends SessionProgress {
  /** Every task of the session is in a final state (known only when the total is). */
  readonly complete: boolean;
  readonly results: TaskResult[];
}

export interface WaitOptions {
  /** Give up after this long (GridTimeoutError). @default no limit */
  readonly timeoutMs?: number;
  /** Tasks in the session. @default the submission's, else `tasks_in_session` from `<session_id>-payload` */
  readonly total?: number;
  /** First poll interval, and the shortest. @default dynamodb_results_pull_interval_sec */
  readonly pollIntervalMs?: number;
  /**
   * The interval grows by half after every poll up to this; once tasks finish, a poll comes sooner when the
   * session's rate says it will be done before then (see nextPollDelayMs). @default 5000
   */
  readonly maxPollIntervalMs?: number;
  /** Read outputs and errors once done. @default true */
  readonly readOutputs?: boolean;
  readonly onProgress?: (progress: SessionProgress) => void;
  readonly signal?: AbortSignal;
}

const DEFAULTS = { dataPlaneConcurrency: 32, maxPollIntervalMs: 5_000, taskTimeoutSec: 3_600, retryCount: 5 };

/** Upstream's eight stage timestamps: its agent writes into them and fails on a missing one. */
function initialStats(now: number): Record<string, { label: string; tstmp: number }> {
  return {
    stage1_grid_api_01_task_creation_tstmp: { label: "task_creation", tstmp: now },
    stage1_grid_api_02_task_submission_tstmp: { label: "upload_data_to_storage", tstmp: now },
    stage2_sbmtlmba_01_invocation_tstmp: { label: "grid_api_2_lambda_ms", tstmp: 0 },
    stage2_sbmtlmba_02_before_batch_write_tstmp: { label: "task_construction_ms", tstmp: 0 },
    stage3_agent_01_task_acquired_sqs_tstmp: { label: "sqs_queuing_time_ms", tstmp: 0 },
    stage3_agent_02_task_acquired_ddb_tstmp: { label: "ddb_task_claiming_time_ms", tstmp: 0 },
    stage4_agent_01_user_code_finished_tstmp: { label: "user_code_exec_time_ms", tstmp: 0 },
    stage4_agent_02_S3_stdout_delivered_tstmp: { label: "S3_stdout_upload_time_ms", tstmp: 0 },
  };
}

/** A data-plane value (base64 text) as the worker wrote it: JSON when it parses, else the text. */
export function decodeOutput(stored: string): unknown {
  const text = fromBase64(stored).toString("utf8");
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Data-plane failures as ApiError, naming the store and the key (S3 and Redis errors carry no credentials). */
function guarded(plane: DataPlane, storage: GridStorageService): DataPlane {
  const wrap = async <T>(what: string, key: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      if (error instanceof RedisFullError)
        throw new ApiError(`the data plane (${storage}): ${error.message}`);
      if (error instanceof RedisUnreachableError)
        throw new ApiError(`the data plane (${storage}) could not ${what} ${key}: ${error.message}`);
      const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      throw new ApiError(
        `the data plane (${storage}) could not ${what} ${key}: ${detail.split("\n")[0]}; check AWS credentials and that ${storage === "S3" ? "the bucket" : "Redis"} is reachable from here`,
      );
    }
  };
  return {
    get: (key) => wrap("read", key, () => plane.get(key)),
    put: (key, value) => wrap("write", key, () => plane.put(key, value)),
  };
}

/**
 * How long wait() sleeps before its next poll: the backed-off interval, or less when the session's observed rate
 * says it will be done sooner, never less than the first interval (dynamodb_results_pull_interval_sec, the
 * configured floor), so a session's end is seen within one first interval rather than up to a whole backed-off one
 * (5 s by default).
 * `left`: tasks not done yet; `rate`: tasks done per millisecond between the last two polls (undefined or 0 when
 * none finished in between: then the interval keeps backing off, so a session's stragglers are not polled for every
 * first interval).
 */
export function nextPollDelayMs(p: {
  readonly interval: number;
  readonly floor: number;
  readonly left: number;
  readonly rate: number | undefined;
}): number {
  if (!p.rate || !(p.rate > 0) || !Number.isFinite(p.rate)) return p.interval;
  return Math.min(p.interval, Math.max(p.floor, p.left / p.rate));
}

/** Resolves after `ms`, or at once when `signal` aborts; takes its abort listener away either way (one per poll
 * would pile up on a long wait's signal). */
const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = (): void => (clearTimeout(timer), resolve());
    const timer = setTimeout(() => (signal?.removeEventListener("abort", onAbort), resolve()), ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });

export class GridClient {
  readonly api: ApiFlavour;
  private readonly transport: ApiTransport;
  private readonly env: Env;
  private dataPlaneHandle: DataPlaneHandle | undefined;
  /** The control plane answered a `task_ids` request with the whole session (it is not this project's). */
  private rowOutputsUnsupported = false;

  /** From a configuration file: `path`, else AGENT_CONFIG_FILE, generated/agent_config.json or /etc/agent. */
  static fromFile(path?: string, options: GridClientOptions = {}): GridClient {
    const env = options.env ?? process.env;
    return new GridClient(loadAgentConfig(resolveAgentConfigPath(path, env)), options);
  }

  /** From a parsed configuration document (checked with parseAgentConfig(..., "client")). */
  static fromConfig(document: unknown, options: GridClientOptions = {}): GridClient {
    return new GridClient(parseClientConfig(document), options);
  }

  constructor(
    readonly config: AgentConfigDocument,
    private readonly options: GridClientOptions = {},
  ) {
    this.env = options.env ?? process.env;
    this.api = options.api ?? (this.env.INTRA_VPC ? "private" : "public");
    if (!(GRID_STORAGE_SERVICES as readonly string[]).includes(config.grid_storage_service)) {
      throw new ConfigError(
        `grid_storage_service = ${JSON.stringify(config.grid_storage_service)} must be one of ${GRID_STORAGE_SERVICES.join(", ")}`,
      );
    }
    const baseUrl =
      options.apiUrl ??
      (this.api === "private" ? config.private_api_gateway_url : config.public_api_gateway_url);
    if (!baseUrl) {
      throw new ConfigError(
        `the agent configuration has no ${this.api}_api_gateway_url; ${this.api === "private" ? "unset INTRA_VPC to use the public API" : "set INTRA_VPC=1 to use the private API"}, or check the file`,
      );
    }
    this.transport = new ApiTransport({
      ...options.http,
      baseUrl,
      auth: options.authenticator ?? this.authenticator(),
      log: options.log,
    });
  }

  private authenticator(): ApiAuthenticator {
    if (this.api === "private") {
      const key = this.options.apiKey ?? (this.env.HTC_API_KEY || this.config.api_gateway_key);
      if (!key) {
        throw new ConfigError(
          "the private API needs its key: api_gateway_key is empty in the agent configuration (set agent_config_include_secrets, or in a pod it comes from the agent Secret), or set HTC_API_KEY",
        );
      }
      return new ApiKeyAuthenticator(key);
    }
    if (!this.config.user_pool_id || !this.config.cognito_userpool_client_id) {
      throw new ConfigError(
        "the public API needs Cognito, but user_pool_id or cognito_userpool_client_id is empty in the agent configuration",
      );
    }
    const cognito = new CognitoClient(
      {
        region: this.config.user_pool_id.split("_")[0] || this.config.region,
        userPoolId: this.config.user_pool_id,
        clientId: this.config.cognito_userpool_client_id,
      },
      this.env,
    );
    return new CognitoAuthenticator(cognito, this.options.credentials ?? {}, this.options.cognito);
  }

  /** Requests sent per API operation, retries included. */
  get requestsSent(): Readonly<Record<"submit" | "results" | "cancel", number>> {
    return this.transport.sent;
  }

  get storage(): GridStorageService {
    return this.config.grid_storage_service as GridStorageService;
  }

  get externalStorage(): boolean {
    return this.config.task_input_passed_via_external_storage !== 0;
  }

  /** The data plane, opened on first use (S3 needs AWS credentials; Redis is reachable only inside the VPC). */
  dataPlane(): DataPlane {
    if (this.options.dataPlane) return this.options.dataPlane;
    return (this.guardedDataPlane ??= guarded(this.openDataPlane(), this.storage));
  }

  private guardedDataPlane: DataPlane | undefined;

  private openDataPlane(): DataPlane {
    if (!this.dataPlaneHandle) {
      const storage = this.storage;
      let redis;
      if (storage !== "S3") {
        if (!this.config.redis_url) throw new ConfigError(`grid_storage_service ${storage} needs redis_url`);
        let address;
        try {
          address = parseRedisUrl(this.config.redis_url, true);
        } catch (error) {
          throw new ConfigError(`redis_url: ${(error as Error).message}`);
        }
        redis = connectRedis(address, this.options.redisPassword ?? this.config.redis_password);
      }
      if (storage !== "REDIS" && !this.config.s3_bucket) {
        throw new ConfigError(`grid_storage_service ${storage} needs s3_bucket`);
      }
      // Outputs and inputs move through the signed-HTTP client where it works (a fraction of the SDK's CPU).
      const sdkS3 = storage === "REDIS" ? undefined : s3Client(this.config.region, this.env);
      this.dataPlaneHandle = openDataPlane({
        storage,
        s3:
          sdkS3 === undefined
            ? undefined
            : {
                client: signedS3For(sdkS3, this.config.region, this.env) ?? sdkS3,
                bucket: this.config.s3_bucket,
                kmsKeyId: this.config.s3_kms_key_id,
              },
        redis,
        redisExpirationSec: this.config.redis_data_expiration_sec,
      });
    }
    return this.dataPlaneHandle.dataPlane;
  }

  /** Closes the data-plane connections (Redis). */
  async close(): Promise<void> {
    const handle = this.dataPlaneHandle;
    this.dataPlaneHandle = undefined;
    this.guardedDataPlane = undefined;
    await handle?.close();
  }

  /** Submits `tasks` as one session, in as many submit calls as the API's limits need. */
  async submit(tasks: readonly unknown[], options: SubmitOptions = {}): Promise<Submission> {
    const priority = options.priority ?? 0;
    if (!Number.isInteger(priority) || priority < 0) {
      throw new UsageError(`priority ${JSON.stringify(priority)} must be a non-negative integer`);
    }
    const sessionId = options.sessionId ?? randomUUID();
    if (!SESSION_ID_PATTERN.test(sessionId)) {
      throw new UsageError(`session id ${JSON.stringify(sessionId)} must match [A-Za-z0-9-]{1,64}`);
    }
    if (tasks.length === 0) throw new UsageError("there are no tasks to submit");
    if (tasks.length > MAX_TASKS_PER_SESSION) {
      throw new UsageError(
        `${tasks.length} tasks are more than ${MAX_TASKS_PER_SESSION} per session (get_results must answer a session in one response); split them into several sessions`,
      );
    }
    const maxPerCall = Math.min(
      options.maxTasksPerCall ?? MAX_TASKS_PER_SUBMISSION,
      MAX_TASKS_PER_SUBMISSION,
    );
    if (!Number.isInteger(maxPerCall) || maxPerCall < 1) {
      throw new UsageError(`maxTasksPerCall must be a positive integer`);
    }
    const definitions = tasks.map((task, i) => {
      const text = task === undefined ? undefined : JSON.stringify(task);
      if (text === undefined) throw new UsageError(`task ${i} is not JSON-serializable`);
      if (Buffer.byteLength(text) > MAX_WORKER_PAYLOAD_BYTES) {
        throw new UsageError(
          `task ${i} is ${Buffer.byteLength(text)} bytes of JSON, above the ${MAX_WORKER_PAYLOAD_BYTES}-byte limit of ` +
            "a worker's event (Lambda's invoke limit, which the worker's emulator applies): put large data in S3 and " +
            "pass its key",
        );
      }
      if (!this.externalStorage) {
        if (typeof task !== "object" || task === null || Array.isArray(task)) {
          throw new UsageError(
            `task ${i} must be a JSON object: this grid takes task input inline (task_input_passed_via_external_storage = 0)`,
          );
        }
        if (Buffer.byteLength(text) > MAX_INLINE_DEFINITION_BYTES) {
          throw new UsageError(
            `task ${i} is ${Buffer.byteLength(text)} bytes of JSON, above the ${MAX_INLINE_DEFINITION_BYTES}-byte limit for inline task input`,
          );
        }
      }
      return text;
    });

    const now = Date.now();
    const envelope = (tasksList: SubmissionPayload["tasks_list"]): SubmissionPayload => ({
      session_id: sessionId,
      scheduler_data: {
        task_timeout_sec: DEFAULTS.taskTimeoutSec,
        retry_count: DEFAULTS.retryCount,
        tasks_in_session: tasks.length,
        ...(options.inlineOutputs === false ? {} : { inline_outputs: true }),
      },
      stats: initialStats(now),
      tasks_list: tasksList,
      context: { tasks_priority: priority },
    });
    // Parts: at most maxPerCall tasks and MAX_DECODED_BYTES of submission JSON each.
    const parts: { first: number; count: number }[] = [];
    const fixedBytes = Buffer.byteLength(JSON.stringify(envelope({ tasks: [], first_index: tasks.length })));
    let first = 0;
    let bytes = fixedBytes;
    for (let i = 0; i < tasks.length; i++) {
      const itemBytes =
        (this.externalStorage
          ? Buffer.byteLength(`${sessionId}_${i}`) + 2
          : Buffer.byteLength(definitions[i])) + 1;
      if (i > first && (i - first >= maxPerCall || bytes + itemBytes > MAX_DECODED_BYTES)) {
        parts.push({ first, count: i - first });
        first = i;
        bytes = fixedBytes;
      }
      bytes += itemBytes;
    }
    parts.push({ first, count: tasks.length - first });

    const taskIds: string[] = [];
    let duplicates = 0;
    let written = 0;
    for (const part of parts) {
      const ids = Array.from({ length: part.count }, (_, i) => `${sessionId}_${part.first + i}`);
      let answer: SubmitResponse;
      if (this.externalStorage) {
        const data = this.dataPlane();
        const concurrency = this.options.dataPlaneConcurrency ?? DEFAULTS.dataPlaneConcurrency;
        await mapLimit(ids, concurrency, async (taskId, i) => {
          await data.put(inputKey(taskId), toBase64(definitions[part.first + i]));
          options.onUpload?.(++written, tasks.length);
        });
        await data.put(payloadKey(sessionId), encodeSubmissionContent(envelope({ tasks: ids })));
        answer = await this.transport.call<SubmitResponse>("submit", sessionId);
      } else {
        const payload = envelope({
          tasks: tasks.slice(part.first, part.first + part.count) as Record<string, unknown>[],
          first_index: part.first,
        });
        answer = await this.transport.call<SubmitResponse>(
          "submit",
          sessionId,
          encodeSubmissionContent(payload),
        );
      }
      if (
        answer.session_id !== sessionId ||
        !Array.isArray(answer.task_ids) ||
        answer.task_ids.length !== ids.length ||
        answer.task_ids.some((id, i) => id !== ids[i])
      ) {
        throw new ApiError(
          `the grid answered the submission of session ${sessionId} (tasks ${part.first}-${part.first + part.count - 1}) with other task ids than were sent; the grid's control plane may be an incompatible version`,
        );
      }
      if (answer.duplicate) {
        duplicates++;
        this.options.log?.(
          `session ${sessionId}: tasks ${part.first}-${part.first + part.count - 1} were already submitted (a repeated call); not queued again`,
        );
      }
      taskIds.push(...ids);
      options.onProgress?.(taskIds.length, tasks.length);
    }
    return { sessionId, taskIds, priority, calls: parts.length, duplicates };
  }

  /** One get_results call: the session's task ids per final state. */
  async finalTasks(sessionId: string): Promise<Record<TaskStatus, string[]>> {
    const body = await this.transport.call<ResultsResponse>(
      "results",
      encodeSubmissionContent({ session_id: sessionId }),
    );
    return { finished: body.finished ?? [], failed: body.failed ?? [], cancelled: body.cancelled ?? [] };
  }

  /**
   * Tasks in a session, from `scheduler_data.tasks_in_session` of `<session_id>-payload` (or its task list, as
   * upstream's clients write one payload per session); undefined when the session has no payload (inline
   * submissions, or an unknown session).
   */
  async sessionSize(sessionId: string): Promise<number | undefined> {
    if (!SESSION_ID_PATTERN.test(sessionId)) {
      throw new UsageError(`session id ${JSON.stringify(sessionId)} must match [A-Za-z0-9-]{1,64}`);
    }
    if (!this.externalStorage) return undefined;
    const stored = await this.dataPlane().get(payloadKey(sessionId));
    if (stored === undefined) return undefined;
    try {
      const payload = decodeOutput(stored) as SubmissionPayload;
      return payload.scheduler_data?.tasks_in_session ?? payload.tasks_list.tasks.length;
    } catch {
      return undefined;
    }
  }

  private async progressOf(sessionId: string, total: number | undefined) {
    const lists = await this.finalTasks(sessionId);
    const done = lists.finished.length + lists.failed.length + lists.cancelled.length;
    const progress: SessionProgress = {
      sessionId,
      total,
      finished: lists.finished.length,
      failed: lists.failed.length,
      cancelled: lists.cancelled.length,
      pending: total === undefined ? undefined : Math.max(0, total - done),
    };
    return { lists, progress, done };
  }

  /** The session's size: the given total, else from its payload; UnknownSessionError when neither is known. */
  private async totalOf(sessionId: string, given?: number): Promise<number> {
    const total = given ?? (await this.sessionSize(sessionId));
    if (total === undefined) {
      if (!this.externalStorage) {
        throw new UsageError(
          `cannot tell how many tasks session ${sessionId} has: inline submissions keep no payload; pass the task count (htc: --tasks N)`,
        );
      }
      throw new UnknownSessionError(
        `session ${sessionId} is unknown: there is no ${payloadKey(sessionId)} in the data plane; check the id`,
      );
    }
    return total;
  }

  /**
   * Polls get_results until every task of the session is finished, failed or cancelled, backing off from
   * dynamodb_results_pull_interval_sec but polling sooner when the session's rate says it ends before the next
   * backed-off poll (nextPollDelayMs), then reads the outputs. Throws GridTimeoutError after `timeoutMs`.
   * A session that never appears (the grid lost or never took it) looks like a session whose tasks are all
   * pending: only the timeout ends that wait.
   */
  async wait(session: Submission | string, options: WaitOptions = {}): Promise<SessionResults> {
    const sessionId = typeof session === "string" ? session : session.sessionId;
    const total = await this.totalOf(
      sessionId,
      options.total ?? (typeof session === "string" ? undefined : session.taskIds.length),
    );
    const started = Date.now();
    const deadline = options.timeoutMs === undefined ? Infinity : started + options.timeoutMs;
    const floor =
      options.pollIntervalMs ?? Math.max(50, this.config.dynamodb_results_pull_interval_sec * 1000);
    let interval = floor;
    const maxInterval = options.maxPollIntervalMs ?? DEFAULTS.maxPollIntervalMs;
    let previous: { at: number; done: number } | undefined;
    for (;;) {
      const { lists, progress, done } = await this.progressOf(sessionId, total);
      const polledAt = Date.now();
      options.onProgress?.(progress);
      if (done >= total) {
        const results = options.readOutputs === false ? this.bare(lists) : await this.readResults(lists);
        return { ...progress, complete: true, results };
      }
      const left = deadline - Date.now();
      if (left <= 0 || options.signal?.aborted) {
        const why = options.signal?.aborted
          ? "was interrupted"
          : `timed out after ${((Date.now() - started) / 1000).toFixed(1)} s`;
        throw new GridTimeoutError(
          `waiting for session ${sessionId} ${why}: ${done} of ${total} tasks done (${progress.finished} finished, ${progress.failed} failed, ${progress.cancelled} cancelled)`,
          progress,
        );
      }
      const rate =
        previous && polledAt > previous.at ? (done - previous.done) / (polledAt - previous.at) : undefined;
      previous = { at: polledAt, done };
      await sleep(
        Math.min(nextPollDelayMs({ interval, floor, left: total - done, rate }), left),
        options.signal,
      );
      interval = Math.min(interval * 1.5, maxInterval);
    }
  }

  /** What the session has produced so far (one get_results call, then the outputs). */
  async results(
    sessionId: string,
    options: { total?: number; readOutputs?: boolean } = {},
  ): Promise<SessionResults> {
    const total = options.total ?? (await this.sessionSize(sessionId));
    const { lists, progress, done } = await this.progressOf(sessionId, total);
    if (total === undefined && done === 0) await this.totalOf(sessionId);
    const results = options.readOutputs === false ? this.bare(lists) : await this.readResults(lists);
    return { ...progress, complete: total !== undefined && done >= total, results };
  }

  /** The session's final tasks in the order they were submitted (`<session_id>_<n>`: by n; other ids last). */
  private bare(lists: Record<TaskStatus, string[]>): TaskResult[] {
    const index = (taskId: string) => {
      const n = /_(\d+)$/.exec(taskId);
      return n ? Number(n[1]) : Number.POSITIVE_INFINITY;
    };
    return FINAL_STATES.flatMap((status) =>
      lists[status as TaskStatus].map((taskId) => ({
        taskId,
        status: status as TaskStatus,
        n: index(taskId),
      })),
    )
      .sort((a, b) => (a.n === b.n ? 0 : a.n < b.n ? -1 : 1))
      .map(({ taskId, status }) => ({ taskId, status }));
  }

  /** Reads outputs of finished tasks and errors of failed and cancelled ones (see eachResult). */
  private async readResults(lists: Record<TaskStatus, string[]>): Promise<TaskResult[]> {
    const results: TaskResult[] = [];
    for await (const result of this.eachResult(this.bare(lists))) results.push(result);
    return results;
  }

  /**
   * The outputs (finished tasks) and errors (failed and cancelled ones) of `tasks`, e.g. the `results` of
   * `wait()` or `results()` called with `readOutputs: false`, one task at a time in their order, reading up to
   * `dataPlaneConcurrency` ahead. Unlike `readOutputs: true`, which returns a session's outputs together, this
   * holds only the reads in flight, so a session's outputs can be larger than the process's memory (`htc` prints
   * results this way).
   */
  async *eachResult(tasks: readonly Pick<TaskResult, "taskId" | "status">[]): AsyncIterable<TaskResult> {
    // Tasks come in parts of MAX_TASK_IDS_PER_RESULTS_REQUEST: one get_results call gives the outputs kept in the
    // rows of a part's finished tasks (asked for when the reads reach the part, and for the next part halfway
    // through it); the rest come from the data plane. Only the calls' answers (at most 100 small outputs each, two
    // parts kept) and the reads in flight are held.
    const size = MAX_TASK_IDS_PER_RESULTS_REQUEST;
    const parts = new Map<number, Promise<Map<string, string>>>();
    const part = (k: number): Promise<Map<string, string>> => {
      let outputs = parts.get(k);
      if (!outputs) {
        const finished = tasks.slice(k * size, (k + 1) * size).filter((task) => task.status === "finished");
        outputs = this.rowOutputs(finished);
        // A failed call is thrown by the reads that wait for it; until then it is not an unhandled rejection.
        outputs.catch(() => undefined);
        parts.set(k, outputs);
        parts.delete(k - 2);
      }
      return outputs;
    };
    const concurrency = this.options.dataPlaneConcurrency ?? DEFAULTS.dataPlaneConcurrency;
    yield* mapOrdered(tasks, concurrency, async (task, i) => {
      const k = Math.floor(i / size);
      if (i % size === size / 2 && (k + 1) * size < tasks.length) void part(k + 1);
      const inRows = task.status === "finished" ? (await part(k)).get(task.taskId) : undefined;
      return this.readResult(task, inRows);
    });
  }

  /**
   * The outputs kept in the rows of finished `tasks` (scheduler_data.inline_outputs), by task id, from get_results
   * calls with `task_ids` (one per session among them). A control plane that ignores `task_ids` (upstream's)
   * answers the whole session with placeholders: then every output is read from the data plane.
   */
  private async rowOutputs(tasks: readonly Pick<TaskResult, "taskId">[]): Promise<Map<string, string>> {
    const outputs = new Map<string, string>();
    if (this.rowOutputsUnsupported || tasks.length === 0) return outputs;
    const bySession = new Map<string, string[]>();
    for (const { taskId } of tasks) {
      const sessionId = sessionOfTask(taskId);
      bySession.set(sessionId, [...(bySession.get(sessionId) ?? []), taskId]);
    }
    for (const [sessionId, taskIds] of bySession) {
      const body = await this.transport.call<ResultsResponse>(
        "results",
        encodeSubmissionContent({ session_id: sessionId, task_ids: taskIds } satisfies ResultsRequest),
      );
      const asked = new Set(taskIds);
      const finished = Array.isArray(body.finished) ? body.finished : [];
      if (finished.some((taskId) => !asked.has(taskId))) {
        this.rowOutputsUnsupported = true;
        return new Map();
      }
      finished.forEach((taskId, i) => {
        const output = body.finished_OUTPUT?.[i];
        if (typeof output === "string" && output !== OUTPUT_PLACEHOLDER) outputs.set(taskId, output);
      });
    }
    return outputs;
  }

  private async readResult(
    { taskId, status }: Pick<TaskResult, "taskId" | "status">,
    inRow?: string,
  ): Promise<TaskResult> {
    if (status === "finished" && inRow !== undefined) return { taskId, status, output: decodeOutput(inRow) };
    const data = this.dataPlane();
    if (status === "finished") {
      const stored = await data.get(outputKey(taskId));
      return stored === undefined
        ? { taskId, status, outputMissing: true }
        : { taskId, status, output: decodeOutput(stored) };
    }
    const stored = await data.get(errorKey(taskId));
    if (stored !== undefined) return { taskId, status, error: fromBase64(stored).toString("utf8") };
    return status === "failed"
      ? {
          taskId,
          status,
          error:
            `no ${errorKey(taskId)} in the data plane (the TTL checker fails a task without one when its agent ` +
            `stopped heartbeating after its retries, or when its submission was interrupted before its row was ` +
            `written: resubmit it)`,
        }
      : { taskId, status };
  }

  /** Cancels every pending and processing task of the sessions (MAX_SESSIONS_PER_REQUEST per call). */
  async cancel(sessionIds: readonly string[]): Promise<CancelResponse> {
    if (!Array.isArray(sessionIds)) throw new UsageError("cancel takes a list of session ids");
    const unique = [...new Set(sessionIds)];
    if (unique.length === 0) throw new UsageError("name at least one session to cancel");
    for (const id of unique) {
      if (!SESSION_ID_PATTERN.test(id))
        throw new UsageError(`session id ${JSON.stringify(id)} must match [A-Za-z0-9-]{1,64}`);
    }
    const out: CancelResponse = {};
    for (const part of chunk(unique, MAX_SESSIONS_PER_REQUEST)) {
      try {
        Object.assign(
          out,
          await this.transport.call<CancelResponse>(
            "cancel",
            encodeSubmissionContent({ session_ids_to_cancel: part }),
          ),
        );
      } catch (error) {
        if (error instanceof ApiError && /Unknown session/.test(error.message)) {
          throw new UnknownSessionError(
            `${error.message.replace(/^the grid answered \/cancel with 542: /, "")}`,
          );
        }
        throw error;
      }
    }
    return out;
  }
}
