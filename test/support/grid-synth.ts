// Synthesize one stack, or the whole app, for a config that went through the real parser, and read its
// Terraform JSON.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { App, Testing, type TerraformStack } from "cdktf";
import { buildGridApp } from "../../stacks/app";
import { parseGridConfig } from "../../modules/config/load";
import type { GridConfig } from "../../modules/config/model";
import { SEED_GRID_CONFIG } from "../../modules/config/seed";
import { testApp } from "./test-app";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type TfJson = Record<string, any>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type TfBlock = Record<string, any>;

/** The seed config (the workshop's example) with top-level overrides, through the real parser. */
export function gridConfig(
  overrides: Record<string, unknown> = {},
  env: Record<string, string> = {},
): GridConfig {
  return parseGridConfig({ ...structuredClone(SEED_GRID_CONFIG), ...overrides }, "test", env);
}

/** Synthesize all stacks into a temp dir; returns stack name -> cdk.tf.json content. */
export function synthApp(config: GridConfig): Record<string, TfJson> {
  const outdir = mkdtempSync(path.join(tmpdir(), "htc-synth-"));
  try {
    const app = new App({ outdir, skipValidation: false });
    buildGridApp(app, config);
    app.synth();
    const stacks: Record<string, TfJson> = {};
    for (const name of readdirSync(path.join(outdir, "stacks"))) {
      stacks[name] = JSON.parse(
        readFileSync(path.join(outdir, "stacks", name, "cdk.tf.json"), "utf8"),
      ) as TfJson;
    }
    return stacks;
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** Synthesize a stack built by `make` in a fresh test app; returns the JSON text and its parsed form. */
export function synthStack(make: (app: ReturnType<typeof Testing.app>) => TerraformStack): {
  text: string;
  json: TfJson;
} {
  const text = Testing.synth(make(testApp()));
  return { text, json: JSON.parse(text) as TfJson };
}

/** Every resource of one type, keyed by logical name. */
export function resourcesOf(json: TfJson, type: string): Record<string, TfBlock> {
  return (json.resource?.[type] ?? {}) as Record<string, TfBlock>;
}

/** Every data source of one type, keyed by logical name. */
export function dataOf(json: TfJson, type: string): Record<string, TfBlock> {
  return (json.data?.[type] ?? {}) as Record<string, TfBlock>;
}

/** The only resource of a type whose logical name contains `fragment` (throws when not exactly one). */
export function oneResource(json: TfJson, type: string, fragment = ""): TfBlock {
  const hits = Object.entries(resourcesOf(json, type)).filter(([name]) => name.includes(fragment));
  if (hits.length !== 1) {
    throw new Error(
      `expected one ${type} matching "${fragment}", found ${hits.map(([n]) => n).join(", ") || "none"}`,
    );
  }
  return hits[0][1];
}

/**
 * `${aws_x.name.attr}` -> ["aws_x", "name"], `${data.aws_x.name.attr}` -> ["data.aws_x", "name"]; undefined
 * when the value is not a plain reference.
 */
export function referenceOf(value: unknown): [string, string] | undefined {
  const m =
    typeof value === "string" ? /^\$\{(data\.)?([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.[a-z_]+\}$/.exec(value) : null;
  return m ? [`${m[1] ?? ""}${m[2]}`, m[3]] : undefined;
}
