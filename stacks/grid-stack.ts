// Grid: the AWS side of the grid: network, data plane, control plane, EKS cluster and node groups.
import { Construct } from "constructs";
import { TerraformStack } from "cdktf";
import type { GridConfig } from "../modules/config/model";
import { AccountContext } from "../modules/account/account-context";
import { ComputePlane } from "../modules/compute-plane/compute-plane";
import { GridKeys } from "../modules/kms/grid-keys";
import type { NetworkHandoff } from "../modules/network/handoff";
import { GridNames } from "../modules/naming/names";
import { STACK_NAMES, applyBackend, gridAwsProvider } from "./common";

export interface GridStackProps {
  readonly config: GridConfig;
  /**
   * Interim: the network hand-off until the network construct is composed in this stack (then `this.network`).
   * Without it the compute plane is not built.
   */
  readonly network?: NetworkHandoff;
}

export class GridStack extends TerraformStack {
  public readonly account: AccountContext;
  public readonly names: GridNames;
  /** EKS cluster, node groups and the agents' role (absent until the network is wired in). */
  public readonly compute?: ComputePlane;

  constructor(scope: Construct, id: string, props: GridStackProps) {
    super(scope, id);
    const { config } = props;
    applyBackend(this, config.backend, STACK_NAMES.grid);
    gridAwsProvider(this, config);
    this.names = new GridNames(config.projectName);
    this.account = new AccountContext(this, "account", { region: config.region });

    // Wiring: `network` and `keys` are constructor-locals here; when the network construct and GridKeys are composed
    // in this stack (this.network / this.keys), pass those instead and make `compute` non-optional.
    const network = props.network;
    if (network) {
      const keys = new GridKeys(this, "keys", { kms: config.kms, account: this.account, names: this.names });
      this.compute = new ComputePlane(this, "compute", {
        clusterName: config.clusterName,
        compute: config.computePlane,
        agentNamespace: config.agent.namespace,
        logRetentionDays: config.logRetentionDays,
        network,
        keys,
        account: this.account,
        names: this.names,
      });
    }
  }
}
