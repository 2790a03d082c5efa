// dynalite (DynamoDB on LevelDB) with two fixes the grid needs, applied to its pinned source at load time:
//  1. Index keys. dynalite stores a GSI entry under `<index key>/<first 6 hex digits of md5(table key)>`, so two
//     rows with the same index key whose task ids share those 24 bits overwrite each other's entry: the second row
//     is in the table but missing from every index query (about 7% of random 1,500-task sessions lost a task from
//     get_results/cancel). Here the suffix is the whole md5 (128 bits), as unique as the table key itself.
//  2. ReturnValuesOnConditionCheckFailure = ALL_OLD. DynamoDB returns the item as it was when a condition fails;
//     dynalite drops the parameter in validation and never returns the item. The agent and the control plane read that item to tell "already applied by
//     my own lost-response retry" and "cancelled meanwhile" from other failures.
// Each patch anchors on an exact line of dynalite 4.0.0 and fails loudly if the source ever differs.

import { readFileSync } from "node:fs";
import Module, { createRequire } from "node:module";
import { dirname } from "node:path";
import type { Server } from "node:http";

interface Patch {
  readonly name: string;
  readonly find: string;
  readonly replace: string;
}

const PATCHES: readonly Patch[] = [
  {
    name: "full table-key hash in index keys",
    find: "return createKey(item, table, keySchema) + hashPrefix.apply(this, tableKeyPieces)",
    replace:
      "return createKey(item, table, keySchema) + crypto.createHash('md5').update(JSON.stringify(tableKeyPieces)).digest('hex')",
  },
  {
    name: "old item on a failed condition (check)",
    find: "function checkConditional (data, existingItem) {\n  existingItem = existingItem || {}",
    replace:
      "function checkConditional (data, existingItem) {\n  var oldItem = existingItem\n  existingItem = existingItem || {}",
  },
  {
    name: "old item on a failed condition (expression)",
    find: "    if (!matchesExprFilter(existingItem, data._condition.expression)) {\n      return conditionalError()",
    replace:
      "    if (!matchesExprFilter(existingItem, data._condition.expression)) {\n      return withOldItem(conditionalError(), data, oldItem)",
  },
  {
    name: "old item on a failed condition (Expected)",
    find: "  if (!matchesFilter(existingItem, data.Expected, data.ConditionalOperator)) {\n    return conditionalError()",
    replace:
      "  if (!matchesFilter(existingItem, data.Expected, data.ConditionalOperator)) {\n    return withOldItem(conditionalError(), data, oldItem)",
  },
  {
    name: "old item on a failed condition (helper)",
    find: "function conditionalError (msg) {",
    replace:
      "function withOldItem (err, data, oldItem) {\n  if (data.ReturnValuesOnConditionCheckFailure == 'ALL_OLD' && oldItem) err.body.Item = oldItem\n  return err\n}\n\nfunction conditionalError (msg) {",
  },
];

const PATCHED = Symbol.for("htc-grid.dynalite-patched");

/** Applies every patch to dynalite's db/index.js source; throws naming the patch whose anchor is missing. */
export function patchDynaliteSource(source: string): string {
  let out = source;
  for (const patch of PATCHES) {
    const at = out.indexOf(patch.find);
    if (at < 0 || out.indexOf(patch.find, at + 1) >= 0) {
      throw new Error(
        `dynalite patch "${patch.name}" does not apply: its anchor is missing or not unique (dynalite must stay at 4.0.0)`,
      );
    }
    out = out.replace(patch.find, patch.replace);
  }
  return out;
}

type Dynalite = (options?: {
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
  path?: string;
}) => Server;

/**
 * Loads dynalite with its db module replaced by the patched source. Must run before anything else in the process
 * loads `dynalite/db`; an unpatched copy already loaded is an error, never silently used.
 */
export function loadPatchedDynalite(anchor: string = __filename): Dynalite {
  // `anchor`: a file dynalite resolves from (a bundle outside the repository passes one inside it).
  const load = createRequire(anchor);
  const dbPath = load.resolve("dynalite/db/index.js");
  const loaded = load.cache[dbPath] as (NodeJS.Module & { [PATCHED]?: boolean }) | undefined;
  if (loaded && !loaded[PATCHED]) {
    throw new Error(
      "dynalite/db was loaded unpatched before loadPatchedDynalite(); load the emulator through it only",
    );
  }
  if (!loaded) {
    const patched = new Module(dbPath) as NodeJS.Module & {
      [PATCHED]?: boolean;
      _compile(code: string, filename: string): void;
      paths: string[];
    };
    patched.filename = dbPath;
    patched.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(
      dirname(dbPath),
    );
    patched._compile(patchDynaliteSource(readFileSync(dbPath, "utf8")), dbPath);
    patched.loaded = true;
    patched[PATCHED] = true;
    load.cache[dbPath] = patched;
  }
  // dynalite drops request parameters its validation tables do not list; let this one through.
  for (const action of ["updateItem", "putItem", "deleteItem"]) {
    const { types } = load(`dynalite/validations/${action}`) as { types: Record<string, unknown> };
    types.ReturnValuesOnConditionCheckFailure ??= { type: "String", enum: ["ALL_OLD", "NONE"] };
  }
  return load("dynalite") as Dynalite;
}
