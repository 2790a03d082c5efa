// Builds a grid stack with just the prerequisites of the control plane (keys, a VPC with an execute-api endpoint,
// a data bucket, Redis and its secret) and synthesizes it; parsed JSON helpers for the assertions.
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll } from "vitest";
import { Testing, TerraformStack } from "cdktf";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { ElasticacheReplicationGroup } from "@cdktf/provider-aws/lib/elasticache-replication-group";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { SecretsmanagerSecret } from "@cdktf/provider-aws/lib/secretsmanager-secret";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { Subnet } from "@cdktf/provider-aws/lib/subnet";
import { Vpc } from "@cdktf/provider-aws/lib/vpc";
import { VpcEndpoint } from "@cdktf/provider-aws/lib/vpc-endpoint";
import { AccountContext } from "../../modules/account/account-context";
import { parseGridConfig } from "../../modules/config/load";
import type { GridConfig } from "../../modules/config/model";
import { SEED_GRID_CONFIG } from "../../modules/config/seed";
import type { DataPlaneHandoff } from "../../modules/data-plane/handoff";
import { GridKeys } from "../../modules/kms/grid-keys";
import { GridNames } from "../../modules/naming/names";
import type { NetworkHandoff } from "../../modules/network/handoff";
import { ControlPlane, type ControlPlaneProps } from "../../modules/control-plane/control-plane";
import { testApp } from "../support/test-app";

const bundleDirs = new Set<string>();
// The construct removes its bundle directories at process exit; test workers are stopped without one.
afterAll(() => {
  for (const dir of bundleDirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** Stand-in for lambda-bundle.ts's bundleHandler: a real, loadable index.js that names its handler. */
export function tinyBundler(name: string, outDir: string): void {
  bundleDirs.add(outDir);
  fs.writeFileSync(
    path.join(outDir, "index.js"),
    `exports.handler = async () => ({ statusCode: 200, body: ${JSON.stringify(name)} });\n`,
  );
}

/** The real parser over the seed config with overrides (upstream key names). */
export function gridConfig(overrides: Record<string, unknown> = {}): GridConfig {
  return parseGridConfig({ ...SEED_GRID_CONFIG, ...overrides }, "test");
}

export type Resources = Record<string, Record<string, Record<string, unknown>>>;

export interface Synthesized {
  readonly plane: ControlPlane;
  readonly stack: TerraformStack;
  /** cdk.tf.json as a string (for Testing matchers). */
  readonly json: string;
  readonly resources: Resources;
  readonly outputs: Record<string, Record<string, unknown>>;
  readonly config: GridConfig;
}

/** What the grid stack provides before the control plane: names, account, keys, network and data plane. */
export interface Prerequisites {
  readonly names: GridNames;
  readonly account: AccountContext;
  readonly keys: GridKeys;
  readonly network: NetworkHandoff;
  readonly dataPlane: DataPlaneHandoff;
}

/** Minimal real resources satisfying the network and data-plane hand-offs (their own helpers build the real ones). */
export function buildPrerequisites(stack: TerraformStack, config: GridConfig, prefix = ""): Prerequisites {
  const id = (name: string) => `${prefix}${name}`;
  const names = new GridNames(config.projectName);
  const account = new AccountContext(stack, id("account"), { region: config.region });
  const keys = new GridKeys(stack, id("keys"), { kms: config.kms, account, names });

  const vpc = new Vpc(stack, id("vpc"), { cidrBlock: config.network.vpcCidr });
  const privateSubnets = config.network.privateSubnetCidrs.map(
    (cidr, i) => new Subnet(stack, id(`private-${i}`), { vpcId: vpc.id, cidrBlock: cidr }),
  );
  const publicSubnets = config.network.publicSubnetCidrs.map(
    (cidr, i) => new Subnet(stack, id(`public-${i}`), { vpcId: vpc.id, cidrBlock: cidr }),
  );
  const endpointSecurityGroup = new SecurityGroup(stack, id("endpoints-sg"), { vpcId: vpc.id });
  const executeApiEndpoint = new VpcEndpoint(stack, id("execute-api"), {
    vpcId: vpc.id,
    serviceName: `com.amazonaws.${config.region}.execute-api`,
    vpcEndpointType: "Interface",
    privateDnsEnabled: true,
    subnetIds: privateSubnets.map((s) => s.id),
    securityGroupIds: [endpointSecurityGroup.id],
  });
  const network: NetworkHandoff = {
    vpc,
    privateSubnets,
    publicSubnets,
    executeApiEndpoint,
    endpointSecurityGroup,
  };

  const storage = config.dataPlane.storage;
  const dataBucket =
    storage !== "REDIS" ? new S3Bucket(stack, id("data"), { bucket: "htc-data-test" }) : undefined;
  const redisClientSecurityGroup =
    storage !== "S3" ? new SecurityGroup(stack, id("redis-clients"), { vpcId: vpc.id }) : undefined;
  const redis =
    storage !== "S3"
      ? new ElasticacheReplicationGroup(stack, id("redis"), {
          replicationGroupId: "htc-data-cache-test",
          description: "test",
          nodeType: config.dataPlane.redis.nodeType,
          transitEncryptionEnabled: true,
        })
      : undefined;
  const redisAuthSecret =
    storage !== "S3" ? new SecretsmanagerSecret(stack, id("redis-auth"), { name: "redis-auth" }) : undefined;
  const dataPlane: DataPlaneHandoff = {
    storage,
    dataBucket,
    redis,
    redisAuthSecret,
    redisClientSecurityGroup,
  };

  return { names, account, keys, network, dataPlane };
}

/** Synthesize the control plane over real prerequisite resources. */
export function synthControlPlane(
  overrides: Record<string, unknown> = {},
  extra: Partial<Pick<ControlPlaneProps, "bundle" | "manageApiGatewayAccount">> = {},
): Synthesized {
  const config = gridConfig(overrides);
  const app = testApp();
  const stack = new TerraformStack(app, "grid");
  new AwsProvider(stack, "aws", { region: config.region });
  const { names, account, keys, network, dataPlane } = buildPrerequisites(stack, config);
  const plane = new ControlPlane(stack, "control-plane", {
    config: config.controlPlane,
    clusterName: config.clusterName,
    logRetentionDays: config.logRetentionDays,
    account,
    names,
    keys,
    network,
    dataPlane,
    bundle: extra.bundle ?? tinyBundler,
    manageApiGatewayAccount: extra.manageApiGatewayAccount,
  });
  const json = Testing.synth(stack);
  const parsed = JSON.parse(json) as {
    resource: Resources;
    output?: Record<string, Record<string, unknown>>;
  };
  return { plane, stack, json, resources: parsed.resource, outputs: parsed.output ?? {}, config };
}

/** All resources of one type, by logical id ({} when none). */
export function ofType(s: Synthesized, type: string): Record<string, Record<string, unknown>> {
  return s.resources[type] ?? {};
}

/** The single resource of a type whose logical id contains `fragment`. */
export function one(s: Synthesized, type: string, fragment: string): Record<string, unknown> {
  const hits = Object.entries(ofType(s, type)).filter(([id]) => id.includes(fragment));
  if (hits.length !== 1) {
    throw new Error(
      `expected one ${type} matching "${fragment}", found ${hits.map(([id]) => id).join(", ") || "none"}`,
    );
  }
  return hits[0][1];
}

/** `${aws_x.id.attr}` reference string to a resource of the stack. */
export function ref(s: Synthesized, type: string, fragment: string, attr: string): string {
  const id = Object.keys(ofType(s, type)).find((k) => k.includes(fragment));
  if (!id) throw new Error(`no ${type} matching ${fragment}`);
  return `\${${type}.${id}.${attr}}`;
}
