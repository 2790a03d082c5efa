// The EKS compute plane of the grid stack: control plane (secrets encryption, control-plane logs, API-mode access
// entries), the managed add-ons, the core and worker node groups, and the Pod Identity roles of the agents and of the
// client pods (submission jobs, the `helm test` pod).
import { Construct } from "constructs";
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { DataAwsEksAddonVersion } from "@cdktf/provider-aws/lib/data-aws-eks-addon-version";
import { EksAddon } from "@cdktf/provider-aws/lib/eks-addon";
import { EksCluster } from "@cdktf/provider-aws/lib/eks-cluster";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import type { ITerraformDependable } from "cdktf";
import type { AccountContext } from "../account/account-context";
import type { ComputePlaneConfig } from "../config/model";
import type { GridKeys } from "../kms/grid-keys";
import type { GridNames } from "../naming/names";
import type { NetworkHandoff } from "../network/handoff";
import { ClusterAccess } from "./access";
import { CORE_PLACEMENT, NodeGroups } from "./node-groups";
import { type PolicyDocument, PodIdentityRole } from "./pod-identity-role";
import { AGENT_SERVICE_ACCOUNT_NAME, CLIENT_SERVICE_ACCOUNT_NAME } from "../agent/pod-layout";

/** Control-plane log types shipped to CloudWatch (all of them). */
export const CONTROL_PLANE_LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"];

/** The agents' service account (the agent chart creates it with this name). */
export const AGENT_SERVICE_ACCOUNT = AGENT_SERVICE_ACCOUNT_NAME;
/** The client pods' service account (the agent chart creates it too; the generated jobs name it). */
export const CLIENT_SERVICE_ACCOUNT = CLIENT_SERVICE_ACCOUNT_NAME;

/** Container Insights: the CloudWatch agent's namespace and service account, fixed by the add-on. */
const CLOUDWATCH_OBSERVABILITY = {
  namespace: "amazon-cloudwatch",
  serviceAccount: "cloudwatch-agent",
} as const;

/** EKS managed add-ons. `beforeNodes`: nodes cannot become Ready (or get credentials) without them. */
const MANAGED_ADDONS = {
  "vpc-cni": { beforeNodes: true },
  "kube-proxy": { beforeNodes: true },
  "eks-pod-identity-agent": { beforeNodes: true },
  coredns: { beforeNodes: false },
  "amazon-cloudwatch-observability": { beforeNodes: false },
} as const;
export type ManagedAddonName = keyof typeof MANAGED_ADDONS;

/** VPC CNI: enforce NetworkPolicy objects (eBPF, in the aws-node DaemonSet's network policy agent). */
export const VPC_CNI_CONFIGURATION = { enableNetworkPolicy: "true" };

/** CoreDNS: two replicas, on the core nodes (upstream pinned it there too). */
const COREDNS_CONFIGURATION = { replicaCount: 2, ...CORE_PLACEMENT };

export interface ComputePlaneProps {
  /** EKS cluster name (`config.clusterName`). */
  readonly clusterName: string;
  readonly compute: ComputePlaneConfig;
  /** Namespace the agents run in (`config.agent.namespace`). */
  readonly agentNamespace: string;
  /** Retention of the control-plane log group (`config.logRetentionDays`). */
  readonly logRetentionDays: number;
  readonly network: NetworkHandoff;
  readonly keys: Pick<GridKeys, "eksSecrets" | "nodeVolumes" | "logs">;
  readonly account: AccountContext;
  readonly names: GridNames;
  /**
   * Permissions of the agents (state table, queues, bucket, keys), built by whoever owns those resources. More can
   * be attached later with `agentRole.addPolicy(...)`. @default none
   */
  readonly agentPolicy?: PolicyDocument | string;
  /** The grid's tags, for the nodes' instances and volumes (see NodeGroupsProps.tags). @default {} */
  readonly tags?: Readonly<Record<string, string>>;
}

export class ComputePlane extends Construct {
  public readonly cluster: EksCluster;
  /** The literal cluster name (known at synth time; the in-cluster stack authenticates with it). */
  public readonly clusterName: string;
  public readonly clusterRole: IamRole;
  public readonly controlPlaneLogGroup: CloudwatchLogGroup;
  public readonly access: ClusterAccess;
  public readonly nodeGroups: NodeGroups;
  public readonly addons: Record<ManagedAddonName, EksAddon>;
  /** Role of the agents' service account `<agent namespace>/htc-agent-sa` (EKS Pod Identity). */
  public readonly agentRole: PodIdentityRole;
  /**
   * Role of the client pods' service account `<agent namespace>/htc-client-sa` (EKS Pod Identity): the submission
   * jobs and the `helm test` pod. Its permissions are attached by whoever owns the bucket and keys.
   */
  public readonly clientRole: PodIdentityRole;
  /** Role of the CloudWatch agent (Container Insights add-on). */
  public readonly cloudwatchAgentRole: PodIdentityRole;

  constructor(scope: Construct, id: string, props: ComputePlaneProps) {
    super(scope, id);
    const { account, names, compute, keys } = props;
    this.clusterName = props.clusterName;

    // EKS writes to exactly this name; creating it first sets the key and retention instead of EKS's defaults.
    this.controlPlaneLogGroup = new CloudwatchLogGroup(this, "control-plane-logs", {
      name: `/aws/eks/${props.clusterName}/cluster`,
      retentionInDays: props.logRetentionDays,
      kmsKeyId: keys.logs.arn,
    });

    this.clusterRole = new IamRole(this, "cluster-role", {
      name: names.name("iamRole", "eks-cluster"),
      description: `EKS control plane of ${props.clusterName}`,
      assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          {
            Effect: "Allow",
            Principal: { Service: "eks.amazonaws.com" },
            Action: ["sts:AssumeRole", "sts:TagSession"],
          },
        ],
      }),
    });
    const clusterPolicy = new IamRolePolicyAttachment(this, "cluster-role-policy", {
      role: this.clusterRole.name,
      policyArn: `arn:${account.partition}:iam::aws:policy/AmazonEKSClusterPolicy`,
    });

    this.cluster = new EksCluster(this, "cluster", {
      name: props.clusterName,
      version: compute.kubernetesVersion,
      roleArn: this.clusterRole.arn,
      // Access entries only (no aws-auth ConfigMap); the identity running Terraform becomes cluster admin so the
      // in-cluster stack can install add-ons.
      accessConfig: { authenticationMode: "API", bootstrapClusterCreatorAdminPermissions: true },
      // The networking add-ons are EKS managed add-ons below, not the self-managed copies EKS would install.
      bootstrapSelfManagedAddons: false,
      vpcConfig: {
        subnetIds: props.network.privateSubnets.map((s) => s.id),
        endpointPrivateAccess: true,
        endpointPublicAccess: compute.publicEndpoint,
        publicAccessCidrs: compute.publicEndpoint ? compute.publicEndpointCidrs : undefined,
      },
      encryptionConfig: { resources: ["secrets"], provider: { keyArn: keys.eksSecrets.arn } },
      enabledClusterLogTypes: CONTROL_PLANE_LOG_TYPES,
      dependsOn: [this.controlPlaneLogGroup, clusterPolicy],
    });

    this.access = new ClusterAccess(this, "access", {
      clusterName: this.cluster.name,
      inputRoles: compute.inputRoles,
      account,
    });

    this.cloudwatchAgentRole = new PodIdentityRole(this, "cloudwatch-agent-role", {
      clusterName: props.clusterName,
      namespace: CLOUDWATCH_OBSERVABILITY.namespace,
      serviceAccount: CLOUDWATCH_OBSERVABILITY.serviceAccount,
      roleName: names.name("iamRole", "eks-cloudwatch-agent"),
      description: `Container Insights agent of ${props.clusterName}`,
      managedPolicyArns: [`arn:${account.partition}:iam::aws:policy/CloudWatchAgentServerPolicy`],
      // The add-on creates its own association from its pod_identity_association block.
      createAssociation: false,
    });

    const addonScope = new Construct(this, "addons");
    const addon = (
      name: ManagedAddonName,
      extra: Partial<ConstructorParameters<typeof EksAddon>[2]> = {},
    ) => {
      // Resolved at plan time for the configured Kubernetes minor: the newest build EKS publishes for it. A
      // plan after AWS publishes a new build shows the add-on update explicitly.
      const version = new DataAwsEksAddonVersion(addonScope, `${name}-version`, {
        addonName: name,
        kubernetesVersion: compute.kubernetesVersion,
        mostRecent: true,
      });
      return new EksAddon(addonScope, name, {
        clusterName: this.cluster.name,
        addonName: name,
        addonVersion: version.version,
        resolveConflictsOnCreate: "OVERWRITE",
        resolveConflictsOnUpdate: "OVERWRITE",
        ...extra,
      });
    };
    // Network policy support is off by default on EKS: NetworkPolicy objects (the agents' fence) are accepted but
    // not enforced until the VPC CNI's node agent is switched on (the value is a string).
    const vpcCni = addon("vpc-cni", { configurationValues: JSON.stringify(VPC_CNI_CONFIGURATION) });
    const kubeProxy = addon("kube-proxy");
    const podIdentityAgent = addon("eks-pod-identity-agent");
    const beforeNodes: ITerraformDependable[] = [vpcCni, kubeProxy, podIdentityAgent];

    this.nodeGroups = new NodeGroups(this, "node-groups", {
      clusterName: this.cluster.name,
      clusterNameLiteral: props.clusterName,
      kubernetesVersion: compute.kubernetesVersion,
      compute,
      subnets: props.network.privateSubnets,
      volumeKey: keys.nodeVolumes,
      account,
      names,
      dependsOn: beforeNodes,
      tags: props.tags,
    });
    const nodes = this.nodeGroups.all.map((g) => g.nodeGroup);

    const coredns = addon("coredns", {
      configurationValues: JSON.stringify(COREDNS_CONFIGURATION),
      dependsOn: [this.nodeGroups.core.nodeGroup],
    });
    const cloudwatch = addon("amazon-cloudwatch-observability", {
      podIdentityAssociation: [
        {
          roleArn: this.cloudwatchAgentRole.role.arn,
          serviceAccount: CLOUDWATCH_OBSERVABILITY.serviceAccount,
        },
      ],
      dependsOn: [...nodes, podIdentityAgent],
    });
    this.addons = {
      "vpc-cni": vpcCni,
      "kube-proxy": kubeProxy,
      "eks-pod-identity-agent": podIdentityAgent,
      coredns,
      "amazon-cloudwatch-observability": cloudwatch,
    };
    // Keep the table above and the add-ons created here in step.
    for (const [name, spec] of Object.entries(MANAGED_ADDONS)) {
      if (spec.beforeNodes !== beforeNodes.includes(this.addons[name as ManagedAddonName])) {
        throw new Error(`managed add-on ${name}: creation order does not match MANAGED_ADDONS`);
      }
    }

    this.agentRole = new PodIdentityRole(this, "agent-role", {
      clusterName: this.cluster.name,
      namespace: props.agentNamespace,
      serviceAccount: AGENT_SERVICE_ACCOUNT,
      roleName: names.name("iamRole", "htc-agent"),
      description: `HTC agents of ${props.clusterName} (${props.agentNamespace}/${AGENT_SERVICE_ACCOUNT})`,
      inlinePolicies: props.agentPolicy !== undefined ? { "htc-agent": props.agentPolicy } : {},
    });
    this.clientRole = new PodIdentityRole(this, "client-role", {
      clusterName: this.cluster.name,
      namespace: props.agentNamespace,
      serviceAccount: CLIENT_SERVICE_ACCOUNT,
      roleName: names.name("iamRole", "htc-client"),
      description: `HTC client pods (submission jobs, helm test) of ${props.clusterName} (${props.agentNamespace}/${CLIENT_SERVICE_ACCOUNT})`,
    });
  }
}
