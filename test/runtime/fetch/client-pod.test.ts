// The client pods played on local servers, from their own manifests: the chart's `helm test` pod (rendered by helm
// with the values the grid builds) and the submission jobs `npm run generate` writes. Each fetch init container runs
// its command for real (the test pod with the plan in its arguments, the jobs with the plan the grid-k8s stack keeps
// in the fetch ConfigMap) against a local S3 server holding the uploaded client bundle, with credentials from a
// stand-in EKS Pod Identity endpoint; then the container's own command runs the `client.js` it fetched against a
// local grid (the real handlers behind the local API, one real agent) and must get its results. The client gets no
// AWS keys: its S3 calls (inputs and outputs in the data bucket) use the Pod Identity credentials too. Pod paths are
// mapped under a temporary root and the S3 endpoint points at the local servers (the only changes to what the
// manifests say).
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildSubmissionJobs } from "../../../modules/agent/job-templates";
import { clientFetchPlan, CLIENT_FETCH_PLAN_KEY } from "../../../modules/agent/pod-layout";
import { localGridLayout } from "../../../modules/local-grid/layout";
import { bundleRuntime } from "../../../modules/runtime-bundle/bundle";
import type { DeliveredObject } from "../../../modules/runtime-delivery/runtime-delivery";
import { startGrid, type LocalGrid } from "../../../runtime/src/local/grid";
import { LOCAL_CREDENTIALS, listen, startS3, type LocalServer } from "../../../runtime/src/local/servers";
import { renderChart, requireHelm } from "../../agent/helm";
import { gridConfig } from "../../support/grid-synth";
import { localChartValues } from "./local-chart";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const WORKLOAD_BUCKET = "htc-workload-client-pod-test";
const TOKEN = "eks-pod-identity-token";
const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(argv: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<Ran> {
  return new Promise((resolve) => {
    const [command, ...args] = argv;
    const child = spawn(command === "node" ? process.execPath : command!, args, {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe("client pods (helm test pod, submission jobs) from their manifests, on local servers", () => {
  let root: string;
  let grid: LocalGrid;
  let workload: LocalServer;
  let credentials: Server;
  let credentialsUri: string;
  const credentialCalls: string[] = [];
  let clientBundle: DeliveredObject;
  let chartObjects: Obj[];
  const config = gridConfig({ grid_storage_service: "S3" });

  /** Maps a pod path (or every pod path inside a shell line) under the temporary root. */
  const under = (text: string) => text.replaceAll("/opt/htc/", `${root}/opt/htc/`);
  const underPath = (podPath: string) => join(root, podPath);

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "htc-client-pod-"));
    const bundle = (name: Parameters<typeof bundleRuntime>[0]) => {
      const out = join(root, "build", name);
      mkdirSync(out, { recursive: true });
      bundleRuntime(name, out);
      return out;
    };
    const clientJs = readFileSync(join(bundle("client"), "index.js"));
    const fetchScript = readFileSync(join(bundle("fetch"), "index.js"));

    // What the grid-k8s stack uploads (the client bundle) and puts in the fetch ConfigMap (the script).
    workload = await startS3([WORKLOAD_BUCKET]);
    const s3 = new S3Client({
      endpoint: workload.endpoint,
      region: config.region,
      forcePathStyle: true,
      credentials: LOCAL_CREDENTIALS,
      requestChecksumCalculation: "WHEN_REQUIRED",
    });
    await s3.send(
      new PutObjectCommand({ Bucket: WORKLOAD_BUCKET, Key: "runtime/client.js", Body: clientJs }),
    );
    s3.destroy();
    clientBundle = {
      bucket: WORKLOAD_BUCKET,
      key: "runtime/client.js",
      versionId: "",
      sha256: sha256(clientJs),
    };
    mkdirSync(underPath("/opt/htc/fetch"), { recursive: true });
    writeFileSync(underPath("/opt/htc/fetch/fetch.js"), fetchScript);

    // The grid: the real handlers behind the local API (API key), S3 data plane, one agent with the mock engine.
    grid = await startGrid({
      layout: localGridLayout(config),
      agents: 1,
      agentScript: join(bundle("agent"), "index.js"),
      workerHostScript: join(bundle("worker-host"), "index.js"),
      workerCode: bundle("mock-compute-engine"),
      workerHandler: "index.handler",
      dir: join(root, "grid"),
      ttlIntervalSec: 1,
      agentOutput: "ignore",
    });

    // The pod's volumes: the ConfigMap's public JSON and the Secret's two fields.
    const document = { ...(grid.config as unknown as Record<string, unknown>) };
    const apiKey = String(document.api_gateway_key);
    delete document.api_gateway_key;
    delete document.redis_password;
    mkdirSync(underPath("/config/public"), { recursive: true });
    mkdirSync(underPath("/config/secret"), { recursive: true });
    writeFileSync(underPath("/config/public/Agent_config.tfvars.json"), JSON.stringify(document));
    writeFileSync(underPath("/config/secret/api_gateway_key"), apiKey);
    writeFileSync(underPath("/config/secret/redis_password"), "");
    writeFileSync(join(root, "token"), TOKEN);

    // The EKS Pod Identity agent's stand-in: the token file's content as Authorization, the local servers' keys.
    credentials = createServer((req, res) => {
      credentialCalls.push(String(req.headers.authorization));
      if (req.headers.authorization !== TOKEN) return void res.writeHead(401).end();
      res.writeHead(200, { "content-type": "application/json" }).end(
        JSON.stringify({
          AccessKeyId: LOCAL_CREDENTIALS.accessKeyId,
          SecretAccessKey: LOCAL_CREDENTIALS.secretAccessKey,
          Token: "session-token",
          Expiration: new Date(Date.now() + 3_600_000).toISOString(),
        }),
      );
    });
    credentialsUri = `http://127.0.0.1:${await listen(credentials)}/v1/credentials`;

    // The chart as the grid renders it for this config: the helm test pod.
    const values = localChartValues(config, {
      agentBundle: { ...clientBundle, key: "runtime/agent.js" },
      clientBundle,
      workerZip: { ...clientBundle, key: "lambda.zip" },
    });
    chartObjects = renderChart(requireHelm(), values);
  }, 180_000);

  afterAll(async () => {
    credentials?.close();
    await grid?.stop();
    await workload?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  /** A fetch plan with its pod paths under the root and the local S3 endpoint. */
  const localPlan = (plan: Obj) => ({
    ...plan,
    endpoint: workload.endpoint,
    objects: plan.objects.map((o: Obj) => ({ ...o, file: underPath(o.file) })),
    config: {
      ...plan.config,
      public: underPath(plan.config.public),
      secrets: underPath(plan.config.secrets),
      target: underPath(plan.config.target),
    },
  });

  /** A container's environment from its manifest (paths mapped), plus what EKS and the VPC provide. */
  const podEnv = (container: Obj): Record<string, string> => {
    const env = Object.fromEntries((container.env as Obj[]).map((e) => [e.name, String(e.value)]));
    for (const name of ["AGENT_CONFIG_FILE", "HOME", "TMPDIR"])
      if (env[name] !== undefined) env[name] = underPath(env[name]);
    mkdirSync(underPath("/tmp"), { recursive: true });
    return {
      PATH: process.env.PATH ?? "",
      ...env,
      // EKS Pod Identity's injection (no AWS keys anywhere).
      AWS_CONTAINER_CREDENTIALS_FULL_URI: credentialsUri,
      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: join(root, "token"),
      // The network: the grid's S3 at the local server (path-style, as the local grid's clients use it).
      AWS_ENDPOINT_URL_S3: grid.endpoints.AWS_ENDPOINT_URL_S3!,
      S3_FORCE_PATH_STYLE: "1",
    };
  };

  const clearPod = () => {
    rmSync(underPath("/opt/htc/runtime"), { recursive: true, force: true });
    rmSync(underPath("/etc"), { recursive: true, force: true });
  };

  it("helm test: the fetched client submits one task through the private API and prints its result", async () => {
    clearPod();
    const pod = chartObjects.find((o) => o.kind === "Pod")!.spec;
    const [fetch] = pod.initContainers;
    const [submit] = pod.containers;
    const fetched = await run(
      [...fetch.command.map(under), JSON.stringify(localPlan(JSON.parse(fetch.args[0])))],
      podEnv(fetch),
    );
    expect(fetched.stderr).toBe("");
    expect(fetched.code).toBe(0);
    expect(fetched.stdout).toContain(`htc-fetch: fetched s3://${WORKLOAD_BUCKET}/runtime/client.js (`);
    expect(fetched.stdout).toContain("SHA-256 checked");

    const calls = credentialCalls.length;
    const ran = await run(submit.command.map(under), podEnv(submit), 120_000);
    expect(ran.code, ran.stderr).toBe(0);
    const results = JSON.parse(ran.stdout);
    expect(results).toMatchObject({ total: 1, finished: 1, failed: 0, cancelled: 0, complete: true });
    expect(results.tasks[0].output).toMatchObject({ result: expect.anything() });
    expect(ran.stderr).toMatch(/htc: submitted 1 tasks as session \S+/);
    // Its data-plane calls (input upload, output read) signed with Pod Identity credentials.
    expect(credentialCalls.length).toBeGreaterThan(calls);
    expect(credentialCalls.every((c) => c === TOKEN)).toBe(true);
  }, 150_000);

  it("single-task job: fetch with the ConfigMap's client plan (--plan-file), then htc submit --wait", async () => {
    clearPod();
    const job = buildSubmissionJobs({ accountId: "000000000000", region: config.region })["single-task-test"];
    const pod = job.spec.template.spec;
    const [fetch] = pod.initContainers;
    const [generator] = pod.containers;
    // The plan the grid-k8s stack writes into the fetch ConfigMap, from the same builder.
    const volume = pod.volumes.find((v) => v.name === "fetch-script")!;
    expect(volume.configMap!.items.map((i) => i.key)).toContain(CLIENT_FETCH_PLAN_KEY);
    const plan = clientFetchPlan({ region: config.region, dnsSuffix: "amazonaws.com", clientBundle });
    writeFileSync(underPath(`/opt/htc/fetch/${CLIENT_FETCH_PLAN_KEY}`), JSON.stringify(localPlan(plan)));

    const fetched = await run(fetch.command.map(under), podEnv(fetch));
    expect(fetched.stderr).toBe("");
    expect(fetched.code).toBe(0);
    const ran = await run(generator.command.map(under), podEnv(generator), 120_000);
    expect(ran.code, ran.stderr).toBe(0);
    expect(JSON.parse(ran.stdout)).toMatchObject({ total: 1, finished: 1, complete: true });
  }, 150_000);

  it("cancel-many-small-tasks job: its shell submits, cancels, and sees the session end cancelled", async () => {
    clearPod();
    const job = buildSubmissionJobs({ accountId: "000000000000", region: config.region })[
      "cancel-many-small-tasks-test"
    ];
    const pod = job.spec.template.spec;
    const plan = clientFetchPlan({ region: config.region, dnsSuffix: "amazonaws.com", clientBundle });
    writeFileSync(underPath(`/opt/htc/fetch/${CLIENT_FETCH_PLAN_KEY}`), JSON.stringify(localPlan(plan)));
    const fetched = await run(pod.initContainers[0]!.command.map(under), podEnv(pod.initContainers[0]!));
    expect(fetched.code, fetched.stderr).toBe(0);

    const [generator] = pod.containers;
    const ran = await run(generator.command.map(under), podEnv(generator), 120_000);
    expect(ran.code, `${ran.stdout}\n${ran.stderr}`).toBe(0);
    expect(ran.stdout).toMatch(/htc: session \S+: cancelled as expected/);
    expect(ran.stderr).toMatch(/htc: session \S+: cancelled [1-9]\d* tasks/);
    expect(ran.stderr).toMatch(/htc: session \S+: \d+ finished, 0 failed, [1-9]\d* cancelled/);
  }, 150_000);
});
