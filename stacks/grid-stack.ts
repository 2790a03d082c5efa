// Grid: the AWS side of the grid: network, data plane, control plane, EKS cluster and node groups.
import { Construct } from "constructs";
import { TerraformStack } from "cdktf";
import type { GridConfig } from "../modules/config/model";
import { AccountContext } from "../modules/account/account-context";
import { GridNames } from "../modules/naming/names";
import { STACK_NAMES, applyBackend, gridAwsProvider } from "./common";

export interface GridStackProps {
  readonly config: GridConfig;
}

export class GridStack extends TerraformStack {
  public readonly account: AccountContext;
  public readonly names: GridNames;

  constructor(scope: Construct, id: string, props: GridStackProps) {
    super(scope, id);
    const { config } = props;
    applyBackend(this, config.backend, STACK_NAMES.grid);
    gridAwsProvider(this, config);
    this.names = new GridNames(config.projectName);
    this.account = new AccountContext(this, "account", { region: config.region });
  }
}
