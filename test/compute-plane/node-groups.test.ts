import { beforeAll, describe, expect, it } from "vitest";
import { computePlaneOn, gridConfig, gridScaffold, ofType, synthResources, workerGroups } from "./fixture";

function build(overrides: Record<string, unknown> = {}) {
  const config = gridConfig(overrides);
  const s = gridScaffold(config);
  const compute = computePlaneOn(s, config);
  return { config, compute, ...synthResources(s.stack) };
}

type Body = Record<string, unknown>;

describe("node groups", () => {
  let r: ReturnType<typeof build>;
  let groups: Body[];
  beforeAll(() => {
    r = build({ eks_worker_groups: workerGroups(3) });
    groups = ofType(r.resources, "aws_eks_node_group");
  });

  const byName = (suffix: string) =>
    groups.find((g) => g.node_group_name === `${suffix}-${r.config.projectName}`)!;

  it("has one group per worker group plus the core group", () => {
    expect(groups.map((g) => g.node_group_name).sort()).toEqual(
      ["core", "workers-0", "workers-1", "workers-2"].map((n) => `${n}-${r.config.projectName}`).sort(),
    );
  });

  it("runs the core group on demand, labelled and tainted core", () => {
    const core = byName("core");
    expect(core.capacity_type).toBe("ON_DEMAND");
    expect(core.labels).toEqual({ "htc/node-type": "core" });
    expect(core.taint).toEqual([{ key: "htc/node-type", value: "core", effect: "NO_SCHEDULE" }]);
    expect(core.scaling_config).toEqual({
      min_size: r.config.computePlane.coreGroup.minSize,
      max_size: r.config.computePlane.coreGroup.maxSize,
      desired_size: r.config.computePlane.coreGroup.desiredSize,
    });
  });

  it("labels worker groups worker, untainted, with the configured capacity type, types and sizes", () => {
    r.config.computePlane.workerGroups.forEach((w) => {
      const g = byName(w.name);
      expect(g.labels).toEqual({ "htc/node-type": "worker" });
      expect(g.taint).toBeUndefined();
      expect(g.capacity_type).toBe(w.capacityType);
      expect(g.instance_types).toEqual(w.instanceTypes);
      expect(g.scaling_config).toEqual({
        min_size: w.minSize,
        max_size: w.maxSize,
        desired_size: w.desiredSize,
      });
    });
    expect(byName("workers-0").capacity_type).toBe("SPOT");
    expect(byName("workers-1").capacity_type).toBe("ON_DEMAND");
  });

  it("runs the seed's workshop groups on SPOT", () => {
    const seed = build();
    const spot = ofType(seed.resources, "aws_eks_node_group").filter((g) => g.capacity_type === "SPOT");
    expect(spot.map((g) => g.node_group_name).sort()).toEqual([
      `worker-medium-spot-${seed.config.projectName}`,
      `worker-small-spot-${seed.config.projectName}`,
    ]);
  });

  it("leaves the desired size to the autoscaler", () => {
    for (const g of groups) {
      expect((g.lifecycle as Body).ignore_changes).toEqual(["scaling_config[0].desired_size"]);
    }
  });

  it("places every group in the private subnets", () => {
    for (const g of groups) {
      expect(g.subnet_ids).toEqual(["${aws_subnet.private-a.id}", "${aws_subnet.private-b.id}"]);
    }
  });

  it("requires IMDSv2 with one hop on every launch template", () => {
    const templates = ofType(r.resources, "aws_launch_template");
    expect(templates).toHaveLength(groups.length);
    for (const t of templates) {
      expect(t.metadata_options).toEqual({
        http_endpoint: "enabled",
        http_tokens: "required",
        http_put_response_hop_limit: 1,
      });
    }
  });

  it("gives every node an encrypted gp3 root volume of the configured size with the node-volume key", () => {
    for (const t of ofType(r.resources, "aws_launch_template")) {
      const [mapping] = t.block_device_mappings as { ebs: Body }[];
      expect(mapping.ebs).toMatchObject({
        volume_size: r.config.computePlane.nodeVolumeSizeGb,
        volume_type: "gp3",
        encrypted: "true",
      });
      expect(mapping.ebs.kms_key_id).toMatch(/aws_kms_key\.keys_node-volumes_key_\w+\.arn/);
    }
  });

  it("uses each group's own launch template", () => {
    for (const g of groups) {
      const lt = g.launch_template as Body;
      expect(lt.id).toMatch(/^\$\{aws_launch_template\.\w[\w-]*\.id\}$/);
      expect(lt.version).toMatch(/latest_version/);
    }
    const ids = new Set(groups.map((g) => (g.launch_template as Body).id));
    expect(ids.size).toBe(groups.length);
  });

  it("gives the node role the worker, registry-pull and CNI policies", () => {
    const policies = ofType(r.resources, "aws_iam_role_policy_attachment")
      .filter((a) => String(a.role).includes("node-role"))
      .map((a) => String(a.policy_arn).replace(/^.*policy\//, ""));
    expect(policies.sort()).toEqual([
      "AmazonEC2ContainerRegistryPullOnly",
      "AmazonEKSWorkerNodePolicy",
      "AmazonEKS_CNI_Policy",
    ]);
  });
});

describe("cluster-autoscaler tags", () => {
  let r: ReturnType<typeof build>;
  let tags: { asg: string; key: string; value: string; propagate: boolean }[];
  beforeAll(() => {
    r = build({ eks_worker_groups: workerGroups(2) });
    tags = ofType(r.resources, "aws_autoscaling_group_tag").map((t) => {
      const tag = t.tag as Body;
      return {
        asg: t.autoscaling_group_name as string,
        key: tag.key as string,
        value: tag.value as string,
        propagate: tag.propagate_at_launch as boolean,
      };
    });
  });

  const groupTags = (nodeGroupId: string) => tags.filter((t) => t.asg.includes(nodeGroupId));

  it("tags each group's own ASG (resources[0].autoscaling_groups[0].name)", () => {
    for (const t of tags) {
      expect(t.asg).toMatch(
        /^\$\{aws_eks_node_group\.[\w-]+\.resources\[0\]\.autoscaling_groups\[0\]\.name\}$/,
      );
    }
    expect(new Set(tags.map((t) => t.asg)).size).toBe(3);
  });

  it("carries the auto-discovery tags on every group, never propagated to instances", () => {
    for (const id of ["core", "worker-workers-0", "worker-workers-1"]) {
      const own = groupTags(`compute_node-groups_${id}_node-group`);
      expect(own).toContainEqual({
        asg: own[0].asg,
        key: "k8s.io/cluster-autoscaler/enabled",
        value: "true",
        propagate: false,
      });
      expect(own).toContainEqual({
        asg: own[0].asg,
        key: `k8s.io/cluster-autoscaler/${r.config.clusterName}`,
        value: "owned",
        propagate: false,
      });
    }
  });

  it("carries the scale-from-zero node-template label on every group and the taint on core", () => {
    const core = groupTags("compute_node-groups_core_node-group");
    expect(core.map((t) => [t.key, t.value])).toContainEqual([
      "k8s.io/cluster-autoscaler/node-template/label/htc/node-type",
      "core",
    ]);
    expect(core.map((t) => [t.key, t.value])).toContainEqual([
      "k8s.io/cluster-autoscaler/node-template/taint/htc/node-type",
      "core:NoSchedule",
    ]);
    const worker = groupTags("compute_node-groups_worker-workers-0_node-group");
    expect(worker.map((t) => [t.key, t.value])).toContainEqual([
      "k8s.io/cluster-autoscaler/node-template/label/htc/node-type",
      "worker",
    ]);
    expect(worker.map((t) => [t.key, t.value])).toContainEqual([
      "k8s.io/cluster-autoscaler/node-template/label/eks.amazonaws.com/capacityType",
      "SPOT",
    ]);
    expect(worker.some((t) => t.key.includes("/taint/"))).toBe(false);
    expect(tags.every((t) => t.propagate === false)).toBe(true);
  });
});

describe("agent role", () => {
  it("is assumable only by EKS Pod Identity for <agent namespace>/htc-agent-sa on this cluster", () => {
    const r = build({ htc_agent_namespace: "grid" });
    const roles = ofType(r.resources, "aws_iam_role");
    const agent = roles.find((role) => String(role.name).startsWith("htc-agent"))!;
    const trust = JSON.parse(agent.assume_role_policy as string);
    expect(trust.Statement[0].Principal).toEqual({ Service: "pods.eks.amazonaws.com" });
    expect(trust.Statement[0].Condition.StringEquals).toMatchObject({
      "aws:RequestTag/kubernetes-namespace": "grid",
      "aws:RequestTag/kubernetes-service-account": "htc-agent-sa",
    });
    const associations = ofType(r.resources, "aws_eks_pod_identity_association");
    expect(associations).toContainEqual(
      expect.objectContaining({ namespace: "grid", service_account: "htc-agent-sa" }),
    );
  });

  it("has a sibling for the client pods: <agent namespace>/htc-client-sa on this cluster", () => {
    const r = build({ htc_agent_namespace: "grid" });
    const roles = ofType(r.resources, "aws_iam_role");
    const client = roles.find((role) => String(role.name).startsWith("htc-client"))!;
    expect(client.name).toBe("htc-client-main");
    const trust = JSON.parse(client.assume_role_policy as string);
    expect(trust.Statement[0].Principal).toEqual({ Service: "pods.eks.amazonaws.com" });
    expect(trust.Statement[0].Condition.StringEquals).toMatchObject({
      "aws:RequestTag/kubernetes-namespace": "grid",
      "aws:RequestTag/kubernetes-service-account": "htc-client-sa",
    });
    const associations = ofType(r.resources, "aws_eks_pod_identity_association");
    expect(associations).toContainEqual(
      expect.objectContaining({ namespace: "grid", service_account: "htc-client-sa" }),
    );
  });

  it("attaches a policy added after construction", () => {
    const config = gridConfig();
    const s = gridScaffold(config);
    const compute = computePlaneOn(s, config);
    compute.agentRole.addPolicy("queues", {
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Action: "sqs:ReceiveMessage", Resource: "arn:aws:sqs:eu-west-1:1:q" }],
    });
    const policies = ofType(synthResources(s.stack).resources, "aws_iam_role_policy");
    expect(policies).toContainEqual(expect.objectContaining({ name: "queues" }));
  });
});
