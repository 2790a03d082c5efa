// `npm run generate`: this project's `make happy-path TAG=... REGION=...`. Writes the grid configuration and the
// submission job templates into generated/, validating everything before writing anything, and never
// overwriting a file the user changed unless forced.
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { parseCidr } from "../config/cidr";
import { parseGridConfig } from "../config/load";
import { DEPLOYER_CIDR_PLACEHOLDER } from "../config/normalize/compute-plane";
import { SEED_GRID_CONFIG } from "../config/seed";
import { renderSubmissionJobs } from "../agent/job-templates";
import { NODE_FILE_OPS, writeFilesAtomically, WriteFilesError, type FileOps } from "./write-files";

export const ACCOUNT_PLACEHOLDER = "{{account_id}}";

export interface GenerateOptions {
  readonly tag: string;
  readonly region: string;
  /**
   * Account id of the grid's registry, which the jobs pull the Node.js image through; default: the `{{account_id}}`
   * placeholder (no AWS lookup here).
   */
  readonly accountId?: string;
  /**
   * Public CIDR of the machine that deploys grid-k8s, allowed to the EKS endpoint. Default: a placeholder the config
   * gate refuses with instructions (nothing is looked up).
   */
  readonly deployerCidr?: string;
  readonly force: boolean;
  readonly outDir: string;
  /** File-system calls (tests inject failures). @default node:fs */
  readonly fileOps?: FileOps;
}

export interface GenerateResult {
  readonly written: string[];
  readonly unchanged: string[];
}

export class GenerateError extends Error {}

/**
 * The generated grid configuration: the workshop's keys with the tag and region applied, and the EKS endpoint
 * open to the deployer's CIDR (grid-k8s's providers connect from there; private access stays on).
 */
export function generatedGridConfig(
  tag: string,
  region: string,
  deployerCidr: string = DEPLOYER_CIDR_PLACEHOLDER,
): Record<string, unknown> {
  return {
    $schema: "./grid_config.schema.json",
    ...structuredClone(SEED_GRID_CONFIG),
    project_name: tag,
    region,
    eks_public_access: true,
    eks_public_access_cidrs: [deployerCidr],
  };
}

/** A stand-in for the placeholder while the rest of the generated config is checked (TEST-NET-1, RFC 5737). */
const PLACEHOLDER_STAND_IN = "192.0.2.1/32";

/** Compute every file, validate, then write the ones that are new; refuse to clobber edited files. */
export function generate(opts: GenerateOptions): GenerateResult {
  if (opts.deployerCidr !== undefined && !parseCidr(opts.deployerCidr)) {
    throw new GenerateError(
      `--deployer-cidr: ${JSON.stringify(opts.deployerCidr)} is not an IPv4 CIDR; give this machine's public address, e.g. 203.0.113.7/32`,
    );
  }
  const config = generatedGridConfig(opts.tag, opts.region, opts.deployerCidr);
  // Throws ConfigError (bad tag, region or deployer CIDR) before anything is written. Without a deployer CIDR the
  // file gets a placeholder that the config gate refuses until it is replaced; everything else is checked now.
  parseGridConfig(
    opts.deployerCidr === undefined
      ? generatedGridConfig(opts.tag, opts.region, PLACEHOLDER_STAND_IN)
      : config,
    "generated grid_config.json",
  );
  if (opts.accountId !== undefined && !/^\d{12}$/.test(opts.accountId)) {
    throw new GenerateError(
      `--account-id: ${JSON.stringify(opts.accountId)} is not a 12-digit AWS account id`,
    );
  }
  const files: Record<string, string> = {
    "grid_config.json": `${JSON.stringify(config, null, 2)}\n`,
    ...renderSubmissionJobs({ accountId: opts.accountId ?? ACCOUNT_PLACEHOLDER, region: opts.region }),
  };
  const current = (name: string): string | undefined => {
    const file = path.join(opts.outDir, name);
    try {
      return existsSync(file) ? readFileSync(file, "utf8") : undefined;
    } catch (e) {
      throw new GenerateError(
        `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
  };
  const existing = Object.fromEntries(Object.keys(files).map((name) => [name, current(name)]));
  const conflicts = Object.entries(files)
    .filter(([name, text]) => existing[name] !== undefined && existing[name] !== text)
    .map(([name]) => name);
  if (conflicts.length > 0 && !opts.force) {
    throw new GenerateError(
      `refusing to overwrite ${conflicts.map((c) => path.join(opts.outDir, c)).join(", ")}: they differ from what would be generated (your edits?). Re-run with --force to overwrite, or move them away.`,
    );
  }
  // All or nothing: a failure half-way (read-only directory, full disk) leaves generated/ as it was.
  const changed = Object.fromEntries(Object.entries(files).filter(([name, text]) => existing[name] !== text));
  const unchanged = Object.keys(files)
    .filter((name) => !(name in changed))
    .map((name) => path.join(opts.outDir, name));
  try {
    const written = writeFilesAtomically(opts.outDir, changed, {}, opts.fileOps ?? NODE_FILE_OPS);
    return { written, unchanged };
  } catch (e) {
    if (e instanceof WriteFilesError) throw new GenerateError(`${e.message}; nothing was changed`);
    throw e;
  }
}
