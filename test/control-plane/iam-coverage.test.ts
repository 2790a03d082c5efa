// Each control-plane function's role grants exactly what its handler calls: nothing missing, nothing extra.
// The calls are observed, not listed by hand: every handler runs through its real entry point against local
// servers (dynalite, local-aws-sqs, s3rver, redis-server, the CloudWatch/Logs/Secrets recorder), through every
// path that reaches AWS (failure paths by injection), and an SDK-wide hook records `<service>:<Operation>` and
// the resource per handler. The grants come from the synthesized grid stack in each storage mode.
import { AsyncLocalStorage } from "node:async_hooks";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { DeleteItemCommand, DynamoDBClient, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SQSClient, SendMessageCommand } from "@aws-sdk/client-sqs";
import { buildSync } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HANDLER_ENTRIES, HANDLER_NAMES } from "../../modules/runtime-bundle/bundle";
import { SUBMISSION_SIZE_ATTRIBUTE, lambdaEnvVars, type LambdaHandler } from "../../runtime/src/contract";
import {
  handler as cancelHandler,
  resetColdStart as resetCancel,
} from "../../runtime/src/control-plane/handlers/cancel-tasks";
import {
  handler as getResultsHandler,
  resetColdStart as resetResults,
} from "../../runtime/src/control-plane/handlers/get-results";
import {
  handler as scalingHandler,
  resetColdStart as resetScaling,
} from "../../runtime/src/control-plane/handlers/scaling-metrics";
import {
  handler as submitHandler,
  resetColdStart as resetSubmit,
} from "../../runtime/src/control-plane/handlers/submit-tasks";
import {
  handler as ttlHandler,
  resetColdStart as resetTtl,
} from "../../runtime/src/control-plane/handlers/ttl-checker";
import type { ApiGatewayEvent } from "../../runtime/src/control-plane/types";
import { CONTROL_PLANE_FUNCTIONS } from "../../modules/control-plane/control-plane";
import {
  apiEvent,
  applyEnv,
  b64,
  claimAsAgent,
  newSessionId,
  putPayloadS3,
  submissionPayload,
} from "../runtime/control-plane/integration/fixtures";
import {
  DLQ_BASE,
  TABLE,
  startLocalGrid,
  type LocalGrid,
} from "../runtime/control-plane/integration/local-grid";
import { gridConfig, resourcesOf, synthApp, type TfJson } from "../support/grid-synth";

type Handler = "submit-tasks" | "get-results" | "cancel-tasks" | "ttl-checker" | "scaling-metrics";
const HANDLERS: readonly Handler[] = [
  "submit-tasks",
  "get-results",
  "cancel-tasks",
  "ttl-checker",
  "scaling-metrics",
];
type Storage = "S3" | "REDIS" | "S3+REDIS";
const STORAGE_MODES: readonly Storage[] = ["S3", "REDIS", "S3+REDIS"];
/** Recordings: "core" = inline task input (no data plane), or one storage mode with external task input. */
type Bucket = "core" | Storage;

// --- Recording ---------------------------------------------------------------------------------------------

interface Call {
  /** IAM service prefix. */
  readonly service: string;
  readonly operation: string;
  readonly input: Record<string, unknown>;
}

/** SDK serviceId -> IAM service prefix, for every client runtime/src/aws/clients.ts builds. */
const IAM_PREFIX: Record<string, string> = {
  DynamoDB: "dynamodb",
  SQS: "sqs",
  S3: "s3",
  CloudWatch: "cloudwatch",
  "CloudWatch Logs": "logs",
  "Secrets Manager": "secretsmanager",
};

interface Invocation {
  readonly bucket: Bucket;
  readonly handler: Handler;
}
const current = new AsyncLocalStorage<Invocation>();
const recorded = new Map<string, Call[]>();
const callsOf = (bucket: Bucket, handler: Handler): Call[] => recorded.get(`${bucket}/${handler}`) ?? [];

/** Failure injection: the next `times` calls of `operation` fail with a non-throttling error. */
const faults = new Map<string, number>();
function injectFault(operation: string, times = 1): void {
  faults.set(operation, times);
}

type SendFn = (command: { input: Record<string, unknown> }, ...rest: unknown[]) => Promise<unknown>;
const clientBase = Object.getPrototypeOf(DynamoDBClient.prototype) as {
  send: SendFn;
};
const originalSend = clientBase.send;

/** Environment variables each handler read, without those the AWS SDK itself reads (credentials, profile
 * files under the home directory, the X-Ray trace id its recursion-detection middleware forwards). */
const envReads = new Map<Handler, Set<string>>();
const SDK_ENV = /^(AWS_.*|_X_AMZN_TRACE_ID|HOME|HOMEDRIVE|HOMEPATH|USERPROFILE)$/;
const realEnv = process.env;

function installRecorder(): void {
  process.env = new Proxy(realEnv, {
    get(target, key, receiver) {
      const who = current.getStore();
      if (who && typeof key === "string" && !SDK_ENV.test(key)) {
        envReads.set(who.handler, (envReads.get(who.handler) ?? new Set()).add(key));
      }
      return Reflect.get(target, key, receiver);
    },
    // process.env only takes plain assignments (the default trap would define a property on the proxy).
    set(target, key, value) {
      if (typeof key === "string") target[key] = String(value);
      return true;
    },
  });
  clientBase.send = function (this: { config: { serviceId: string } }, command, ...rest) {
    const who = current.getStore();
    if (who) {
      const service = IAM_PREFIX[this.config.serviceId];
      if (!service) throw new Error(`no IAM prefix for SDK service ${this.config.serviceId}`);
      const operation = command.constructor.name.replace(/Command$/, "");
      const key = `${who.bucket}/${who.handler}`;
      recorded.set(key, [...(recorded.get(key) ?? []), { service, operation, input: command.input }]);
      const left = faults.get(operation) ?? 0;
      if (left > 0) {
        faults.set(operation, left - 1);
        return Promise.reject(
          Object.assign(new Error(`injected ${operation} failure`), { name: "InjectedFault" }),
        );
      }
    }
    return originalSend.call(this, command, ...rest);
  };
}

function invoke<T>(bucket: Bucket, handler: Handler, run: () => Promise<T>): Promise<T> {
  return current.run({ bucket, handler }, run);
}
const submit = (b: Bucket, e: ApiGatewayEvent) => invoke(b, "submit-tasks", () => submitHandler(e));
const getResults = (b: Bucket, e: ApiGatewayEvent) => invoke(b, "get-results", () => getResultsHandler(e));
const cancel = (b: Bucket, e: ApiGatewayEvent) => invoke(b, "cancel-tasks", () => cancelHandler(e));
const ttlChecker = (b: Bucket) => invoke(b, "ttl-checker", () => ttlHandler());
const scalingMetrics = (b: Bucket) => invoke(b, "scaling-metrics", () => scalingHandler());

async function resetColdStarts(): Promise<void> {
  await resetSubmit();
  resetResults();
  resetCancel();
  resetTtl();
  resetScaling();
}

// --- From calls to the grants they need ----------------------------------------------------------------------

/** Resources as the policy names them, by role in the grid (resolved per synthesized stack). */
type ResourceKind =
  | "table"
  | `index/${string}`
  | "taskQueues"
  | "deadLetterQueues"
  | "dataBucket"
  | "dataObjects"
  | "redisSecret"
  | "errorLogStream"
  | "stateTableKey"
  | "taskQueueKey"
  | "dataBucketKey"
  | "secretsKey"
  | "*";
type Grant = readonly [action: string, resource: ResourceKind];

/** Keys DynamoDB uses with the caller's credentials (kms:ViaService) for reads and writes of the table. */
const TABLE_KEY_ACTIONS = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"];

/**
 * The IAM grants one SDK call needs. Calls whose action name differs from the operation, and the permissions a
 * call needs on a second resource (the KMS key of an encrypted store, ListBucket for NoSuchKey), are explicit.
 */
function grantsFor(call: Call): Grant[] {
  const { service, operation, input } = call;
  switch (service) {
    case "dynamodb": {
      const resource: ResourceKind =
        typeof input.IndexName === "string" ? `index/${input.IndexName}` : "table";
      return [
        [`dynamodb:${operation}`, resource],
        ...TABLE_KEY_ACTIONS.map((a): Grant => [a, "stateTableKey"]),
      ];
    }
    case "sqs": {
      const queues: ResourceKind = String(input.QueueUrl ?? input.QueueName ?? "").includes(DLQ_BASE)
        ? "deadLetterQueues"
        : "taskQueues";
      switch (operation) {
        // SendMessageBatch is authorized as SendMessage; sending to an SSE-KMS queue needs a data key.
        case "SendMessage":
        case "SendMessageBatch":
          return [
            ["sqs:SendMessage", queues],
            ["kms:GenerateDataKey", "taskQueueKey"],
            ["kms:Decrypt", "taskQueueKey"],
          ];
        // Receiving from an SSE-KMS queue decrypts the messages.
        case "ReceiveMessage":
          return [
            ["sqs:ReceiveMessage", queues],
            ["kms:Decrypt", "taskQueueKey"],
          ];
        default:
          return [[`sqs:${operation}`, queues]];
      }
    }
    case "s3":
      switch (operation) {
        case "GetObject":
          // ListBucket turns a missing payload into NoSuchKey ("Unknown session") instead of AccessDenied.
          return [
            ["s3:GetObject", "dataObjects"],
            ["s3:ListBucket", "dataBucket"],
            ["kms:Decrypt", "dataBucketKey"],
          ];
        case "PutObject":
          return [
            ["s3:PutObject", "dataObjects"],
            ["kms:GenerateDataKey", "dataBucketKey"],
          ];
        default:
          throw new Error(`no grant mapping for s3:${operation}`);
      }
    case "secretsmanager":
      return [
        [`secretsmanager:${operation}`, "redisSecret"],
        ["kms:Decrypt", "secretsKey"],
      ];
    case "logs":
      return [[`logs:${operation}`, "errorLogStream"]];
    case "cloudwatch":
      // Neither GetMetricStatistics nor PutMetricData has resource-level permissions.
      return [[`cloudwatch:${operation}`, "*"]];
    default:
      throw new Error(`no grant mapping for ${service}:${operation}`);
  }
}

/**
 * Statements every function has that its handler code does not call: the Lambda runtime writes the function's
 * own log group and X-Ray segments, and a VPC-attached function needs ENI permissions (checked separately).
 */
const RUNTIME_STATEMENTS = new Set(["WriteOwnLogs", "XRayWritesHaveNoResourceScope"]);
const VPC_STATEMENTS = new Set([
  "DescribeNetworkInterfaces",
  "CreateInterfacesInGridSubnets",
  "ManageOwnInterfaces",
]);

/** SDK commands in the handler bundles' sources that no handler sends, with the reason. Anything else must be recorded. */
const NEVER_SENT: Record<string, string> = {
  PutObjectCommand:
    "S3DataPlane.put: no handler writes the data plane (clients and agents do; the S3+REDIS back-fill writes Redis)",
};

// --- Reading the synthesized stack ---------------------------------------------------------------------------

interface Statement {
  Sid: string;
  Action: string[];
  Resource: string | string[];
}

const arnOf = (type: string, id: string) => `\${${type}.${id}.arn}`;
function only(stack: TfJson, type: string, fragment: string): string {
  const ids = Object.keys(resourcesOf(stack, type)).filter((id) => id.includes(fragment));
  if (ids.length !== 1) throw new Error(`expected one ${type} matching ${fragment}, found ${ids.join(", ")}`);
  return arnOf(type, ids[0]);
}

function resolve(stack: TfJson, kind: ResourceKind): string[] {
  const table = only(stack, "aws_dynamodb_table", "state-table");
  if (kind.startsWith("index/")) return [`${table}/${kind}`];
  switch (kind) {
    case "table":
      return [table];
    case "taskQueues":
      return Object.keys(resourcesOf(stack, "aws_sqs_queue"))
        .filter((id) => id.includes("_queue_"))
        .map((id) => arnOf("aws_sqs_queue", id));
    case "deadLetterQueues":
      return Object.keys(resourcesOf(stack, "aws_sqs_queue"))
        .filter((id) => id.includes("_dlq_"))
        .map((id) => arnOf("aws_sqs_queue", id));
    case "dataBucket":
      return [only(stack, "aws_s3_bucket", "data-bucket")];
    case "dataObjects":
      return [`${only(stack, "aws_s3_bucket", "data-bucket")}/*`];
    case "redisSecret":
      return [only(stack, "aws_secretsmanager_secret", "redis_auth-secret")];
    case "errorLogStream":
      return [only(stack, "aws_cloudwatch_log_stream", "error-log-stream")];
    case "stateTableKey":
      return [only(stack, "aws_kms_key", "keys_state-table_")];
    case "taskQueueKey":
      return [only(stack, "aws_kms_key", "keys_task-queues_")];
    case "dataBucketKey":
      return [only(stack, "aws_kms_key", "keys_data-bucket_")];
    case "secretsKey":
      return [only(stack, "aws_kms_key", "keys_secrets_")];
    case "*":
      return ["*"];
    default:
      throw new Error(`unknown resource kind ${kind}`);
  }
}

function statementsOf(stack: TfJson, handler: Handler): Statement[] {
  const policies = Object.entries(resourcesOf(stack, "aws_iam_role_policy")).filter(([id]) =>
    id.includes(`functions_${handler}_policy`),
  );
  expect(policies, handler).toHaveLength(1);
  return (JSON.parse(policies[0][1].policy as string) as { Statement: Statement[] }).Statement;
}

/** `action @ resource` for every pair the handler's own statements grant. */
function granted(statements: Statement[]): string[] {
  const pairs = statements
    .filter((st) => !RUNTIME_STATEMENTS.has(st.Sid) && !VPC_STATEMENTS.has(st.Sid))
    .flatMap((st) =>
      st.Action.flatMap((a) =>
        (Array.isArray(st.Resource) ? st.Resource : [st.Resource]).map((r) => `${a} @ ${r}`),
      ),
    );
  return [...new Set(pairs)].sort();
}

function needed(stack: TfJson, calls: Call[]): string[] {
  const pairs = calls.flatMap((call) =>
    grantsFor(call).flatMap(([action, kind]) => resolve(stack, kind).map((r) => `${action} @ ${r}`)),
  );
  return [...new Set(pairs)].sort();
}

// --- Scenarios -----------------------------------------------------------------------------------------------

const REDIS_SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:redis-auth";
let grid: LocalGrid;

const expiredAt = () => Math.floor(Date.now() / 1000) - 5;

/** Sets a row's retry count (an agent-side stand-in: the task has already been retried this often). */
async function setRetries(taskId: string, retries: number): Promise<void> {
  await grid.ddb.send(
    new UpdateItemCommand({
      TableName: TABLE,
      Key: { task_id: { S: taskId } },
      UpdateExpression: "SET retries = :r",
      ExpressionAttributeValues: { ":r": { N: String(retries) } },
    }),
  );
}

/** Every path of every handler that reaches AWS, with task input inline (no data plane). */
async function coreScenarios(): Promise<void> {
  applyEnv({ ...grid.env, TASK_INPUT_PASSED_VIA_EXTERNAL_STORAGE: "0" });
  const inline = (sessionId: string, count: number) =>
    apiEvent(
      b64({ session_id: sessionId, tasks_list: { tasks: Array.from({ length: count }, () => ({})) } }),
    );

  // submit_tasks: success; a duplicate (its first row exists: nothing written); state-table write fails after
  // the first row (rows deleted); queueing fails (rows marked failed).
  const sessionId = newSessionId();
  expect((await submit("core", inline(sessionId, 3))).statusCode).toBe(200);
  expect(JSON.parse((await submit("core", inline(sessionId, 3))).body)).toHaveProperty("duplicate", true);
  injectFault("BatchWriteItem");
  expect((await submit("core", inline(newSessionId(), 2))).statusCode).not.toBe(200);
  injectFault("SendMessageBatch", 8);
  expect((await submit("core", inline(newSessionId(), 1))).statusCode).not.toBe(200);

  // get_results: success (the listing, and a task_ids request for outputs kept in the rows); a failing query is
  // reported to the error log.
  expect((await getResults("core", apiEvent(b64({ session_id: sessionId })))).statusCode).toBe(200);
  const outputsOf = b64({ session_id: sessionId, task_ids: [`${sessionId}_0`, `${sessionId}_1`] });
  expect((await getResults("core", apiEvent(outputsOf))).statusCode).toBe(200);
  injectFault("Query");
  expect((await getResults("core", apiEvent(b64({ session_id: sessionId })))).statusCode).not.toBe(200);

  // An interrupted submission for ttl_checker to complete: its first row still open after the deadline, and a
  // row it never wrote (inline: written failed).
  const interrupted = newSessionId();
  expect((await submit("core", inline(interrupted, 3))).statusCode).toBe(200);
  await grid.ddb.send(
    new UpdateItemCommand({
      TableName: TABLE,
      Key: { task_id: { S: `${interrupted}_0` } },
      UpdateExpression: `SET heartbeat_expiration_timestamp = :deadline, ${SUBMISSION_SIZE_ATTRIBUTE} = :size`,
      ExpressionAttributeValues: { ":deadline": { N: String(expiredAt()) }, ":size": { N: "3" } },
    }),
  );
  await grid.ddb.send(
    new DeleteItemCommand({ TableName: TABLE, Key: { task_id: { S: `${interrupted}_2` } } }),
  );
  // A pending task's message in the dead-letter queue (its claims kept failing), for ttl_checker to move back.
  await grid.sqs.send(
    new SendMessageCommand({
      QueueUrl: await grid.queueUrl(0, true),
      MessageBody: JSON.stringify({ task_id: `${interrupted}_1` }),
    }),
  );

  // ttl_checker: retry with the message still queued, retry with the message gone (re-sent), fail at the
  // retry limit (message deleted), the interrupted submission, and a failing throttling metric reported to the
  // error log.
  const handles = new Map<string, string>();
  for (const m of await grid.drain(0, { hideSec: 3600 })) {
    handles.set((JSON.parse(m.Body ?? "{}") as { task_id: string }).task_id, m.ReceiptHandle ?? "");
  }
  await claimAsAgent(grid.ddb, `${sessionId}_0`, "agent-a", expiredAt(), handles.get(`${sessionId}_0`));
  await claimAsAgent(grid.ddb, `${sessionId}_1`, "agent-b", expiredAt(), "gone-receipt-handle");
  await claimAsAgent(grid.ddb, `${sessionId}_2`, "agent-c", expiredAt(), handles.get(`${sessionId}_2`));
  await setRetries(`${sessionId}_2`, Number(grid.env.MAX_RETRIES));
  injectFault("GetMetricStatistics");
  expect(await ttlChecker("core")).toMatchObject({
    retried: 2,
    requeued: 1,
    failed: 1,
    resumedSubmissions: 1,
    rowsFailed: 1,
    redriven: 1,
    errors: 0,
  });

  // cancel_tasks: pending and processing tasks; a failing query is reported to the error log.
  await claimAsAgent(grid.ddb, `${sessionId}_0`, "agent-d", Math.floor(Date.now() / 1000) + 600);
  const cancelled = await cancel("core", apiEvent(b64({ session_ids_to_cancel: [sessionId] })));
  expect(JSON.parse(cancelled.body)[sessionId]).toMatchObject({
    cancelled_pending: 1,
    cancelled_processing: 1,
  });
  injectFault("Query");
  expect((await cancel("core", apiEvent(b64({ session_ids_to_cancel: [sessionId] })))).statusCode).not.toBe(
    200,
  );

  // scaling_metrics has one path.
  expect(await scalingMetrics("core")).toHaveProperty("pending_tasks");
}

/** Task input in the data plane: submit_tasks reads it (found, then missing); the others run once each. */
async function storageScenarios(storage: Storage): Promise<void> {
  await resetColdStarts();
  const usesS3 = storage !== "REDIS";
  applyEnv({
    ...grid.env,
    GRID_STORAGE_SERVICE: storage,
    TASK_INPUT_PASSED_VIA_EXTERNAL_STORAGE: "1",
    S3_BUCKET: usesS3 ? grid.env.S3_BUCKET : undefined,
    S3_KMS_KEY_ID: usesS3 ? grid.env.S3_KMS_KEY_ID : undefined,
    REDIS_URL: storage === "S3" ? undefined : grid.redisUrl,
    REDIS_AUTH_SECRET_ARN: storage === "S3" ? undefined : REDIS_SECRET_ARN,
  });
  grid.setSecretString(JSON.stringify({ auth_token: "unused-by-a-passwordless-server" }));
  const sessionId = newSessionId();
  // S3+REDIS: the payload is only in S3, so the read misses Redis and back-fills it.
  if (usesS3) await putPayloadS3(grid.s3, sessionId, submissionPayload(sessionId, 2));
  else await grid.redis!.set(`${sessionId}-payload`, b64(submissionPayload(sessionId, 2)));
  expect((await submit(storage, apiEvent(sessionId))).statusCode).toBe(200);
  const missing = await submit(storage, apiEvent(newSessionId()));
  expect(missing.body).toContain("Unknown session");

  expect((await getResults(storage, apiEvent(b64({ session_id: sessionId })))).statusCode).toBe(200);
  expect((await cancel(storage, apiEvent(b64({ session_ids_to_cancel: [sessionId] })))).statusCode).toBe(200);
  await ttlChecker(storage);
  await scalingMetrics(storage);
}

beforeAll(async () => {
  grid = await startLocalGrid({ withRedis: true });
  installRecorder();
  await resetColdStarts();
  await coreScenarios();
  for (const storage of STORAGE_MODES) await storageScenarios(storage);
}, 120_000);

afterAll(async () => {
  process.env = realEnv;
  clientBase.send = originalSend;
  faults.clear();
  await resetColdStarts();
  await grid?.stop();
});

// --- Assertions ----------------------------------------------------------------------------------------------

describe("the recording", () => {
  it("hooks the one client base class every SDK client the handlers use shares", () => {
    for (const client of [
      SQSClient,
      S3Client,
      CloudWatchClient,
      CloudWatchLogsClient,
      SecretsManagerClient,
    ]) {
      expect(Object.getPrototypeOf(client.prototype), client.name).toBe(clientBase);
    }
  });

  it("saw every SDK command in the handler code sent by some handler, or knows why none sends it", () => {
    // The files the five handler bundles are built from (runtime/src is shared with the agent and client, whose
    // own calls live in their own folders and never reach a Lambda bundle).
    const root = path.resolve(__dirname, "../..");
    const { metafile } = buildSync({
      absWorkingDir: root,
      entryPoints: HANDLER_NAMES.map((name) => HANDLER_ENTRIES[name]),
      bundle: true,
      platform: "node",
      write: false,
      outdir: "out",
      metafile: true,
      logLevel: "silent",
    });
    const files = Object.keys(metafile.inputs).filter((f) => f.startsWith("runtime/src/"));
    expect(files).toContain("runtime/src/control-plane/handlers/submit-tasks.ts");
    const inCode = new Set<string>();
    for (const file of files) {
      for (const m of readFileSync(path.join(root, file), "utf8").matchAll(/new (\w+Command)\(/g))
        inCode.add(m[1]);
    }
    const sent = new Set([...recorded.values()].flat().map((c) => `${c.operation}Command`));
    expect(inCode.size).toBeGreaterThan(10);
    for (const command of inCode) {
      if (NEVER_SENT[command]) expect(sent.has(command), `${command} is listed as never sent`).toBe(false);
      else
        expect(sent.has(command), `${command} is in the handler bundles but no scenario sent it`).toBe(true);
    }
  });

  it("saw each handler read exactly the environment variables the contract gives its function", () => {
    const bundleName = (handler: Handler) => handler.replace(/-/g, "_") as LambdaHandler;
    for (const handler of HANDLERS) {
      const read = [...(envReads.get(handler) ?? [])].sort();
      // Every variable the infrastructure may set is read; nothing outside the contract is (REDIS_PASSWORD,
      // local-only, is read only when no secret ARN is set, which these scenarios always set).
      expect(read, handler).toEqual(
        lambdaEnvVars(bundleName(handler), { local: true })
          .filter((name) => name !== "REDIS_PASSWORD" || read.includes(name))
          .sort(),
      );
    }
  });

  it("recorded no data-plane call outside submit_tasks, and none from it with inline task input", () => {
    const dataPlane = (c: Call) => c.service === "s3" || c.service === "secretsmanager";
    for (const bucket of ["core", ...STORAGE_MODES] as const) {
      for (const handler of HANDLERS) {
        if (bucket !== "core" && handler === "submit-tasks") continue;
        expect(callsOf(bucket, handler).filter(dataPlane), `${bucket}/${handler}`).toEqual([]);
      }
    }
  });
});

const configs: { name: string; storage: Storage; externalStorage: boolean }[] = [
  ...STORAGE_MODES.map((storage) => ({ name: `${storage} storage`, storage, externalStorage: true })),
  { name: "S3+REDIS storage, inline task input", storage: "S3+REDIS", externalStorage: false },
];

describe.each(configs)("function roles, $name", ({ storage, externalStorage }) => {
  let stack: TfJson;
  beforeAll(() => {
    stack = synthApp(
      gridConfig({
        grid_storage_service: storage,
        task_input_passed_via_external_storage: externalStorage ? 1 : 0,
      }),
    ).grid;
  });
  const expectedCalls = (handler: Handler): Call[] => [
    ...callsOf("core", handler),
    ...(externalStorage ? callsOf(storage, handler) : []),
  ];
  const usesRedis = storage !== "S3";
  const readsDataPlane = (handler: Handler): boolean => handler === "submit-tasks" && externalStorage;

  it("grant each handler exactly the calls it makes", () => {
    for (const handler of HANDLERS) {
      const grants = granted(statementsOf(stack, handler));
      const needs = needed(stack, expectedCalls(handler));
      expect(needs.length, handler).toBeGreaterThan(0);
      expect(
        {
          missing: needs.filter((g) => !grants.includes(g)),
          unused: grants.filter((g) => !needs.includes(g)),
        },
        handler,
      ).toEqual({ missing: [], unused: [] });
    }
  });

  it("add only the runtime's own log and X-Ray statements, and ENI rights exactly where Redis is read", () => {
    for (const handler of HANDLERS) {
      const sids = statementsOf(stack, handler).map((st) => st.Sid);
      for (const sid of RUNTIME_STATEMENTS) expect(sids, handler).toContain(sid);
      const inVpc = usesRedis && readsDataPlane(handler);
      for (const sid of VPC_STATEMENTS) expect(sids.includes(sid), `${handler} ${sid}`).toBe(inVpc);
      const fn = Object.entries(resourcesOf(stack, "aws_lambda_function")).find(([id]) =>
        id.includes(`functions_${handler}_function`),
      )![1];
      expect(fn.vpc_config !== undefined, `${handler} vpc_config`).toBe(inVpc);
    }
    const lambdaSg = Object.keys(resourcesOf(stack, "aws_security_group")).some((id) =>
      id.includes("lambda-sg"),
    );
    expect(lambdaSg).toBe(usesRedis && externalStorage);
  });

  it("match the readsDataPlane flags of CONTROL_PLANE_FUNCTIONS", () => {
    const config = gridConfig({
      grid_storage_service: storage,
      task_input_passed_via_external_storage: externalStorage ? 1 : 0,
    }).controlPlane;
    expect(CONTROL_PLANE_FUNCTIONS.submitTasks.readsDataPlane(config)).toBe(externalStorage);
    for (const key of ["getResults", "cancelTasks", "ttlChecker", "scalingMetrics"] as const) {
      expect(CONTROL_PLANE_FUNCTIONS[key].readsDataPlane(config), key).toBe(false);
    }
  });
});
