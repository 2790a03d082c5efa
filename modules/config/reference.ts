// The config reference (README table) and the editor JSON Schema, both generated from the zod schema so the
// documentation cannot drift from what the loader accepts.
import { z } from "zod";
import { gridConfigSchema } from "./schema";

/** JSON Schema of the config file, for editors (`$schema` in generated/grid_config.json). */
export function gridConfigJsonSchema(): Record<string, unknown> {
  return {
    ...(z.toJSONSchema(gridConfigSchema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>),
    title: "HTC-Grid configuration (cdktf)",
  };
}

type JsonSchema = {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  minimum?: number;
  maximum?: number;
};

function typeOf(s: JsonSchema): string {
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(" \\| ");
  const alts = s.anyOf ?? s.oneOf;
  if (alts) return [...new Set(alts.map(typeOf))].join(" \\| ");
  if (s.type === "array") return `${s.items ? typeOf(s.items) : "any"}[]`;
  if (s.type === "integer") {
    const min = s.minimum !== undefined && s.minimum > -1e15 ? s.minimum : undefined;
    const max = s.maximum !== undefined && s.maximum < 1e15 ? s.maximum : undefined;
    if (min !== undefined && max !== undefined) return `integer ${min}..${max}`;
    if (min !== undefined) return `integer >= ${min}`;
    if (max !== undefined) return `integer <= ${max}`;
    return "integer";
  }
  return Array.isArray(s.type) ? s.type.join(" \\| ") : (s.type ?? "any");
}

function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

/** Markdown table rows: key | type | default | meaning (nested objects as `parent.child`). */
export function configReferenceMarkdown(): string {
  const schema = gridConfigJsonSchema() as JsonSchema;
  const rows: string[] = ["| key | type | default | meaning |", "|---|---|---|---|"];
  const visit = (props: Record<string, JsonSchema>, prefix: string, note = "") => {
    for (const [key, s] of Object.entries(props)) {
      if (key === "$schema") continue;
      const name = `${prefix}${key}`;
      const def = s.default === undefined ? "—" : `\`${cell(JSON.stringify(s.default))}\``;
      rows.push(
        `| \`${name}\` | ${cell(typeOf(s)).replace(/\\\\\|/g, "\\|")} | ${def} | ${note}${cell(s.description ?? "")} |`,
      );
      const nested = s.properties ?? s.items?.properties;
      if (nested) visit(nested, `${name}${s.items ? "[]" : ""}.`);
      // Tagged unions (backend): list each variant's keys, skipping the tag.
      for (const variant of s.oneOf ?? s.anyOf ?? []) {
        const tag = variant.properties?.type?.const;
        if (variant.properties && tag !== undefined) {
          const { type: _tag, ...rest } = variant.properties;
          void _tag;
          visit(rest, `${name}.`, `(type ${JSON.stringify(tag)}) `);
        }
      }
    }
  };
  visit(schema.properties ?? {}, "");
  return rows.join("\n");
}
