// Bootstrap: what must exist before any other stack: the remote-state bucket (with its key and locking) and the
// workload bucket that holds the worker lambda.zip. Always local state: it creates the remote state's home.
import { Construct } from "constructs";
import { LocalBackend, TerraformStack } from "cdktf";
import type { GridConfig } from "../modules/config/model";
import { AccountContext } from "../modules/account/account-context";
import { GridNames } from "../modules/naming/names";
import { StateBootstrap } from "../modules/state-bootstrap/state-bootstrap";
import { STACK_NAMES, gridAwsProvider, localStatePath } from "./common";

export interface BootstrapStackProps {
  readonly config: GridConfig;
}

export class BootstrapStack extends TerraformStack {
  public readonly account: AccountContext;
  public readonly names: GridNames;
  public readonly state: StateBootstrap;

  constructor(scope: Construct, id: string, props: BootstrapStackProps) {
    super(scope, id);
    const { config } = props;
    new LocalBackend(this, { path: localStatePath(STACK_NAMES.bootstrap) });
    gridAwsProvider(this, config);
    this.names = new GridNames(config.projectName);
    this.account = new AccountContext(this, "account", { region: config.region });
    this.state = new StateBootstrap(this, "state", {
      names: this.names,
      account: this.account,
      kms: config.kms,
      stateLocking: config.stateLocking,
      allowDestroy: config.allowDestroy,
    });
  }
}
