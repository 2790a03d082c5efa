// The fetch step as it runs in a pod: the bundled fetch.js, spawned with a plan, downloads from the local S3 server
// with credentials from a stand-in container-credentials endpoint that speaks EKS Pod Identity's protocol
// (Authorization = the token file's content), checks SHA-256, unpacks the worker zip and assembles the agent
// configuration. s3rver does not verify signatures: the SigV4 signer is checked against the AWS SDK's own, and the
// fetch reaches s3rver through the local grid's proxy, which checks each request's signature as S3 does.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { SignatureV4 } from "@smithy/signature-v4";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NodeSha256 } from "../../../runtime/src/local/node-sha256";
import { bundleRuntime } from "../../../modules/runtime-bundle/bundle";
import { cachedZip } from "../../../modules/runtime-bundle/zip";
import { objectAddress, signGet } from "../../../runtime/src/fetch/s3-get";
import { parsePlan } from "../../../runtime/src/fetch/plan";
import { startAwsProxy, type AwsProxy } from "../../../runtime/src/local/proxy";
import { listen, startS3, type LocalServer } from "../../../runtime/src/local/servers";

const BUCKET = "htc-workload-test";
const REGION = "eu-west-1";
const TOKEN = "pod-identity-token-abc";

/** A stand-in for the EKS Pod Identity agent: answers only the right token, with S3RVER's keys. */
async function startCredentialsEndpoint(): Promise<{ uri: string; calls: string[]; server: Server }> {
  const calls: string[] = [];
  const server = createServer((req, res) => {
    calls.push(String(req.headers.authorization ?? ""));
    if (req.headers.authorization !== TOKEN) {
      res.writeHead(401).end('{"message":"bad token"}');
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(
      JSON.stringify({
        AccessKeyId: "S3RVER",
        SecretAccessKey: "S3RVER",
        Token: "session-token",
        AccountId: "123456789012",
        Expiration: new Date(Date.now() + 3_600_000).toISOString(),
      }),
    );
  });
  const port = await listen(server);
  return { uri: `http://127.0.0.1:${port}/v1/credentials`, calls, server };
}

/** Runs fetch.js with a plan (as its argument) or with other arguments (e.g. `--plan-file FILE`). */
function runFetch(script: string, plan: unknown, env: Record<string, string>, args?: string[]) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [script, ...(args ?? [JSON.stringify(plan)])], {
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

const sha256 = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");

describe("SigV4 signing", () => {
  const sdk = new SignatureV4({
    service: "s3",
    region: REGION,
    sha256: NodeSha256,
    credentials: {
      accessKeyId: "AKIDEXAMPLE",
      secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
      sessionToken: "tok/+=",
    },
    uriEscapePath: false,
    applyChecksum: false,
  });

  it.each([
    ["runtime/agent.js", undefined],
    ["workers/my worker+1 (v2)*.zip", "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo"],
    ["lambda.zip", "null"],
  ])("signs GET %s (version %s) exactly as the AWS SDK does", async (key, versionId) => {
    const now = new Date("2026-11-30T12:34:56Z");
    const credentials = {
      accessKeyId: "AKIDEXAMPLE",
      secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
      sessionToken: "tok/+=",
    };
    const address = objectAddress({ region: REGION, dnsSuffix: "amazonaws.com" }, BUCKET, key, versionId);
    const { url } = address;
    const ours = signGet(address, REGION, credentials, now);
    const signed = await sdk.sign(
      {
        method: "GET",
        protocol: "https:",
        hostname: url.hostname,
        path: url.pathname,
        query: versionId === undefined ? {} : { versionId },
        headers: { host: url.host, "x-amz-content-sha256": "UNSIGNED-PAYLOAD" },
      },
      { signingDate: now },
    );
    expect(ours.authorization).toBe(signed.headers.authorization);
    expect(url.host).toBe(`${BUCKET}.s3.${REGION}.amazonaws.com`);
  });

  it("uses path-style URLs for bucket names with dots and for an endpoint override", () => {
    expect(objectAddress({ region: REGION, dnsSuffix: "amazonaws.com.cn" }, "a.b", "k").url.href).toBe(
      "https://s3.eu-west-1.amazonaws.com.cn/a.b/k",
    );
    expect(
      objectAddress({ region: REGION, dnsSuffix: "x", endpoint: "http://127.0.0.1:9/" }, "b", "k/l").url.href,
    ).toBe("http://127.0.0.1:9/b/k/l");
  });
});

describe("fetch plan", () => {
  it("names the field that is wrong", () => {
    expect(() => parsePlan("{")).toThrow(/not JSON/);
    expect(() => parsePlan('{"region":"r","objects":[{"bucket":"b","key":"k"}]}')).toThrow(
      "objects[0] needs exactly one of file or unzip",
    );
    expect(() => parsePlan('{"region":"r","objects":[{"bucket":"b","key":"k","file":"rel/x"}]}')).toThrow(
      'objects[0].file must be an absolute path, got "rel/x"',
    );
    expect(() =>
      parsePlan('{"region":"r","objects":[{"bucket":"b","key":"k","file":"/x","sha256":"AB"}]}'),
    ).toThrow(/objects\[0\]\.sha256 must be 64 lowercase hex digits/);
    expect(
      parsePlan('{"region":"r","objects":[{"bucket":"b","key":"k","file":"/x","versionId":""}]}').objects[0]
        .versionId,
    ).toBeUndefined();
  });
});

describe("fetch.js against the local S3 server with Pod Identity credentials", () => {
  let s3: LocalServer;
  let s3Proxy: AwsProxy;
  let creds: Awaited<ReturnType<typeof startCredentialsEndpoint>>;
  let dir: string;
  let script: string;
  let agentJs: Buffer;
  let workerZip: Buffer;
  let env: Record<string, string>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "htc-fetch-test-"));
    const bundle = (name: string) => {
      const out = join(dir, "bundles", name);
      mkdirSync(out, { recursive: true });
      bundleRuntime(name, out);
      return out;
    };
    script = join(bundle("fetch"), "index.js");
    agentJs = readFileSync(join(bundle("agent"), "index.js"));
    workerZip = cachedZip(bundle("mock-compute-engine"));
    s3 = await startS3([BUCKET]);
    s3Proxy = await startAwsProxy("s3", s3.endpoint, 0, {
      signatures: {
        region: REGION,
        services: ["s3"],
        credentials: [{ accessKeyId: "S3RVER", secretAccessKey: "S3RVER" }],
      },
    });
    creds = await startCredentialsEndpoint();
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: REGION,
      forcePathStyle: true,
      credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
      requestChecksumCalculation: "WHEN_REQUIRED",
    });
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: "runtime/agent.js", Body: agentJs }));
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: "lambda.zip", Body: workerZip }));
    writeFileSync(join(dir, "token"), `${TOKEN}\n`);
    mkdirSync(join(dir, "config", "public"), { recursive: true });
    mkdirSync(join(dir, "config", "secret"), { recursive: true });
    writeFileSync(
      join(dir, "config", "public", "Agent_config.tfvars.json"),
      JSON.stringify({ region: REGION }),
    );
    writeFileSync(join(dir, "config", "secret", "redis_password"), "s3cret");
    writeFileSync(join(dir, "config", "secret", "api_gateway_key"), "k3y");
    env = {
      AWS_CONTAINER_CREDENTIALS_FULL_URI: creds.uri,
      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: join(dir, "token"),
      TMPDIR: dir,
    };
  }, 60_000);

  afterAll(async () => {
    await s3Proxy?.stop();
    await s3?.stop();
    creds?.server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const plan = (root: string, overrides: { agentSha?: string } = {}) => ({
    region: REGION,
    endpoint: s3Proxy.endpoint,
    objects: [
      {
        bucket: BUCKET,
        key: "runtime/agent.js",
        sha256: overrides.agentSha ?? sha256(agentJs),
        file: join(root, "runtime", "agent.js"),
      },
      {
        bucket: BUCKET,
        key: "lambda.zip",
        sha256: sha256(workerZip),
        versionId: "",
        unzip: join(root, "task"),
      },
    ],
    config: {
      public: join(dir, "config", "public", "Agent_config.tfvars.json"),
      secrets: join(dir, "config", "secret"),
      keys: ["redis_password", "api_gateway_key"],
      target: join(root, "etc", "Agent_config.tfvars.json"),
    },
  });

  it("lays out the agent bundle, the unpacked worker and the assembled configuration", async () => {
    const root = join(dir, "pod-1");
    const { code, stdout, stderr } = await runFetch(script, plan(root), env);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(readFileSync(join(root, "runtime", "agent.js")).equals(agentJs)).toBe(true);
    expect(statSync(join(root, "runtime", "agent.js")).mode & 0o777).toBe(0o444);
    expect(readdirSync(join(root, "task"))).toEqual(["index.js"]);
    const config = join(root, "etc", "Agent_config.tfvars.json");
    expect(JSON.parse(readFileSync(config, "utf8"))).toEqual({
      region: REGION,
      redis_password: "s3cret",
      api_gateway_key: "k3y",
    });
    expect(statSync(config).mode & 0o777).toBe(0o440);
    expect(stdout).toContain(
      `htc-fetch: fetched s3://${BUCKET}/runtime/agent.js (${agentJs.length} bytes, SHA-256 checked)`,
    );
    expect(stdout).toContain(`-> ${join(root, "task")} (1 files)`);
    // Credentials came from the stand-in agent, with the token file's content as Authorization.
    expect(creds.calls.at(-1)).toBe(TOKEN);
    // Both GETs (signed with the session token) passed S3's signature check.
    expect(s3Proxy.counts.get("s3:GetObject")).toBe(2);
    expect(s3Proxy.rejected()).toBe(0);
    // Nothing but the results is left behind.
    expect(readdirSync(dir).filter((f) => f.startsWith("htc-fetch-"))).toEqual([]);
  });

  it("refuses an object whose SHA-256 is not the release's, and keeps no copy of it", async () => {
    const root = join(dir, "pod-2");
    const { code, stderr } = await runFetch(script, plan(root, { agentSha: "0".repeat(64) }), env);
    expect(code).toBe(1);
    expect(stderr.trim()).toBe(
      `htc-fetch: s3://${BUCKET}/runtime/agent.js: SHA-256 ${sha256(agentJs)} does not match the release's ${"0".repeat(64)}`,
    );
    expect(() => statSync(join(root, "runtime", "agent.js"))).toThrow();
  });

  it("says when the credentials agent refuses the pod's token", async () => {
    writeFileSync(join(dir, "bad-token"), "someone-else");
    const { code, stderr } = await runFetch(script, plan(join(dir, "pod-3")), {
      ...env,
      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: join(dir, "bad-token"),
    });
    expect(code).toBe(1);
    expect(stderr).toMatch(
      /^htc-fetch: the credentials endpoint http:\/\/127\.0\.0\.1:\d+ answered HTTP 401/,
    );
  });

  it("never sends the token over plain http to anything but loopback or the credential agents", async () => {
    const { code, stderr } = await runFetch(script, plan(join(dir, "pod-4")), {
      ...env,
      AWS_CONTAINER_CREDENTIALS_FULL_URI: "http://example.com/creds",
    });
    expect(code).toBe(1);
    expect(stderr).toContain("refused: plain http only to loopback or the EKS/ECS credential agents");
  });

  it("names a missing object", async () => {
    const p = plan(join(dir, "pod-5"));
    const { code, stderr } = await runFetch(
      script,
      { ...p, objects: [{ ...p.objects[0], key: "runtime/nope.js", sha256: "" }] },
      env,
    );
    expect(code).toBe(1);
    expect(stderr).toContain(`htc-fetch: GET s3://${BUCKET}/runtime/nope.js: HTTP 404 NoSuchKey`);
  });

  it("reads the plan from a file with --plan-file (the client pods' plan in the fetch ConfigMap)", async () => {
    const root = join(dir, "pod-6");
    const file = join(dir, "client-plan.json");
    writeFileSync(file, JSON.stringify(plan(root)));
    const { code, stderr } = await runFetch(script, undefined, env, ["--plan-file", file]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(readFileSync(join(root, "runtime", "agent.js")).equals(agentJs)).toBe(true);
  });

  it("exits 2 with one line when the plan file cannot be read, or the arguments are wrong", async () => {
    const missing = await runFetch(script, undefined, env, ["--plan-file", join(dir, "nope.json")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toBe(
      `htc-fetch: cannot read the plan file ${join(dir, "nope.json")}: ENOENT`,
    );
    const usage = await runFetch(script, undefined, env, ["--plan-file"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr.trim()).toBe("htc-fetch: usage: fetch.js '<plan JSON>' | fetch.js --plan-file FILE");
  });

  it("exits 2 with one line on a bad plan", async () => {
    const { code, stderr } = await runFetch(script, { region: REGION, objects: "x" }, env);
    expect(code).toBe(2);
    expect(stderr.trim()).toBe("htc-fetch: objects must be a list");
  });
});
