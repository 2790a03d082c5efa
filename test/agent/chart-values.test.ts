import { describe, expect, it } from "vitest";
import { agentChartValues, type AgentChartInputs } from "../../modules/agent/chart-values";
import type { AgentConfig } from "../../modules/config/model";
import { seedGridConfig } from "./fixtures/seed-grid-config";
import { agentChartResources } from "./fixtures/resources";

const baseInputs: AgentChartInputs = {
  region: seedGridConfig.region,
  agent: seedGridConfig.agent,
  metrics: seedGridConfig.controlPlane.metrics,
  resources: agentChartResources,
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
    expect(values.agent.resources).toEqual({
      requests: { cpu: "10m", memory: "50Mi" },
      limits: { cpu: "50m", memory: "100Mi" },
    });
  });

  it("passes the grid's region to the layer download (upstream defect 9)", () => {
    const values = agentChartValues({ ...baseInputs, region: "ap-southeast-2" });
    expect(values.lambda.region).toBe("ap-southeast-2");
    expect(values.scaling.region).toBe("ap-southeast-2");
  });

  it("uses the configured worker zip, else the bootstrap bucket's", () => {
    expect(values.lambda.s3Source).toBe("s3://main-lambda-unit-htc-grid-2b8838c8eecc/lambda.zip");
    const noSource = withAgent((a) => ({ ...a, lambda: { ...a.lambda, s3Source: undefined } }));
    expect(agentChartValues(noSource).lambda.s3Source).toBe("s3://bootstrap-workload-bucket/lambda.zip");
  });

  it("uses the configured registry, else the grid's ECR registry", () => {
    expect(values.imageRegistry).toBe("021436251583.dkr.ecr.eu-west-1.amazonaws.com");
    expect(
      agentChartValues(withAgent((a) => ({ ...a, ecrRegistry: "registry.example" }))).imageRegistry,
    ).toBe("registry.example");
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
