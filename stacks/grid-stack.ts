// Grid: the AWS side of the grid: network, data plane, control plane, EKS cluster and node groups.
import { Construct } from "constructs";
import { TerraformStack } from "cdktf";
import type { GridConfig } from "../modules/config/model";
import { AccountContext } from "../modules/account/account-context";
import { GridNames } from "../modules/naming/names";
import type { GridKeys } from "../modules/kms/grid-keys";
import type { NetworkHandoff } from "../modules/network/handoff";
import type { DataPlaneHandoff } from "../modules/data-plane/handoff";
import { ControlPlane } from "../modules/control-plane/control-plane";
import type { HandlerBundler } from "../modules/control-plane/grid-function";
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

// --- Control plane ------------------------------------------------------------------------------------------
// Composition of the control plane. The constructor calls this once keys, network and dataPlane exist:
//   this.controlPlane = composeControlPlane(this, config, { keys: this.keys, network, dataPlane, bundle: bundleHandler });
// with `import { bundleHandler } from "../modules/control-plane/lambda-bundle";`.

export interface ControlPlaneInputs {
  readonly keys: GridKeys;
  readonly network: NetworkHandoff;
  readonly dataPlane: DataPlaneHandoff;
  /** The Lambda handler bundler (`bundleHandler` from modules/control-plane/lambda-bundle). */
  readonly bundle: HandlerBundler;
}

/** The grid's control plane (state table, queues, Lambdas, APIs, Cognito) in `stack`. */
export function composeControlPlane(
  stack: GridStack,
  config: GridConfig,
  inputs: ControlPlaneInputs,
): ControlPlane {
  return new ControlPlane(stack, "control-plane", {
    config: config.controlPlane,
    clusterName: config.clusterName,
    logRetentionDays: config.logRetentionDays,
    account: stack.account,
    names: stack.names,
    keys: inputs.keys,
    network: inputs.network,
    dataPlane: inputs.dataPlane,
    bundle: inputs.bundle,
  });
}
