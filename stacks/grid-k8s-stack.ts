// grid-k8s: everything installed into the cluster (add-ons, the agent chart, the agent configuration). It is a
// separate stack because the helm and kubernetes providers must point at a cluster that already exists at plan
// time; they authenticate with `aws eks get-token` for the cluster name from the config (a literal).
import { Construct } from "constructs";
import { Fn, TerraformStack } from "cdktf";
import { DataAwsEksCluster } from "@cdktf/provider-aws/lib/data-aws-eks-cluster";
import { HelmProvider } from "@cdktf/provider-helm/lib/provider";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import { AccountContext } from "../modules/account/account-context";
import { AgentRelease } from "../modules/agent/agent-release";
import { ClusterAddons } from "../modules/cluster-addons/cluster-addons";
import type { GridConfig } from "../modules/config/model";
import { GridNames } from "../modules/naming/names";
import { STACK_NAMES, applyBackend, gridAwsProvider } from "./common";
import type { GridStack } from "./grid-stack";

export interface GridK8sStackProps {
  readonly config: GridConfig;
  /** The AWS-side stack whose cluster this stack installs into. */
  readonly grid: GridStack;
}

export class GridK8sStack extends TerraformStack {
  public readonly cluster: DataAwsEksCluster;
  public readonly account: AccountContext;
  /** cluster-autoscaler, KEDA and optional monitoring. */
  public readonly addons: ClusterAddons;
  /** The agents: ConfigMap, Secret and the htc-agent chart. */
  public readonly agents: AgentRelease;

  constructor(scope: Construct, id: string, props: GridK8sStackProps) {
    super(scope, id);
    const { config, grid } = props;
    applyBackend(this, config.backend, STACK_NAMES.gridK8s);
    gridAwsProvider(this, config);
    this.addDependency(props.grid);
    this.account = new AccountContext(this, "account", { region: config.region });

    // Endpoint and CA are read at plan time from the (already applied) grid stack's cluster, by its literal name.
    // The helm and kubernetes providers connect from the machine that runs the plan: unless the config says that
    // machine reaches the VPC, a private-only endpoint stops the plan here, with what to set, before either
    // provider tries (and times out) to connect.
    const compute = config.computePlane;
    this.cluster = new DataAwsEksCluster(this, "cluster", {
      name: config.clusterName,
      lifecycle: compute.deployerInsideVpc
        ? undefined
        : {
            postcondition: [
              {
                condition: "${self.vpc_config[0].endpoint_public_access}",
                errorMessage: `The API endpoint of EKS cluster ${config.clusterName} is private, and grid-k8s's helm and kubernetes providers connect to it from this machine. Set eks_public_access to true and eks_public_access_cidrs to this machine's public address (e.g. ["203.0.113.7/32"]; npm run generate -- --deployer-cidr <cidr> writes both), apply the grid stack, then plan grid-k8s again. If this machine reaches the VPC (VPN, peering, bastion), set deployer_inside_vpc to true instead.`,
              },
            ],
          },
    });
    const exec = {
      apiVersion: "client.authentication.k8s.io/v1beta1",
      command: "aws",
      args: ["eks", "get-token", "--cluster-name", config.clusterName, "--region", config.region],
    };
    const caCertificate = Fn.base64decode(this.cluster.certificateAuthority.get(0).data);
    new KubernetesProvider(this, "kubernetes", {
      host: this.cluster.endpoint,
      clusterCaCertificate: caCertificate,
      exec: [exec],
    });
    new HelmProvider(this, "helm", {
      kubernetes: { host: this.cluster.endpoint, clusterCaCertificate: caCertificate, exec },
    });

    this.addons = new ClusterAddons(this, "addons", {
      clusterName: config.clusterName,
      region: config.region,
      compute: config.computePlane,
      agentGracefulTerminationSec: config.agent.gracefulTerminationDelaySec,
      taskQueueArns: grid.controlPlane.taskQueues.map((q) => q.arn),
      secretsKmsKeyArn: grid.keys.secrets.arn,
      account: this.account,
      names: new GridNames(config.projectName),
    });

    // The agents, after KEDA (its CRDs back the chart's ScaledObject). Values come from the grid stack's objects.
    this.agents = new AgentRelease(this, "agents", {
      config,
      agentConfigJson: grid.agentConfiguration.publicJson,
      redisAuthSecretArn: grid.dataPlane.redisAuthSecret?.arn,
      apiKeySecretArn: grid.agentConfiguration.apiKeySecret.arn,
      defaultImageRegistry: `${this.account.accountId}.dkr.ecr.${config.region}.${this.account.dnsSuffix}`,
      workerZipLocation: grid.workerZipLocation,
      scalingMetricName: grid.controlPlane.scalingMetric.name,
      dependsOn: [this.addons.keda.release],
    });
  }
}
