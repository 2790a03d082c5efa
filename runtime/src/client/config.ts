// Where the client finds the agent configuration document (the file `npm run outputs` writes, or the one pods
// assemble at /etc/agent/Agent_config.tfvars.json) and how it reads it: parseAgentConfig(..., "client").

import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import {
  AGENT_CONFIG_ENV,
  AgentConfigError,
  DEFAULT_AGENT_CONFIG_PATH,
  parseAgentConfig,
  type AgentConfigDocument,
} from "../contract";
import { ConfigError } from "./errors";

type Env = Readonly<Record<string, string | undefined>>;

/** What `npm run outputs` writes, relative to the working directory. */
export const GENERATED_AGENT_CONFIG = "generated/agent_config.json";

/**
 * The configuration file to use: `explicit` (`--config`), else AGENT_CONFIG_FILE, else generated/agent_config.json
 * in `cwd`, else the in-cluster /etc/agent/Agent_config.tfvars.json. Throws ConfigError when none exists.
 */
export function resolveAgentConfigPath(
  explicit?: string,
  env: Env = process.env,
  cwd = process.cwd(),
): string {
  const named = explicit ?? (env[AGENT_CONFIG_ENV] || undefined);
  if (named !== undefined) {
    const path = resolve(cwd, named);
    if (!existsSync(path)) {
      const via = explicit !== undefined ? "--config" : AGENT_CONFIG_ENV;
      throw new ConfigError(
        `agent configuration ${path} (from ${via}) does not exist; run \`npm run outputs\` after deploying, or point ${via} at the file`,
      );
    }
    return path;
  }
  for (const candidate of [resolve(cwd, GENERATED_AGENT_CONFIG), DEFAULT_AGENT_CONFIG_PATH]) {
    if (existsSync(candidate)) return candidate;
  }
  throw new ConfigError(
    `no agent configuration: pass --config FILE, set ${AGENT_CONFIG_ENV}, or run \`npm run outputs\` to write ${GENERATED_AGENT_CONFIG}`,
  );
}

/** Reads and checks a configuration file for a client. */
export function loadAgentConfig(path: string): AgentConfigDocument {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(`cannot read agent configuration ${path}: ${(error as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`agent configuration ${path} is not JSON (${(error as Error).message})`);
  }
  return parseClientConfig(raw, path);
}

/** Checks a parsed document for a client, naming `source` in errors. */
export function parseClientConfig(raw: unknown, source = "agent configuration"): AgentConfigDocument {
  try {
    return parseAgentConfig(raw, "client", source);
  } catch (error) {
    if (error instanceof AgentConfigError) throw new ConfigError(error.message);
    throw error;
  }
}
