// An agent pod played on local servers from the chart's own rendering: the fetch init container's command and
// plan (from `helm template` with the chart values the grid builds) run for real against the local S3 server with
// Pod Identity credentials from a stand-in endpoint; then the agent container's command and environment start the
// agent.js it fetched, a worker host plays the Lambda image's emulator on the task root it unpacked, and the agent
// processes a task. Pod paths are mapped under a temporary root (the only change to the rendered plan, besides the
// S3 endpoint of the local server).
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleRuntime } from "../../../modules/runtime-bundle/bundle";
import { cachedZip } from "../../../modules/runtime-bundle/zip";
import { freePort, listen } from "../../../runtime/src/local/servers";
import { renderChart, requireHelm } from "../../agent/helm";
import { gridConfig } from "../../support/grid-synth";
import { localChartValues } from "./local-chart";
import { startHarness, stopAgent, type Harness } from "../agent/harness";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const WORKLOAD_BUCKET = "htc-workload-pod-test";
const TOKEN = "eks-pod-identity-token";
const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

/** Maps an absolute pod path under `root`. */
const under = (root: string, podPath: string) => join(root, podPath);

describe("an agent pod from the chart's rendering, on local servers", () => {
  let h: Harness;
  let root: string;
  let credentials: Server;
  let credentialsUri: string;
  let worker: ChildProcess | undefined;
  let deployment: Obj;

  beforeAll(async () => {
    h = await startHarness({ storage: "S3" });
    root = mkdtempSync(join(tmpdir(), "htc-pod-"));
    // What the grid uploads: the agent bundle and the built-in worker zip, as the delivery construct builds them.
    const agentDir = join(root, "build", "agent");
    const mockDir = join(root, "build", "mock");
    mkdirSync(agentDir, { recursive: true });
    mkdirSync(mockDir, { recursive: true });
    bundleRuntime("agent", agentDir);
    bundleRuntime("mock-compute-engine", mockDir);
    const agentJs = readFileSync(join(agentDir, "index.js"));
    const workerZip = cachedZip(mockDir);
    await h.grid.s3.send(new CreateBucketCommand({ Bucket: WORKLOAD_BUCKET }));
    await h.grid.s3.send(
      new PutObjectCommand({ Bucket: WORKLOAD_BUCKET, Key: "runtime/agent.js", Body: agentJs }),
    );
    await h.grid.s3.send(
      new PutObjectCommand({ Bucket: WORKLOAD_BUCKET, Key: "lambda.zip", Body: workerZip }),
    );

    // The chart, rendered with the values the grid builds for the default config (the built-in worker).
    const config = gridConfig();
    const values = localChartValues(config, {
      agentBundle: {
        bucket: WORKLOAD_BUCKET,
        key: "runtime/agent.js",
        versionId: "",
        sha256: sha256(agentJs),
      },
      // The client bundle is the client pods' (test/runtime/fetch/client-pod.test.ts); the agents never fetch it.
      clientBundle: { bucket: WORKLOAD_BUCKET, key: "runtime/client.js", versionId: "", sha256: "" },
      workerZip: { bucket: WORKLOAD_BUCKET, key: "lambda.zip", versionId: "", sha256: sha256(workerZip) },
    });
    deployment = renderChart(requireHelm(), values).find((o) => o.kind === "Deployment")!;

    // The EKS Pod Identity agent's stand-in: the token file's content as Authorization, S3RVER's keys back.
    credentials = createServer((req, res) => {
      if (req.headers.authorization !== TOKEN) return void res.writeHead(401).end();
      res.writeHead(200).end(
        JSON.stringify({
          AccessKeyId: "S3RVER",
          SecretAccessKey: "S3RVER",
          Token: "t",
          Expiration: "2099-01-01T00:00:00Z",
        }),
      );
    });
    credentialsUri = `http://127.0.0.1:${await listen(credentials)}/v1/credentials`;
  }, 120_000);

  afterAll(async () => {
    worker?.kill("SIGKILL");
    credentials?.close();
    await h?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it("fetches the layout the agent and the worker expect, then the fetched agent processes a task", async () => {
    const pod = deployment.spec.template.spec;
    const fetch = pod.initContainers.find((c: Obj) => c.name === "fetch");
    const agent = pod.containers.find((c: Obj) => c.name === "agent");
    const lambda = pod.containers.find((c: Obj) => c.name === "lambda");

    // The volumes the pod would mount: the ConfigMap's JSON and the Secret's fields, and the fetch script.
    const plan = JSON.parse(fetch.args[0]);
    mkdirSync(under(root, "/config/public"), { recursive: true });
    mkdirSync(under(root, "/config/secret"), { recursive: true });
    writeFileSync(under(root, plan.config.public), readFileSync(h.configPath));
    writeFileSync(under(root, "/config/secret/redis_password"), "");
    writeFileSync(under(root, "/config/secret/api_gateway_key"), "local-key");
    const scriptDir = join(root, "build", "fetch");
    mkdirSync(scriptDir, { recursive: true });
    bundleRuntime("fetch", scriptDir);
    const [node, scriptPath] = fetch.command as string[];
    expect([node, scriptPath]).toEqual(["node", "/opt/htc/fetch/fetch.js"]);
    mkdirSync(under(root, "/opt/htc/fetch"), { recursive: true });
    writeFileSync(under(root, scriptPath), readFileSync(join(scriptDir, "index.js")));

    // Run the init container: its command, its plan (paths under root, the local S3 endpoint), Pod Identity env.
    const localPlan = {
      ...plan,
      endpoint: h.grid.env.AWS_ENDPOINT_URL_S3,
      objects: plan.objects.map((o: Obj) => ({
        ...o,
        ...(o.file ? { file: under(root, o.file) } : { unzip: under(root, o.unzip) }),
      })),
      config: {
        ...plan.config,
        public: under(root, plan.config.public),
        secrets: under(root, plan.config.secrets),
        target: under(root, plan.config.target),
      },
    };
    writeFileSync(join(root, "token"), TOKEN);
    const fetchEnv = Object.fromEntries((fetch.env as Obj[]).map((e) => [e.name, e.value]));
    const fetched = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, [under(root, scriptPath), JSON.stringify(localPlan)], {
        env: {
          PATH: process.env.PATH ?? "",
          ...fetchEnv,
          HOME: root,
          TMPDIR: root,
          AWS_CONTAINER_CREDENTIALS_FULL_URI: credentialsUri,
          AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: join(root, "token"),
        },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      child.stdout.on("data", (c: Buffer) => (out += c.toString()));
      child.stderr.on("data", (c: Buffer) => (out += c.toString()));
      child.on("exit", (code) => resolve({ code, out }));
    });
    expect(fetched.code, fetched.out).toBe(0);
    expect(fetched.out).toContain("htc-fetch: assembled");

    // The worker container: a worker host stands in for the Lambda image's emulator, on the fetched task root,
    // with the handler and the process name the agent kills.
    const lambdaEnv = Object.fromEntries((lambda.env as Obj[]).map((e) => [e.name, e.value]));
    const agentEnv = Object.fromEntries((agent.env as Obj[]).map((e) => [e.name, e.value ?? "pod-1"]));
    const port = await freePort();
    worker = spawn(
      process.execPath,
      [
        h.bundles.workerHost,
        "--code",
        under(root, "/var/task"),
        "--handler",
        lambdaEnv.AWS_LAMBDA_FUNCTION_HANDLER,
        "--port",
        String(port),
        "--title",
        agentEnv.HTC_WORKER_PROCESS_NAMES,
      ],
      { stdio: "ignore" },
    );

    // The agent container: its command on the fetched bundle, its environment (the AWS endpoints of the local
    // servers come from the harness; LAMBDA_ENDPOINT_URL's port is the stand-in worker's).
    expect(agent.command).toEqual(["node", "/opt/htc/runtime/agent.js"]);
    expect(agentEnv.HTC_AGENT_WORKER_RESTART).toBe("kill-by-name");
    const running = h.spawnAgent("pod-1", {
      agentScript: under(root, agent.command[1]),
      env: {
        ...agentEnv,
        MY_POD_NAME: "pod-1",
        AGENT_CONFIG_FILE: under(root, agentEnv.AGENT_CONFIG_FILE),
        LAMBDA_ENDPOINT_URL: agentEnv.LAMBDA_ENDPOINT_URL.replace("localhost:8080", `127.0.0.1:${port}`),
      },
    });
    const { taskIds } = await h.submit([{ worker_arguments: ["5", "1", "1"] }]);
    await h
      .waitFor(
        "the task finished",
        async () => (await h.row(taskIds[0]))?.task_status.startsWith("finished") ?? false,
        30_000,
      )
      .catch((e: Error) => {
        throw new Error(`${e.message}\n${running.output()}`);
      });
    expect(JSON.parse((await h.output(taskIds[0]))!)).toMatchObject({ result: expect.anything() });
    expect(await stopAgent(running)).toBe(0);
  }, 90_000);
});
