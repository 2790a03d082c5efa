// `npm run outputs`: writes generated/agent_config.json from the outputs of a deployment.
//   npx cdktf output grid --outputs-file generated/outputs.json   (add --outputs-file-include-sensitive-outputs
//   only when the grid config sets agent_config_include_secrets)
//   npm run outputs
// Every problem (missing, unreadable or malformed outputs file, unwritable generated/) is one line and exit 1.
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { ConfigError, loadGridConfig } from "../modules/config/load";
import { agentConfigFromOutputs, OutputsError } from "../modules/agent/outputs-file";
import { writeFilesAtomically, WriteFilesError } from "../modules/generate/write-files";
import { STACK_NAMES } from "../stacks/common";

const OUTPUTS_FILE = process.env.HTCGRID_OUTPUTS_FILE || "generated/outputs.json";
const TARGET = "generated/agent_config.json";

function readOutputs(file: string): unknown {
  if (!existsSync(file)) {
    throw new OutputsError(
      `${file} does not exist; run \`npx cdktf output grid --outputs-file ${file}\` first (after the grid stack is deployed)`,
    );
  }
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new OutputsError(
      `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  try {
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (e) {
    throw new OutputsError(`${file} is not valid JSON: ${(e as Error).message}`);
  }
}

function main(): number {
  try {
    const { config } = loadGridConfig(process.env, process.cwd());
    const doc = agentConfigFromOutputs(
      readOutputs(OUTPUTS_FILE),
      STACK_NAMES.grid,
      config.agent.includeSecretsInGeneratedConfig,
    );
    writeFilesAtomically(
      path.dirname(TARGET),
      { [path.basename(TARGET)]: `${JSON.stringify(doc, null, 2)}\n` },
      { mode: 0o600 },
    );
    console.log(
      `wrote ${TARGET}${config.agent.includeSecretsInGeneratedConfig ? " (with secrets, mode 0600)" : " (no secrets)"}; export AGENT_CONFIG_FILE=$PWD/${TARGET}`,
    );
    return 0;
  } catch (e) {
    if (e instanceof OutputsError || e instanceof ConfigError || e instanceof WriteFilesError) {
      console.error(`outputs: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

process.exitCode = main();
