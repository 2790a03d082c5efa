// cluster-autoscaler: scales the worker node groups (discovered by their ASG tags) to fit the agent pods KEDA
// creates, and scales them back down. Its own Pod Identity role may only change groups tagged as owned by this
// cluster.
import { Construct } from "constructs";
import { Release } from "@cdktf/provider-helm/lib/release";
import { CORE_PLACEMENT } from "../compute-plane/node-groups";
import { type PolicyDocument, PodIdentityRole } from "../compute-plane/pod-identity-role";
import type { AccountContext } from "../account/account-context";
import type { GridNames } from "../naming/names";
import { RELEASE_DEFAULTS } from "./release-defaults";
import { helmValues } from "./values";
import { ADDON_VERSIONS } from "./versions";

export const CLUSTER_AUTOSCALER_NAMESPACE = "kube-system";
export const CLUSTER_AUTOSCALER_SERVICE_ACCOUNT = "cluster-autoscaler";

/**
 * Batch-oriented autoscaler settings.
 * - expander least-waste: among groups that fit the pending agents, pick the one leaving the least idle CPU/memory
 *   (the worker groups differ by instance size).
 * - balance-similar-node-groups: spread like-sized groups across AZs/spot pools.
 * - skip-nodes-with-local-storage=false: agent pods use emptyDir for the task root; that must not pin a node.
 * - scale-down-delay-after-add / scale-down-unneeded-time 5m: batch bursts end abruptly; idle spot nodes cost
 *   money, and KEDA scales agents in before the autoscaler looks.
 * - max-graceful-termination-sec: a drained agent gets its full termination grace to finish its task.
 */
const AUTOSCALER_ARGS = {
  expander: "least-waste",
  "balance-similar-node-groups": true,
  "skip-nodes-with-local-storage": false,
  "scale-down-delay-after-add": "5m",
  "scale-down-unneeded-time": "5m",
  v: 2,
} as const;

export interface ClusterAutoscalerProps {
  /** Literal cluster name (auto-discovery tag and the owned-tag condition). */
  readonly clusterName: string;
  readonly region: string;
  /** Image tag of the cluster's Kubernetes minor (`computePlane.clusterAutoscalerImageTag`). */
  readonly imageTag: string;
  /** Longest termination grace the autoscaler grants a pod when draining (the agents' grace). */
  readonly maxGracefulTerminationSec: number;
  readonly account: AccountContext;
  readonly names: GridNames;
}

export class ClusterAutoscaler extends Construct {
  public readonly role: PodIdentityRole;
  public readonly release: Release;
  public readonly imageTag: string;

  constructor(scope: Construct, id: string, props: ClusterAutoscalerProps) {
    super(scope, id);
    this.imageTag = props.imageTag;
    this.role = new PodIdentityRole(this, "role", {
      clusterName: props.clusterName,
      namespace: CLUSTER_AUTOSCALER_NAMESPACE,
      serviceAccount: CLUSTER_AUTOSCALER_SERVICE_ACCOUNT,
      roleName: props.names.name("iamRole", "cluster-autoscaler"),
      description: `cluster-autoscaler of ${props.clusterName}`,
      inlinePolicies: { "cluster-autoscaler": clusterAutoscalerPolicy(props.clusterName, props.account) },
    });
    const chart = ADDON_VERSIONS.clusterAutoscaler;
    this.release = new Release(this, "release", {
      name: "cluster-autoscaler",
      repository: chart.repository,
      chart: chart.chart,
      version: chart.chartVersion,
      namespace: CLUSTER_AUTOSCALER_NAMESPACE,
      ...RELEASE_DEFAULTS,
      values: [
        helmValues({
          cloudProvider: "aws",
          awsRegion: props.region,
          autoDiscovery: { clusterName: props.clusterName },
          image: { tag: this.imageTag },
          rbac: { serviceAccount: { create: true, name: CLUSTER_AUTOSCALER_SERVICE_ACCOUNT } },
          extraArgs: {
            ...AUTOSCALER_ARGS,
            "max-graceful-termination-sec": props.maxGracefulTerminationSec,
          },
          resources: { requests: { cpu: "100m", memory: "300Mi" }, limits: { cpu: "1", memory: "1Gi" } },
          ...CORE_PLACEMENT,
        }),
      ],
      // The role, its policy and the association exist before the pod asks for credentials.
      dependsOn: [this.role.role, ...this.role.policies, this.role.association!],
    });
  }
}

/** Least privilege for the AWS cloud provider of cluster-autoscaler. */
export function clusterAutoscalerPolicy(clusterName: string, account: AccountContext): PolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        // Describe/list calls have no resource-level permissions in IAM: "*" is the only valid resource. They are
        // read-only and reveal ASG/instance metadata of the account, nothing more.
        Sid: "DiscoverGroupsReadOnly",
        Effect: "Allow",
        Action: [
          "autoscaling:DescribeAutoScalingGroups",
          "autoscaling:DescribeAutoScalingInstances",
          "autoscaling:DescribeLaunchConfigurations",
          "autoscaling:DescribeScalingActivities",
          "autoscaling:DescribeTags",
          "ec2:DescribeImages",
          "ec2:DescribeInstanceTypes",
          "ec2:DescribeLaunchTemplateVersions",
          "ec2:GetInstanceTypesFromInstanceRequirements",
          "eks:DescribeNodegroup",
        ],
        Resource: "*",
      },
      {
        Sid: "ScaleOwnedGroupsOnly",
        Effect: "Allow",
        Action: ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
        // Auto Scaling groups of this account and region; the tag condition narrows it to this cluster's groups.
        Resource: `arn:${account.partition}:autoscaling:${account.region}:${account.accountId}:autoScalingGroup:*:autoScalingGroupName/*`,
        Condition: {
          StringEquals: { [`aws:ResourceTag/k8s.io/cluster-autoscaler/${clusterName}`]: "owned" },
        },
      },
    ],
  };
}
