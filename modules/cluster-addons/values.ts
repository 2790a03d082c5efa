// Helm values are built as TypeScript objects and rendered to YAML here, with sorted keys, so the same input always
// yields byte-identical values (no plan noise) and no value is ever spliced into YAML text. Shared objects (the
// core placement) are written out in full, never as YAML anchors.
import { stringify } from "yaml";

export function helmValues(values: Record<string, unknown>): string {
  return stringify(values, { sortMapEntries: true, lineWidth: 0, aliasDuplicateObjects: false });
}

/** Deep merge of plain value objects (later wins); arrays and scalars are replaced, never merged. */
export function mergeValues(...parts: Record<string, unknown>[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const part of parts) {
    for (const [key, value] of Object.entries(part)) {
      const before = out[key];
      out[key] =
        isPlainObject(before) && isPlainObject(value) ? mergeValues(before, value) : (value as unknown);
    }
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
