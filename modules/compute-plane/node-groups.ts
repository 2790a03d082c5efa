// Managed node groups: one on-demand core group for the grid's system pods (tainted so task pods stay off it) and
// one group per configured worker group. Every group gets its own launch template (IMDSv2 only, encrypted gp3 root
// volume) and the Auto Scaling tags cluster-autoscaler needs to discover it and to scale it up from zero.
import { Construct } from "constructs";
import type { ITerraformDependable } from "cdktf";
import { AutoscalingGroupTagA as AutoscalingGroupTag } from "@cdktf/provider-aws/lib/autoscaling-group-tag";
import { EksNodeGroup } from "@cdktf/provider-aws/lib/eks-node-group";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import { LaunchTemplate } from "@cdktf/provider-aws/lib/launch-template";
import type { Subnet } from "@cdktf/provider-aws/lib/subnet";
import type { AccountContext } from "../account/account-context";
import type { CapacityType, ComputePlaneConfig } from "../config/model";
import type { GridKey } from "../kms/grid-key";
import type { GridNames } from "../naming/names";

/** The node label every group carries; pods select core or worker nodes with it. */
export const NODE_TYPE_LABEL = "htc/node-type";
/** Core nodes are tainted with `htc/node-type=core:NoSchedule`; system add-ons tolerate it. */
export const CORE_TAINT = { key: NODE_TYPE_LABEL, value: "core", effect: "NoSchedule" } as const;

/** nodeSelector + tolerations that place a pod on the core nodes (used by every add-on). */
export const CORE_PLACEMENT = {
  nodeSelector: { [NODE_TYPE_LABEL]: "core" },
  tolerations: [
    { key: CORE_TAINT.key, operator: "Equal", value: CORE_TAINT.value, effect: CORE_TAINT.effect },
  ],
};

/** Defaults of the node groups. */
const NODE_GROUP_DEFAULTS = {
  /** Amazon Linux 2023 (AL2 AMIs are not published for Kubernetes 1.33+). */
  amiType: "AL2023_x86_64_STANDARD",
  /** Root device of the AL2023 EKS AMIs. */
  rootDevice: "/dev/xvda",
  /**
   * One hop: only processes on the node itself (kubelet, the VPC CNI and the Pod Identity agent, all host-network)
   * reach IMDS; pods get AWS credentials from EKS Pod Identity, never from the node role.
   */
  imdsHopLimit: 1,
  /** Node-group rolling updates replace a third of a group at a time. */
  maxUnavailablePercentage: 33,
} as const;

/** Policies of the node role. CNI stays on the node role: aws-node starts before any pod identity is usable. */
const NODE_ROLE_POLICIES = [
  "AmazonEKSWorkerNodePolicy",
  "AmazonEC2ContainerRegistryPullOnly",
  "AmazonEKS_CNI_Policy",
];

/** One node group as built: what the autoscaler tags and tests look at. */
export interface GridNodeGroup {
  /** Config name (`core` for the core group). */
  readonly name: string;
  readonly kind: "core" | "worker";
  readonly capacityType: CapacityType;
  readonly nodeGroup: EksNodeGroup;
  readonly launchTemplate: LaunchTemplate;
  /** Name of the group's Auto Scaling group (known after apply). */
  readonly autoscalingGroupName: string;
}

export interface NodeGroupsProps {
  /** Cluster name (reference to the cluster). */
  readonly clusterName: string;
  /** Literal cluster name, for the autoscaler's discovery tag key (a tag key cannot be a token). */
  readonly clusterNameLiteral: string;
  /** Kubernetes version of the nodes (same as the control plane). */
  readonly kubernetesVersion: string;
  readonly compute: ComputePlaneConfig;
  readonly subnets: Subnet[];
  /** keys.nodeVolumes. */
  readonly volumeKey: GridKey;
  readonly account: AccountContext;
  readonly names: GridNames;
  /** Resources the groups wait for (the networking add-ons, so nodes become Ready). @default [] */
  readonly dependsOn?: ITerraformDependable[];
  /**
   * The grid's tags (the provider's default tags), repeated on the nodes' instances and volumes: a launch template's
   * tag specifications do not get the provider's default tags, and the nodes are most of the grid's cost. @default {}
   */
  readonly tags?: Readonly<Record<string, string>>;
}

/** Node IAM role, the core group and the worker groups. */
export class NodeGroups extends Construct {
  public readonly nodeRole: IamRole;
  public readonly core: GridNodeGroup;
  public readonly workers: GridNodeGroup[];

  constructor(scope: Construct, id: string, props: NodeGroupsProps) {
    super(scope, id);
    const { account, names } = props;
    this.nodeRole = new IamRole(this, "node-role", {
      name: names.name("iamRole", "eks-node"),
      description: `Nodes of EKS cluster ${props.clusterNameLiteral}`,
      assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          { Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" },
        ],
      }),
    });
    const attachments = NODE_ROLE_POLICIES.map(
      (policy) =>
        new IamRolePolicyAttachment(this, `node-role-${policy}`, {
          role: this.nodeRole.name,
          policyArn: `arn:${account.partition}:iam::aws:policy/${policy}`,
        }),
    );
    const dependsOn = [...attachments, ...(props.dependsOn ?? [])];
    const core = props.compute.coreGroup;
    this.core = this.group(props, dependsOn, {
      id: "core",
      name: "core",
      kind: "core",
      capacityType: "ON_DEMAND",
      instanceTypes: core.instanceTypes,
      minSize: core.minSize,
      maxSize: core.maxSize,
      desiredSize: core.desiredSize,
    });
    this.workers = props.compute.workerGroups.map((g) =>
      this.group(props, dependsOn, { id: `worker-${g.name}`, kind: "worker", ...g }),
    );
  }

  /** Every group, core first. */
  get all(): GridNodeGroup[] {
    return [this.core, ...this.workers];
  }

  private group(
    props: NodeGroupsProps,
    dependsOn: ITerraformDependable[],
    spec: {
      id: string;
      name: string;
      kind: "core" | "worker";
      capacityType: CapacityType;
      instanceTypes: string[];
      minSize: number;
      maxSize: number;
      desiredSize: number;
    },
  ): GridNodeGroup {
    const scope = new Construct(this, spec.id);
    const physical = props.names.name("eksNodeGroup", spec.kind === "core" ? "core" : spec.name);
    const instanceTags = {
      ...props.tags,
      Name: `${props.clusterNameLiteral}-${spec.kind}`,
      [NODE_TYPE_LABEL]: spec.kind,
    };
    const launchTemplate = new LaunchTemplate(scope, "launch-template", {
      name: props.names.name("generic", `eks-${spec.kind === "core" ? "core" : spec.name}`),
      description: `Nodes of ${physical}`,
      updateDefaultVersion: true,
      metadataOptions: {
        httpEndpoint: "enabled",
        httpTokens: "required",
        httpPutResponseHopLimit: NODE_GROUP_DEFAULTS.imdsHopLimit,
      },
      blockDeviceMappings: [
        {
          deviceName: NODE_GROUP_DEFAULTS.rootDevice,
          ebs: {
            volumeSize: props.compute.nodeVolumeSizeGb,
            volumeType: "gp3",
            encrypted: "true",
            kmsKeyId: props.volumeKey.arn,
            deleteOnTermination: "true",
          },
        },
      ],
      tagSpecifications: [
        { resourceType: "instance", tags: instanceTags },
        { resourceType: "volume", tags: instanceTags },
      ],
    });
    const labels = { [NODE_TYPE_LABEL]: spec.kind };
    const nodeGroup = new EksNodeGroup(scope, "node-group", {
      clusterName: props.clusterName,
      nodeGroupName: physical,
      nodeRoleArn: this.nodeRole.arn,
      version: props.kubernetesVersion,
      subnetIds: props.subnets.map((s) => s.id),
      amiType: NODE_GROUP_DEFAULTS.amiType,
      capacityType: spec.capacityType,
      instanceTypes: spec.instanceTypes,
      scalingConfig: { minSize: spec.minSize, maxSize: spec.maxSize, desiredSize: spec.desiredSize },
      updateConfig: { maxUnavailablePercentage: NODE_GROUP_DEFAULTS.maxUnavailablePercentage },
      launchTemplate: { id: launchTemplate.id, version: `${launchTemplate.latestVersion}` },
      labels,
      taint:
        spec.kind === "core"
          ? [{ key: CORE_TAINT.key, value: CORE_TAINT.value, effect: "NO_SCHEDULE" }]
          : undefined,
      // cluster-autoscaler owns the desired size once the group exists.
      lifecycle: { ignoreChanges: ["scaling_config[0].desired_size"] },
      dependsOn,
    });
    const autoscalingGroupName = nodeGroup.resources.get(0).autoscalingGroups.get(0).name;
    // Managed node groups tag their ASG for auto-discovery already; the tags are repeated here because the
    // autoscaler's IAM policy is conditioned on the owned tag, so the grid states it rather than assuming it.
    // The node-template tags let the autoscaler build a template node (labels, taints) for a group at zero.
    const asgTags: [string, string, string][] = [
      ["enabled", "k8s.io/cluster-autoscaler/enabled", "true"],
      ["owned", `k8s.io/cluster-autoscaler/${props.clusterNameLiteral}`, "owned"],
      ["label-node-type", `k8s.io/cluster-autoscaler/node-template/label/${NODE_TYPE_LABEL}`, spec.kind],
      [
        "label-capacity-type",
        "k8s.io/cluster-autoscaler/node-template/label/eks.amazonaws.com/capacityType",
        spec.capacityType,
      ],
    ];
    if (spec.kind === "core") {
      asgTags.push([
        "taint-node-type",
        `k8s.io/cluster-autoscaler/node-template/taint/${CORE_TAINT.key}`,
        `${CORE_TAINT.value}:${CORE_TAINT.effect}`,
      ]);
    }
    for (const [tagId, key, value] of asgTags) {
      new AutoscalingGroupTag(scope, `asg-tag-${tagId}`, {
        autoscalingGroupName,
        tag: { key, value, propagateAtLaunch: false },
      });
    }
    return {
      name: spec.name,
      kind: spec.kind,
      capacityType: spec.capacityType,
      nodeGroup,
      launchTemplate,
      autoscalingGroupName,
    };
  }
}
