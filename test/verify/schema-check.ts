// Offline schema gate: checks every provider block, resource and data source of synthesized cdktf
// stacks against the provider schemas derived from the binding packages, and resolves every `${...}`
// reference. It catches what `cdktf synth` lets through: escape-hatch typos, camelCase keys, wrong
// value shapes, missing required arguments and references to things that do not exist.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { templateReferences, type Traversal } from "./expressions";
import type { AttributeSchema, BlockSchema, ProviderSchema, TfType } from "./provider-schema";

export type IssueKind =
  | "unknown-provider"
  | "provider-version"
  | "unknown-resource-type"
  | "unknown-data-source"
  | "unknown-attribute"
  | "computed-attribute"
  | "missing-required"
  | "wrong-type"
  | "block-count"
  | "bad-reference"
  | "bad-meta-argument";

export interface Issue {
  readonly stack: string;
  /** JSON path of the offending value, e.g. `resource.aws_s3_bucket.logs.tags`. */
  readonly path: string;
  readonly kind: IssueKind;
  readonly message: string;
}

/** Meta-arguments Terraform accepts on every resource / data source. */
const META_ARGUMENTS = new Set([
  "depends_on",
  "count",
  "for_each",
  "lifecycle",
  "provider",
  "provisioner",
  "connection",
  "//",
]);

/** Terraform's built-in resources and data sources (provider `terraform.io/builtin/terraform`). */
const BUILTIN_RESOURCES: Record<string, BlockSchema> = {
  terraform_data: {
    attributes: {
      id: { type: "string", required: false, computed: true },
      input: { type: "dynamic", required: false, computed: false },
      output: { type: "dynamic", required: false, computed: true },
      triggers_replace: { type: "dynamic", required: false, computed: false },
    },
    blocks: {},
  },
};
const BUILTIN_DATA: Record<string, BlockSchema> = {
  terraform_remote_state: {
    attributes: {
      backend: { type: "string", required: true, computed: false },
      config: { type: "dynamic", required: false, computed: false },
      defaults: { type: "dynamic", required: false, computed: false },
      outputs: { type: "dynamic", required: false, computed: true },
      workspace: { type: "string", required: false, computed: false },
    },
    blocks: {},
  },
};

/** Reference roots that are not resources: always valid or checked elsewhere. */
const NON_RESOURCE_ROOTS = new Set([
  "each",
  "count",
  "self",
  "path",
  "terraform",
  "true",
  "false",
  "null",
  "in",
  "if",
  "else",
  "endif",
  "endfor",
]);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
function isExpression(v: Json): boolean {
  return typeof v === "string" && /^\$\{[\s\S]*\}$/.test(v);
}
function describe(v: Json): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  return typeof v === "object" ? "an object" : `${typeof v} ${JSON.stringify(v).slice(0, 60)}`;
}
function typeName(t: TfType): string {
  return Array.isArray(t) ? `${t[0]}(${typeName(t[1])})` : t;
}
/** Compares attribute names ignoring case and underscores: `httpTokens` ~ `http_tokens`. */
function loose(name: string): string {
  return name.replace(/_/g, "").toLowerCase();
}

export class SchemaChecker {
  private readonly resources = new Map<string, BlockSchema>();
  private readonly dataSources = new Map<string, BlockSchema>();
  private readonly providers = new Map<string, ProviderSchema>();

  constructor(schemas: readonly ProviderSchema[]) {
    for (const p of schemas) {
      this.providers.set(p.name, p);
      for (const [k, v] of Object.entries(p.resources)) this.resources.set(k, v);
      for (const [k, v] of Object.entries(p.dataSources)) this.dataSources.set(k, v);
    }
    for (const [k, v] of Object.entries(BUILTIN_RESOURCES)) this.resources.set(k, v);
    for (const [k, v] of Object.entries(BUILTIN_DATA)) this.dataSources.set(k, v);
  }

  /** Checks one parsed cdk.tf.json document. */
  checkStack(stack: string, doc: JsonObject): Issue[] {
    const issues: Issue[] = [];
    const report = (path: string, kind: IssueKind, message: string) =>
      issues.push({ stack, path, kind, message });

    const providerAliases = this.checkProviders(doc, report);

    for (const [section, table, unknownKind] of [
      ["resource", this.resources, "unknown-resource-type"],
      ["data", this.dataSources, "unknown-data-source"],
    ] as const) {
      const byType = doc[section];
      if (!isObject(byType)) continue;
      for (const [type, instances] of Object.entries(byType)) {
        const schema = table.get(type);
        if (!schema) {
          report(
            `${section}.${type}`,
            unknownKind,
            `${section === "data" ? "data source" : "resource type"} "${type}" is not in any loaded provider schema`,
          );
          continue;
        }
        if (!isObject(instances)) continue;
        for (const [name, config] of Object.entries(instances)) {
          const path = `${section}.${type}.${name}`;
          if (!isObject(config)) {
            report(path, "wrong-type", `expected an object, got ${describe(config)}`);
            continue;
          }
          this.checkMeta(doc, config, path, providerAliases, report);
          this.checkBlock(schema, config, path, report, true);
        }
      }
    }

    this.checkReferences(doc, report);
    return issues;
  }

  private checkProviders(doc: JsonObject, report: (p: string, k: IssueKind, m: string) => void): Set<string> {
    const aliases = new Set<string>();
    const required =
      isObject(doc.terraform) && isObject(doc.terraform.required_providers)
        ? doc.terraform.required_providers
        : {};
    for (const [name, req] of Object.entries(required)) {
      const schema = this.providers.get(name);
      if (!schema) continue;
      const version = isObject(req) ? req.version : undefined;
      if (typeof version === "string" && version.trim() !== schema.version) {
        report(
          `terraform.required_providers.${name}`,
          "provider-version",
          `pins version "${version}" but the loaded schema is ${schema.source} ${schema.version}`,
        );
      }
    }
    const providers = isObject(doc.provider) ? doc.provider : {};
    for (const [name, configs] of Object.entries(providers)) {
      const schema = this.providers.get(name);
      if (!schema) {
        report(`provider.${name}`, "unknown-provider", `provider "${name}" has no loaded schema`);
        continue;
      }
      const list = Array.isArray(configs) ? configs : [configs];
      list.forEach((config, i) => {
        if (!isObject(config)) return;
        aliases.add(typeof config.alias === "string" ? `${name}.${config.alias}` : name);
        this.checkBlock(schema.provider, config, `provider.${name}[${i}]`, report, false);
      });
    }
    return aliases;
  }

  private checkMeta(
    doc: JsonObject,
    config: JsonObject,
    path: string,
    aliases: Set<string>,
    report: (p: string, k: IssueKind, m: string) => void,
  ) {
    if (typeof config.provider === "string" && !isExpression(config.provider)) {
      const ref = config.provider;
      const known = aliases.has(ref) || (!ref.includes(".") && this.providers.has(ref));
      if (!known)
        report(`${path}.provider`, "bad-meta-argument", `provider "${ref}" is not configured in this stack`);
    }
    if (config.depends_on !== undefined) {
      if (!Array.isArray(config.depends_on))
        report(`${path}.depends_on`, "bad-meta-argument", "depends_on must be a list");
      else
        for (const dep of config.depends_on) {
          if (typeof dep !== "string") continue;
          const text = dep.replace(/^\$\{(.*)\}$/, "$1");
          const parts = text.split(".");
          const exists =
            parts[0] === "data"
              ? lookup(doc, "data", parts[1], parts[2])
              : parts[0] === "module"
                ? lookup(doc, "module", parts[1])
                : lookup(doc, "resource", parts[0], parts[1]);
          if (!exists)
            report(`${path}.depends_on`, "bad-reference", `depends_on "${dep}" names nothing in this stack`);
        }
    }
  }

  private checkBlock(
    schema: BlockSchema,
    config: JsonObject,
    path: string,
    report: (p: string, k: IssueKind, m: string) => void,
    topLevel: boolean,
  ) {
    for (const [key, value] of Object.entries(config)) {
      if (topLevel && META_ARGUMENTS.has(key)) continue;
      if (key === "alias" && path.startsWith("provider.")) continue;
      const at = `${path}.${key}`;
      if (key === "dynamic" && isObject(value)) {
        this.checkDynamic(schema, value, at, report);
        continue;
      }
      const attr = schema.attributes[key];
      if (attr) {
        if (attr.computed)
          report(at, "computed-attribute", `"${key}" is set by the provider and cannot be configured`);
        else this.checkValue(attr.type, value, at, report);
        continue;
      }
      const nested = schema.blocks[key];
      if (nested) {
        if (value === null) continue;
        if (typeof value === "string") {
          report(
            at,
            "wrong-type",
            `block "${key}" must be an object or a list of objects, not an expression string (use a dynamic block)`,
          );
          continue;
        }
        const items = Array.isArray(value) ? value : [value];
        if (nested.nesting === "single" && items.length > 1)
          report(at, "block-count", `block "${key}" allows at most 1 item, got ${items.length}`);
        items.forEach((item, i) => {
          if (!isObject(item))
            report(
              `${at}[${i}]`,
              "wrong-type",
              `block "${key}" items must be objects, got ${describe(item)}`,
            );
          else this.checkBlock(nested.block, item, Array.isArray(value) ? `${at}[${i}]` : at, report, false);
        });
        continue;
      }
      const hint = [...Object.keys(schema.attributes), ...Object.keys(schema.blocks)].find(
        (n) => loose(n) === loose(key),
      );
      report(
        at,
        "unknown-attribute",
        `unknown attribute "${key}"${hint ? ` (did you mean "${hint}"?)` : ""}`,
      );
    }
    const present = (name: string) => config[name] !== undefined && config[name] !== null;
    const dynamicBlocks = isObject(config.dynamic) ? config.dynamic : {};
    for (const [name, attr] of Object.entries(schema.attributes)) {
      if (attr.required && !present(name))
        report(`${path}.${name}`, "missing-required", `required attribute "${name}" is missing`);
    }
    for (const [name, block] of Object.entries(schema.blocks)) {
      if (block.required && !present(name) && dynamicBlocks[name] === undefined)
        report(`${path}.${name}`, "missing-required", `required block "${name}" is missing`);
    }
  }

  private checkDynamic(
    schema: BlockSchema,
    dynamic: JsonObject,
    path: string,
    report: (p: string, k: IssueKind, m: string) => void,
  ) {
    for (const [name, spec] of Object.entries(dynamic)) {
      const nested = schema.blocks[name];
      if (!nested) {
        report(`${path}.${name}`, "unknown-attribute", `dynamic block "${name}" is not a block of this type`);
        continue;
      }
      if (isObject(spec) && isObject(spec.content))
        this.checkBlock(nested.block, spec.content, `${path}.${name}.content`, report, false);
    }
  }

  private checkValue(
    type: TfType,
    value: Json,
    path: string,
    report: (p: string, k: IssueKind, m: string) => void,
  ) {
    if (value === null || type === "dynamic" || isExpression(value)) return;
    const bad = (what: string) => report(path, "wrong-type", `expected ${typeName(type)}, got ${what}`);
    if (type === "string") {
      if (typeof value === "object") bad(describe(value));
    } else if (type === "number") {
      if (
        typeof value === "string"
          ? !/^\s*-?\d+(\.\d+)?([eE][-+]?\d+)?\s*$/.test(value)
          : typeof value !== "number"
      )
        bad(describe(value));
    } else if (type === "bool") {
      if (typeof value === "string" ? value !== "true" && value !== "false" : typeof value !== "boolean")
        bad(describe(value));
    } else if (type[0] === "list") {
      if (!Array.isArray(value)) bad(describe(value));
      else value.forEach((v, i) => this.checkValue(type[1], v, `${path}[${i}]`, report));
    } else if (type[0] === "map") {
      if (!isObject(value)) bad(describe(value));
      else for (const [k, v] of Object.entries(value)) this.checkValue(type[1], v, `${path}.${k}`, report);
    }
  }

  private checkReferences(doc: JsonObject, report: (p: string, k: IssueKind, m: string) => void) {
    const visit = (value: Json, path: string, iterators: ReadonlySet<string>) => {
      if (typeof value === "string") {
        if (!value.includes("{")) return;
        for (const ref of templateReferences(value)) {
          if (iterators.has(ref.root)) continue;
          const problem = this.resolve(doc, ref);
          if (problem) report(path, "bad-reference", `\${${ref.text}}: ${problem}`);
        }
      } else if (Array.isArray(value)) value.forEach((v, i) => visit(v, `${path}[${i}]`, iterators));
      else if (isObject(value))
        for (const [k, v] of Object.entries(value)) {
          if (k === "//") continue;
          const at = path ? `${path}.${k}` : k;
          if (k === "dynamic" && isObject(v)) {
            // Inside `dynamic "<name>"`, the iterator (default: the block name) is a local symbol.
            for (const [name, spec] of Object.entries(v)) {
              const iterator = isObject(spec) && typeof spec.iterator === "string" ? spec.iterator : name;
              visit(spec, `${at}.${name}`, new Set([...iterators, iterator]));
            }
          } else visit(v, at, iterators);
        }
    };
    visit(doc, "", new Set());
  }

  /** Returns why a reference does not resolve, or undefined when it does. */
  private resolve(doc: JsonObject, ref: Traversal): string | undefined {
    const [first, second] = ref.steps;
    switch (ref.root) {
      case "var":
        return lookup(doc, "variable", first) ? undefined : `variable "${first}" is not declared`;
      case "local":
        return lookup(doc, "locals", first) ? undefined : `local "${first}" is not declared`;
      case "module":
        return lookup(doc, "module", first) ? undefined : `module "${first}" is not declared`;
      case "data": {
        if (!lookup(doc, "data", first, second))
          return `data source "${first}.${second}" is not declared in this stack`;
        const schema = this.dataSources.get(first);
        return schema ? attributeProblem(schema, ref.steps.slice(1), `data.${first}`) : undefined;
      }
      default: {
        if (NON_RESOURCE_ROOTS.has(ref.root) || !ref.root.includes("_")) return undefined;
        const schema = this.resources.get(ref.root);
        if (!schema)
          return this.dataSources.has(ref.root)
            ? `"${ref.root}" is a data source: write data.${ref.root}`
            : `"${ref.root}" is not a known resource type`;
        if (first === undefined || first === "[]")
          return `reference to resource type "${ref.root}" without a name`;
        if (!lookup(doc, "resource", ref.root, first))
          return `resource "${ref.root}.${first}" is not declared in this stack`;
        return attributeProblem(schema, ref.steps, ref.root);
      }
    }
  }
}

/** Checks the attribute path after `type.name` (indexes skipped), through nested blocks. */
function attributeProblem(schema: BlockSchema, steps: readonly string[], owner: string): string | undefined {
  let block: BlockSchema = schema;
  let where = owner;
  for (const step of steps.slice(1)) {
    if (step === "[]") continue;
    const attr: AttributeSchema | undefined =
      block.attributes[step] ??
      (step === "id" ? { type: "string", required: false, computed: true } : undefined);
    if (attr) return undefined;
    const nested = block.blocks[step];
    if (!nested) {
      const hint = [...Object.keys(block.attributes), ...Object.keys(block.blocks)].find(
        (n) => loose(n) === loose(step),
      );
      return `"${where}" has no attribute "${step}"${hint ? ` (did you mean "${hint}"?)` : ""}`;
    }
    block = nested.block;
    where = `${where}.${step}`;
  }
  return undefined;
}

function lookup(doc: JsonObject, section: string, ...keys: (string | undefined)[]): boolean {
  let node: Json | undefined = doc[section];
  for (const key of keys) {
    if (key === undefined || key === "[]") return false;
    if (Array.isArray(node)) node = node.find((n) => isObject(n) && n[key] !== undefined);
    if (!isObject(node) || node[key] === undefined) return false;
    node = node[key];
  }
  return true;
}

/** The stack files under a cdktf output dir, its `stacks` dir, one stack dir or a single JSON file. */
export function findStackFiles(target: string): { stack: string; file: string }[] {
  if (statSync(target).isFile())
    return [{ stack: target.split("/").slice(-2, -1)[0] ?? target, file: target }];
  if (existsSync(join(target, "cdk.tf.json")))
    return [{ stack: target.split("/").filter(Boolean).pop() ?? target, file: join(target, "cdk.tf.json") }];
  const stacksDir = existsSync(join(target, "stacks")) ? join(target, "stacks") : target;
  return readdirSync(stacksDir)
    .filter((s) => existsSync(join(stacksDir, s, "cdk.tf.json")))
    .sort()
    .map((stack) => ({ stack, file: join(stacksDir, stack, "cdk.tf.json") }));
}

/** Checks every stack under `target`; throws when there is no stack at all (a gate must not pass on nothing). */
export function checkSynthOutput(
  target: string,
  schemas: readonly ProviderSchema[],
): { stacks: string[]; issues: Issue[] } {
  const files = findStackFiles(target);
  if (files.length === 0) throw new Error(`no cdk.tf.json found under ${target}`);
  const checker = new SchemaChecker(schemas);
  const issues = files.flatMap(({ stack, file }) =>
    checker.checkStack(stack, JSON.parse(readFileSync(file, "utf8")) as JsonObject),
  );
  return { stacks: files.map((f) => f.stack), issues };
}

export function formatIssue(i: Issue): string {
  return `${i.stack}: ${i.path}: [${i.kind}] ${i.message}`;
}
