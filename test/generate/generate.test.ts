import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { Job } from "kubernetes-models/batch/v1/Job";
import { parseGridConfigText } from "../../modules/config/load";
import { generate, GenerateError } from "../../modules/generate/generate";
import { NODE_FILE_OPS, type FileOps } from "../../modules/generate/write-files";

const root = path.resolve(__dirname, "..", "..");
const cli = path.join(root, "dist", "scripts", "generate.js");
const JOB_FILES = [
  "single-task-test.yaml",
  "batch-task-test.yaml",
  "cancel-many-small-tasks-test.yaml",
  "cancel-one-long-task-test.yaml",
];

describe("generate", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "htc-generate-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const run = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, [cli, ...args], {
      cwd: dir,
      env: { ...process.env, TAG: "", REGION: "", ...env },
      encoding: "utf8",
    });

  it("writes a grid config the loader accepts, with the tag as project_name and the region", () => {
    const r = run(["--tag", "demo", "--region", "us-east-2", "--deployer-cidr", "203.0.113.7/32"]);
    expect(r.status).toBe(0);
    const text = readFileSync(path.join(dir, "generated", "grid_config.json"), "utf8");
    const config = parseGridConfigText(text, "generated");
    expect(config.projectName).toBe("demo");
    expect(config.region).toBe("us-east-2");
    // Deployable from the deployer's machine: the endpoint is public to that address only, private access stays.
    expect(config.computePlane.publicEndpoint).toBe(true);
    expect(config.computePlane.publicEndpointCidrs).toEqual(["203.0.113.7/32"]);
    expect(JSON.parse(text).$schema).toBe("./grid_config.schema.json");
    expect(JSON.parse(text).eks_worker_groups[0].name).toBe("worker-small-spot");
  });

  it("defaults to tag mainline and region eu-west-1, and honors TAG / REGION from the environment", () => {
    expect(run([]).status).toBe(0);
    const d = JSON.parse(readFileSync(path.join(dir, "generated", "grid_config.json"), "utf8"));
    expect([d.project_name, d.region]).toEqual(["mainline", "eu-west-1"]);
    rmSync(path.join(dir, "generated"), { recursive: true });
    expect(run([], { TAG: "envtag", REGION: "eu-central-1" }).status).toBe(0);
    const e = JSON.parse(readFileSync(path.join(dir, "generated", "grid_config.json"), "utf8"));
    expect([e.project_name, e.region]).toEqual(["envtag", "eu-central-1"]);
  });

  it("writes hardened submission Jobs that validate against the Kubernetes API schema", () => {
    expect(run(["--tag", "demo", "--region", "eu-west-1", "--account-id", "123456789012"]).status).toBe(0);
    for (const file of JOB_FILES) {
      const job = parse(readFileSync(path.join(dir, "generated", file), "utf8"));
      expect(() => new Job(job).validate()).not.toThrow();
      const pod = job.spec.template.spec;
      const container = pod.containers[0];
      // The stock Node.js image through the grid's pull-through cache; the client bundle is fetched, not built in.
      expect(container.image).toBe(
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/ecr-public/docker/library/node:22.23.2-bookworm-slim",
      );
      expect(container.command.join(" ")).toContain("node /opt/htc/runtime/client.js");
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(pod.securityContext.seccompProfile.type).toBe("RuntimeDefault");
      expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
      expect(container.securityContext.allowPrivilegeEscalation).toBe(false);
      expect(container.securityContext.capabilities.drop).toEqual(["ALL"]);
      expect(pod.nodeSelector).toEqual({ "htc/node-type": "core" });
      expect(pod.tolerations).toContainEqual(
        expect.objectContaining({ key: "htc/node-type", value: "core", effect: "NoSchedule" }),
      );
      const volumes = JSON.stringify(pod.volumes);
      expect(volumes).toContain("agent-configmap");
    }
  });

  it("without --deployer-cidr writes a placeholder that synthesis refuses with what to set", () => {
    const r = run(["--tag", "demo"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(
      "note: eks_public_access_cidrs in generated/grid_config.json is a placeholder",
    );
    const text = readFileSync(path.join(dir, "generated", "grid_config.json"), "utf8");
    try {
      parseGridConfigText(text, "generated");
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).toMatch(
        /eks_public_access_cidrs\[0\]: "<your-public-ip>\/32" is a placeholder: replace it with the public address of the machine that runs cdktf deploy/,
      );
    }
  });

  it("refuses a --deployer-cidr that is no CIDR, or a private one, before writing", () => {
    const bad = run(["--deployer-cidr", "my-laptop"]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('--deployer-cidr: "my-laptop" is not an IPv4 CIDR');
    const internal = run(["--deployer-cidr", "10.1.2.3/32"]);
    expect(internal.status).toBe(1);
    expect(internal.stderr).toContain(
      'eks_public_access_cidrs[0]: "10.1.2.3/32" is private (RFC 1918) address space',
    );
    expect(existsSync(path.join(dir, "generated"))).toBe(false);
  });

  it("keeps the account id as a placeholder instead of looking it up", () => {
    expect(run(["--tag", "demo"]).status).toBe(0);
    const job = parse(readFileSync(path.join(dir, "generated", "single-task-test.yaml"), "utf8"));
    expect(job.spec.template.spec.containers[0].image).toBe(
      "{{account_id}}.dkr.ecr.eu-west-1.amazonaws.com/ecr-public/docker/library/node:22.23.2-bookworm-slim",
    );
  });

  it("leaves identical files alone and refuses to overwrite edited ones without --force", () => {
    expect(run(["--tag", "demo"]).status).toBe(0);
    const file = path.join(dir, "generated", "grid_config.json");
    const again = run(["--tag", "demo"]);
    expect(again.status).toBe(0);
    expect(again.stdout).toContain("unchanged generated/grid_config.json");
    writeFileSync(file, readFileSync(file, "utf8").replace('"max_htc_agents": 100', '"max_htc_agents": 7'));
    const refused = run(["--tag", "demo"]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain("refusing to overwrite");
    expect(readFileSync(file, "utf8")).toContain('"max_htc_agents": 7');
    const forced = run(["--tag", "demo", "--force"]);
    expect(forced.status).toBe(0);
    expect(readFileSync(file, "utf8")).toContain('"max_htc_agents": 100');
  });

  it("rejects a bad region or tag and writes nothing", () => {
    const r = run(["--tag", "Bad_Tag", "--region", "moon-1"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('project_name: "Bad_Tag" is not allowed');
    expect(r.stderr).toContain('region: unknown region "moon-1"');
    expect(existsSync(path.join(dir, "generated"))).toBe(false);
  });

  it("rejects a malformed account id before writing", () => {
    expect(() =>
      generate({ tag: "a", region: "eu-west-1", accountId: "12", force: false, outDir: path.join(dir, "g") }),
    ).toThrow(GenerateError);
    expect(existsSync(path.join(dir, "g"))).toBe(false);
  });

  /** node:fs, except that the n-th call of `method` fails with `code` (failure injection). */
  const failing = (method: "writeFileSync" | "renameSync", n: number, code: string): FileOps => {
    let calls = 0;
    return {
      ...NODE_FILE_OPS,
      [method]: (...args: unknown[]) => {
        if (++calls === n) throw Object.assign(new Error(`${code}: injected`), { code });
        return (NODE_FILE_OPS[method] as (...a: unknown[]) => unknown)(...args);
      },
    };
  };
  const snapshot = (d: string) =>
    Object.fromEntries(readdirSync(d).map((f) => [f, readFileSync(path.join(d, f), "utf8")]));

  it("writes nothing when a file cannot be written, and says which and why in one line", () => {
    const outDir = path.join(dir, "generated");
    expect(() =>
      generate({
        tag: "a",
        region: "eu-west-1",
        force: false,
        outDir,
        fileOps: failing("writeFileSync", 3, "EROFS"),
      }),
    ).toThrow(/^cannot write .*batch-task-test\.yaml: EROFS \(not writable\); nothing was changed$/);
    expect(readdirSync(outDir)).toEqual([]);
  });

  it("puts every original back when a rename fails half-way (all or nothing)", () => {
    const outDir = path.join(dir, "generated");
    generate({ tag: "a", region: "eu-west-1", force: false, outDir });
    const before = snapshot(outDir);
    // --force with another tag and region changes every file (the jobs' registry is regional); the 6th rename (the
    // 3rd file's new text) fails.
    expect(() =>
      generate({
        tag: "b",
        region: "eu-central-1",
        force: true,
        outDir,
        fileOps: failing("renameSync", 6, "EIO"),
      }),
    ).toThrow(/^cannot replace .*: EIO; nothing was changed$/);
    expect(snapshot(outDir)).toEqual(before);
  });

  it("creates a missing generated/ and reports one that cannot be a directory, without a stack trace", () => {
    expect(run(["--tag", "demo"]).status).toBe(0);
    rmSync(path.join(dir, "generated"), { recursive: true });
    writeFileSync(path.join(dir, "generated"), "not a directory");
    const r = run(["--tag", "demo"]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^generate: cannot .*generated.*: E[A-Z]+/);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it("prints usage for --help and fails on unknown flags", () => {
    const help = run(["--help"]);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("--tag TAG");
    const bad = run(["--tga", "x"]);
    expect(bad.status).toBe(2);
    expect(readdirSync(dir)).toEqual([]);
  });
});
