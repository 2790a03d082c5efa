// Terraform provider schemas derived from the prebuilt cdktf binding packages' jsii assemblies, so the
// synthesized JSON can be checked offline (the Terraform registry, and so `terraform providers schema`,
// is unreachable here). Shared by the schema checker and the plugin-protocol schema server.
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";

/** A Terraform value type in cty's JSON notation. */
export type TfType = "string" | "number" | "bool" | "dynamic" | ["list", TfType] | ["map", TfType];

export interface AttributeSchema {
  readonly type: TfType;
  readonly required: boolean;
  /** Set by the provider only (a class getter without a config field): never allowed in config. */
  readonly computed: boolean;
}

export interface NestedBlockSchema {
  /** `single`: the binding models it as one object, i.e. the provider's max_items is 1. */
  readonly nesting: "single" | "list";
  readonly required: boolean;
  readonly block: BlockSchema;
}

export interface BlockSchema {
  readonly attributes: Record<string, AttributeSchema>;
  readonly blocks: Record<string, NestedBlockSchema>;
}

export interface ProviderSchema {
  /** Local name, e.g. `aws`. */
  readonly name: string;
  /** Registry source, e.g. `hashicorp/aws`. */
  readonly source: string;
  /** Provider version the binding was generated from, e.g. `6.25.0`. */
  readonly version: string;
  readonly provider: BlockSchema;
  readonly resources: Record<string, BlockSchema>;
  readonly dataSources: Record<string, BlockSchema>;
  /** Ephemeral resources (not in the bindings; see EPHEMERAL_LIKE_DATA_SOURCES). */
  readonly ephemeralResources: Record<string, BlockSchema>;
}

/**
 * Ephemeral resources the app uses, per provider. cdktf 0.21's bindings predate ephemeral resources, so their
 * schemas are not in the assemblies; each of these takes the arguments and exports the attributes of the data source
 * of the same name (registry docs of hashicorp/aws 6.x, `website/docs/ephemeral-resources/`), whose schema is.
 */
export const EPHEMERAL_LIKE_DATA_SOURCES: Readonly<Record<string, readonly string[]>> = {
  aws: ["aws_secretsmanager_random_password", "aws_secretsmanager_secret_version"],
};

/** Binding packages whose schemas the gates load by default. */
export const DEFAULT_PROVIDER_PACKAGES = [
  "@cdktf/provider-aws",
  "@cdktf/provider-kubernetes",
  "@cdktf/provider-helm",
] as const;

interface JsiiTypeRef {
  primitive?: string;
  fqn?: string;
  collection?: { kind: "array" | "map"; elementtype: JsiiTypeRef };
  union?: { types: JsiiTypeRef[] };
}
interface JsiiProperty {
  name: string;
  type: JsiiTypeRef;
  optional?: boolean;
  static?: boolean;
  docs?: { summary?: string; remarks?: string };
}
interface JsiiType {
  kind: string;
  base?: string;
  fqn: string;
  datatype?: boolean;
  interfaces?: string[];
  properties?: JsiiProperty[];
  initializer?: { parameters?: { name: string; type: JsiiTypeRef }[] };
  docs?: { summary?: string };
}
interface JsiiAssembly {
  schema: string;
  filename?: string;
  compression?: string;
  name: string;
  version: string;
  types: Record<string, JsiiType>;
}

/**
 * Reads a jsii assembly, following the `jsii/file-redirect` convention (the `.jsii` file then only
 * names the real, possibly gzip-compressed, assembly file).
 */
export function readAssembly(packageDir: string): JsiiAssembly {
  const first = JSON.parse(readFileSync(join(packageDir, ".jsii"), "utf8")) as JsiiAssembly;
  if (first.schema !== "jsii/file-redirect") return first;
  const raw = readFileSync(join(packageDir, first.filename ?? ".jsii.gz"));
  const text = first.compression === "gzip" ? gunzipSync(raw).toString("utf8") : raw.toString("utf8");
  return JSON.parse(text) as JsiiAssembly;
}

export function snakeCase(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1_$2")
    .toLowerCase();
}

/** The Terraform attribute name of a config property: the registry docs anchor, else snake_case. */
function terraformName(prop: JsiiProperty): string {
  const text = `${prop.docs?.remarks ?? ""} ${prop.docs?.summary ?? ""}`;
  const anchor = /\{@link https:\/\/registry\.terraform\.io\/\S*#([a-z0-9_]+) \w+#\w+\}/.exec(text);
  return anchor ? anchor[1] : snakeCase(prop.name);
}

const SUMMARY_LINK =
  /\{@link https:\/\/registry\.terraform\.io\/providers\/([^/]+)\/([^/]+)\/([^/]+)\/docs(\S*) (\w+)\}/;

function stripResolvable(ref: JsiiTypeRef): JsiiTypeRef {
  if (!ref.union) return ref;
  const rest = ref.union.types.filter((t) => t.fqn !== "cdktf.IResolvable");
  return rest.length === 1 ? rest[0] : { primitive: "any" };
}

class SchemaBuilder {
  private readonly cache = new Map<string, BlockSchema>();
  constructor(private readonly types: Record<string, JsiiType>) {}

  /** Converts a jsii type to a Terraform attribute type, or undefined when it is a nested block. */
  valueType(ref0: JsiiTypeRef): TfType | undefined {
    const ref = stripResolvable(ref0);
    if (ref.primitive) {
      if (ref.primitive === "string") return "string";
      if (ref.primitive === "number") return "number";
      if (ref.primitive === "boolean") return "bool";
      return "dynamic";
    }
    if (ref.collection) {
      const el = this.valueType(ref.collection.elementtype);
      if (el === undefined) return ref.collection.kind === "map" ? ["map", "dynamic"] : undefined;
      return [ref.collection.kind === "map" ? "map" : "list", el];
    }
    if (ref.fqn) {
      const target = this.types[ref.fqn];
      if (target?.kind === "interface" && target.datatype) return undefined;
      if (ref.fqn === "cdktf.StringMap") return ["map", "string"];
      if (ref.fqn === "cdktf.NumberMap") return ["map", "number"];
      if (ref.fqn === "cdktf.BooleanMap") return ["map", "bool"];
      return "dynamic";
    }
    return "dynamic";
  }

  /** The struct a nested block property points to, with its nesting mode. */
  private blockOf(ref0: JsiiTypeRef): { fqn: string; nesting: "single" | "list" } | undefined {
    const ref = stripResolvable(ref0);
    if (ref.fqn && this.types[ref.fqn]?.datatype) return { fqn: ref.fqn, nesting: "single" };
    const el = ref.collection?.kind === "array" ? ref.collection.elementtype : undefined;
    if (el?.fqn && this.types[el.fqn]?.datatype) return { fqn: el.fqn, nesting: "list" };
    return undefined;
  }

  /** Builds the block schema of a config struct (skipping cdktf's meta-argument interface). */
  struct(fqn: string, classFqn?: string): BlockSchema {
    const key = `${fqn}|${classFqn ?? ""}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const attributes: Record<string, AttributeSchema> = {};
    const blocks: Record<string, NestedBlockSchema> = {};
    const configNames = new Set<string>();
    for (const prop of this.ownProperties(fqn)) {
      configNames.add(prop.name);
      const name = terraformName(prop);
      const nested = this.blockOf(prop.type);
      if (nested) {
        blocks[name] = { nesting: nested.nesting, required: !prop.optional, block: this.struct(nested.fqn) };
      } else {
        attributes[name] = {
          type: this.valueType(prop.type) ?? "dynamic",
          required: !prop.optional,
          computed: false,
        };
      }
    }
    // Provider-set attributes are getters on the resource class that have no config field.
    const cls = classFqn ? this.types[classFqn] : undefined;
    for (const prop of cls?.properties ?? []) {
      if (prop.static || prop.name.endsWith("Input") || configNames.has(prop.name)) continue;
      const name = snakeCase(prop.name);
      if (attributes[name] || blocks[name]) continue;
      attributes[name] = { type: this.valueType(prop.type) ?? "dynamic", required: false, computed: true };
    }
    const schema = { attributes, blocks };
    this.cache.set(key, schema);
    return schema;
  }

  private ownProperties(fqn: string): JsiiProperty[] {
    const t = this.types[fqn];
    if (!t) return [];
    const inherited = (t.interfaces ?? [])
      .filter((i) => !i.startsWith("cdktf."))
      .flatMap((i) => this.ownProperties(i));
    return [...inherited, ...(t.properties ?? [])];
  }
}

/** Derives the provider schema from one binding package's assembly. */
export function schemaFromAssembly(assembly: JsiiAssembly): ProviderSchema {
  const builder = new SchemaBuilder(assembly.types);
  const resources: Record<string, BlockSchema> = {};
  const dataSources: Record<string, BlockSchema> = {};
  let provider: BlockSchema | undefined;
  let name = "";
  let source = "";
  let version = "";
  for (const t of Object.values(assembly.types)) {
    if (t.kind !== "class") continue;
    if (
      t.base !== "cdktf.TerraformResource" &&
      t.base !== "cdktf.TerraformDataSource" &&
      t.base !== "cdktf.TerraformProvider"
    )
      continue;
    const link = SUMMARY_LINK.exec(t.docs?.summary ?? "");
    const config = t.initializer?.parameters?.find((p) => p.name === "config")?.type.fqn;
    if (!link || !config) continue;
    const [, namespace, providerName, providerVersion, , tfType] = link;
    if (t.base === "cdktf.TerraformProvider") {
      provider = builder.struct(config);
      name = providerName;
      source = `${namespace}/${providerName}`;
      version = providerVersion;
    } else if (t.base === "cdktf.TerraformResource") {
      resources[tfType] = builder.struct(config, t.fqn);
    } else {
      dataSources[tfType] = builder.struct(config, t.fqn);
    }
  }
  if (!provider) throw new Error(`assembly ${assembly.name} has no TerraformProvider class`);
  const ephemeralResources = Object.fromEntries(
    (EPHEMERAL_LIKE_DATA_SOURCES[name] ?? [])
      .filter((type) => dataSources[type])
      .map((type) => [type, dataSources[type]]),
  );
  return { name, source, version, provider, resources, dataSources, ephemeralResources };
}

/**
 * Loads the schema of a binding package, cached as a derived JSON file in the OS temp dir (parsing the
 * 130 MB AWS assembly costs about 2 s and 450 MB; the derived schema is a few MB).
 */
export function loadProviderSchema(
  packageName: string,
  nodeModules = join(process.cwd(), "node_modules"),
): ProviderSchema {
  const dir = join(nodeModules, packageName);
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version: string };
  const stamp = Math.round(statSync(join(dir, ".jsii")).mtimeMs);
  const cacheDir = join(tmpdir(), "htc-verify-schema-cache");
  const cacheFile = join(cacheDir, `${packageName.replace(/[@/]/g, "_")}-${pkg.version}-${stamp}-v2.json`);
  if (existsSync(cacheFile)) return JSON.parse(readFileSync(cacheFile, "utf8")) as ProviderSchema;
  const schema = schemaFromAssembly(readAssembly(dir));
  mkdirSync(cacheDir, { recursive: true });
  // Write then rename: Terraform starts several provider processes at once, which may race here.
  const partial = `${cacheFile}.${process.pid}.tmp`;
  writeFileSync(partial, JSON.stringify(schema));
  renameSync(partial, cacheFile);
  return schema;
}

export function loadDefaultSchemas(nodeModules?: string): ProviderSchema[] {
  return DEFAULT_PROVIDER_PACKAGES.map((p) => loadProviderSchema(p, nodeModules));
}
