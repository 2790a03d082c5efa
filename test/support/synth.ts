// Synthesizes the whole app for a config into a temp dir and returns each stack's parsed Terraform JSON.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { App } from "cdktf";
import { parseGridConfig } from "../../modules/config/load";
import type { GridConfig } from "../../modules/config/model";
import { SEED_GRID_CONFIG } from "../../modules/config/seed";
import { buildGridApp } from "../../stacks/app";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type TfJson = Record<string, any>;

/** The seed config with overrides, through the real parser. */
export function configFrom(
  overrides: Record<string, unknown> = {},
  env: Record<string, string> = {},
): GridConfig {
  return parseGridConfig({ ...structuredClone(SEED_GRID_CONFIG), ...overrides }, "test", env);
}

/** Synthesize all stacks; returns stack name -> cdk.tf.json content. */
export function synthApp(config: GridConfig): Record<string, TfJson> {
  const outdir = mkdtempSync(path.join(tmpdir(), "htc-synth-"));
  try {
    const app = new App({ outdir, skipValidation: false });
    buildGridApp(app, config);
    app.synth();
    const stacks: Record<string, TfJson> = {};
    for (const name of readdirSync(path.join(outdir, "stacks"))) {
      stacks[name] = JSON.parse(readFileSync(path.join(outdir, "stacks", name, "cdk.tf.json"), "utf8"));
    }
    return stacks;
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** All resources of a type in a stack: name -> attributes. */
export function resources(stack: TfJson, type: string): Record<string, TfJson> {
  return stack.resource?.[type] ?? {};
}
