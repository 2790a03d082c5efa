// Renders charts/htc-agent with helm (lint + template) and validates every object. Needs helm, which `npm test`
// builds into .tmp/bin first; without it these tests fail, naming the command that installs it.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { agentChartValues } from "../../modules/agent/chart-values";
import { seedGridConfig } from "./fixtures/seed-grid-config";
import { agentNetwork, agentChartResources, UPSTREAM_IMAGES } from "./fixtures/resources";
import { gridConfig } from "../support/grid-synth";
import { CHART_DIR, renderChart, requireHelm, runHelm } from "./helm";
import { validateKubernetesObject } from "./k8s-validate";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const seedValues = agentChartValues({
  region: seedGridConfig.region,
  agent: seedGridConfig.agent,
  metrics: seedGridConfig.controlPlane.metrics,
  resources: agentChartResources,
  network: agentNetwork,
});

/** Upstream's four custom images (agent, runtime, lambda-init, submitter), as its templates configure them. */
const upstreamConfig = gridConfig({ agent_configuration: UPSTREAM_IMAGES });
const upstreamValues = agentChartValues({
  region: upstreamConfig.region,
  agent: upstreamConfig.agent,
  metrics: upstreamConfig.controlPlane.metrics,
  resources: agentChartResources,
  network: agentNetwork,
});

function upstreamValuesInputs() {
  return {
    region: upstreamConfig.region,
    agent: upstreamConfig.agent,
    metrics: upstreamConfig.controlPlane.metrics,
    resources: agentChartResources,
    network: agentNetwork,
  };
}

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
  let upstream: Obj[];

  beforeAll(() => {
    helm = requireHelm();
    defaults = renderChart(helm);
    seed = renderChart(helm, seedValues);
    upstream = renderChart(helm, upstreamValues);
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

  it("renders the agents, the client pods' service account and fence, and the helm test pod", () => {
    const names = (objects: Obj[]) => objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    const objects = [
      "Deployment/htc-agent",
      "NetworkPolicy/htc-agent",
      "NetworkPolicy/htc-agent-client",
      "Pod/htc-agent-test-submit",
      "PodDisruptionBudget/htc-agent",
      "ScaledObject/htc-agent-scaling-metrics",
      "ServiceAccount/htc-agent-sa",
      "ServiceAccount/htc-client-sa",
      "TriggerAuthentication/htc-agent-keda-aws",
    ];
    expect(names(defaults)).toEqual(objects);
    expect(names(seed)).toEqual(objects);
    expect(names(upstream)).toEqual(objects);
  });

  it("renders only objects valid for their schema (default, seed and upstream-image values)", () => {
    for (const obj of [...defaults, ...seed, ...upstream]) {
      expect(() => validateKubernetesObject(obj), `${obj.kind}/${obj.metadata.name}`).not.toThrow();
    }
  });

  it("the KEDA structural check rejects numeric trigger metadata", () => {
    const scaledObject = structuredClone(one(seed, "ScaledObject"));
    scaledObject.spec.triggers[0].metadata.targetMetricValue = 2;
    expect(() => validateKubernetesObject(scaledObject)).toThrow(/targetMetricValue must be a string/);
  });

  it("runs the fetch step and the agent on the stock Node.js image and the worker on AWS's Lambda image", () => {
    const pod = one(seed, "Deployment").spec.template.spec;
    const cache = "021436251583.dkr.ecr.eu-west-1.amazonaws.com/ecr-public";
    expect(pod.initContainers.map((c: Obj) => [c.name, c.image])).toEqual([
      ["fetch", `${cache}/docker/library/node:22.23.2-bookworm-slim`],
    ]);
    expect(pod.containers.map((c: Obj) => [c.name, c.image])).toEqual([
      ["agent", `${cache}/docker/library/node:22.23.2-bookworm-slim`],
      ["lambda", `${cache}/lambda/provided:al2023.2026.02.27.21`],
    ]);
    expect(pod.containers[0].command).toEqual(["node", "/opt/htc/runtime/agent.js"]);
  });

  it("runs upstream's custom images as given, with their own entrypoints", () => {
    const pod = one(upstream, "Deployment").spec.template.spec;
    const registry = "021436251583.dkr.ecr.eu-west-1.amazonaws.com";
    expect(pod.initContainers.map((c: Obj) => [c.name, c.image])).toEqual([
      ["fetch", `${registry}/ecr-public/docker/library/node:22.23.2-bookworm-slim`],
      ["get-layer", `${registry}/lambda-init:main`],
    ]);
    expect(pod.containers.map((c: Obj) => [c.name, c.image, c.command, c.args])).toEqual([
      ["agent", `${registry}/awshpc-lambda:main`, undefined, undefined],
      ["lambda", `${registry}/lambda:provided`, undefined, ["bootstrap.main"]],
    ]);
    expect(one(upstream, "Pod").spec.containers[0].image).toBe(`${registry}/submitter:main`);
    // Upstream's submitter only needs the configuration file: the test pod's fetch step downloads nothing.
    expect(JSON.parse(one(upstream, "Pod").spec.initContainers[0].args[0]).objects).toEqual([]);
  });

  it("sizes the worker container from the config in m and Mi and starts the zip's bootstrap on provided", () => {
    const lambda = one(seed, "Deployment").spec.template.spec.containers[1];
    expect(lambda.resources).toEqual({
      requests: { cpu: "800m", memory: "1200Mi" },
      limits: { cpu: "900m", memory: "1900Mi" },
    });
    expect(lambda.command).toEqual(["/usr/local/bin/aws-lambda-rie", "/var/task/bootstrap"]);
    expect(lambda.args).toBeUndefined();
    expect(lambda.ports).toEqual([{ name: "runtime-api", containerPort: 8080, protocol: "TCP" }]);
    // A Node.js worker keeps the image's entrypoint, with the handler as its one argument.
    const nodeWorker = agentChartValues({
      ...{
        region: "eu-west-1",
        metrics: seedGridConfig.controlPlane.metrics,
        resources: agentChartResources,
        network: agentNetwork,
      },
      agent: gridConfig().agent,
    });
    const builtin = one(renderChart(helm, nodeWorker), "Deployment").spec.template.spec.containers[1];
    expect(builtin.image).toMatch(/\/ecr-public\/lambda\/nodejs:22\./);
    expect([builtin.command, builtin.args]).toEqual([undefined, ["index.handler"]]);
  });

  it("downloads upstream's worker code with its lambda-init image in the grid's region (upstream defect 9)", () => {
    const sydney = agentChartValues({ ...upstreamValuesInputs(), region: "ap-southeast-2" });
    const getLayer = one(renderChart(helm, sydney), "Deployment").spec.template.spec.initContainers[1];
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

  it("sets upstream's environment on the agent and worker containers, and the pod layout for the stock agent", () => {
    const [agent, lambda] = one(seed, "Deployment").spec.template.spec.containers;
    expect(env(agent)).toEqual({
      LAMBDA_ENDPOINT_URL: "http://localhost:8080",
      LAMBDA_FONCTION_NAME: "function",
      MY_POD_NAME: { fieldRef: { fieldPath: "metadata.name" } },
      INTRA_VPC: "1",
      AWS_STS_REGIONAL_ENDPOINTS: "regional",
      AGENT_CONFIG_FILE: "/etc/agent/Agent_config.tfvars.json",
      HTC_AGENT_WORKER_RESTART: "kill-by-name",
      HTC_WORKER_PROCESS_NAMES: "aws-lambda-rie",
    });
    expect(env(lambda)).toMatchObject({
      AWS_LAMBDA_FUNCTION_TIMEOUT: "86400",
      AWS_LAMBDA_GRACEFUL_TERMINATION_DELAY: String(seedGridConfig.agent.gracefulTerminationDelaySec),
      AWS_LAMBDA_FUNCTION_HANDLER: "bootstrap.main",
      INTRA_VPC: "1",
    });
    // Upstream's agent image has its own restart logic.
    expect(env(one(upstream, "Deployment").spec.template.spec.containers[0])).not.toHaveProperty(
      "HTC_AGENT_WORKER_RESTART",
    );
  });

  it("has the fetch step assemble the config file from the ConfigMap and the Secret into an in-memory volume", () => {
    const pod = one(seed, "Deployment").spec.template.spec;
    const volumes = Object.fromEntries(pod.volumes.map((v: Obj) => [v.name, v]));
    expect(volumes["agent-config"].emptyDir).toEqual({ medium: "Memory", sizeLimit: "1Mi" });
    expect(volumes["agent-config-public"].configMap).toEqual({
      name: "agent-configmap",
      items: [{ key: "Agent_config.tfvars.json", path: "Agent_config.tfvars.json" }],
    });
    expect(volumes["agent-config-secret"].secret).toMatchObject({ secretName: "htc-agent-secrets" });
    expect(volumes["fetch-script"].configMap).toEqual({
      name: "htc-runtime-fetch",
      items: [{ key: "fetch.js", path: "fetch.js" }],
    });
    const fetch = pod.initContainers[0];
    expect(fetch.command).toEqual(["node", "/opt/htc/fetch/fetch.js"]);
    expect(JSON.parse(fetch.args[0])).toEqual(seedValues.fetch.plan);
    expect(JSON.parse(fetch.args[0]).config).toEqual({
      public: "/config/public/Agent_config.tfvars.json",
      secrets: "/config/secret",
      keys: ["redis_password", "api_gateway_key"],
      target: "/etc/agent/Agent_config.tfvars.json",
    });
    for (const container of pod.containers) {
      expect(container.volumeMounts).toContainEqual({
        name: "agent-config",
        mountPath: "/etc/agent",
        readOnly: true,
      });
    }
    const annotations = one(seed, "Deployment").spec.template.metadata.annotations;
    expect(annotations["htc-grid/agent-config-revision"]).toBe("sha256-of-config");
    expect(annotations["htc-grid/runtime-revision"]).toBe("sha256-of-runtime");
  });

  it("hardens every pod and container", () => {
    const pods = [
      one(seed, "Deployment").spec.template.spec,
      one(seed, "Pod").spec,
      one(upstream, "Pod").spec,
    ];
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
        // A read-only root filesystem needs somewhere to write: every container gets /tmp.
        expect(
          container.volumeMounts.map((m: Obj) => m.mountPath),
          container.name,
        ).toContain("/tmp");
      }
    }
    for (const account of byKind(seed, "ServiceAccount"))
      expect(account.automountServiceAccountToken).toBe(false);
  });

  it("runs agent, worker and fetch step as one user in a stock pod, custom images as the user they are built for", () => {
    const users = (pod: Obj) =>
      Object.fromEntries(
        [...pod.initContainers, ...pod.containers].map((c: Obj) => [c.name, c.securityContext.runAsUser]),
      );
    const agentPod = one(seed, "Deployment").spec.template.spec;
    // The agent kills the worker's emulator by name after a cancelled task: same user, shared process namespace.
    expect(users(agentPod)).toEqual({ fetch: 1000, agent: 1000, lambda: 1000 });
    expect(users(one(upstream, "Deployment").spec.template.spec)).toEqual({
      fetch: 1000,
      "get-layer": 99,
      agent: 65534,
      lambda: 99,
    });
    expect(users(one(seed, "Pod").spec)).toEqual({ fetch: 1000, submit: 1000 });
    expect(users(one(upstream, "Pod").spec)).toEqual({ fetch: 1000, submit: 65534 });
    // No pod-wide user; the assembled config file (mode 0440) is readable through the volume's group.
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

  it("annotates the agents' service account for IRSA only when a role ARN is set", () => {
    const agentAccount = (objects: Obj[]) =>
      byKind(objects, "ServiceAccount").find((a) => a.metadata.name === "htc-agent-sa")!;
    expect(agentAccount(seed).metadata.annotations).toEqual({
      "eks.amazonaws.com/role-arn": "arn:aws:iam::021436251583:role/role_htc_agent_sa-main",
    });
    expect(agentAccount(defaults).metadata.annotations).toBeUndefined();
    // The client pods' account: EKS Pod Identity only (the grid stack associates the client role with it).
    const client = byKind(seed, "ServiceAccount").find((a) => a.metadata.name === "htc-client-sa")!;
    expect(client.metadata.annotations).toBeUndefined();
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

  const policy = (objects: Obj[], name: string) =>
    byKind(objects, "NetworkPolicy").find((p) => p.metadata.name === name)!;

  it("fences the agent pods: no ingress, egress only to DNS, HTTPS, the Pod Identity agent and Redis", () => {
    const agents = policy(seed, "htc-agent");
    expect(agents.spec.podSelector.matchLabels).toEqual(one(seed, "Deployment").spec.selector.matchLabels);
    expect(agents.spec.policyTypes).toEqual(["Ingress", "Egress"]);
    expect(agents.spec.ingress).toEqual([]);
    expect(agents.spec.egress).toEqual([
      {
        ports: [
          { protocol: "UDP", port: 53 },
          { protocol: "TCP", port: 53 },
        ],
      },
      {
        to: [{ ipBlock: { cidr: "0.0.0.0/0", except: ["169.254.169.254/32"] } }],
        ports: [{ protocol: "TCP", port: 443 }],
      },
      { to: [{ ipBlock: { cidr: "169.254.170.23/32" } }], ports: [{ protocol: "TCP", port: 80 }] },
      { to: [{ ipBlock: { cidr: "10.0.0.0/16" } }], ports: [{ protocol: "TCP", port: 6379 }] },
    ]);
    // Without Redis in the data plane, no Redis port.
    const s3Only = renderChart(helm, {
      ...seedValues,
      networkPolicy: { ...seedValues.networkPolicy, redis: { enabled: false, port: 6379 } },
    });
    expect(policy(s3Only, "htc-agent").spec.egress).toHaveLength(3);
    expect(policy(s3Only, "htc-agent-client").spec.egress).toHaveLength(3);
  });

  it("fences the client pods the same way, selected by the client labels and not the agents' ones", () => {
    const clients = policy(seed, "htc-agent-client");
    expect(clients.spec.podSelector.matchLabels).toEqual({
      "app.kubernetes.io/name": "htc-client",
      "app.kubernetes.io/part-of": "htc-grid",
    });
    const agents = policy(seed, "htc-agent");
    expect([clients.spec.policyTypes, clients.spec.ingress, clients.spec.egress]).toEqual([
      agents.spec.policyTypes,
      agents.spec.ingress,
      agents.spec.egress,
    ]);
    // The test pod is a client pod, and no agent object (NetworkPolicy, PodDisruptionBudget) selects it.
    const labels = one(seed, "Pod").metadata.labels;
    expect(labels).toMatchObject(clients.spec.podSelector.matchLabels);
    expect(labels["app.kubernetes.io/name"]).not.toBe(
      agents.spec.podSelector.matchLabels["app.kubernetes.io/name"],
    );
  });

  it("limits voluntary disruptions of the agents", () => {
    const pdb = one(seed, "PodDisruptionBudget");
    expect(pdb.spec.maxUnavailable).toBe("25%");
    expect(pdb.spec.selector.matchLabels).toEqual(one(seed, "Deployment").spec.selector.matchLabels);
  });

  it("runs the helm test pod on core nodes as the client service account, submitting one task with htc", () => {
    const pod = one(seed, "Pod");
    expect(pod.metadata.annotations["helm.sh/hook"]).toBe("test");
    expect(pod.spec.restartPolicy).toBe("Never");
    expect(pod.spec.serviceAccountName).toBe("htc-client-sa");
    expect(pod.spec.nodeSelector).toEqual({ "htc/node-type": "core" });
    expect(pod.spec.tolerations).toEqual([
      { key: "htc/node-type", operator: "Equal", value: "core", effect: "NoSchedule" },
    ]);
    const [submit] = pod.spec.containers;
    expect(submit.image).toBe(
      "021436251583.dkr.ecr.eu-west-1.amazonaws.com/ecr-public/docker/library/node:22.23.2-bookworm-slim",
    );
    expect(submit.command).toEqual([
      "node",
      "/opt/htc/runtime/client.js",
      "submit",
      "--count",
      "1",
      "--worker-args",
      "1000 1 1",
      "--wait",
      "--timeout",
      "300",
    ]);
    expect(env(submit)).toMatchObject({
      INTRA_VPC: "1",
      AGENT_CONFIG_FILE: "/etc/agent/Agent_config.tfvars.json",
    });
    expect(submit.volumeMounts).toContainEqual({
      name: "runtime",
      mountPath: "/opt/htc/runtime",
      readOnly: true,
    });
    // Its fetch step downloads exactly the client bundle the values name, and assembles the configuration.
    const plan = JSON.parse(pod.spec.initContainers[0].args[0]);
    expect(plan.objects).toEqual([
      {
        bucket: "htc-workload-main-021436251583-eu-west-1",
        key: "runtime/client.js",
        versionId: "client-version-1",
        sha256: "c".repeat(64),
        file: "/opt/htc/runtime/client.js",
      },
    ]);
    expect(plan.config.target).toBe("/etc/agent/Agent_config.tfvars.json");
  });

  it("runs upstream's client.py in the helm test pod with upstream's submitter image", () => {
    const pod = one(upstream, "Pod");
    expect(pod.spec.serviceAccountName).toBe("htc-client-sa");
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
    const text = JSON.stringify([...seed, ...upstream]);
    expect(text).not.toMatch(/redis-auth-SENTINEL|api-key-SENTINEL/);
    expect(JSON.stringify(seedValues)).not.toMatch(/SENTINEL/);
  });
});
