// `npm run outputs`: writes generated/agent_config.json from the outputs of a deployment.
//   npx cdktf deploy grid --outputs-file generated/outputs.json   (add --outputs-file-include-sensitive-outputs
//   only when the grid config sets agent_config_include_secrets)
//   npm run outputs
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { ConfigError, loadGridConfig } from "../modules/config/load";
import { agentConfigFromOutputs, OutputsError } from "../modules/agent/outputs-file";
import { STACK_NAMES } from "../stacks/common";

const OUTPUTS_FILE = process.env.HTCGRID_OUTPUTS_FILE || "generated/outputs.json";
const TARGET = "generated/agent_config.json";

function main(): number {
  try {
    const { config } = loadGridConfig(process.env, process.cwd());
    if (!existsSync(OUTPUTS_FILE)) {
      throw new OutputsError(
        `${OUTPUTS_FILE} does not exist; run \`npx cdktf deploy grid --outputs-file ${OUTPUTS_FILE}\` first`,
      );
    }
    const doc = agentConfigFromOutputs(
      JSON.parse(readFileSync(OUTPUTS_FILE, "utf8")),
      STACK_NAMES.grid,
      config.agent.includeSecretsInGeneratedConfig,
    );
    writeFileSync(`${TARGET}.tmp`, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
    renameSync(`${TARGET}.tmp`, TARGET);
    console.log(
      `wrote ${TARGET}${config.agent.includeSecretsInGeneratedConfig ? " (with secrets, mode 0600)" : " (no secrets)"}; export AGENT_CONFIG_FILE=$PWD/${TARGET}`,
    );
    return 0;
  } catch (e) {
    if (e instanceof OutputsError || e instanceof ConfigError || e instanceof SyntaxError) {
      console.error(`outputs: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

process.exitCode = main();
