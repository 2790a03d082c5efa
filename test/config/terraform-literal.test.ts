// Config strings reach Terraform as literals: Terraform template sequences (`${...}`, `%{...}`) planted in every
// string key of a config are either refused when the file is read (naming the key) or written escaped, so that
// Terraform's own `terraform validate` (offline, through the test-only provider) does not see a single reference.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { App } from "cdktf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, parseGridConfig } from "../../modules/config/load";
import type { GridConfig } from "../../modules/config/model";
import { gridConfigJsonSchema } from "../../modules/config/reference";
import { terraformLiteral, terraformLiterals } from "../../modules/config/terraform-literal";
import { buildGridApp } from "../../stacks/app";
import { findTerraform } from "../verify/terraform-bin";
import { validateSynthOutput } from "../verify/tf-validate";
import { requireTool } from "../support/tools";

describe("terraformLiteral", () => {
  it("doubles the opening of every template sequence and nothing else", () => {
    expect(terraformLiteral("a${b}c%{ if x }d%{ endif }$e%f{}")).toBe("a$${b}c%%{ if x }d%%{ endif }$e%f{}");
  });

  it("keeps an already escaped sequence literal (it stays `$${` after Terraform evaluates it)", () => {
    expect(terraformLiteral("$${x}")).toBe("$$${x}");
  });

  it("leaves the {{account_id}} placeholder alone", () => {
    expect(terraformLiteral("arn:aws:iam::{{account_id}}:role/Admin")).toBe(
      "arn:aws:iam::{{account_id}}:role/Admin",
    );
  });

  it("escapes strings and object keys at any depth, and nothing that is not a string", () => {
    expect(terraformLiterals({ "k${a}": ["${b}", 1, true, { c: "%{d}" }], n: null })).toEqual({
      "k$${a}": ["$${b}", 1, true, { c: "%%{d}" }],
      n: null,
    });
  });
});

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };
type JsonSchema = {
  type?: string;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
};

/** A string leaf of the schema: its key path (numbers index arrays) and how values are held there. */
interface Leaf {
  readonly keys: (string | number)[];
  readonly kind: "string" | "string[]" | "record";
  /** Backend variant the key belongs to. */
  readonly backend?: "s3" | "cloud";
}

function isString(s: JsonSchema): boolean {
  return s.type === "string" || (s.anyOf ?? []).some(isString);
}
function objectOf(s: JsonSchema): JsonSchema | undefined {
  if (s.properties) return s;
  return (s.anyOf ?? []).find((a) => a.properties);
}

/** Every string-valued key of the config schema (arrays of objects are visited at index 0). */
function stringLeaves(s: JsonSchema, keys: (string | number)[] = [], backend?: Leaf["backend"]): Leaf[] {
  const out: Leaf[] = [];
  for (const [key, sub] of Object.entries(s.properties ?? {})) {
    const here = [...keys, key];
    if (key === "type" && backend) continue;
    if (isString(sub)) out.push({ keys: here, kind: "string", backend });
    const array = [sub, ...(sub.anyOf ?? [])].find((a) => a.type === "array");
    if (array?.items && isString(array.items)) out.push({ keys: here, kind: "string[]", backend });
    if (array?.items && objectOf(array.items))
      out.push(...stringLeaves(objectOf(array.items)!, [...here, 0], backend));
    if (typeof sub.additionalProperties === "object" && isString(sub.additionalProperties))
      out.push({ keys: here, kind: "record", backend });
    const object = objectOf(sub);
    if (object && !array) out.push(...stringLeaves(object, here, backend));
    for (const variant of sub.oneOf ?? []) {
      const tag = (variant.properties?.type as { const?: string } | undefined)?.const;
      if (tag === "s3" || tag === "cloud") out.push(...stringLeaves(variant, here, tag));
    }
  }
  return out;
}

const pathOf = (keys: (string | number)[]) =>
  keys.reduce<string>((p, k) => (typeof k === "number" ? `${p}[${k}]` : p === "" ? k : `${p}.${k}`), "");

/** A config in which every string key holds a value (full-options fixture plus the optional keys). */
function baseConfig(backend: "s3" | "cloud"): JsonObject {
  const full = JSON.parse(
    readFileSync(path.join(__dirname, "..", "fixtures", "full-options-config.json"), "utf8"),
  ) as JsonObject;
  return {
    ...full,
    $schema: "./grid_config.schema.json",
    eks_worker_groups: [
      (full.eks_worker_groups as Json[])[0],
      {
        name: "workshop",
        override_instance_types: ["m5.xlarge"],
        asg_min_size: 0,
        asg_max_size: 2,
      },
    ],
    core_node_group: { instance_types: ["m6i.large"] },
    vpc_cidr_block_public: ["10.20.0.0/24", "10.20.1.0/24", "10.20.2.0/24", "10.20.3.0/24"],
    vpc_cidr_block_private: ["10.20.16.0/20", "10.20.32.0/20", "10.20.48.0/20", "10.20.64.0/20"],
    k8s_ca_version: "v1.35.2",
    k8s_keda_version: "2.20.1",
    aws_htc_ecr: "123456789012.dkr.ecr.us-east-1.amazonaws.com",
    state_table_config: "{'retries':{'max_attempts':10,'mode':'adaptive'}}",
    task_queue_config: "{'priorities':3}",
    agent_configuration: {
      agent: { image: "team/agent", tag: "v1" },
      lambda: {
        image: "team/worker",
        runtime: "python3.8",
        s3_source: "s3://a-bucket/workers/lambda.zip",
        s3_source_kms_key_arn: "arn:aws:kms:us-east-1:111122223333:key/2b9d6f4a-1c7e-4b8a-9f3d-6e5c4a3b2d1f",
        lambda_handler_file_name: "mock_compute_engine",
        lambda_handler_function_name: "lambda_handler",
        function_name: "function",
      },
      get_layer: { image: "team/init", tag: "v1" },
      test: { image: "team/submitter", tag: "v1" },
    },
    backend:
      backend === "s3"
        ? {
            type: "s3",
            bucket: "htc-tfstate-fullopts",
            key_prefix: "htc-grid/fullopts",
            region: "us-east-1",
            kms_key_id: "alias/htc/fullopts/tfstate",
            dynamodb_table: "htc-tfstate-lock",
          }
        : { type: "cloud", organization: "acme", hostname: "app.terraform.io", workspace_prefix: "htc-" },
  };
}

function get(doc: Json, keys: (string | number)[]): Json | undefined {
  let v: Json | undefined = doc;
  for (const k of keys) v = v === null || typeof v !== "object" ? undefined : (v as JsonObject)[k as string];
  return v;
}
function set(doc: JsonObject, keys: (string | number)[], value: Json): void {
  let v = doc as JsonObject;
  for (const k of keys.slice(0, -1)) {
    if (v[k as string] === undefined || v[k as string] === null) v[k as string] = {};
    v = v[k as string] as JsonObject;
  }
  v[keys[keys.length - 1] as string] = value;
}

/**
 * A distinct template payload per key: a reference Terraform refuses (a bare name is no valid reference) and a
 * directive. No "." in it: a dot changes how the worker handler is assembled.
 */
const marker = (i: number) => `\${htc_injected_${i}}%{ if true }m${i}%{ endif }`;
const escaped = (i: number) => terraformLiteral(marker(i));

/** The values to try at one string slot, most likely to be accepted first. */
function candidates(current: Json | undefined, m: string): string[] {
  const text = typeof current === "string" ? current : "";
  if (text.startsWith("{")) return [`${text.slice(0, -1)},'note':'${m}'}`, m];
  return [`${text}${m}`, `${m}${text}`, m];
}

interface Plant {
  readonly leaf: Leaf;
  readonly index: number;
  readonly config: JsonObject;
}

/** Plants marker(i) at one leaf; returns the accepted config, or the refusal lines. */
function plant(leaf: Leaf, index: number): { leaf: Leaf; accepted?: JsonObject; refused?: string[] } {
  const base = baseConfig(leaf.backend ?? "s3");
  const m = marker(index);
  let refused: string[] = [];
  const attempts: JsonObject[] = [];
  // A key of one element of an array of objects: plant it where the base config has it (worker groups come in
  // two key sets), else at index 0.
  const keys = [...leaf.keys];
  const arrayAt = keys.findIndex((k) => typeof k === "number");
  if (arrayAt > 0) {
    const list = get(base, keys.slice(0, arrayAt));
    const field = keys[arrayAt + 1];
    if (Array.isArray(list)) {
      const hit = list.findIndex((e) => e !== null && typeof e === "object" && field in (e as JsonObject));
      if (hit >= 0) keys[arrayAt] = hit;
    }
  }
  leaf = { ...leaf, keys };
  const current = get(base, leaf.keys);
  if (leaf.kind === "string") {
    for (const value of candidates(current, m)) {
      const c = structuredClone(base);
      set(c, leaf.keys, value);
      attempts.push(c);
    }
  } else if (leaf.kind === "string[]") {
    const list = Array.isArray(current) ? (current as string[]) : [];
    for (const value of candidates(list[0], m)) {
      const c = structuredClone(base);
      set(c, leaf.keys, [value, ...list.slice(1)]);
      attempts.push(c);
    }
  } else {
    const record = (current ?? {}) as JsonObject;
    for (const entry of [
      [`team${m}`, "quant"],
      ["team", `quant${m}`],
    ]) {
      const c = structuredClone(base);
      set(c, leaf.keys, { ...record, [entry[0]]: entry[1] });
      attempts.push(c);
    }
  }
  for (const c of attempts) {
    try {
      parseGridConfig(c, "planted");
      return { leaf, accepted: c };
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      refused = e.issues.map((i) => i.path);
    }
  }
  return { leaf, refused };
}

function synthTo(config: GridConfig, outdir: string): string {
  const app = new App({ outdir });
  buildGridApp(app, config);
  app.synth();
  return readdirSync(path.join(outdir, "stacks"))
    .map((s) => readFileSync(path.join(outdir, "stacks", s, "cdk.tf.json"), "utf8"))
    .join("\n");
}

describe("template sequences planted in every string key", () => {
  const leaves = stringLeaves(gridConfigJsonSchema() as JsonSchema);
  const accepted: Plant[] = [];
  const refused: { leaf: Leaf; paths: string[] }[] = [];
  const outdirs: Record<string, string> = {};
  const texts: Record<string, string> = {};

  beforeAll(() => {
    leaves.forEach((leaf, index) => {
      const result = plant(leaf, index);
      if (result.accepted) accepted.push({ leaf: result.leaf, index, config: result.accepted });
      else refused.push({ leaf: result.leaf, paths: result.refused ?? [] });
    });
    // One synthesis per backend variant with every accepted plant of that variant at once.
    for (const backend of ["s3", "cloud"] as const) {
      const combined = baseConfig(backend);
      for (const p of accepted) {
        if ((p.leaf.backend ?? backend) !== backend) continue;
        set(combined, p.leaf.keys, get(p.config, p.leaf.keys) as Json);
      }
      outdirs[backend] = mkdtempSync(path.join(tmpdir(), `htc-literal-${backend}-`));
      texts[backend] = synthTo(parseGridConfig(combined, `planted (${backend})`), outdirs[backend]);
    }
  }, 120_000);

  afterAll(() => {
    for (const dir of Object.values(outdirs)) rmSync(dir, { recursive: true, force: true });
  });

  it("visits every string key of the schema", () => {
    const paths = leaves.map((l) => pathOf(l.keys));
    for (const key of [
      "tags",
      "region",
      "htc_path_logs",
      "state_table_config",
      "input_role[0].username",
      "eks_worker_groups[0].name",
      "agent_configuration.lambda.s3_source",
      "backend.key_prefix",
      "backend.workspace_prefix",
    ])
      expect(paths).toContain(key);
    expect(leaves.length).toBeGreaterThan(60);
  });

  it("refuses a planted key when the file is read, naming that key", () => {
    for (const { leaf, paths } of refused) {
      const at = pathOf(leaf.keys);
      expect(
        paths.some((p) => p === at || p.startsWith(`${at}.`) || p.startsWith(`${at}[`)),
        `${at}: refused at ${paths.join(", ")}`,
      ).toBe(true);
    }
  });

  it("writes every accepted payload escaped, and no payload unescaped", () => {
    // Free-form values (handler, log path, JSON settings, user names, S3 keys, ...) are accepted and must be
    // escaped; the rest are refused by their own rules.
    expect(accepted.map((p) => pathOf(p.leaf.keys))).toEqual(
      expect.arrayContaining(["htc_path_logs", "state_table_config", "agent_configuration.lambda.s3_source"]),
    );
    const all = `${texts.s3}\n${texts.cloud}`;
    for (const p of accepted) {
      // `$schema` is for editors only; nothing else may vanish.
      if (pathOf(p.leaf.keys) === "$schema") continue;
      expect(all, pathOf(p.leaf.keys)).toContain(JSON.stringify(escaped(p.index)).slice(1, -1));
    }
    // Outside its escaped form, no payload's `${`/`%{` may remain: strip the escaped forms and look again.
    const stripped = all.replace(/\$\$\{htc_injected_\d+\}%%\{ if true \}m\d+%%\{ endif \}/g, "");
    expect(stripped).not.toMatch(/htc_injected|if true \}m\d/);
  });

  // Terraform's own check: an unescaped `${var.htc_injected_N}` is a reference to an undeclared variable.
  it("passes terraform validate, which would reject any reference that survived", async () => {
    const terraform = requireTool("terraform", findTerraform());
    const results = await validateSynthOutput(outdirs.s3, terraform);
    const errors = results.flatMap((r) => r.diagnostics.filter((d) => d.severity === "error"));
    expect(errors).toEqual([]);
  }, 600_000);
});
