// Entry point of configuration: find the file, parse JSON, check the schema, normalize. Every problem becomes one
// line naming the JSON path, the bad value and what is allowed; nothing is synthesized from a rejected config.
import { existsSync, readFileSync, statSync } from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import { findDuplicateKeys } from "./json-text";
import type { GridConfig } from "./model";
import { normalizeConfig, show, type ConfigEnvironment, type ConfigIssue } from "./normalize/index";
import { gridConfigSchema, UNSUPPORTED_KEYS } from "./schema";
import { SEED_GRID_CONFIG } from "./seed";
import { editDistance } from "./text";

export class ConfigError extends Error {
  constructor(
    public readonly source: string,
    public readonly issues: ConfigIssue[],
  ) {
    super(
      `${source}: ${issues.length} problem(s)\n${issues.map((i) => `  ${i.path || "(root)"}: ${i.message}`).join("\n")}`,
    );
    this.name = "ConfigError";
  }
}

/** Where the config came from, for the "using ..." line the entry point prints. */
export interface LoadedConfig {
  readonly config: GridConfig;
  readonly source: string;
}

export const DEFAULT_CONFIG_PATH = path.join("generated", "grid_config.json");

/** HTCGRID_CONFIG, else generated/grid_config.json if present, else the built-in seed default. */
export function loadGridConfig(env: ConfigEnvironment, cwd: string): LoadedConfig {
  const explicit = env.HTCGRID_CONFIG;
  if (explicit !== undefined && explicit !== "") {
    const file = path.resolve(cwd, explicit);
    if (!existsSync(file))
      throw new ConfigError(explicit, [
        { path: "", message: `HTCGRID_CONFIG names ${file}, which does not exist` },
      ]);
    return { config: parseGridConfigText(readConfigFile(file, explicit), explicit, env), source: file };
  }
  const generated = path.resolve(cwd, DEFAULT_CONFIG_PATH);
  if (existsSync(generated)) {
    return {
      config: parseGridConfigText(readConfigFile(generated, DEFAULT_CONFIG_PATH), DEFAULT_CONFIG_PATH, env),
      source: generated,
    };
  }
  return {
    config: parseGridConfig(SEED_GRID_CONFIG, "built-in default (the workshop's example)", env),
    source: "built-in default",
  };
}

/** The file's text; a directory or an unreadable file is a ConfigError, not a stack trace. */
function readConfigFile(file: string, source: string): string {
  try {
    if (statSync(file).isDirectory())
      throw new ConfigError(source, [
        { path: "", message: `${file} is a directory, not a configuration file` },
      ]);
    return readFileSync(file, "utf8");
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(source, [
      {
        path: "",
        message: `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      },
    ]);
  }
}

/**
 * Parse JSON text; syntax errors are reported with line and column, and a key given twice in one object (which
 * JSON.parse would silently resolve to the last) is reported with both lines. A UTF-8 byte-order mark is ignored:
 * RFC 8259 lets a parser ignore it, Windows editors add it, and Terraform itself ignores it in its own files.
 */
export function parseGridConfigText(text: string, source: string, env: ConfigEnvironment = {}): GridConfig {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === "") {
    throw new ConfigError(source, [
      { path: "", message: "the file is empty; a grid configuration is a JSON object, e.g. {}" },
    ]);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const message = (e as Error).message;
    const pos = /position (\d+)/.exec(message);
    let where = "";
    if (pos) {
      const before = text.slice(0, Number(pos[1]));
      const line = before.split("\n").length;
      const column = before.length - before.lastIndexOf("\n");
      where = ` at line ${line}, column ${column}`;
    }
    throw new ConfigError(source, [
      { path: "", message: `not valid JSON${where}: ${message.replace(/ in JSON at position \d+.*$/, "")}` },
    ]);
  }
  const duplicates = findDuplicateKeys(text);
  if (duplicates.length > 0) {
    throw new ConfigError(
      source,
      duplicates.map((d) => ({
        path: d.path,
        message: `is given twice (lines ${d.firstLine} and ${d.line}); JSON keeps only the last one, so remove one of them`,
      })),
    );
  }
  return parseGridConfig(value, source, env);
}

/** Validate and normalize an already-parsed JSON value. */
export function parseGridConfig(value: unknown, source: string, env: ConfigEnvironment = {}): GridConfig {
  const result = gridConfigSchema.safeParse(value);
  if (!result.success) {
    throw new ConfigError(
      source,
      result.error.issues.flatMap((i) => describeZodIssue(i, value)),
    );
  }
  const { config, issues } = normalizeConfig(result.data, env);
  if (!config || issues.length > 0) throw new ConfigError(source, issues);
  return config;
}

export function formatPath(parts: readonly PropertyKey[]): string {
  let out = "";
  for (const p of parts) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out === "" ? String(p) : `.${String(p)}`;
  }
  return out;
}

function valueAt(root: unknown, parts: readonly PropertyKey[]): unknown {
  let v: unknown = root;
  for (const p of parts) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[p as string];
  }
  return v;
}

/** The object keys the schema accepts at a JSON path (for did-you-mean). */
function knownKeysAt(parts: readonly PropertyKey[]): string[] {
  let schema: z.ZodType | undefined = gridConfigSchema;
  const unwrap = (s: z.ZodType): z.ZodType => {
    let cur: z.ZodType = s;
    for (let i = 0; i < 10; i++) {
      const def = (cur as unknown as { def: { type: string; innerType?: z.ZodType } }).def;
      if ((def.type === "optional" || def.type === "default" || def.type === "nullable") && def.innerType)
        cur = def.innerType;
      else break;
    }
    return cur;
  };
  for (const p of parts) {
    if (!schema) return [];
    schema = unwrap(schema);
    const def = (schema as unknown as { def: { type: string; element?: z.ZodType; options?: z.ZodType[] } })
      .def;
    if (def.type === "array" && typeof p === "number") schema = def.element;
    else if (def.type === "object")
      schema = (schema as z.ZodObject).shape[p as string] as z.ZodType | undefined;
    else if (def.type === "union" && def.options) {
      schema = def.options
        .map(unwrap)
        .find((o) => (o as unknown as { def: { type: string } }).def.type === "object");
      if (schema) schema = (schema as z.ZodObject).shape[p as string] as z.ZodType | undefined;
    } else return [];
  }
  if (!schema) return [];
  schema = unwrap(schema);
  const def = (schema as unknown as { def: { type: string; options?: z.ZodType[] } }).def;
  if (def.type === "object") return Object.keys((schema as z.ZodObject).shape);
  if (def.type === "union" && def.options) {
    return def.options.flatMap((o) => {
      const u = unwrap(o);
      return (u as unknown as { def: { type: string } }).def.type === "object"
        ? Object.keys((u as z.ZodObject).shape)
        : [];
    });
  }
  return [];
}

/** The closest known key, if it is close enough to be a plausible typo. */
export function suggest(key: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

function describeZodIssue(issue: z.core.$ZodIssue, root: unknown): ConfigIssue[] {
  const where = formatPath(issue.path);
  const got = valueAt(root, issue.path);
  switch (issue.code) {
    case "unrecognized_keys": {
      const known = knownKeysAt(issue.path);
      return issue.keys.map((key) => {
        const full = where === "" ? key : `${where}.${key}`;
        const generic = full.replace(/\[\d+\]/g, "");
        const reason = UNSUPPORTED_KEYS[generic] ?? UNSUPPORTED_KEYS[key];
        if (reason) return { path: full, message: `is not supported: ${reason}` };
        const hint = suggest(key, known);
        return {
          path: full,
          message: `unknown key${hint ? `; did you mean "${hint}"?` : ""} (allowed here: ${known.slice(0, 12).join(", ")}${known.length > 12 ? ", ..." : ""})`,
        };
      });
    }
    case "invalid_type":
      return [
        {
          path: where,
          message: `${got === undefined ? "is required" : `${show(got)} has the wrong type`}; expected ${issue.expected}`,
        },
      ];
    case "invalid_value":
      return [
        {
          path: where,
          message: `${show(got)} is not allowed; allowed: ${issue.values.map((v) => show(v)).join(", ")}`,
        },
      ];
    case "too_small":
      return [
        {
          path: where,
          message: `${show(got)} is too small; minimum ${String(issue.minimum)}${issue.inclusive === false ? " (exclusive)" : ""}`,
        },
      ];
    case "too_big":
      return [{ path: where, message: `${show(got)} is too large; maximum ${String(issue.maximum)}` }];
    case "invalid_union": {
      const expectations = new Set<string>();
      for (const branch of issue.errors) {
        for (const e of branch) {
          if (e.code === "invalid_type") expectations.add(e.expected);
          else if (e.code === "too_small" || e.code === "too_big")
            expectations.add(
              `${e.origin} ${e.code === "too_small" ? ">=" : "<="} ${String(e.code === "too_small" ? e.minimum : e.maximum)}`,
            );
          else if (e.code === "invalid_value") expectations.add(e.values.map((v) => show(v)).join(" | "));
          else if (e.code === "invalid_format" || e.code === "custom") expectations.add(e.message);
        }
      }
      // A discriminated union reports its tag.
      if ((issue as { note?: string }).note === "No matching discriminator") {
        return [{ path: where, message: `${show(got)} is not allowed; allowed: "local", "s3", "cloud"` }];
      }
      return [
        {
          path: where,
          message: `${show(got)} is not allowed; expected ${[...expectations].join(", or ") || "another form"}`,
        },
      ];
    }
    case "invalid_format":
      return [{ path: where, message: `${show(got)} is not allowed; ${issue.message}` }];
    default:
      return [{ path: where, message: `${show(got)}: ${issue.message}` }];
  }
}
