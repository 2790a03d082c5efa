// `npm run generate`: this project's `make happy-path TAG=... REGION=...`. Writes the grid configuration and the
// submission job templates into generated/, validating everything before writing anything, and never
// overwriting a file the user changed unless forced.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { parseGridConfig } from "../config/load";
import { SEED_GRID_CONFIG } from "../config/seed";
import { renderSubmissionJobs } from "../agent/job-templates";

export const ACCOUNT_PLACEHOLDER = "{{account_id}}";

export interface GenerateOptions {
  readonly tag: string;
  readonly region: string;
  /** Account id for the job images; default: the `{{account_id}}` placeholder (no AWS lookup here). */
  readonly accountId?: string;
  readonly force: boolean;
  readonly outDir: string;
}

export interface GenerateResult {
  readonly written: string[];
  readonly unchanged: string[];
}

export class GenerateError extends Error {}

/** The generated grid configuration: the workshop's keys with the tag and region applied. */
export function generatedGridConfig(tag: string, region: string): Record<string, unknown> {
  return {
    $schema: "./grid_config.schema.json",
    ...structuredClone(SEED_GRID_CONFIG),
    project_name: tag,
    region,
  };
}

/** Compute every file, validate, then write the ones that are new; refuse to clobber edited files. */
export function generate(opts: GenerateOptions): GenerateResult {
  const config = generatedGridConfig(opts.tag, opts.region);
  // Throws ConfigError (bad tag or region) before anything is written.
  parseGridConfig(config, "generated grid_config.json");
  if (opts.accountId !== undefined && !/^\d{12}$/.test(opts.accountId)) {
    throw new GenerateError(
      `--account-id: ${JSON.stringify(opts.accountId)} is not a 12-digit AWS account id`,
    );
  }
  const files: Record<string, string> = {
    "grid_config.json": `${JSON.stringify(config, null, 2)}\n`,
    ...renderSubmissionJobs({
      accountId: opts.accountId ?? ACCOUNT_PLACEHOLDER,
      region: opts.region,
      imageTag: opts.tag,
    }),
  };
  const conflicts = Object.entries(files)
    .filter(([name, text]) => {
      const file = path.join(opts.outDir, name);
      return existsSync(file) && readFileSync(file, "utf8") !== text;
    })
    .map(([name]) => name);
  if (conflicts.length > 0 && !opts.force) {
    throw new GenerateError(
      `refusing to overwrite ${conflicts.map((c) => path.join(opts.outDir, c)).join(", ")}: they differ from what would be generated (your edits?). Re-run with --force to overwrite, or move them away.`,
    );
  }
  mkdirSync(opts.outDir, { recursive: true });
  const written: string[] = [];
  const unchanged: string[] = [];
  for (const [name, text] of Object.entries(files)) {
    const file = path.join(opts.outDir, name);
    if (existsSync(file) && readFileSync(file, "utf8") === text) {
      unchanged.push(file);
      continue;
    }
    writeFileSync(`${file}.tmp`, text);
    renameSync(`${file}.tmp`, file);
    written.push(file);
  }
  return { written, unchanged };
}
