// Faults around real agent processes: a killed agent, a worker that throws or times out, a task cancelled while
// it runs, SIGTERM during a task, lost DynamoDB responses, claims, heartbeats and finishes failing with errors,
// second copies of messages, malformed messages, missing inputs and rows. In every case no task is lost and none
// reaches a final state twice (the DynamoDB proxy counts applied final transitions).

import { spawn as nodeSpawn, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SendMessageCommand } from "@aws-sdk/client-sqs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  MAX_WORKER_PAYLOAD_BYTES,
  inputKey,
  stateKeyForSession,
  stateKeyForTask,
  stateOf,
  toBase64,
} from "../../../runtime/src/contract";
import { ErrorLogger } from "../../../runtime/src/aws/error-log";
import { StateTable } from "../../../runtime/src/aws/state-table";
import { cancelTasks } from "../../../runtime/src/control-plane/handlers/cancel-tasks";
import { messageBody } from "../../../runtime/src/control-plane/submission";
import { freePort } from "../../../runtime/src/local/ports";
import { b64 } from "../control-plane/integration/fixtures";
import { TABLE } from "../control-plane/integration/local-grid";
import { processes } from "../../../runtime/src/agent/worker";
import { startHarness, stopAgent, type AgentProcess, type Harness } from "./harness";

const sleepTask = (ms: number) => ({ worker_arguments: [String(ms), "1", "1"] });
/** What a gate on the DynamoDB proxy answers instead of applying a request (cleared after each test). */
const INJECTED_ERROR = {
  status: 500,
  body: JSON.stringify({ __type: "InternalServerError", message: "injected" }),
};

let h: Harness;
/** Applied transitions into a final state, per task id (UpdateItem answered 200 through the agents' proxy). */
const finals = new Map<string, string[]>();
let dropNext: ((operation: string, body: string) => boolean) | undefined;
/** Receipt handles the agents deleted (DeleteMessageBatch through their proxy). */
const deleted = new Set<string>();
let ttlLoop: NodeJS.Timeout | undefined;
const agents: AgentProcess[] = [];

beforeAll(async () => {
  h = await startHarness({ maxRetries: 2 });
  h.proxies.dynamodb.setHook(({ operation, body, status }) => {
    if (operation !== "UpdateItem") return;
    const input = JSON.parse(body) as {
      Key: { task_id: { S: string } };
      ExpressionAttributeValues?: Record<string, { S?: string }>;
    };
    const to = input.ExpressionAttributeValues?.[":to"]?.S;
    const state = to ? stateOf(to) : undefined;
    if (status === 200 && (state === "finished" || state === "failed")) {
      const id = input.Key.task_id.S;
      finals.set(id, [...(finals.get(id) ?? []), state]);
    }
    return status === 200 && dropNext?.(operation, body) ? "drop" : undefined;
  });
  h.proxies.sqs.setHook(({ operation, body, status }) => {
    if (operation !== "DeleteMessageBatch" || status !== 200) return;
    for (const entry of (JSON.parse(body) as { Entries: { ReceiptHandle: string }[] }).Entries)
      deleted.add(entry.ReceiptHandle);
  });
  const workers = join(h.dir, "workers");
  mkdirSync(join(workers, "fails"), { recursive: true });
  writeFileSync(
    join(workers, "fails", "index.js"),
    'exports.handler = async () => { throw new TypeError("this worker always fails"); };\n',
  );
}, 120_000);

afterAll(async () => {
  clearInterval(ttlLoop);
  await h?.stop();
});

afterEach(async () => {
  clearInterval(ttlLoop);
  ttlLoop = undefined;
  dropNext = undefined;
  h.proxies.dynamodb.setGate(undefined);
  // SIGTERM, not SIGKILL: a killed agent's pending long poll can swallow the next test's message until its
  // visibility timeout (SQS hands messages to the open request; the agent never sees them).
  for (const agent of agents.splice(0)) if (agent.child.exitCode === null) await stopAgent(agent, "SIGTERM");
  await h.drain(0);
});

function spawn(name: string, options?: Parameters<Harness["spawnAgent"]>[1]): AgentProcess {
  const agent = h.spawnAgent(name, options);
  agents.push(agent);
  return agent;
}

/** Runs the TTL checker every second, as the schedule does every minute in a deployed grid. */
function runTtlChecker(): void {
  ttlLoop = setInterval(() => void h.ttl().catch(() => undefined), 1_000);
}

async function states(taskIds: readonly string[]): Promise<string[]> {
  return (await h.rows(taskIds)).map((r) => stateOf(r.task_status) ?? r.task_status);
}

const allIn = (state: string) => async (taskIds: readonly string[]) =>
  (await states(taskIds)).every((s) => s === state);

function expectFinalOnce(taskIds: readonly string[], state: "finished" | "failed"): void {
  for (const id of taskIds) expect(finals.get(id), id).toEqual([state]);
}

describe("a killed agent", () => {
  it("loses no task: the TTL checker requeues what it held and another agent finishes every task exactly once", async () => {
    const { taskIds } = await h.submit(Array.from({ length: 30 }, () => sleepTask(150)));
    const doomed = spawn("agent-doomed");
    await h.waitFor("the doomed agent to hold a task", async () =>
      (await h.rows(taskIds)).some(
        (r) => r.task_owner === "agent-doomed" && stateOf(r.task_status) === "processing",
      ),
    );
    doomed.child.kill("SIGKILL");
    expect(await doomed.exited).toBe("SIGKILL");
    const orphans = (await h.rows(taskIds))
      .filter((r) => stateOf(r.task_status) === "processing")
      .map((r) => r.task_id);
    expect(orphans.length).toBeGreaterThan(0);
    runTtlChecker();
    spawn("agent-survivor");
    await h.waitFor("every task finished", () => allIn("finished")(taskIds), 60_000);
    expectFinalOnce(taskIds, "finished");
    for (const row of await h.rows(orphans)) {
      expect(row.task_owner).toBe("agent-survivor");
      expect(row.retries).toBe(1);
    }
  });
});

describe("worker errors", () => {
  it("stores <task_id>-error and hands the task back until the retry limit fails it", async () => {
    const { taskIds } = await h.submit([sleepTask(0)]);
    runTtlChecker();
    spawn("agent-fails", { workerCode: join(h.dir, "workers", "fails") });
    await h
      .waitFor("the task failed", () => allIn("failed")(taskIds), 40_000)
      .catch((e: Error) => {
        throw new Error(`${e.message}\n${agents.map((a) => a.output()).join("\n")}`);
      });
    const error = JSON.parse((await h.output(taskIds[0], "error")) ?? "{}") as Record<string, unknown>;
    expect(error).toMatchObject({ errorType: "TypeError", errorMessage: "this worker always fails" });
    expect(await h.output(taskIds[0])).toBeUndefined();
    // maxRetries 2: three runs, then the TTL checker (not the agent) fails it.
    expect((await h.row(taskIds[0]))?.retries).toBe(2);
    expect(finals.get(taskIds[0])).toBeUndefined();
  });

  it("treats a worker timeout as an error and restarts the worker for the next task", async () => {
    const slow = await h.submit([sleepTask(3_000)]);
    const agent = spawn("agent-timeout", { timeoutSec: 1 });
    await h.waitFor(
      "the error to be stored",
      async () => (await h.output(slow.taskIds[0], "error")) !== undefined,
    );
    expect(await h.output(slow.taskIds[0], "error")).toBe("Task timed out after 1.00 seconds");
    // Handed back right after the error is stored: heartbeat expired, processing until the TTL checker requeues it.
    await h.waitFor(
      "the task handed back",
      async () => (await h.row(slow.taskIds[0]))?.heartbeat_expiration_timestamp === 1,
    );
    expect(stateOf((await h.row(slow.taskIds[0]))?.task_status ?? "")).toBe("processing");
    const quick = await h.submit([sleepTask(0)]);
    await h.waitFor("the next task finished", () => allIn("finished")(quick.taskIds), 15_000);
    expect(await stopAgent(agent)).toBe(0);
  });
});

describe("a task cancelled while it runs", () => {
  it("is abandoned without overwriting the cancelled state, and the worker is free again at once", async () => {
    const long = await h.submit([sleepTask(30_000)]);
    const agent = spawn("agent-cancel");
    await h.waitFor(
      "the task running",
      async () => stateOf((await h.row(long.taskIds[0]))?.task_status ?? "") === "processing",
    );
    const cancelled = await cancelTasks(
      { queryStringParameters: { submission_content: b64({ session_ids_to_cancel: [long.sessionId] }) } },
      { stateTable: new StateTable(h.grid.ddb, TABLE), logger: new ErrorLogger(undefined, {}, "test") },
    );
    expect(JSON.parse(cancelled.body)[long.sessionId]).toMatchObject({ cancelled_processing: 1 });
    const started = Date.now();
    const next = await h.submit([sleepTask(0)]);
    await h.waitFor("the next task finished", () => allIn("finished")(next.taskIds), 15_000);
    // Well before the 30 s task would have ended: the agent restarted the worker instead of waiting.
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(await states(long.taskIds)).toEqual(["cancelled"]);
    expect(finals.get(long.taskIds[0])).toBeUndefined();
    expect(await h.output(long.taskIds[0])).toBeUndefined();
    const handle = (await h.row(long.taskIds[0]))?.sqs_handler_id ?? "";
    await h.waitFor("the cancelled task's message deleted", async () => deleted.has(handle), 10_000);
    expect(await stopAgent(agent)).toBe(0);
  });
});

/**
 * A worker host playing a pod's worker container (named `title`, at most 15 characters: Linux keeps that much of a
 * process name) and, with `kubelet`, a loop playing the kubelet, which starts it again 300 ms after it dies.
 */
async function podWorker(title: string, kubelet = true) {
  const port = await freePort();
  let restarts = 0;
  let worker: ChildProcess | undefined;
  let stopped = false;
  let restart: NodeJS.Timeout | undefined;
  const start = () => {
    // A restart scheduled before stop() (an agent that kills the worker as it stops) must not outlive the test.
    if (stopped) return;
    const child = nodeSpawn(
      process.execPath,
      [h.bundles.workerHost, "--code", h.bundles.mock, "--port", String(port), "--title", title],
      { stdio: "ignore" },
    );
    worker = child;
    child.once("exit", () => {
      if (stopped || !kubelet) return;
      restarts++;
      restart = setTimeout(start, 300);
    });
  };
  start();
  return {
    /** The environment of an agent in this pod. */
    env: {
      HTC_AGENT_WORKER_RESTART: "kill-by-name",
      HTC_WORKER_PROCESS_NAMES: title,
      LAMBDA_ENDPOINT_URL: `http://127.0.0.1:${port}`,
    },
    restarts: () => restarts,
    /** The worker host's process id (a new one after each start). */
    pid: () => worker?.pid ?? 0,
    start,
    /** SIGKILLs the worker; resolves once it exited. */
    kill: () =>
      new Promise((resolve) => {
        worker?.once("exit", resolve);
        worker?.kill("SIGKILL");
      }),
    stop() {
      stopped = true;
      clearTimeout(restart);
      worker?.kill("SIGKILL");
    },
    /** After stop(): nothing of this pod's name is left once a restart would have come. */
    async expectGone() {
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(processes().filter((p) => p.comm === title)).toEqual([]);
    },
  };
}

describe("a worker in its own container (the pod layout)", () => {
  it("ends a cancelled task by killing the worker process by name, and goes on once the container is back", async () => {
    const pod = await podWorker(`htc-wh-${process.pid % 100000}`);
    try {
      const long = await h.submit([sleepTask(30_000)]);
      const agent = spawn("agent-pod", { env: pod.env });
      await h.waitFor(
        "the task running",
        async () => stateOf((await h.row(long.taskIds[0]))?.task_status ?? "") === "processing",
      );
      await cancelTasks(
        { queryStringParameters: { submission_content: b64({ session_ids_to_cancel: [long.sessionId] }) } },
        { stateTable: new StateTable(h.grid.ddb, TABLE), logger: new ErrorLogger(undefined, {}, "test") },
      );
      const next = await h.submit([sleepTask(0)]);
      await h
        .waitFor("the next task finished", () => allIn("finished")(next.taskIds), 20_000)
        .catch((e: Error) => {
          throw new Error(`${e.message} (worker restarts: ${pod.restarts()})\n${agent.output()}`);
        });
      expect(pod.restarts()).toBe(1);
      expect(await states(long.taskIds)).toEqual(["cancelled"]);
      expect(await stopAgent(agent)).toBe(0);
      pod.stop();
      await pod.expectGone();
    } finally {
      pod.stop();
    }
  });
});

/** Child processes of `pid`. */
const childrenOf = (pid: number) =>
  processes()
    .filter((p) => p.ppid === pid)
    .map((p) => p.pid);

describe("a worker that is not there", () => {
  it("in a pod (its container restarting): tasks go back unrun with no retry spent until it is back", async () => {
    const pod = await podWorker(`htc-wg-${process.pid % 100000}`, false);
    try {
      const agent = spawn("agent-gone", { env: pod.env });
      await h.waitFor("the agent taking tasks", async () => agent.output().includes("taking tasks from"));
      await pod.kill();
      runTtlChecker();
      const { taskIds } = await h.submit(Array.from({ length: 6 }, () => sleepTask(10)));
      await h.waitFor("the agent waiting for its worker", async () =>
        agent.output().includes("is not accepting connections"),
      );
      // Three TTL runs later nothing has run or spent a retry: the tasks wait, pending, in their queue.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      for (const row of await h.rows(taskIds)) {
        expect(stateOf(row.task_status), row.task_id).toBe("pending");
        expect(row.retries, row.task_id).toBe(0);
      }
      pod.start();
      await h.waitFor("every task finished", () => allIn("finished")(taskIds), 30_000);
      expect((await h.rows(taskIds)).map((row) => row.retries)).toEqual([0, 0, 0, 0, 0, 0]);
      expectFinalOnce(taskIds, "finished");
      expect(agent.output()).toMatch(/the worker is back after \d+\.\d s/);
      expect(await stopAgent(agent)).toBe(0);
    } finally {
      pod.stop();
    }
  });

  it("outside a pod (its worker host died): the agent starts it again, and no retry is spent", async () => {
    const agent = spawn("agent-revive");
    await h.waitFor("the agent taking tasks", async () => agent.output().includes("taking tasks from"));
    const [host] = childrenOf(agent.child.pid ?? 0);
    expect(host).toBeGreaterThan(0);
    process.kill(host, "SIGKILL");
    await h.waitFor("the worker host gone", async () => !childrenOf(agent.child.pid ?? 0).includes(host));
    runTtlChecker();
    const { taskIds } = await h.submit(Array.from({ length: 4 }, () => sleepTask(10)));
    await h.waitFor("every task finished", () => allIn("finished")(taskIds), 30_000);
    expect((await h.rows(taskIds)).map((row) => row.retries)).toEqual([0, 0, 0, 0]);
    expectFinalOnce(taskIds, "finished");
    expect(agent.output()).toContain("is not accepting connections");
    expect(childrenOf(agent.child.pid ?? 0)).toHaveLength(1);
    expect(await stopAgent(agent)).toBe(0);
  });
});

describe("a data plane that fails for a while", () => {
  it("costs a retry to a few tasks, not every queued one: the agent pauses after each failure, doubling", async () => {
    let refused = 0;
    h.proxies.s3.setGate(({ operation }) => {
      if (operation !== "GetObject") return;
      refused++;
      return {
        status: 503,
        body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>injected</Message></Error>',
      };
    });
    try {
      const { taskIds } = await h.submit(Array.from({ length: 20 }, () => sleepTask(0)));
      const agent = spawn("agent-s3-down");
      // S3 answers no read until the agent's third failure in a row (its pauses: 1 s, 2 s, then 4 s).
      await h.waitFor(
        "the third pause",
        async () => agent.output().includes("reading an input failed; taking no new task for 4 s"),
        30_000,
      );
      h.proxies.s3.setGate(undefined);
      expect(refused).toBeGreaterThan(0);
      runTtlChecker();
      await h.waitFor("every task finished", () => allIn("finished")(taskIds), 60_000);
      const retried = (await h.rows(taskIds)).filter((row) => row.retries > 0).length;
      // One task per failure, three failures: without the pauses the agent went through the queue (18 of 20).
      expect(retried).toBeGreaterThan(0);
      expect(retried).toBeLessThanOrEqual(4);
      expect(agent.output()).toContain("agent-s3-down: reading an input failed; taking no new task for 1 s");
      expect(agent.output()).toContain("taking no new task for 2 s");
      expectFinalOnce(taskIds, "finished");
      expect(await stopAgent(agent)).toBe(0);
    } finally {
      h.proxies.s3.setGate(undefined);
    }
  }, 90_000);
});

describe("an agent restarted in its pod after a crash (the worker container lives on)", () => {
  it("restarts the worker before its first task, so the dead agent's invocation cannot cost that task a retry", async () => {
    const pod = await podWorker(`htc-wc-${process.pid % 100000}`);
    const podAgent = () => spawn("agent-crashing", { env: pod.env });
    try {
      const first = podAgent();
      const long = await h.submit([sleepTask(6_000)]);
      // Running in the worker, not only claimed: the worker host starts its runtime process at the first invocation.
      await h.waitFor("the long task running in the worker", async () => childrenOf(pod.pid()).length > 0);
      first.child.kill("SIGKILL");
      expect(await first.exited).toBe("SIGKILL");
      // The kubelet starts the agent container again; the worker is still running the long task.
      const second = podAgent();
      await h.waitFor("the agent taking tasks", async () => second.output().includes("taking tasks from"));
      expect(second.output()).toContain("htc-agent: the worker's runtime was already started");
      expect(pod.restarts()).toBe(1);
      const short = await h.submit([sleepTask(0)]);
      await h.waitFor("the short task finished", () => allIn("finished")(short.taskIds), 20_000);
      expect((await h.rows(short.taskIds))[0].retries).toBe(0);
      // The long task's lease expires; the TTL checker puts it back and it runs again, once.
      runTtlChecker();
      await h.waitFor("the long task finished", () => allIn("finished")(long.taskIds), 60_000);
      expectFinalOnce([...long.taskIds, ...short.taskIds], "finished");
      expect(await stopAgent(second)).toBe(0);
      pod.stop();
      await pod.expectGone();
    } finally {
      pod.stop();
    }
  }, 90_000);
});

describe("a worker that cannot start", () => {
  it("stops the agent with one line saying why, exit 1, and no stack trace", async () => {
    const zip = join(h.dir, "workers", "not-a.zip");
    writeFileSync(zip, "not a zip\n");
    const agent = spawn("no-worker", { workerCode: zip });
    expect(await agent.exited).toBe(1);
    expect(agent.output()).toContain("is not a zip archive");
    expect(agent.output()).toContain(
      "htc-agent: the worker did not start: worker host exited while starting (exit code 1)",
    );
    expect(agent.output()).not.toMatch(/\n\s+at /);
  });
});

describe("SIGTERM", () => {
  it("finishes the task in hand, takes no new one and exits 0", async () => {
    const { taskIds } = await h.submit([sleepTask(2_000), sleepTask(2_000)]);
    const agent = spawn("agent-sigterm");
    await h.waitFor("a task running", async () => (await states(taskIds)).includes("processing"));
    const running = (await h.rows(taskIds)).find((r) => stateOf(r.task_status) === "processing");
    expect(await stopAgent(agent, "SIGTERM")).toBe(0);
    const after = await h.rows(taskIds);
    expect(after.find((r) => r.task_id === running?.task_id)?.task_status).toBe(
      stateKeyForTask("finished", running?.task_id ?? ""),
    );
    const other = after.find((r) => r.task_id !== running?.task_id);
    expect(other).toMatchObject({
      task_status: stateKeyForTask("pending", other?.task_id ?? ""),
      task_owner: "None",
    });
    expect(agent.output()).toContain("taking no new task");
  });
});

describe("lost DynamoDB responses", () => {
  it("still claims and finishes every task exactly once when claims and finishes are applied but not answered", async () => {
    let dropped = 0;
    // Drop the answer to every other UpdateItem the agent makes (claims and finishes alike) after it was applied.
    dropNext = () => dropped++ % 2 === 0;
    const { sessionId, taskIds } = await h.submit(Array.from({ length: 10 }, () => sleepTask(0)));
    const agent = spawn("agent-lossy");
    await h.waitFor("every task finished", () => allIn("finished")(taskIds), 30_000);
    expect(dropped).toBeGreaterThanOrEqual(10);
    expectFinalOnce(taskIds, "finished");
    for (const row of await h.rows(taskIds))
      expect(row.task_status).toBe(stateKeyForSession("finished", sessionId));
    // The agent knew each retried write was its own: it counted every task finished and deleted every message.
    const rows = await h.rows(taskIds);
    await h.waitFor(
      "every message deleted",
      async () => rows.every((r) => deleted.has(r.sqs_handler_id)),
      10_000,
    );
    expect(await stopAgent(agent)).toBe(0);
    expect(agent.output()).toMatch(/stopped; \{"finished":10,/);
  });
});

describe("finishes that fail with errors", () => {
  it("leave the task to be retried once the agent gives up: it runs again and finishes once", async () => {
    const refused = { finishes: 0, handBacks: 0 };
    // DynamoDB answers the agent's finishes and its hand-back with an error, applying nothing, until it gives up.
    h.proxies.dynamodb.setGate(({ operation, body }) => {
      if (operation !== "UpdateItem" || !(body.includes(":done") || body.includes(":expired"))) return;
      if (body.includes(":done")) refused.finishes++;
      else refused.handBacks++;
      return INJECTED_ERROR;
    });
    const { taskIds } = await h.submit([sleepTask(0)]);
    const agent = spawn("agent-finishes-fail");
    await h.waitFor("the agent giving the task back", async () => refused.handBacks > 0, 30_000);
    expect(refused.finishes).toBeGreaterThan(0);
    expect(await states(taskIds)).toEqual(["processing"]);
    h.proxies.dynamodb.setGate(undefined);
    // Its heartbeat expires by itself; the TTL checker then puts it back, and it runs again.
    runTtlChecker();
    await h.waitFor("the task finished", () => allIn("finished")(taskIds), 90_000);
    expectFinalOnce(taskIds, "finished");
    expect((await h.rows(taskIds))[0].retries).toBe(1);
    expect(await stopAgent(agent)).toBe(0);
  }, 150_000);
});

describe("heartbeats that fail with errors", () => {
  it("let the lease expire: another agent runs the task again, the first one's finish is refused, it finishes once", async () => {
    // DynamoDB answers agent a's heartbeats with an error, applying nothing, while a runs a 6 s task.
    h.proxies.dynamodb.setGate(({ operation, body }) =>
      operation === "UpdateItem" &&
      body.includes("SET heartbeat_expiration_timestamp = :hb") &&
      body.includes('"agent-hb-a"')
        ? INJECTED_ERROR
        : undefined,
    );
    const { taskIds } = await h.submit([sleepTask(6_000)]);
    const a = spawn("agent-hb-a");
    await h.waitFor(
      "agent a holding the task",
      async () => (await h.rows(taskIds))[0].task_owner === "agent-hb-a",
    );
    const b = spawn("agent-hb-b");
    runTtlChecker();
    await h.waitFor("the task finished", () => allIn("finished")(taskIds), 60_000);
    expectFinalOnce(taskIds, "finished");
    expect((await h.rows(taskIds))[0]).toMatchObject({ task_owner: "agent-hb-b", retries: 1 });
    expect(await stopAgent(a)).toBe(0);
    expect(await stopAgent(b)).toBe(0);
    expect(a.output()).toMatch(/"finished":0,/);
  }, 120_000);
});

describe("second copies of task messages", () => {
  it("run each task once: a copy whose task is held or done fails its claim (a resumed submission sends them)", async () => {
    const { taskIds } = await h.submit(Array.from({ length: 10 }, () => sleepTask(0)));
    // What the TTL checker sends for the pending tasks of an interrupted submission: the row as the message.
    const url = await h.grid.queueUrl(0);
    for (const row of await h.rows(taskIds))
      await h.grid.sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: messageBody(row, {}) }));
    const agent = spawn("agent-copies");
    await h.waitFor("every task finished", () => allIn("finished")(taskIds), 30_000);
    expectFinalOnce(taskIds, "finished");
    expect(await stopAgent(agent)).toBe(0);
    expect(agent.output()).toMatch(/stopped; \{"finished":10,/);
  });
});

describe("claims that keep failing with errors", () => {
  it("send a pending task's message to the dead-letter queue; the TTL checker moves it back and it runs once", async () => {
    // DynamoDB answers every claim with an error without applying it, as when it is throttled for a while.
    h.proxies.dynamodb.setGate(({ operation, body }) =>
      operation === "UpdateItem" && body.includes(":processing") ? INJECTED_ERROR : undefined,
    );
    const { taskIds } = await h.submit([sleepTask(0)]);
    const agent = spawn("agent-claims-fail");
    // Each failed claim hands the message back for another receive; after maxReceiveCount (10) SQS moves it.
    await h.waitFor(
      "the message in the dead-letter queue",
      async () => (await h.grid.visibleCount(0, true)) > 0,
      60_000,
    );
    expect(await states(taskIds)).toEqual(["pending"]);
    h.proxies.dynamodb.setGate(undefined);
    runTtlChecker();
    await h.waitFor("the task finished", () => allIn("finished")(taskIds), 30_000);
    expectFinalOnce(taskIds, "finished");
    expect(await h.grid.visibleCount(0, true)).toBe(0);
    expect(await stopAgent(agent)).toBe(0);
  }, 120_000);
});

describe("messages and inputs no agent can use", () => {
  it("moves malformed messages and messages without a row to the dead-letter queue, logs them, and goes on", async () => {
    const url = await h.grid.queueUrl(0);
    for (const body of [
      "not json",
      JSON.stringify({ task_id: 5 }),
      JSON.stringify({ task_id: "no-such-session_0" }),
    ]) {
      await h.grid.sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: body }));
    }
    const { taskIds } = await h.submit([sleepTask(0)]);
    const before = h.grid.recorded.length;
    const agent = spawn("agent-dlq");
    await h.waitFor("the good task finished", () => allIn("finished")(taskIds));
    await h.waitFor("three dead letters", async () => (await h.grid.visibleCount(0, true)) >= 3, 10_000);
    expect((await h.drain(0, true)).sort()).toEqual(
      ["not json", JSON.stringify({ task_id: 5 }), JSON.stringify({ task_id: "no-such-session_0" })].sort(),
    );
    const logged = h.grid.recorded.slice(before).map((c) => JSON.stringify(c.body));
    expect(logged.filter((line) => line.includes("dead-letter queue"))).toHaveLength(3);
    expect(await stopAgent(agent)).toBe(0);
  });

  it("fails a task whose input is missing, saying why, instead of retrying it forever", async () => {
    const { taskIds } = await h.submit([sleepTask(0)], { inputs: "skip" });
    const agent = spawn("agent-missing-input");
    await h.waitFor("the task failed", () => allIn("failed")(taskIds));
    const error = JSON.parse((await h.output(taskIds[0], "error")) ?? "{}") as Record<string, unknown>;
    expect(error).toMatchObject({ errorType: "MissingInput" });
    expect(String(error.errorMessage)).toContain(`${taskIds[0]}-input`);
    expectFinalOnce(taskIds, "failed");
    const handle = (await h.row(taskIds[0]))?.sqs_handler_id ?? "";
    await h.waitFor("its message deleted", async () => deleted.has(handle), 10_000);
    expect(await stopAgent(agent)).toBe(0);
  });

  it("fails a task whose input is above a worker's event limit, saying why, instead of retrying it", async () => {
    const { taskIds } = await h.submit([sleepTask(0)], { inputs: "skip" });
    const input = JSON.stringify({ ...sleepTask(0), pad: "x".repeat(MAX_WORKER_PAYLOAD_BYTES) });
    await h.dataPlane.put(inputKey(taskIds[0]), toBase64(input));
    const agent = spawn("agent-large-input");
    await h.waitFor("the task failed", () => allIn("failed")(taskIds));
    const error = JSON.parse((await h.output(taskIds[0], "error")) ?? "{}") as Record<string, unknown>;
    expect(error).toMatchObject({
      errorType: "InputTooLarge",
      errorMessage: `the input of ${taskIds[0]} is ${input.length} bytes; a worker's event is at most 6291556 bytes (Lambda's invoke limit, which the worker's emulator applies): put large data in S3 and pass its key`,
    });
    expect((await h.row(taskIds[0]))?.retries).toBe(0);
    expectFinalOnce(taskIds, "failed");
    expect(await stopAgent(agent)).toBe(0);
  });
});
