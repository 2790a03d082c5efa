// Grid: the AWS side of the grid: network, data plane, control plane, EKS cluster and node groups, the agents'
// configuration and permissions, and the dashboard.
import { Construct } from "constructs";
import { TerraformStack } from "cdktf";
import { DataAwsIamPolicy } from "@cdktf/provider-aws/lib/data-aws-iam-policy";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import type { GridConfig } from "../modules/config/model";
import { AccountContext } from "../modules/account/account-context";
import { AgentConfiguration } from "../modules/agent/agent-configuration";
import { ComputePlane } from "../modules/compute-plane/compute-plane";
import { ControlPlane } from "../modules/control-plane/control-plane";
import { GridDashboard } from "../modules/dashboard/grid-dashboard";
import { GridDataPlane } from "../modules/data-plane/grid-data-plane";
import { pullThroughCachePolicyName } from "../modules/images/grid-images";
import { GridKeys } from "../modules/kms/grid-keys";
import { GridNames } from "../modules/naming/names";
import { GridNetwork } from "../modules/network/grid-network";
import { defaultWorkerZipLocation, workloadBucketName } from "../modules/state-bootstrap/workload";
import { STACK_NAMES, applyBackend, gridAwsProvider, gridTags } from "./common";

export interface GridStackProps {
  readonly config: GridConfig;
}

export class GridStack extends TerraformStack {
  public readonly account: AccountContext;
  public readonly names: GridNames;
  public readonly keys: GridKeys;
  public readonly network: GridNetwork;
  public readonly dataPlane: GridDataPlane;
  public readonly controlPlane: ControlPlane;
  /** EKS cluster, node groups and the agents' role. */
  public readonly compute: ComputePlane;
  public readonly agentConfiguration: AgentConfiguration;
  /** The bootstrap stack's workload bucket (same derivation as the bootstrap stack; its state is never read). */
  public readonly workloadBucketName: string;
  /** Where agents fetch the worker zip: the configured location, else `s3://<workload bucket>/lambda.zip`. */
  public readonly workerZipLocation: string;

  constructor(scope: Construct, id: string, props: GridStackProps) {
    super(scope, id);
    const { config } = props;
    applyBackend(this, config.backend, STACK_NAMES.grid);
    gridAwsProvider(this, config);
    this.names = new GridNames(config.projectName);
    this.account = new AccountContext(this, "account", { region: config.region });
    const { names, account } = this;
    this.keys = new GridKeys(this, "keys", { kms: config.kms, account, names });
    this.network = new GridNetwork(this, "network", {
      network: config.network,
      clusterName: config.clusterName,
      logRetentionDays: config.logRetentionDays,
      names,
      account,
      logsKey: this.keys.logs,
    });
    this.dataPlane = new GridDataPlane(this, "data-plane", {
      dataPlane: config.dataPlane,
      dataBucketBaseName: config.dataBucketBaseName,
      allowedAccessCidrBlocks: config.network.allowedAccessCidrBlocks,
      network: this.network,
      names,
      account,
      dataBucketKey: this.keys.dataBucket,
      redisKey: this.keys.redis,
      secretsKey: this.keys.secrets,
    });
    this.controlPlane = new ControlPlane(this, "control-plane", {
      config: config.controlPlane,
      clusterName: config.clusterName,
      logRetentionDays: config.logRetentionDays,
      account,
      names,
      keys: this.keys,
      network: this.network,
      dataPlane: this.dataPlane,
      allowDestroy: config.allowDestroy,
    });
    this.workloadBucketName = workloadBucketName(names, account);
    this.workerZipLocation =
      config.agent.lambda.s3Source ?? defaultWorkerZipLocation(this.workloadBucketName);
    this.compute = new ComputePlane(this, "compute", {
      clusterName: config.clusterName,
      compute: config.computePlane,
      agentNamespace: config.agent.namespace,
      logRetentionDays: config.logRetentionDays,
      network: this.network,
      keys: this.keys,
      account,
      names,
      tags: gridTags(config),
    });
    // Nodes pull add-on images through the images stack's pull-through cache (deployed before this stack).
    const pullThroughCache = new DataAwsIamPolicy(this, "pull-through-cache-policy", {
      name: pullThroughCachePolicyName(names),
    });
    new IamRolePolicyAttachment(this, "node-pull-through-cache", {
      role: this.compute.nodeGroups.nodeRole.name,
      policyArn: pullThroughCache.arn,
    });
    this.agentConfiguration = new AgentConfiguration(this, "agent", {
      config,
      account,
      names,
      keys: this.keys,
      controlPlane: this.controlPlane,
      dataPlane: this.dataPlane,
      compute: this.compute,
      workerZipLocation: this.workerZipLocation,
      workloadBucketName: this.workloadBucketName,
    });
    const cp = this.controlPlane;
    new GridDashboard(this, "dashboard", {
      dashboardName: names.name("generic", "htc-grid"),
      region: config.region,
      clusterName: config.clusterName,
      taskQueueNames: cp.taskQueues.map((q) => q.name),
      lambdaFunctionNames: Object.values(cp.functions).map((f) => f.function.functionName),
      apiNames: [cp.publicApi.restApi.name, cp.privateApi.restApi.name],
      scalingMetric: cp.scalingMetric,
    });
  }
}
