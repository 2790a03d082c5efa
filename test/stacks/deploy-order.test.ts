// Deploy order and cross-stack state, checked on the synthesized output as `cdktf deploy` lays it out: the
// manifest's dependencies give bootstrap, images, grid, grid-k8s, and every terraform_remote_state reads exactly
// where the producing stack's backend writes, for each backend type. For local state a real Terraform run proves
// it: a producer folder with only outputs is applied, and the consumer reads it through the synthesized
// terraform_remote_state block (no provider is needed for either).
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { App } from "cdktf";
import { buildGridApp } from "../../stacks/app";
import { gridConfig, type TfJson } from "../support/grid-synth";
import { requireTerraform } from "../verify/terraform-bin";

interface Manifest {
  stacks: Record<string, { workingDirectory: string; dependencies: string[] }>;
}

interface Synthesized {
  readonly outdir: string;
  readonly manifest: Manifest;
  readonly stacks: Record<string, TfJson>;
  /** Absolute folder cdktf runs Terraform in for a stack. */
  dir(stack: string): string;
}

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** The whole app synthesized into a fresh `<tmp>/cdktf.out`, as `cdktf synth` writes it. */
function synthesize(env: Record<string, string> = {}): Synthesized {
  const root = mkdtempSync(path.join(tmpdir(), "htc-deploy-order-"));
  dirs.push(root);
  const outdir = path.join(root, "cdktf.out");
  const app = new App({ outdir, skipValidation: false });
  buildGridApp(app, gridConfig({}, env));
  app.synth();
  const manifest = JSON.parse(readFileSync(path.join(outdir, "manifest.json"), "utf8")) as Manifest;
  const stacks: Record<string, TfJson> = {};
  for (const [name, s] of Object.entries(manifest.stacks)) {
    stacks[name] = JSON.parse(readFileSync(path.join(outdir, s.workingDirectory, "cdk.tf.json"), "utf8"));
  }
  return {
    outdir,
    manifest,
    stacks,
    dir: (stack) => path.join(outdir, manifest.stacks[stack].workingDirectory),
  };
}

/** Deploy order from the manifest: repeatedly take the stacks whose dependencies are done (ties by name). */
function deployOrder(manifest: Manifest): string[] {
  const order: string[] = [];
  const pending = new Set(Object.keys(manifest.stacks));
  while (pending.size > 0) {
    const ready = [...pending]
      .filter((s) => manifest.stacks[s].dependencies.every((d) => order.includes(d)))
      .sort();
    if (ready.length === 0) throw new Error(`dependency cycle among ${[...pending].join(", ")}`);
    order.push(ready[0]);
    pending.delete(ready[0]);
  }
  return order;
}

/** Every (consumer, remote-state block) pair, with the producer named by cdktf's data source id. */
function remoteStates(s: Synthesized) {
  const out: { consumer: string; producer: string; block: TfJson }[] = [];
  for (const [consumer, json] of Object.entries(s.stacks)) {
    for (const [id, block] of Object.entries(json.data?.terraform_remote_state ?? {})) {
      const producer = /^cross-stack-reference-input-(.+)$/.exec(id)?.[1];
      if (!producer) throw new Error(`${consumer}: unexpected terraform_remote_state ${id}`);
      out.push({ consumer, producer, block: block as TfJson });
    }
  }
  return out;
}

describe("deploy order", () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synthesize();
  });

  it("declares every cross-stack dependency in the manifest", () => {
    expect([...s.manifest.stacks.grid.dependencies].sort()).toEqual(["bootstrap", "images"]);
    expect(s.manifest.stacks["grid-k8s"].dependencies).toEqual(["grid"]);
    expect(s.manifest.stacks.bootstrap.dependencies).toEqual([]);
    expect(s.manifest.stacks.images.dependencies).toEqual([]);
  });

  it("orders bootstrap, images, grid, grid-k8s (and destroy the reverse)", () => {
    expect(deployOrder(s.manifest)).toEqual(["bootstrap", "images", "grid", "grid-k8s"]);
  });

  it("reads remote state only from stacks it depends on", () => {
    const reads = remoteStates(s);
    expect(reads.length).toBeGreaterThan(0);
    for (const { consumer, producer } of reads) {
      expect(s.manifest.stacks[consumer].dependencies).toContain(producer);
    }
  });
});

describe("cross-stack state", () => {
  it("local: each terraform_remote_state path resolves, from the consumer's folder, to the producer's state file", () => {
    const s = synthesize({ HTCGRID_BACKEND: "local" });
    const reads = remoteStates(s);
    expect(reads.map((r) => `${r.producer}->${r.consumer}`)).toEqual(["grid->grid-k8s"]);
    for (const { consumer, producer, block } of reads) {
      const backend = s.stacks[producer].terraform.backend.local;
      expect(block.backend).toBe("local");
      const read = path.resolve(s.dir(consumer), block.config.path);
      const written = path.resolve(s.dir(producer), backend.path);
      expect(read).toBe(written);
      // Next to the project's cdktf.out/, never inside it (a fresh synth must not lose state).
      expect(written).toBe(path.join(path.dirname(s.outdir), `terraform.${producer}.tfstate`));
    }
    // bootstrap keeps its own state in the same place.
    expect(path.resolve(s.dir("bootstrap"), s.stacks.bootstrap.terraform.backend.local.path)).toBe(
      path.join(path.dirname(s.outdir), "terraform.bootstrap.tfstate"),
    );
  });

  it("s3: each terraform_remote_state reads the producer's bucket, key and region", () => {
    const s = synthesize({
      HTCGRID_BACKEND: "s3",
      HTCGRID_STATE_BUCKET: "my-state-bucket",
      HTCGRID_STATE_KMS_KEY: "alias/state",
      HTCGRID_STATE_REGION: "eu-central-1",
    });
    const reads = remoteStates(s);
    expect(reads.length).toBe(1);
    for (const { producer, block } of reads) {
      const backend = s.stacks[producer].terraform.backend.s3;
      expect(block.backend).toBe("s3");
      expect(block.config).toMatchObject({
        bucket: backend.bucket,
        key: backend.key,
        region: backend.region,
      });
      expect(block.config.key).toBe(`htc-grid/main/${producer}.tfstate`);
    }
  });

  it("cloud: each terraform_remote_state reads the producer's organization and workspace", () => {
    const s = synthesize({ HTCGRID_BACKEND: "cloud", TF_CLOUD_ORGANIZATION: "acme" });
    const reads = remoteStates(s);
    expect(reads.length).toBe(1);
    for (const { producer, block } of reads) {
      const cloud = s.stacks[producer].terraform.cloud;
      expect(block.backend).toBe("remote");
      expect(block.config.organization).toBe(cloud.organization);
      expect(block.config.hostname ?? "app.terraform.io").toBe(cloud.hostname ?? "app.terraform.io");
      expect(block.config.workspaces).toEqual({ name: cloud.workspaces.name });
      expect(cloud.workspaces.name).toBe(`htc-main-${producer}`);
    }
  });

  it("local, with Terraform: the consumer reads the outputs the producer applied", () => {
    const terraform = requireTerraform();
    const s = synthesize({ HTCGRID_BACKEND: "local" });
    const [{ consumer, producer, block }] = remoteStates(s);
    const read = JSON.stringify(s.stacks[consumer]).match(/cross-stack-output-[A-Za-z0-9_.-]+/g) ?? [];
    const outputs = [...new Set(read)];
    expect(outputs.length).toBeGreaterThan(0);
    // Stand-in stack folders at the synthesized paths: the real backend blocks and the real remote-state block.
    const producerDir = path.join(path.dirname(s.outdir), "run", "stacks", producer);
    const consumerDir = path.join(path.dirname(s.outdir), "run", "stacks", consumer);
    mkdirSync(producerDir, { recursive: true });
    mkdirSync(consumerDir, { recursive: true });
    writeFileSync(
      path.join(producerDir, "main.tf.json"),
      JSON.stringify({
        terraform: { backend: s.stacks[producer].terraform.backend },
        output: Object.fromEntries(outputs.map((name) => [name, { value: `value of ${name}` }])),
      }),
    );
    writeFileSync(
      path.join(consumerDir, "main.tf.json"),
      JSON.stringify({
        terraform: { backend: s.stacks[consumer].terraform.backend },
        data: { terraform_remote_state: { [`cross-stack-reference-input-${producer}`]: block } },
        output: {
          probe: {
            value: `\${data.terraform_remote_state.cross-stack-reference-input-${producer}.outputs["${outputs[0]}"]}`,
          },
        },
      }),
    );
    const env = {
      ...process.env,
      TF_CLI_CONFIG_FILE: "/dev/null",
      CHECKPOINT_DISABLE: "1",
      TF_IN_AUTOMATION: "1",
    };
    const tf = (dir: string, ...args: string[]) =>
      execFileSync(terraform, [`-chdir=${dir}`, ...args], { env, encoding: "utf8", stdio: "pipe" });
    for (const dir of [producerDir, consumerDir]) {
      tf(dir, "init", "-input=false", "-no-color");
      tf(dir, "apply", "-auto-approve", "-input=false", "-no-color");
    }
    expect(JSON.parse(tf(consumerDir, "output", "-json", "probe"))).toBe(`value of ${outputs[0]}`);
    // Both runs wrote and read the one file next to the stack folders' project root.
    expect(
      JSON.parse(readFileSync(path.join(path.dirname(s.outdir), "terraform.grid.tfstate"), "utf8")).outputs,
    ).toHaveProperty([outputs[0]]);
  }, 60_000);
});
