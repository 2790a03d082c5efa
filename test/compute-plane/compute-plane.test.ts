import { beforeAll, describe, expect, it } from "vitest";
import { Testing } from "cdktf";
import { EksCluster } from "@cdktf/provider-aws/lib/eks-cluster";
import { computePlaneOn, gridConfig, gridScaffold, ofType, synthResources, workerGroups } from "./fixture";

function build(overrides: Record<string, unknown> = {}) {
  const config = gridConfig(overrides);
  const s = gridScaffold(config);
  const compute = computePlaneOn(s, config);
  return { config, compute, ...synthResources(s.stack) };
}

describe("EKS cluster", () => {
  let r: ReturnType<typeof build>;
  beforeAll(() => {
    r = build();
  });

  it("uses API authentication mode with the deploying identity as bootstrap admin", () => {
    expect(
      Testing.toHaveResourceWithProperties(r.json, EksCluster.tfResourceType, {
        name: r.config.clusterName,
        access_config: { authentication_mode: "API", bootstrap_cluster_creator_admin_permissions: true },
      }),
    ).toBe(true);
  });

  it("runs the configured Kubernetes version", () => {
    const [cluster] = ofType(r.resources, "aws_eks_cluster");
    expect(cluster.version).toBe(r.config.computePlane.kubernetesVersion);
  });

  it("encrypts secrets with the EKS secrets key", () => {
    const [cluster] = ofType(r.resources, "aws_eks_cluster");
    const encryption = cluster.encryption_config as { resources: string[]; provider: { key_arn: string } };
    expect(encryption.resources).toEqual(["secrets"]);
    expect(encryption.provider.key_arn).toMatch(/^\$\{aws_kms_key\.keys_eks-secrets_key_\w+\.arn\}$/);
  });

  it("ships every control-plane log type to a pre-created, key-encrypted log group", () => {
    const [cluster] = ofType(r.resources, "aws_eks_cluster");
    expect(cluster.enabled_cluster_log_types).toEqual([
      "api",
      "audit",
      "authenticator",
      "controllerManager",
      "scheduler",
    ]);
    const [group] = ofType(r.resources, "aws_cloudwatch_log_group");
    expect(group.name).toBe(`/aws/eks/${r.config.clusterName}/cluster`);
    expect(group.kms_key_id).toMatch(/aws_kms_key\.keys_logs_key/);
    expect(group.retention_in_days).toBe(r.config.logRetentionDays);
    expect((cluster.depends_on as string[]).some((d) => d.startsWith("aws_cloudwatch_log_group."))).toBe(
      true,
    );
  });

  it("keeps the API endpoint private unless public access is configured", () => {
    const [cluster] = ofType(r.resources, "aws_eks_cluster");
    expect(cluster.vpc_config).toMatchObject({
      endpoint_private_access: true,
      endpoint_public_access: false,
    });
    expect((cluster.vpc_config as Record<string, unknown>).public_access_cidrs).toBeUndefined();
  });

  it("opens the public endpoint only to the configured CIDRs", () => {
    const pub = build({ eks_public_access: true, eks_public_access_cidrs: ["203.0.113.0/24"] });
    const [cluster] = ofType(pub.resources, "aws_eks_cluster");
    expect(cluster.vpc_config).toMatchObject({
      endpoint_private_access: true,
      endpoint_public_access: true,
      public_access_cidrs: ["203.0.113.0/24"],
    });
  });

  it("gives the cluster role the AmazonEKSClusterPolicy", () => {
    const attachments = ofType(r.resources, "aws_iam_role_policy_attachment").map((a) => a.policy_arn);
    expect(attachments.some((a) => /:iam::aws:policy\/AmazonEKSClusterPolicy$/.test(a as string))).toBe(true);
  });
});

describe("managed add-ons", () => {
  let r: ReturnType<typeof build>;
  beforeAll(() => {
    r = build();
  });

  it("installs vpc-cni, kube-proxy, coredns, the pod identity agent and Container Insights", () => {
    const names = ofType(r.resources, "aws_eks_addon").map((a) => a.addon_name);
    expect(names.sort()).toEqual(
      [
        "amazon-cloudwatch-observability",
        "coredns",
        "eks-pod-identity-agent",
        "kube-proxy",
        "vpc-cni",
      ].sort(),
    );
  });

  it("resolves each add-on version for the cluster's Kubernetes version", () => {
    const lookups = ofType(r.data, "aws_eks_addon_version");
    expect(lookups).toHaveLength(5);
    for (const l of lookups) {
      expect(l).toMatchObject({
        kubernetes_version: r.config.computePlane.kubernetesVersion,
        most_recent: true,
      });
    }
    for (const a of ofType(r.resources, "aws_eks_addon")) {
      expect(a.addon_version).toMatch(/^\$\{data\.aws_eks_addon_version\./);
    }
  });

  it("places CoreDNS on the core nodes", () => {
    const coredns = ofType(r.resources, "aws_eks_addon").find((a) => a.addon_name === "coredns")!;
    expect(JSON.parse(coredns.configuration_values as string)).toEqual({
      replicaCount: 2,
      nodeSelector: { "htc/node-type": "core" },
      tolerations: [{ key: "htc/node-type", operator: "Equal", value: "core", effect: "NoSchedule" }],
    });
  });

  it("switches on the VPC CNI's network policy enforcement (the agents' NetworkPolicy)", () => {
    const cni = ofType(r.resources, "aws_eks_addon").find((a) => a.addon_name === "vpc-cni")!;
    expect(JSON.parse(cni.configuration_values as string)).toEqual({ enableNetworkPolicy: "true" });
  });

  it("creates node groups only after the networking and pod identity add-ons", () => {
    for (const ng of ofType(r.resources, "aws_eks_node_group")) {
      const deps = ng.depends_on as string[];
      for (const addon of ["vpc-cni", "kube-proxy", "eks-pod-identity-agent"]) {
        expect(deps.some((d) => d.startsWith("aws_eks_addon.") && d.includes(addon))).toBe(true);
      }
    }
  });

  it("gives the CloudWatch agent its role through the add-on's pod identity association", () => {
    const cw = ofType(r.resources, "aws_eks_addon").find(
      (a) => a.addon_name === "amazon-cloudwatch-observability",
    )!;
    const [association] = cw.pod_identity_association as { role_arn: string; service_account: string }[];
    expect(association.service_account).toBe("cloudwatch-agent");
    expect(association.role_arn).toMatch(
      /^\$\{aws_iam_role\.compute_cloudwatch-agent-role(_role)?_\w+\.arn\}$/,
    );
  });
});

describe("worker group counts", () => {
  it.each([1, 20])(
    "synthesizes with %i worker group(s): one node group each plus the core group",
    (count) => {
      const r = build({ eks_worker_groups: workerGroups(count) });
      const groups = ofType(r.resources, "aws_eks_node_group");
      expect(groups).toHaveLength(count + 1);
      expect(ofType(r.resources, "aws_launch_template")).toHaveLength(count + 1);
    },
  );
});
