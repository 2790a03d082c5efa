// Shared test scaffolding: configs through the real parser, and a stack with the account context, names, keys and
// a minimal VPC (two private subnets) standing in for the network hand-off.
import { Testing, TerraformStack } from "cdktf";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { Subnet } from "@cdktf/provider-aws/lib/subnet";
import { Vpc } from "@cdktf/provider-aws/lib/vpc";
import { VpcEndpoint } from "@cdktf/provider-aws/lib/vpc-endpoint";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { AccountContext } from "../../modules/account/account-context";
import type { GridConfig } from "../../modules/config/model";
import { GridKeys } from "../../modules/kms/grid-keys";
import { GridNames } from "../../modules/naming/names";
import type { NetworkHandoff } from "../../modules/network/handoff";
import { ComputePlane } from "../../modules/compute-plane/compute-plane";
import { testApp } from "../support/test-app";

/** The seed config with overrides, through the real parser. */
export { gridConfig } from "../support/grid-synth";

/** `count` worker groups in the upstream key set, alternating SPOT and ON_DEMAND. */
export function workerGroups(count: number): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, i) => ({
    node_group_name: `workers-${i}`,
    instance_types: ["m6i.xlarge", "m6a.xlarge"],
    capacity_type: i % 2 === 0 ? "SPOT" : "ON_DEMAND",
    min_size: 0,
    max_size: 5 + i,
    desired_size: 0,
  }));
}

export interface GridScaffold {
  readonly stack: TerraformStack;
  readonly account: AccountContext;
  readonly names: GridNames;
  readonly keys: GridKeys;
  readonly network: NetworkHandoff;
}

export function gridScaffold(config: GridConfig): GridScaffold {
  const app = testApp();
  const stack = new TerraformStack(app, "test");
  new AwsProvider(stack, "aws", { region: config.region });
  const account = new AccountContext(stack, "account", { region: config.region });
  const names = new GridNames(config.projectName);
  const keys = new GridKeys(stack, "keys", { kms: config.kms, account, names });
  const vpc = new Vpc(stack, "vpc", { cidrBlock: "10.0.0.0/16" });
  const privateSubnets = ["a", "b"].map(
    (az, i) =>
      new Subnet(stack, `private-${az}`, {
        vpcId: vpc.id,
        cidrBlock: `10.0.${i}.0/24`,
        availabilityZone: `${config.region}${az}`,
      }),
  );
  const endpointSecurityGroup = new SecurityGroup(stack, "endpoints", { vpcId: vpc.id });
  const executeApiEndpoint = new VpcEndpoint(stack, "execute-api", {
    vpcId: vpc.id,
    serviceName: `com.amazonaws.${config.region}.execute-api`,
  });
  return {
    stack,
    account,
    names,
    keys,
    network: { vpc, privateSubnets, publicSubnets: [], executeApiEndpoint, endpointSecurityGroup },
  };
}

type Resources = Record<string, Record<string, Record<string, unknown>>>;

/** Synthesize a stack and return its `resource` block (type -> id -> body). */
export function synthResources(stack: TerraformStack): {
  json: string;
  resources: Resources;
  data: Resources;
} {
  const json = Testing.synth(stack);
  const parsed = JSON.parse(json) as { resource?: Resources; data?: Resources };
  return { json, resources: parsed.resource ?? {}, data: parsed.data ?? {} };
}

/** All resources of one type, as a list of bodies. */
export function ofType(resources: Resources, type: string): Record<string, unknown>[] {
  return Object.values(resources[type] ?? {});
}

/** The compute plane of `config` on a scaffold, wired the way the grid stack wires it. */
export function computePlaneOn(s: GridScaffold, config: GridConfig): ComputePlane {
  return new ComputePlane(s.stack, "compute", {
    clusterName: config.clusterName,
    compute: config.computePlane,
    agentNamespace: config.agent.namespace,
    logRetentionDays: config.logRetentionDays,
    network: s.network,
    keys: s.keys,
    account: s.account,
    names: s.names,
  });
}
