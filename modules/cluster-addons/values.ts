// Helm values are built as TypeScript objects and rendered to YAML here, with sorted keys, so the same input always
// yields byte-identical values (no plan noise) and no value is ever spliced into YAML text. Shared objects (the
// core placement) are written out in full, never as YAML anchors.
import { stringify } from "yaml";

export function helmValues(values: Record<string, unknown>): string {
  return stringify(values, { sortMapEntries: true, lineWidth: 0, aliasDuplicateObjects: false });
}
