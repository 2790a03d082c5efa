// The agents across both stacks: configuration document and permissions in `grid`, ConfigMap, Secret and the
// chart release in `grid-k8s`.
import { beforeAll, describe, expect, it } from "vitest";
import { AGENT_SECRET_FIELDS } from "../../modules/agent/agent-config";
import { gridConfig, resourcesOf, synthApp, type TfJson } from "../support/grid-synth";

/** Replace each Terraform interpolation `${...}` (balanced braces) with TOKEN, so the rest parses as JSON. */
function withoutInterpolations(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "$" && text[i + 1] === "{") {
      let depth = 0;
      let j = i + 1;
      for (; j < text.length; j++) {
        if (text[j] === "{") depth++;
        else if (text[j] === "}" && --depth === 0) break;
      }
      out += "TOKEN";
      i = j;
    } else out += text[i];
  }
  return out;
}

const only = (stack: TfJson, type: string) => {
  const all = Object.values(resourcesOf(stack, type));
  expect(all, type).toHaveLength(1);
  return all[0];
};

describe("agent wiring (seed config)", () => {
  let stacks: Record<string, TfJson>;
  beforeAll(() => {
    stacks = synthApp(gridConfig());
  });

  it("publishes the agent configuration without secret fields", () => {
    const grid = stacks.grid;
    const param = only(grid, "aws_ssm_parameter");
    expect(param.name).toBe("/htc/main/agent_config");
    expect(param.type).toBe("String");
    const doc = JSON.parse(param.insecure_value);
    for (const field of AGENT_SECRET_FIELDS) expect(doc).not.toHaveProperty(field);
    expect(Object.keys(doc)).toHaveLength(44);
    expect(doc).toMatchObject({
      region: "eu-west-1",
      grid_storage_service: "REDIS",
      redis_data_expiration_sec: 72 * 3600,
      sqs_queue: "htc_task_queue-main",
      cluster_name: "htc-main",
    });
    expect(grid.output.agent_config.value).toMatch(
      /aws_ssm_parameter\.agent_parameter_[0-9A-F]+\.insecure_value/,
    );
    expect(grid.output.agent_config.sensitive).toBeUndefined();
    for (const name of Object.keys(grid.output)) expect(name).not.toMatch(/agent_secret/);
  });

  it("adds the secret outputs, marked sensitive, only when the config opts in", () => {
    const opted = synthApp(gridConfig({ agent_config_include_secrets: true })).grid.output;
    expect(opted.agent_secret_redis_password.sensitive).toBe(true);
    expect(opted.agent_secret_api_gateway_key.sensitive).toBe(true);
  });

  it("copies the private API key into a KMS-encrypted Secrets Manager secret", () => {
    const secrets = resourcesOf(stacks.grid, "aws_secretsmanager_secret");
    const apiKey = Object.entries(secrets).find(([name]) => name.startsWith("agent_api-key-secret"))![1];
    expect(apiKey.name).toBe("htc-private-api-key-main");
    expect(apiKey.kms_key_id).toMatch(/aws_kms_key\.keys_secrets_key/);
  });

  it("gives the agents access to the grid's own table, queues, error log, worker zip and keys only", () => {
    const policy = Object.entries(resourcesOf(stacks.grid, "aws_iam_role_policy")).find(([name]) =>
      name.includes("agent"),
    )![1];
    const doc = JSON.parse(policy.policy);
    const sids = doc.Statement.map((s: { Sid: string }) => s.Sid);
    expect(sids).toEqual(["StateTable", "TaskQueues", "ErrorLog", "PodCode", "GridKeys", "PodCodeKeys"]);
    // The pod code's key only decrypts: the agent never writes under it.
    const byId = Object.fromEntries(doc.Statement.map((s: { Sid: string }) => [s.Sid, s]));
    expect(byId.PodCodeKeys.Action).toEqual(["kms:Decrypt"]);
    expect(byId.GridKeys.Resource.some((r: string) => r.includes("workload-key"))).toBe(false);
    for (const s of doc.Statement) {
      expect(s.Action).not.toContain("*");
      for (const r of [s.Resource].flat()) expect(r).not.toBe("*");
    }
    // The default worker zip is the bootstrap workload bucket's lambda.zip, next to the runtime bundles; the
    // bucket's key is looked up by alias. Exact versions: GetObjectVersion.
    const code = doc.Statement.find((s: { Sid: string }) => s.Sid === "PodCode");
    expect(code.Action).toEqual(["s3:GetObject", "s3:GetObjectVersion"]);
    expect(code.Resource[0]).toMatch(/:s3:::htc-workload-main-\$\{.*\}-eu-west-1\/lambda\.zip$/);
    // Its own bundle only: the client bundle is the client pods'.
    expect(code.Resource[1]).toMatch(/:s3:::htc-workload-main-\$\{.*\}-eu-west-1\/runtime\/agent\.js$/);
    expect(resourcesOf(stacks.grid, "aws_kms_alias")).toBeDefined();
    expect(Object.values(stacks.grid.data.aws_kms_alias)[0]).toMatchObject({
      name: "alias/htc/main/workload",
    });
  });

  it("stores the non-secret document in agent-configmap and the two secrets in a Secret", () => {
    const k8s = stacks["grid-k8s"];
    const cm = Object.values(resourcesOf(k8s, "kubernetes_config_map_v1")).find(
      (c) => c.metadata.name === "agent-configmap",
    )!;
    expect(cm.metadata.name).toBe("agent-configmap");
    expect(cm.data["Agent_config.tfvars.json"]).toMatch(/terraform_remote_state\..*insecure_value/);
    const secret = only(k8s, "kubernetes_secret_v1");
    expect(secret.metadata.name).toBe("htc-agent-secrets");
    // Read for this run only and written write-only: neither value is in the grid-k8s state.
    expect(secret.data).toBeUndefined();
    expect(Object.keys(secret.data_wo).sort()).toEqual(["api_gateway_key", "redis_password"]);
    expect(secret.data_wo.redis_password).toMatch(
      /^\$\{ephemeral\.aws_secretsmanager_secret_version\..*secret_string\}$/,
    );
    expect(secret.data_wo.api_gateway_key).toMatch(
      /^\$\{ephemeral\.aws_secretsmanager_secret_version\..*secret_string\}$/,
    );
    // Rewritten when either secret's current version changes.
    expect(secret.data_wo_revision).toMatch(/aws_secretsmanager_secret_versions\..*AWSCURRENT/);
    expect(k8s.data?.aws_secretsmanager_secret_version).toBeUndefined();
    expect(JSON.stringify(cm)).not.toMatch(/secret_string|api_gateway_key/);
  });

  it("installs the chart from an asset inside the stack folder, after KEDA, with values from the config", () => {
    const k8s = stacks["grid-k8s"];
    const release = Object.values(resourcesOf(k8s, "helm_release")).find((r) => r.name === "htc-agent")!;
    expect(release.chart).toMatch(/^assets\//);
    expect(release.namespace).toBe("default");
    expect(release.atomic).toBe(true);
    expect(release.depends_on.some((d: string) => d.startsWith("helm_release.addons_keda"))).toBe(true);
    const values = JSON.parse(withoutInterpolations(release.values[0]));
    expect(values.scaling).toMatchObject({ minAgents: 1, maxAgents: 100, region: "eu-west-1" });
    expect(values.lambda.resources).toEqual({
      requests: { cpu: "800m", memory: "1200Mi" },
      limits: { cpu: "900m", memory: "1900Mi" },
    });
    expect(values.fetch.plan.objects.map((o: { key: string }) => o.key)).toEqual([
      "runtime/agent.js",
      "lambda.zip",
    ]);
    expect(values.agentConfig.revision).toBe("TOKEN");
    expect(release.values[0]).toMatch(/"revision":"\$\{sha256\(/);
  });
});

describe("agent wiring (S3 data plane, own worker zip)", () => {
  it("grants the data bucket and the configured zip, and no Redis secret", () => {
    const stacks = synthApp(
      gridConfig({
        grid_storage_service: "S3",
        agent_configuration: {
          lambda: {
            s3_source: "s3://my-zips/w/lambda.zip",
            s3_source_kms_key_arn:
              "arn:aws:kms:eu-west-1:111122223333:key/2b9d6f4a-1c7e-4b8a-9f3d-6e5c4a3b2d1f",
          },
        },
      }),
    );
    const policy = Object.entries(resourcesOf(stacks.grid, "aws_iam_role_policy")).find(([name]) =>
      name.includes("agent"),
    )![1];
    const doc = JSON.parse(policy.policy);
    const byId = Object.fromEntries(doc.Statement.map((s: { Sid: string }) => [s.Sid, s]));
    expect(byId.PodCode.Resource[0]).toMatch(/:s3:::my-zips\/w\/lambda\.zip$/);
    expect(byId.PodCodeKeys.Resource).toContain(
      "arn:aws:kms:eu-west-1:111122223333:key/2b9d6f4a-1c7e-4b8a-9f3d-6e5c4a3b2d1f",
    );
    expect(byId.DataBucketObjects).toBeDefined();
    // The runtime bundles still come from the workload bucket, under its key.
    expect(Object.values(stacks.grid.data.aws_kms_alias)[0]).toMatchObject({
      name: "alias/htc/main/workload",
    });
    // The user's zip is used as is: nothing is uploaded for it.
    const objects = Object.values(resourcesOf(stacks["grid-k8s"], "aws_s3_object")).map((o) => o.key);
    expect(objects).toEqual(["runtime/agent.js", "runtime/client.js"]);
    const secret = only(stacks["grid-k8s"], "kubernetes_secret_v1");
    expect(secret.data_wo.redis_password).toBe("");
  });
});
