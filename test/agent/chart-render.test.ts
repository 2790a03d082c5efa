// Renders charts/htc-agent with helm (lint + template) and validates every object. Needs helm, which `npm test`
// builds into .tmp/bin first; without it these tests fail, naming the command that installs it.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { agentChartValues } from "../../modules/agent/chart-values";
import { seedGridConfig } from "./fixtures/seed-grid-config";
import { agentChartResources } from "./fixtures/resources";
import { CHART_DIR, renderChart, requireHelm, runHelm } from "./helm";
import { validateKubernetesObject } from "./k8s-validate";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const seedValues = agentChartValues({
  region: seedGridConfig.region,
  agent: seedGridConfig.agent,
  metrics: seedGridConfig.controlPlane.metrics,
  resources: agentChartResources,
});

const byKind = (objects: Obj[], kind: string): Obj[] => objects.filter((o) => o.kind === kind);
const one = (objects: Obj[], kind: string): Obj => {
  const found = byKind(objects, kind);
  expect(found, kind).toHaveLength(1);
  return found[0]!;
};
const env = (container: Obj): Record<string, unknown> =>
  Object.fromEntries((container.env as Obj[]).map((e) => [e.name, e.value ?? e.valueFrom]));

describe("htc-agent chart", () => {
  let helm: string;
  let defaults: Obj[];
  let seed: Obj[];

  beforeAll(() => {
    helm = requireHelm();
    defaults = renderChart(helm);
    seed = renderChart(helm, seedValues);
  });

  it("passes helm lint --strict with default values and with the seed's values", () => {
    expect(() => runHelm(helm, ["lint", CHART_DIR, "--strict", "--kube-version", "1.31"])).not.toThrow();
    const dir = mkdtempSync(join(tmpdir(), "htc-agent-lint-"));
    try {
      writeFileSync(join(dir, "values.json"), JSON.stringify(seedValues));
      const args = [
        "lint",
        CHART_DIR,
        "--strict",
        "--kube-version",
        "1.31",
        "--values",
        join(dir, "values.json"),
      ];
      expect(() => runHelm(helm, args)).not.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("renders the expected objects", () => {
    for (const objects of [defaults, seed]) {
      expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
        "Deployment/htc-agent",
        "Pod/htc-agent-test-submit",
        "PodDisruptionBudget/htc-agent",
        "ScaledObject/htc-agent-scaling-metrics",
        "ServiceAccount/htc-agent-sa",
        "TriggerAuthentication/htc-agent-keda-aws",
      ]);
    }
  });

  it("renders only objects valid for their schema (default and seed values)", () => {
    for (const obj of [...defaults, ...seed]) {
      expect(() => validateKubernetesObject(obj), `${obj.kind}/${obj.metadata.name}`).not.toThrow();
    }
  });

  it("the KEDA structural check rejects numeric trigger metadata", () => {
    const scaledObject = structuredClone(one(seed, "ScaledObject"));
    scaledObject.spec.triggers[0].metadata.targetMetricValue = 2;
    expect(() => validateKubernetesObject(scaledObject)).toThrow(/targetMetricValue must be a string/);
  });

  it("runs the agent and the worker from the grid's registry", () => {
    const pod = one(seed, "Deployment").spec.template.spec;
    const registry = "021436251583.dkr.ecr.eu-west-1.amazonaws.com";
    expect(pod.containers.map((c: Obj) => [c.name, c.image])).toEqual([
      ["agent", `${registry}/awshpc-lambda:main`],
      ["lambda", `${registry}/lambda:provided`],
    ]);
    expect(pod.initContainers.map((c: Obj) => [c.name, c.image])).toEqual([
      ["get-layer", `${registry}/lambda-init:main`],
      ["assemble-config", `${registry}/awshpc-lambda:main`],
    ]);
    expect(one(seed, "Pod").spec.containers[0].image).toBe(`${registry}/submitter:main`);
  });

  it("sizes the worker container from the config in m and Mi", () => {
    const lambda = one(seed, "Deployment").spec.template.spec.containers[1];
    expect(lambda.resources).toEqual({
      requests: { cpu: "800m", memory: "1200Mi" },
      limits: { cpu: "900m", memory: "1900Mi" },
    });
    expect(lambda.args).toEqual(["bootstrap.main"]);
    expect(lambda.ports).toEqual([{ name: "runtime-api", containerPort: 8080, protocol: "TCP" }]);
  });

  it("downloads the worker code from its S3 location in the grid's region (upstream defect 9)", () => {
    const sydney = agentChartValues({
      region: "ap-southeast-2",
      agent: seedGridConfig.agent,
      metrics: seedGridConfig.controlPlane.metrics,
      resources: agentChartResources,
    });
    const getLayer = one(renderChart(helm, sydney), "Deployment").spec.template.spec.initContainers[0];
    expect(getLayer.command).toEqual([
      "./download-layer.sh",
      "-s",
      "s3://main-lambda-unit-htc-grid-2b8838c8eecc/lambda.zip",
      "-r",
      "ap-southeast-2",
      "-d",
      "/var/task",
      "--storage",
      "S3",
    ]);
  });

  it("sets upstream's environment on the agent and worker containers", () => {
    const [agent, lambda] = one(seed, "Deployment").spec.template.spec.containers;
    expect(env(agent)).toEqual({
      LAMBDA_ENDPOINT_URL: "http://localhost:8080",
      LAMBDA_FONCTION_NAME: "function",
      MY_POD_NAME: { fieldRef: { fieldPath: "metadata.name" } },
      INTRA_VPC: "1",
      AWS_STS_REGIONAL_ENDPOINTS: "regional",
      AGENT_CONFIG_FILE: "/etc/agent/Agent_config.tfvars.json",
    });
    expect(env(lambda)).toMatchObject({
      AWS_LAMBDA_FUNCTION_TIMEOUT: "86400",
      AWS_LAMBDA_GRACEFUL_TERMINATION_DELAY: String(seedGridConfig.agent.gracefulTerminationDelaySec),
      AWS_LAMBDA_FUNCTION_HANDLER: "bootstrap.main",
      INTRA_VPC: "1",
    });
  });

  it("assembles the config file from the ConfigMap and the Secret into a read-only in-memory volume", () => {
    const pod = one(seed, "Deployment").spec.template.spec;
    const volumes = Object.fromEntries(pod.volumes.map((v: Obj) => [v.name, v]));
    expect(volumes["agent-config"].emptyDir).toEqual({ medium: "Memory", sizeLimit: "1Mi" });
    expect(volumes["agent-config-public"].configMap).toEqual({
      name: "agent-configmap",
      items: [{ key: "Agent_config.tfvars.json", path: "Agent_config.tfvars.json" }],
    });
    expect(volumes["agent-config-secret"].secret).toMatchObject({ secretName: "htc-agent-secrets" });
    const assemble = pod.initContainers[1];
    expect(assemble.command.slice(3)).toEqual([
      "/config/public/Agent_config.tfvars.json",
      "/config/secret",
      "/etc/agent/Agent_config.tfvars.json",
      "redis_password",
      "api_gateway_key",
    ]);
    for (const container of pod.containers) {
      expect(container.volumeMounts).toContainEqual({
        name: "agent-config",
        mountPath: "/etc/agent",
        readOnly: true,
      });
    }
    expect(one(seed, "Deployment").spec.template.metadata.annotations["htc-grid/agent-config-revision"]).toBe(
      "sha256-of-config",
    );
  });

  it("hardens every pod and container", () => {
    const pods = [one(seed, "Deployment").spec.template.spec, one(seed, "Pod").spec];
    for (const pod of pods) {
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(pod.securityContext).toMatchObject({
        runAsNonRoot: true,
        seccompProfile: { type: "RuntimeDefault" },
      });
      for (const container of [...pod.initContainers, ...pod.containers]) {
        expect(container.securityContext, container.name).toEqual({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          runAsNonRoot: true,
          runAsUser: expect.any(Number),
          runAsGroup: container.securityContext.runAsUser,
          capabilities: { drop: ["ALL"] },
          seccompProfile: { type: "RuntimeDefault" },
        });
        expect(container.securityContext.runAsUser, container.name).toBeGreaterThan(0);
        // A read-only root filesystem needs somewhere to write: each container but assemble-config gets /tmp.
        if (container.name !== "assemble-config") {
          expect(
            container.volumeMounts.map((m: Obj) => m.mountPath),
            container.name,
          ).toContain("/tmp");
        }
      }
    }
    expect(one(seed, "ServiceAccount").automountServiceAccountToken).toBe(false);
  });

  it("runs each container as the user its upstream image is built for, sharing volumes through fsGroup", () => {
    const users = (pod: Obj) =>
      Object.fromEntries(
        [...pod.initContainers, ...pod.containers].map((c: Obj) => [c.name, c.securityContext.runAsUser]),
      );
    const agentPod = one(seed, "Deployment").spec.template.spec;
    expect(users(agentPod)).toEqual({ "get-layer": 99, "assemble-config": 65534, agent: 65534, lambda: 99 });
    expect(users(one(seed, "Pod").spec)).toEqual({ "assemble-config": 65534, submit: 65534 });
    // No pod-wide user that would override an image's own; the assembled config file (mode 0440) is readable by
    // the worker through the volume's group.
    expect(agentPod.securityContext.runAsUser).toBeUndefined();
    expect(agentPod.securityContext.fsGroup).toBe(1000);
  });

  it("shares the process namespace, uses the graceful delay and stays on worker nodes", () => {
    const pod = one(seed, "Deployment").spec.template.spec;
    expect(pod.shareProcessNamespace).toBe(true);
    expect(pod.terminationGracePeriodSeconds).toBe(seedGridConfig.agent.gracefulTerminationDelaySec);
    expect(pod.nodeSelector).toEqual({ "htc/node-type": "worker" });
    expect(pod.serviceAccountName).toBe("htc-agent-sa");
  });

  it("annotates the service account for IRSA only when a role ARN is set", () => {
    expect(one(seed, "ServiceAccount").metadata.annotations).toEqual({
      "eks.amazonaws.com/role-arn": "arn:aws:iam::021436251583:role/role_htc_agent_sa-main",
    });
    expect(one(defaults, "ServiceAccount").metadata.annotations).toBeUndefined();
  });

  it("scales the Deployment with KEDA on the CloudWatch backlog metric using the operator's identity", () => {
    const spec = one(seed, "ScaledObject").spec;
    expect(spec.scaleTargetRef).toEqual({ apiVersion: "apps/v1", kind: "Deployment", name: "htc-agent" });
    expect([spec.minReplicaCount, spec.maxReplicaCount]).toEqual([1, 100]);
    expect(spec.triggers).toHaveLength(1);
    expect(spec.triggers[0]).toMatchObject({
      type: "aws-cloudwatch",
      metadata: {
        namespace: "CloudGrid/HTC/Scaling/",
        dimensionName: "cluster_name",
        dimensionValue: "htc-main",
        metricName: "pending_tasks_ddb-main",
        targetMetricValue: "2",
        awsRegion: "eu-west-1",
      },
      authenticationRef: { name: "htc-agent-keda-aws" },
    });
    expect(one(seed, "TriggerAuthentication").spec).toEqual({
      podIdentity: { provider: "aws", identityOwner: "keda" },
    });
    // The Deployment leaves the replica count to KEDA.
    expect(one(seed, "Deployment").spec.replicas).toBeUndefined();
  });

  it("can use the pre-2.13 KEDA operator identity instead of a TriggerAuthentication", () => {
    const objects = renderChart(helm, {
      ...seedValues,
      scaling: { ...seedValues.scaling, kedaAuth: "operatorMetadata" },
    });
    expect(byKind(objects, "TriggerAuthentication")).toHaveLength(0);
    const trigger = one(objects, "ScaledObject").spec.triggers[0];
    expect(trigger.metadata.identityOwner).toBe("operator");
    expect(trigger.authenticationRef).toBeUndefined();
  });

  it("refuses an unknown KEDA authentication mode", () => {
    expect(() => renderChart(helm, { scaling: { kedaAuth: "static-keys" } })).toThrow(
      /scaling.kedaAuth must be/,
    );
  });

  it("limits voluntary disruptions of the agents", () => {
    const pdb = one(seed, "PodDisruptionBudget");
    expect(pdb.spec.maxUnavailable).toBe("25%");
    expect(pdb.spec.selector.matchLabels).toEqual(one(seed, "Deployment").spec.selector.matchLabels);
  });

  it("runs the helm test pod on core nodes, submitting one task", () => {
    const pod = one(seed, "Pod");
    expect(pod.metadata.annotations["helm.sh/hook"]).toBe("test");
    expect(pod.spec.restartPolicy).toBe("Never");
    expect(pod.spec.nodeSelector).toEqual({ "htc/node-type": "core" });
    expect(pod.spec.tolerations).toEqual([
      { key: "htc/node-type", operator: "Equal", value: "core", effect: "NoSchedule" },
    ]);
    expect(pod.spec.containers[0].command).toEqual([
      "python3",
      "client.py",
      "-n",
      "1",
      "--worker_arguments",
      "1000 1 1",
      "--job_size",
      "1",
      "--job_batch_size",
      "1",
    ]);
  });

  it("never renders a secret value", () => {
    // The chart only references the Secret by name: no value of it can reach Helm's release history.
    const text = JSON.stringify(seed);
    expect(text).not.toMatch(/redis-auth-SENTINEL|api-key-SENTINEL/);
    expect(JSON.stringify(seedValues)).not.toMatch(/SENTINEL/);
  });
});
