import { beforeAll, describe, expect, it } from "vitest";
import { Testing } from "cdktf";
import { parse } from "yaml";
import { buildGridApp } from "../../stacks/app";
import { ADDON_VERSIONS, CLUSTER_AUTOSCALER_IMAGE_TAGS } from "../../modules/cluster-addons/versions";
import { gridConfig, ofType, workerGroups } from "../compute-plane/fixture";
import { testApp } from "../support/test-app";

type Body = Record<string, unknown>;

function synthK8s(overrides: Record<string, unknown> = {}) {
  const config = gridConfig(overrides);
  const app = testApp();
  const { gridK8s } = buildGridApp(app, config);
  const json = Testing.synth(gridK8s);
  const parsed = JSON.parse(json) as {
    resource: Record<string, Record<string, Body>>;
    provider: Record<string, Body[]>;
  };
  // The add-on releases (the agents' release is tested in test/agent).
  const releases = ofType(parsed.resource, "helm_release").filter((x) => x.name !== config.agent.name);
  const release = (name: string) => releases.find((r) => r.name === name)!;
  const values = (name: string) => parse((release(name).values as string[])[0]) as Body;
  return { config, json, parsed, releases, release, values };
}

const CORE_NODE_SELECTOR = { "htc/node-type": "core" };
const CORE_TOLERATION = { key: "htc/node-type", operator: "Equal", value: "core", effect: "NoSchedule" };

describe("grid-k8s providers", () => {
  let r: ReturnType<typeof synthK8s>;
  beforeAll(() => {
    r = synthK8s();
  });

  it("authenticates helm with `aws eks get-token` for the literal cluster name", () => {
    const [helm] = r.parsed.provider.helm;
    const kubernetes = helm.kubernetes as Body;
    expect(kubernetes.exec).toEqual({
      api_version: "client.authentication.k8s.io/v1beta1",
      command: "aws",
      args: ["eks", "get-token", "--cluster-name", r.config.clusterName, "--region", r.config.region],
    });
    expect(kubernetes).not.toHaveProperty("token");
  });

  it("authenticates the kubernetes provider the same way", () => {
    const [kubernetes] = r.parsed.provider.kubernetes;
    expect(kubernetes.exec).toEqual([
      {
        api_version: "client.authentication.k8s.io/v1beta1",
        command: "aws",
        args: ["eks", "get-token", "--cluster-name", r.config.clusterName, "--region", r.config.region],
      },
    ]);
    expect(kubernetes).not.toHaveProperty("token");
  });
});

describe("reaching the cluster from the deploying machine", () => {
  const clusterLookup = (r: ReturnType<typeof synthK8s>) =>
    (JSON.parse(r.json) as { data: { aws_eks_cluster: { cluster: Body } } }).data.aws_eks_cluster.cluster;

  it("stops the plan with instructions before the providers connect when the endpoint is private", () => {
    const lookup = clusterLookup(synthK8s());
    const [check] = (lookup.lifecycle as { postcondition: Body[] }).postcondition;
    expect(check.condition).toBe("${self.vpc_config[0].endpoint_public_access}");
    expect(check.error_message).toMatch(/Set eks_public_access to true and eks_public_access_cidrs/);
    expect(check.error_message).toMatch(/set deployer_inside_vpc to true instead/);
  });

  it("drops the check when the deployer reaches the VPC", () => {
    expect(clusterLookup(synthK8s({ deployer_inside_vpc: true }))).not.toHaveProperty("lifecycle");
  });
});

describe("add-on releases", () => {
  let r: ReturnType<typeof synthK8s>;
  beforeAll(() => {
    r = synthK8s({ enable_monitoring: true });
  });

  it("pins every release to the version table", () => {
    const table: Record<string, { chart: string; repository: string; chartVersion: string }> = {
      "cluster-autoscaler": ADDON_VERSIONS.clusterAutoscaler,
      keda: ADDON_VERSIONS.keda,
      prometheus: ADDON_VERSIONS.prometheus,
      grafana: ADDON_VERSIONS.grafana,
    };
    expect(r.releases.map((x) => x.name).sort()).toEqual(Object.keys(table).sort());
    for (const [name, pin] of Object.entries(table)) {
      expect(r.release(name)).toMatchObject({
        chart: pin.chart,
        repository: pin.repository,
        version: pin.chartVersion,
      });
      expect(pin.chartVersion).toMatch(/^\d+\.\d+\.\d+$/);
    }
  });

  it("rolls back failed installs and waits for readiness", () => {
    for (const release of r.releases) {
      expect(release).toMatchObject({ atomic: true, wait: true, cleanup_on_fail: true });
    }
  });

  it("places every release's pods on the core nodes", () => {
    for (const name of ["cluster-autoscaler", "keda", "grafana"]) {
      const v = r.values(name);
      expect(v.nodeSelector).toEqual(CORE_NODE_SELECTOR);
      expect(v.tolerations).toEqual([CORE_TOLERATION]);
    }
    const prometheus = r.values("prometheus");
    for (const component of ["server", "kube-state-metrics"]) {
      expect((prometheus[component] as Body).nodeSelector).toEqual(CORE_NODE_SELECTOR);
      expect((prometheus[component] as Body).tolerations).toEqual([CORE_TOLERATION]);
    }
  });

  it("renders values deterministically", () => {
    const again = synthK8s({ enable_monitoring: true });
    expect(again.releases.map((x) => x.values)).toEqual(r.releases.map((x) => x.values));
  });
});

describe("cluster-autoscaler", () => {
  let r: ReturnType<typeof synthK8s>;
  beforeAll(() => {
    r = synthK8s({ eks_worker_groups: workerGroups(20) });
  });

  it("discovers node groups by cluster name and runs the image of the cluster's minor", () => {
    const v = r.values("cluster-autoscaler");
    expect(v.autoDiscovery).toEqual({ clusterName: r.config.clusterName });
    expect(v.awsRegion).toBe(r.config.region);
    expect((v.image as Body).tag).toBe(
      CLUSTER_AUTOSCALER_IMAGE_TAGS[r.config.computePlane.kubernetesVersion],
    );
    expect((v.image as Body).tag).toBe(`v${r.config.computePlane.kubernetesVersion}.2`);
  });

  it("uses the batch settings", () => {
    expect(r.values("cluster-autoscaler").extraArgs).toMatchObject({
      expander: "least-waste",
      "balance-similar-node-groups": true,
      "skip-nodes-with-local-storage": false,
      "scale-down-delay-after-add": "5m",
      "scale-down-unneeded-time": "5m",
      "max-graceful-termination-sec": r.config.agent.gracefulTerminationDelaySec,
    });
  });

  it("honours the k8s_ca_version override", () => {
    const o = synthK8s({ k8s_ca_version: "v1.35.0" });
    expect((o.values("cluster-autoscaler").image as Body).tag).toBe("v1.35.0");
  });

  it("runs the k8s_ca_version image for a minor without a pinned image", () => {
    const o = synthK8s({ kubernetes_version: "1.33", k8s_ca_version: "v1.33.3" });
    expect((o.values("cluster-autoscaler").image as Body).tag).toBe("v1.33.3");
  });

  it("may only scale groups tagged as owned by this cluster; describe calls get a separate statement", () => {
    const policy = ofType(r.parsed.resource, "aws_iam_role_policy").find(
      (p) => p.name === "cluster-autoscaler",
    )!;
    const doc = JSON.parse(policy.policy as string) as { Statement: Body[] };
    const scale = doc.Statement.find((s) =>
      (s.Action as string[]).includes("autoscaling:SetDesiredCapacity"),
    )!;
    expect(scale.Action).toEqual([
      "autoscaling:SetDesiredCapacity",
      "autoscaling:TerminateInstanceInAutoScalingGroup",
    ]);
    expect(scale.Resource).toMatch(
      /^arn:\$\{data\.aws_partition\.[\w-]+\.partition\}:autoscaling:eu-west-1:\$\{data\.aws_caller_identity\.[\w-]+\.account_id\}:autoScalingGroup:\*:autoScalingGroupName\/\*$/,
    );
    expect(scale.Condition).toEqual({
      StringEquals: { [`aws:ResourceTag/k8s.io/cluster-autoscaler/${r.config.clusterName}`]: "owned" },
    });
    const describe = doc.Statement.find((s) => s.Resource === "*" && s.Condition === undefined)!;
    expect(describe.Sid).toBe("DiscoverGroupsReadOnly");
    expect((describe.Action as string[]).every((a) => /:(Describe|Get)/.test(a))).toBe(true);
  });

  it("gets its role through a pod identity association for kube-system/cluster-autoscaler", () => {
    const associations = ofType(r.parsed.resource, "aws_eks_pod_identity_association");
    const ca = associations.find((a) => a.service_account === "cluster-autoscaler")!;
    expect(ca).toMatchObject({ namespace: "kube-system", cluster_name: r.config.clusterName });
    expect((r.values("cluster-autoscaler").rbac as Body).serviceAccount).toEqual({
      create: true,
      name: "cluster-autoscaler",
    });
    const role = ofType(r.parsed.resource, "aws_iam_role").find((x) =>
      String(x.name).startsWith("cluster-autoscaler"),
    )!;
    const trust = JSON.parse(role.assume_role_policy as string);
    expect(trust.Statement[0].Condition.StringEquals).toEqual({
      "aws:RequestTag/eks-cluster-name": r.config.clusterName,
      "aws:RequestTag/kubernetes-namespace": "kube-system",
      "aws:RequestTag/kubernetes-service-account": "cluster-autoscaler",
    });
  });

  it("is installed only after its role, policy and association exist", () => {
    const deps = r.release("cluster-autoscaler").depends_on as string[];
    expect(deps.some((d) => d.startsWith("aws_iam_role."))).toBe(true);
    expect(deps.some((d) => d.startsWith("aws_iam_role_policy."))).toBe(true);
    expect(deps.some((d) => d.startsWith("aws_eks_pod_identity_association."))).toBe(true);
  });
});

describe("KEDA", () => {
  let r: ReturnType<typeof synthK8s>;
  beforeAll(() => {
    r = synthK8s({ k8s_keda_version: "2.20.0" });
  });

  it("installs into its own namespace with the chart override", () => {
    expect(r.release("keda")).toMatchObject({ namespace: "keda", create_namespace: true, version: "2.20.0" });
  });

  it("gets its role through a pod identity association for keda/keda-operator, before the release", () => {
    const ka = ofType(r.parsed.resource, "aws_eks_pod_identity_association").find(
      (a) => a.service_account === "keda-operator",
    )!;
    expect(ka.namespace).toBe("keda");
    expect((r.values("keda").serviceAccount as Body).operator).toEqual({
      create: true,
      name: "keda-operator",
    });
    const deps = r.release("keda").depends_on as string[];
    expect(deps.some((d) => d.startsWith("aws_eks_pod_identity_association."))).toBe(true);
  });

  it("may read CloudWatch metrics and the depth of the grid's own task queues only", () => {
    const policy = ofType(r.parsed.resource, "aws_iam_role_policy").find((p) => p.name === "keda")!;
    const doc = JSON.parse(policy.policy as string) as { Statement: Body[] };
    expect(doc.Statement).toHaveLength(2);
    expect(doc.Statement[0].Action).toEqual([
      "cloudwatch:GetMetricData",
      "cloudwatch:GetMetricStatistics",
      "cloudwatch:ListMetrics",
    ]);
    expect(doc.Statement[1].Action).toEqual(["sqs:GetQueueAttributes"]);
    const resources = [doc.Statement[1].Resource].flat() as string[];
    expect(resources).toHaveLength(1);
    expect(resources[0]).toMatch(/task-queues_priority-0_queue_[0-9A-F]+.*arn/);
  });
});

describe("monitoring", () => {
  it("is absent unless enable_monitoring", () => {
    const r = synthK8s();
    expect(r.releases.map((x) => x.name).sort()).toEqual(["cluster-autoscaler", "keda"]);
    expect(ofType(r.parsed.resource, "aws_secretsmanager_secret")).toHaveLength(0);
  });

  it("disables anonymous Grafana access and keeps it cluster-internal by default", () => {
    const r = synthK8s({ enable_monitoring: true });
    const v = r.values("grafana");
    expect((v["grafana.ini"] as Body)["auth.anonymous"]).toEqual({ enabled: false });
    expect(v.service).toEqual({ type: "ClusterIP", port: 80 });
    expect(v.admin).toEqual({
      existingSecret: "grafana-admin",
      userKey: "admin-user",
      passwordKey: "admin-password",
    });
    expect(JSON.stringify(v)).not.toMatch(/adminPassword/);
  });

  it("writes the generated admin password only through write-only arguments", () => {
    const r = synthK8s({ enable_monitoring: true });
    const [version] = ofType(r.parsed.resource, "aws_secretsmanager_secret_version");
    expect(version).not.toHaveProperty("secret_string");
    // Generated for one run only: the password is in no state, not even as a data source's result.
    expect(version.secret_string_wo).toMatch(
      /ephemeral\.aws_secretsmanager_random_password\.[\w-]+\.random_password/,
    );
    expect(JSON.parse(r.json).data?.aws_secretsmanager_random_password).toBeUndefined();
    const [secret] = ofType(r.parsed.resource, "kubernetes_secret_v1");
    expect(secret).not.toHaveProperty("data");
    expect((secret.data_wo as Body)["admin-password"]).toMatch(/random_password/);
    const deps = r.release("grafana").depends_on as string[];
    expect(deps.some((d) => d.startsWith("kubernetes_secret_v1."))).toBe(true);
  });

  it("exposes Grafana through a load balancer only to grafana_allowed_cidrs", () => {
    const r = synthK8s({ enable_monitoring: true, grafana_allowed_cidrs: ["198.51.100.0/24"] });
    expect(r.values("grafana").service).toMatchObject({
      type: "LoadBalancer",
      loadBalancerSourceRanges: ["198.51.100.0/24"],
    });
  });
});
