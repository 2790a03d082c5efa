// Turns the deployment's outputs (the file `cdktf deploy --outputs-file` writes) into generated/agent_config.json,
// the file local clients read through AGENT_CONFIG_FILE. Secrets are included only when the grid config opted
// in AND the outputs file carries them (they are sensitive outputs, written only with
// `--outputs-file-include-sensitive-outputs`); otherwise their keys are written empty, because upstream's
// connector and agent read both keys unconditionally (a missing key is a KeyError, an empty one is "no secret").
import { AGENT_SECRET_FIELDS } from "./agent-config";

/** Names of the grid stack outputs this command reads. */
export const AGENT_CONFIG_OUTPUT = "agent_config";
export const SECRET_OUTPUTS: Record<(typeof AGENT_SECRET_FIELDS)[number], string> = {
  redis_password: "agent_secret_redis_password",
  api_gateway_key: "agent_secret_api_gateway_key",
};

export class OutputsError extends Error {}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const kind = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "a list" : `a ${typeof v}`);

/**
 * Build the agent configuration document from a parsed outputs file. Anything but the shape cdktf writes
 * (`{"<stack>": {"<output>": value}}`) is an OutputsError with one line saying what was found.
 */
export function agentConfigFromOutputs(
  outputs: unknown,
  stack: string,
  includeSecrets: boolean,
): Record<string, unknown> {
  const rewrite = `\`cdktf output ${stack} --outputs-file generated/outputs.json\``;
  if (!isObject(outputs)) {
    throw new OutputsError(
      `the outputs file holds ${kind(outputs)}, not the object cdktf writes; re-create it with ${rewrite}`,
    );
  }
  const stackOutputs = outputs[stack];
  if (stackOutputs === undefined) {
    throw new OutputsError(
      `the outputs file has no "${stack}" stack; write its outputs with ${rewrite} once it is deployed`,
    );
  }
  if (!isObject(stackOutputs)) {
    throw new OutputsError(
      `the outputs of stack "${stack}" are ${kind(stackOutputs)}, not an object; re-create them with ${rewrite}`,
    );
  }
  const raw = stackOutputs[AGENT_CONFIG_OUTPUT];
  if (raw === undefined) throw new OutputsError(`stack "${stack}" has no "${AGENT_CONFIG_OUTPUT}" output`);
  let doc: unknown = raw;
  if (typeof raw === "string") {
    try {
      doc = JSON.parse(raw);
    } catch {
      throw new OutputsError(`the "${AGENT_CONFIG_OUTPUT}" output of stack "${stack}" is not JSON`);
    }
  }
  if (!isObject(doc)) {
    throw new OutputsError(
      `the "${AGENT_CONFIG_OUTPUT}" output of stack "${stack}" is ${kind(doc)}, not a JSON object`,
    );
  }
  doc = { ...doc };
  const document = doc as Record<string, unknown>;
  for (const field of AGENT_SECRET_FIELDS) {
    if (field in document)
      throw new OutputsError(
        `the "${AGENT_CONFIG_OUTPUT}" output unexpectedly contains the secret field "${field}"`,
      );
  }
  if (includeSecrets) {
    const missing = AGENT_SECRET_FIELDS.filter((f) => stackOutputs[SECRET_OUTPUTS[f]] === undefined);
    if (missing.length > 0) {
      throw new OutputsError(
        `agent_config_include_secrets is true but the outputs file lacks ${missing.map((f) => SECRET_OUTPUTS[f]).join(", ")}; write them with --outputs-file-include-sensitive-outputs`,
      );
    }
    for (const field of AGENT_SECRET_FIELDS) document[field] = stackOutputs[SECRET_OUTPUTS[field]];
  } else {
    // Upstream's connector and agent read both keys unconditionally.
    for (const field of AGENT_SECRET_FIELDS) document[field] = "";
  }
  return document;
}
