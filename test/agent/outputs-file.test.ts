import { describe, expect, it } from "vitest";
import { agentConfigFromOutputs, OutputsError } from "../../modules/agent/outputs-file";

const publicDoc = { region: "eu-west-1", ddb_state_table: "htc_tasks_state_table-main", redis_url: "r:6379" };

describe("agent configuration from deployment outputs", () => {
  it("writes the public document with empty secret keys by default (upstream's readers need both keys)", () => {
    const doc = agentConfigFromOutputs(
      {
        grid: {
          agent_config: JSON.stringify(publicDoc),
          agent_secret_redis_password: "s3cret",
          agent_secret_api_gateway_key: "k",
        },
      },
      "grid",
      false,
    );
    expect(doc).toEqual({ ...publicDoc, redis_password: "", api_gateway_key: "" });
    expect(JSON.stringify(doc)).not.toContain("s3cret");
    expect(JSON.stringify(doc)).not.toContain('"k"');
  });

  it("adds the secret fields only when opted in", () => {
    const doc = agentConfigFromOutputs(
      {
        grid: {
          agent_config: JSON.stringify(publicDoc),
          agent_secret_redis_password: "s3cret",
          agent_secret_api_gateway_key: "k",
        },
      },
      "grid",
      true,
    );
    expect(doc).toMatchObject({ redis_password: "s3cret", api_gateway_key: "k" });
  });

  it("explains how to produce missing outputs", () => {
    expect(() => agentConfigFromOutputs({}, "grid", false)).toThrow(/cdktf output grid --outputs-file/);
    expect(() => agentConfigFromOutputs({ grid: { agent_config: "{}" } }, "grid", true)).toThrow(
      /--outputs-file-include-sensitive-outputs/,
    );
    expect(() =>
      agentConfigFromOutputs(
        { grid: { agent_config: JSON.stringify({ redis_password: "x" }) } },
        "grid",
        false,
      ),
    ).toThrow(OutputsError);
  });
});
