// Grid: the AWS side of the grid: network, data plane, control plane, EKS cluster and node groups.
import { Construct } from "constructs";
import { TerraformStack } from "cdktf";
import type { GridConfig } from "../modules/config/model";
import { AccountContext } from "../modules/account/account-context";
import { ComputePlane } from "../modules/compute-plane/compute-plane";
import { GridDataPlane } from "../modules/data-plane/grid-data-plane";
import { GridKeys } from "../modules/kms/grid-keys";
import { GridNames } from "../modules/naming/names";
import { GridNetwork } from "../modules/network/grid-network";
import { defaultWorkerZipLocation, workloadBucketName } from "../modules/state-bootstrap/workload";
import { STACK_NAMES, applyBackend, gridAwsProvider } from "./common";

export interface GridStackProps {
  readonly config: GridConfig;
}

export class GridStack extends TerraformStack {
  public readonly account: AccountContext;
  public readonly names: GridNames;
  public readonly keys: GridKeys;
  public readonly network: GridNetwork;
  public readonly dataPlane: GridDataPlane;
  /** EKS cluster, node groups and the agents' role. */
  public readonly compute: ComputePlane;
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
    });
  }
}
