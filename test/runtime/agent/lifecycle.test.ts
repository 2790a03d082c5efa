// The whole life of a task with real agent processes on local servers: submit_tasks -> queue -> agent (claim,
// input, worker host, output, finish, delete) for each storage mode, inline input, priorities, and upstream's own
// agent-configuration document.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GetItemCommand } from "@aws-sdk/client-dynamodb";
import {
  OUTPUT_ATTRIBUTE,
  fromBase64,
  stateKeyForSession,
  type GridStorageService,
} from "../../../runtime/src/contract";
import { buildAgentConfig, mergeAgentConfig } from "../../../modules/agent/agent-config";
import { seedGridConfig } from "../../agent/fixtures/seed-grid-config";
import {
  BUCKET,
  DLQ_BASE,
  KMS_KEY_ARN,
  LOG_GROUP,
  LOG_STREAM,
  QUEUE_BASE,
  REGION,
  TABLE,
} from "../control-plane/integration/local-grid";
import { startHarness, stopAgent, type Harness } from "./harness";

const mockTasks = (n: number, delayMs = 0) =>
  Array.from({ length: n }, (_, i) => ({ worker_arguments: [String(delayMs), "1", "1"], index: i }));

async function finishedAll(h: Harness, sessionId: string, taskIds: readonly string[]): Promise<boolean> {
  const rows = await h.rows(taskIds);
  return rows.every((r) => r.task_status === stateKeyForSession("finished", sessionId));
}

describe.each<GridStorageService>(["S3", "REDIS", "S3+REDIS"])("with %s storage", (storage) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ storage });
  }, 120_000);
  afterAll(async () => h?.stop());

  it("takes each task from submission to a finished row with its output in the data plane", async () => {
    const { sessionId, taskIds } = await h.submit(mockTasks(12));
    const agent = h.spawnAgent(`agent-${storage}`);
    await h.waitFor("every task finished", () => finishedAll(h, sessionId, taskIds));
    for (const taskId of taskIds) {
      const output = JSON.parse((await h.output(taskId)) ?? "null") as {
        worker_arguments: string[];
        result: number;
      };
      expect(output, taskId).toEqual({ worker_arguments: ["0", "1", "1"], result: 0, mode: "sleep" });
      const row = await h.row(taskId);
      expect(row?.task_owner).toBe(`agent-${storage}`);
      expect(row?.task_completion_timestamp).toBeGreaterThan(0);
    }
    // Every message is deleted once its task finished.
    await h.waitFor("an empty queue", async () => (await h.grid.visibleCount(0)) === 0, 10_000);
    expect(await stopAgent(agent)).toBe(0);
    expect(await h.drain(0)).toEqual([]);
  });

  it("keeps a small output in the finished row when the session asks (inline_outputs), a larger one in the data plane", async () => {
    // The fourth argument is echoed into the output: 4,000 characters make it larger than MAX_INLINE_OUTPUT_BYTES.
    const tasks = [
      { worker_arguments: ["3", "1", "1"] },
      { worker_arguments: ["0", "1", "1", "x".repeat(4000)] },
    ];
    const asking = await h.submit(tasks, { inlineOutputs: true });
    const plain = await h.submit(tasks);
    const agent = h.spawnAgent(`agent-inline-${storage}`);
    await h.waitFor(
      "every task finished",
      async () =>
        (await finishedAll(h, asking.sessionId, asking.taskIds)) &&
        (await finishedAll(h, plain.sessionId, plain.taskIds)),
    );
    expect(await stopAgent(agent)).toBe(0);
    const kept = async (taskId: string) => {
      const out = await h.grid.ddb.send(
        new GetItemCommand({ TableName: TABLE, Key: { task_id: { S: taskId } }, ConsistentRead: true }),
      );
      const stored = out.Item?.[OUTPUT_ATTRIBUTE]?.S;
      return stored === undefined ? undefined : fromBase64(stored).toString("utf8");
    };
    const small = JSON.stringify({ worker_arguments: ["3", "1", "1"], result: 3, mode: "sleep" });
    expect(await kept(asking.taskIds[0])).toBe(small);
    expect(await h.output(asking.taskIds[0])).toBeUndefined();
    expect(await kept(asking.taskIds[1])).toBeUndefined();
    expect(JSON.parse((await h.output(asking.taskIds[1])) ?? "null")).toMatchObject({ result: 0 });
    // A session that did not ask (upstream's clients) gets every output in the data plane.
    for (const taskId of plain.taskIds) {
      expect(await kept(taskId), taskId).toBeUndefined();
      expect(await h.output(taskId), taskId).toBeDefined();
    }
    expect(await h.output(plain.taskIds[0])).toBe(small);
  });
});

describe("the client for the hot calls", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ storage: "S3" });
  }, 120_000);
  afterAll(async () => h?.stop());

  /** Runs one session with one agent; the user agents of its state-table updates and S3 calls. */
  async function agentsOfCalls(env: Record<string, string>): Promise<Set<string>> {
    const seen = new Set<string>();
    const record = ({ operation, userAgent }: { operation: string; userAgent: string }) => {
      if (["UpdateItem", "GetObject", "PutObject"].includes(operation)) seen.add(userAgent.split(" ")[0]);
    };
    const { sessionId, taskIds } = await h.submit(mockTasks(5));
    h.proxies.dynamodb.setHook(record);
    h.proxies.s3.setHook(record);
    const agent = h.spawnAgent("agent-client", { env });
    try {
      await h.waitFor("every task finished", () => finishedAll(h, sessionId, taskIds));
    } finally {
      h.proxies.dynamodb.setHook(undefined);
      h.proxies.s3.setHook(undefined);
    }
    expect(await stopAgent(agent)).toBe(0);
    return seen;
  }

  it("is the signed-HTTP client by default", async () => {
    expect([...(await agentsOfCalls({}))]).toEqual(["htc-grid-signed-http"]);
  });

  it("is the AWS SDK with HTC_AWS_CLIENT=sdk, and the tasks still finish", async () => {
    const seen = [...(await agentsOfCalls({ HTC_AWS_CLIENT: "sdk" }))];
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((ua) => ua.startsWith("aws-sdk-js/"))).toBe(true);
  });
});

describe("inline task input (task_input_passed_via_external_storage = 0)", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ externalStorage: 0 });
  }, 120_000);
  afterAll(async () => h?.stop());

  it("runs the task definitions carried in the rows and messages, reading no input from the data plane", async () => {
    const { sessionId, taskIds } = await h.submit([
      { worker_arguments: ["5", "1", "1"] },
      { worker_arguments: ["7", "1", "1"] },
    ]);
    const agent = h.spawnAgent("agent-inline");
    await h.waitFor("every task finished", () => finishedAll(h, sessionId, taskIds));
    expect(JSON.parse((await h.output(taskIds[1])) ?? "null")).toMatchObject({ result: 7 });
    expect(h.proxies.s3.counts.get("s3:GetObject") ?? 0).toBe(0);
    expect(await stopAgent(agent)).toBe(0);
  });
});

describe("priorities", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ priorities: 3 });
  }, 120_000);
  afterAll(async () => h?.stop());

  it("drains the highest priority queue before lower ones", async () => {
    // Submitted lowest first, before any agent runs; each task takes 20 ms.
    const low = await h.submit(mockTasks(15, 20), { priority: 0 });
    const middle = await h.submit(mockTasks(15, 20), { priority: 1 });
    const high = await h.submit(mockTasks(15, 20), { priority: 2 });
    const agent = h.spawnAgent("agent-priority");
    const all = [...low.taskIds, ...middle.taskIds, ...high.taskIds];
    await h.waitFor("every task finished", async () =>
      (await h.rows(all)).every((r) => r.task_completion_timestamp > 0),
    );
    const done = async (ids: string[]) => (await h.rows(ids)).map((r) => r.task_completion_timestamp);
    const [l, m, hi] = [await done(low.taskIds), await done(middle.taskIds), await done(high.taskIds)];
    expect(Math.max(...hi)).toBeLessThanOrEqual(Math.min(...m));
    expect(Math.max(...m)).toBeLessThanOrEqual(Math.min(...l));
    expect(await stopAgent(agent)).toBe(0);
  });
});

describe("upstream's agent configuration document", () => {
  let h: Harness;
  beforeAll(async () => {
    // Upstream's 45 fields as buildAgentConfig writes them for a deployed grid, pointed at the local servers, without
    // the field of ours (redis_data_expiration_sec), which upstream's documents lack.
    h = await startHarness({
      config: (grid) => {
        const doc = buildAgentConfig({
          controlPlane: seedGridConfig.controlPlane,
          dataPlane: { storage: "S3", redisExpirationHours: 72 },
          agent: seedGridConfig.agent,
          resources: {
            region: REGION,
            sqsEndpoint: `https://sqs.${REGION}.amazonaws.com`,
            taskQueueBaseName: QUEUE_BASE,
            taskDlqBaseName: DLQ_BASE,
            tasksQueueName: `${QUEUE_BASE}__0`,
            redisUrl: "",
            redisPassword: "",
            clusterName: "htc-main",
            stateTableName: TABLE,
            lambdaNames: { ttlChecker: "t", submitTasks: "s", getResults: "g", cancelTasks: "c" },
            dataBucketName: BUCKET,
            dataBucketKmsKeyArn: KMS_KEY_ARN,
            errorLogGroupName: LOG_GROUP,
            errorLogStreamName: LOG_STREAM,
            userPoolId: "eu-west-1_x",
            userPoolClientId: "client",
            publicApiUrl: "https://example.execute-api.eu-west-1.amazonaws.com/v1",
            privateApiUrl: "https://example-private.execute-api.eu-west-1.amazonaws.com/v1",
            privateApiKey: "",
          },
        });
        expect(grid.env.STATE_TABLE_NAME).toBe(TABLE);
        const { redis_data_expiration_sec: ours, ...upstream } = mergeAgentConfig(doc);
        expect(ours).toBe(72 * 3600);
        expect(Object.keys(upstream)).toHaveLength(45);
        return upstream;
      },
    });
  }, 120_000);
  afterAll(async () => h?.stop());

  it("runs tasks with it unchanged", async () => {
    const { sessionId, taskIds } = await h.submit(mockTasks(3));
    const agent = h.spawnAgent("agent-upstream-doc");
    await h.waitFor("every task finished", () => finishedAll(h, sessionId, taskIds));
    expect(await stopAgent(agent)).toBe(0);
  });
});
