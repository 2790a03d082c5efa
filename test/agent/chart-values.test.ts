import { describe, expect, it } from "vitest";
import { agentChartValues, type AgentChartInputs } from "../../modules/agent/chart-values";
import type { AgentConfig } from "../../modules/config/model";
import { seedGridConfig } from "./fixtures/seed-grid-config";
import { agentNetwork, agentChartResources } from "./fixtures/resources";

const baseInputs: AgentChartInputs = {
  region: seedGridConfig.region,
  agent: seedGridConfig.agent,
  metrics: seedGridConfig.controlPlane.metrics,
  resources: agentChartResources,
  network: agentNetwork,
};

function withAgent(patch: (agent: AgentConfig) => AgentConfig): AgentChartInputs {
  return { ...baseInputs, agent: patch(seedGridConfig.agent) };
}

describe("agentChartValues", () => {
  const values = agentChartValues(baseInputs);

  it("writes CPU in millicores and memory in MiB", () => {
    expect(values.lambda.resources).toEqual({
      requests: { cpu: "800m", memory: "1200Mi" },
      limits: { cpu: "900m", memory: "1900Mi" },
    });
    // The stock Node.js agent's defaults (upstream's image asked for 10m/50m and 50/100 Mi).
    expect(values.agent.resources).toEqual({
      requests: { cpu: "100m", memory: "160Mi" },
      limits: { cpu: "500m", memory: "256Mi" },
    });
  });

  it("passes the grid's region to the fetch step, the layer download (upstream defect 9) and KEDA", () => {
    const values = agentChartValues({ ...baseInputs, region: "ap-southeast-2" });
    expect(values.fetch.plan.region).toBe("ap-southeast-2");
    expect(values.getLayer.region).toBe("ap-southeast-2");
    expect(values.scaling.region).toBe("ap-southeast-2");
  });

  it("fetches the agent bundle and the worker zip the delivery uploaded, and assembles the configuration", () => {
    const { agentBundle, workerZip } = agentChartResources.delivery;
    expect(values.fetch.plan.objects).toEqual([
      { ...agentBundle, file: "/opt/htc/runtime/agent.js" },
      { ...workerZip, unzip: "/var/task" },
    ]);
    expect(values.fetch.plan.config).toEqual({
      public: "/config/public/Agent_config.tfvars.json",
      secrets: "/config/secret",
      keys: ["redis_password", "api_gateway_key"],
      target: "/etc/agent/Agent_config.tfvars.json",
    });
    expect(values.fetch.revision).toBe("sha256-of-runtime");
  });

  it("runs the agent on the stock Node.js image and the worker on AWS's Lambda image, both through the cache", () => {
    const registry = agentChartResources.gridRegistry;
    expect(values.agent.image).toBe(`${registry}/ecr-public/docker/library/node:22.23.2-bookworm-slim`);
    expect(values.agent.command).toEqual(["node", "/opt/htc/runtime/agent.js"]);
    expect(values.fetch.image).toBe(values.agent.image);
    // The workshop's config: runtime provided -> the provided image runs the zip's bootstrap.
    expect(values.lambda.image).toBe(`${registry}/ecr-public/lambda/provided:al2023.2026.02.27.21`);
    expect(values.lambda.command).toEqual(["/usr/local/bin/aws-lambda-rie", "/var/task/bootstrap"]);
    expect([values.agent.runAsUser, values.lambda.runAsUser, values.fetch.runAsUser]).toEqual([
      1000, 1000, 1000,
    ]);
    expect(values.getLayer.enabled).toBe(false);
  });

  it("runs the helm test pod's client bundle on the same Node.js image, as the client service account", () => {
    expect(values.test).toMatchObject({ enabled: true, image: values.agent.image, runAsUser: 1000 });
    expect(values.test.command.slice(0, 3)).toEqual(["node", "/opt/htc/runtime/client.js", "submit"]);
    expect(values.fetch.testPlan.objects).toEqual([
      { ...agentChartResources.delivery.clientBundle, file: "/opt/htc/runtime/client.js" },
    ]);
    expect(values.fetch.testPlan.config).toEqual(values.fetch.plan.config);
    expect(values.client.serviceAccount).toEqual({ create: true, name: "htc-client-sa" });
  });

  it("uses upstream's custom images as given, under aws_htc_ecr or the grid's registry", () => {
    const custom = agentChartValues(
      withAgent((a) => ({
        ...a,
        ecrRegistry: "registry.example",
        agent: { ...a.agent, image: { repository: "awshpc-lambda", tag: "v1", pullPolicy: "Always" } },
        lambda: { ...a.lambda, image: { repository: "lambda", tag: "provided", pullPolicy: "IfNotPresent" } },
        getLayer: { repository: "lambda-init", tag: "v1", pullPolicy: "IfNotPresent" },
        test: { repository: "submitter", tag: "v1", pullPolicy: "IfNotPresent" },
      })),
    );
    expect(custom.agent).toMatchObject({
      image: "registry.example/awshpc-lambda:v1",
      command: [],
      stock: false,
      runAsUser: 65534,
    });
    expect(custom.lambda).toMatchObject({
      image: "registry.example/lambda:provided",
      command: [],
      runAsUser: 99,
    });
    expect(custom.getLayer).toMatchObject({ enabled: true, image: "registry.example/lambda-init:v1" });
    expect(custom.test).toMatchObject({
      enabled: true,
      image: "registry.example/submitter:v1",
      runAsUser: 65534,
    });
    expect(custom.test.command[0]).toBe("python3");
    expect(custom.fetch.testPlan.objects).toEqual([]);
    // Upstream's agent and get-layer images bring their own code: the fetch step only assembles the configuration.
    expect(custom.fetch.plan.objects).toEqual([]);
  });

  it("annotates the service account for IRSA only when a role ARN is given", () => {
    expect(values.serviceAccount).toEqual({
      create: true,
      name: "htc-agent-sa",
      roleArn: agentChartResources.agentRoleArn,
    });
    const podIdentity = agentChartValues({
      ...baseInputs,
      resources: { ...agentChartResources, agentRoleArn: undefined },
    });
    expect(podIdentity.serviceAccount.roleArn).toBe("");
  });

  it("scales between the configured agent counts on the suffixed backlog metric", () => {
    expect(values.scaling).toMatchObject({
      minAgents: 1,
      maxAgents: 100,
      targetValue: 2,
      metric: {
        namespace: "CloudGrid/HTC/Scaling/",
        dimensionName: "cluster_name",
        dimensionValue: "htc-main",
        name: "pending_tasks_ddb-main",
      },
      kedaAuth: "triggerAuthentication",
    });
  });

  it("uses the graceful termination delay as the pod's grace period", () => {
    expect(values.terminationGracePeriodSeconds).toBe(seedGridConfig.agent.gracefulTerminationDelaySec);
  });

  it("points the pods at the agent-configmap ConfigMap and the secret fields' Secret", () => {
    expect(values.agentConfig).toMatchObject({
      configMapName: "agent-configmap",
      configMapKey: "Agent_config.tfvars.json",
      secretName: "htc-agent-secrets",
      secretKeys: ["redis_password", "api_gateway_key"],
    });
  });
});
