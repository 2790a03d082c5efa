// The grid stack's network: subnets per AZ for both layout forms, egress by NAT or by endpoints, flow logs.
import { beforeAll, describe, expect, it } from "vitest";
import { Testing } from "cdktf";
import type { GridConfig } from "../../modules/config/model";
import { PRIVATE_INTERFACE_ENDPOINTS } from "../../modules/network/grid-network";
import { GridStack } from "../../stacks/grid-stack";
import {
  dataOf,
  gridConfig,
  oneResource,
  referenceOf,
  resourcesOf,
  synthStack,
  type TfBlock,
  type TfJson,
} from "../support/grid-synth";

interface Scenario {
  config: GridConfig;
  json: TfJson;
  text: string;
}

function scenario(overrides: Record<string, unknown>): Scenario {
  const config = gridConfig(overrides);
  const { json, text } = synthStack((app) => new GridStack(app, "grid", { config }));
  return { config, json, text };
}

/** Subnets of one tier ("public" / "private") in AZ order. */
function subnets(json: TfJson, tier: string): TfBlock[] {
  return Object.entries(resourcesOf(json, "aws_subnet"))
    .filter(([name]) => name.includes(`_${tier}-subnet_`))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([, s]) => s);
}

/** Endpoint service (as given to the lookup data source) -> endpoint resource. */
function endpointsByService(json: TfJson): Record<string, TfBlock> {
  const lookups = dataOf(json, "aws_vpc_endpoint_service");
  const out: Record<string, TfBlock> = {};
  for (const endpoint of Object.values(resourcesOf(json, "aws_vpc_endpoint"))) {
    const ref = referenceOf(endpoint.service_name);
    expect(ref?.[0]).toBe("data.aws_vpc_endpoint_service");
    const lookup = lookups[ref![1]];
    expect(lookup.service_type).toBe(endpoint.vpc_endpoint_type);
    out[lookup.service] = endpoint;
  }
  return out;
}

function idOf(json: TfJson, type: string, block: TfBlock): string {
  const name = Object.entries(resourcesOf(json, type)).find(([, b]) => b === block)![0];
  return `\${${type}.${name}.id}`;
}

describe("private grid (seed default: explicit subnet lists, enable_private_subnet true)", () => {
  let s: Scenario;
  beforeAll(() => {
    s = scenario({});
  });

  it("creates the VPC from vpc_cidr_block with DNS support and hostnames", () => {
    expect(
      Testing.toHaveResourceWithProperties(s.text, "aws_vpc", {
        cidr_block: "10.0.0.0/16",
        enable_dns_support: true,
        enable_dns_hostnames: true,
      }),
    ).toBe(true);
  });

  it("creates one public and one private subnet per AZ with the listed CIDRs, AZs by position", () => {
    const pub = subnets(s.json, "public");
    const priv = subnets(s.json, "private");
    expect(pub.map((x) => x.cidr_block)).toEqual(["10.0.192.0/24", "10.0.193.0/24", "10.0.194.0/24"]);
    expect(priv.map((x) => x.cidr_block)).toEqual(["10.0.0.0/18", "10.0.64.0/18", "10.0.128.0/18"]);
    const azData = Object.keys(dataOf(s.json, "aws_availability_zones"));
    expect(azData).toHaveLength(1);
    [pub, priv].forEach((tier) =>
      tier.forEach((subnet, i) =>
        expect(subnet.availability_zone).toBe(
          `\${element(data.aws_availability_zones.${azData[0]}.names, ${i})}`,
        ),
      ),
    );
  });

  it("reads available AZs that need no opt-in, and never looks up a default VPC (upstream defect 10)", () => {
    const [zones] = Object.values(dataOf(s.json, "aws_availability_zones"));
    expect(zones.state).toBe("available");
    expect(zones.filter).toEqual([{ name: "opt-in-status", values: ["opt-in-not-required"] }]);
    expect(zones.lifecycle.postcondition[0].condition).toBe("${length(self.names) >= 3}");
    expect(dataOf(s.json, "aws_vpc")).toEqual({});
  });

  it("tags subnets for Kubernetes load-balancer discovery and gives public subnets no public IPs", () => {
    const clusterTag = `kubernetes.io/cluster/${s.config.clusterName}`;
    for (const subnet of subnets(s.json, "public")) {
      expect(subnet.map_public_ip_on_launch).toBe(false);
      expect(subnet.tags[clusterTag]).toBe("shared");
      expect(subnet.tags["kubernetes.io/role/elb"]).toBe("1");
    }
    for (const subnet of subnets(s.json, "private")) {
      expect(subnet.tags[clusterTag]).toBe("shared");
      expect(subnet.tags["kubernetes.io/role/internal-elb"]).toBe("1");
    }
  });

  it("creates no NAT gateway and no default route for private subnets", () => {
    expect(resourcesOf(s.json, "aws_nat_gateway")).toEqual({});
    expect(resourcesOf(s.json, "aws_eip")).toEqual({});
    const routes = Object.values(resourcesOf(s.json, "aws_route"));
    expect(routes).toHaveLength(1); // public subnets -> internet gateway
    expect(routes[0].gateway_id).toMatch(/^\$\{aws_internet_gateway\./);
  });

  it("creates an interface endpoint with private DNS in the private subnets for every service nodes need", () => {
    const byService = endpointsByService(s.json);
    const privateIds = subnets(s.json, "private").map((x) => idOf(s.json, "aws_subnet", x));
    const sgName = Object.keys(resourcesOf(s.json, "aws_security_group")).find((n) =>
      n.includes("endpoints"),
    );
    for (const service of PRIVATE_INTERFACE_ENDPOINTS) {
      const endpoint = byService[service];
      expect(endpoint, service).toBeDefined();
      expect(endpoint.vpc_endpoint_type).toBe("Interface");
      expect(endpoint.private_dns_enabled).toBe(true);
      expect([...endpoint.subnet_ids].sort()).toEqual([...privateIds].sort());
      expect(endpoint.security_group_ids).toEqual([`\${aws_security_group.${sgName}.id}`]);
    }
    // The list the issue requires, spelled out so a shortened constant cannot pass unnoticed.
    for (const required of [
      "ecr.api",
      "ecr.dkr",
      "ec2",
      "eks",
      "eks-auth",
      "sts",
      "logs",
      "monitoring",
      "sqs",
      "elasticloadbalancing",
      "autoscaling",
      "execute-api",
      "ssm",
      "ssmmessages",
      "secretsmanager",
      "xray",
    ]) {
      expect(byService[required], required).toBeDefined();
    }
  });

  it("routes S3 and DynamoDB through gateway endpoints on every private route table", () => {
    const byService = endpointsByService(s.json);
    const privateTables = Object.keys(resourcesOf(s.json, "aws_route_table"))
      .filter((n) => n.includes("private-routes"))
      .map((n) => `\${aws_route_table.${n}.id}`)
      .sort();
    expect(privateTables).toHaveLength(3);
    for (const service of ["s3", "dynamodb"]) {
      expect(byService[service].vpc_endpoint_type).toBe("Gateway");
      expect([...byService[service].route_table_ids].sort()).toEqual(privateTables);
    }
  });

  it("lets only HTTPS from the VPC reach the endpoints, with no egress rules", () => {
    const rules = Object.values(resourcesOf(s.json, "aws_vpc_security_group_ingress_rule")).filter((r) =>
      String(r.security_group_id).includes("endpoints"),
    );
    expect(rules).toHaveLength(1);
    expect(rules[0]).toMatchObject({ ip_protocol: "tcp", from_port: 443, to_port: 443 });
    expect(rules[0].cidr_ipv4).toMatch(/^\$\{aws_vpc\.[^.]+\.cidr_block\}$/);
    const egress = Object.values(resourcesOf(s.json, "aws_vpc_security_group_egress_rule")).filter((r) =>
      String(r.security_group_id).includes("endpoints"),
    );
    expect(egress).toEqual([]);
    const sg = oneResource(s.json, "aws_security_group", "endpoints");
    expect(sg.egress).toBeUndefined();
    expect(sg.ingress).toBeUndefined();
  });

  it("describes every security group rule of the stack", () => {
    const rules = [
      ...Object.values(resourcesOf(s.json, "aws_vpc_security_group_ingress_rule")),
      ...Object.values(resourcesOf(s.json, "aws_vpc_security_group_egress_rule")),
    ];
    expect(rules.length).toBeGreaterThan(0);
    for (const rule of rules) expect(rule.description).toMatch(/\w/);
  });

  it("locks down the default security group (no rules)", () => {
    const sg = oneResource(s.json, "aws_default_security_group");
    expect(sg.ingress).toBeUndefined();
    expect(sg.egress).toBeUndefined();
    expect(sg.vpc_id).toMatch(/^\$\{aws_vpc\./);
  });

  it("sends all VPC traffic, aggregated per 60 s, to a log group encrypted with the logs key", () => {
    const flowLog = oneResource(s.json, "aws_flow_log");
    expect(flowLog).toMatchObject({
      traffic_type: "ALL",
      max_aggregation_interval: 60,
      log_destination_type: "cloud-watch-logs",
    });
    const groupRef = referenceOf(flowLog.log_destination)!;
    expect(groupRef[0]).toBe("aws_cloudwatch_log_group");
    const group = resourcesOf(s.json, "aws_cloudwatch_log_group")[groupRef[1]];
    expect(group.retention_in_days).toBe(s.config.logRetentionDays);
    expect(group.kms_key_id).toMatch(/^\$\{aws_kms_key\.keys_logs_key_[A-F0-9]+\.arn\}$/);
    expect(group.name).toBe(`/aws/vpc-flow-logs/${s.config.clusterName}`);
  });

  it("gives the flow-log role write access to its own log group only", () => {
    const policy = JSON.parse(oneResource(s.json, "aws_iam_role_policy", "flow-logs").policy);
    const groupName = referenceOf(oneResource(s.json, "aws_flow_log").log_destination)![1];
    const arn = `\${aws_cloudwatch_log_group.${groupName}.arn}`;
    for (const statement of policy.Statement) {
      expect(statement.Effect).toBe("Allow");
      for (const resource of [statement.Resource].flat()) expect(resource.startsWith(arn)).toBe(true);
    }
    const trust = JSON.parse(oneResource(s.json, "aws_iam_role", "flow-logs").assume_role_policy);
    expect(trust.Statement[0].Principal).toEqual({ Service: "vpc-flow-logs.amazonaws.com" });
    expect(trust.Statement[0].Condition.StringEquals["aws:SourceAccount"]).toMatch(/caller_identity/);
  });

  it("turns rotation on for every key of the grid stack", () => {
    const keys = Object.values(resourcesOf(s.json, "aws_kms_key"));
    expect(keys.length).toBeGreaterThanOrEqual(8);
    for (const key of keys) expect(key.enable_key_rotation).toBe(true);
  });
});

describe("NAT grid with netmask layout (vpc_cidr_block_public 24, vpc_cidr_block_private 18)", () => {
  let s: Scenario;
  beforeAll(() => {
    s = scenario({
      enable_private_subnet: false,
      vpc_cidr_block_public: 24,
      vpc_cidr_block_private: 18,
      log_retention_days: 90,
    });
  });

  it("carves the subnets per AZ from the VPC range, public first, each aligned to its size", () => {
    expect(subnets(s.json, "public").map((x) => x.cidr_block)).toEqual([
      "10.0.0.0/24",
      "10.0.1.0/24",
      "10.0.2.0/24",
    ]);
    expect(subnets(s.json, "private").map((x) => x.cidr_block)).toEqual([
      "10.0.64.0/18",
      "10.0.128.0/18",
      "10.0.192.0/18",
    ]);
  });

  it("creates one NAT gateway in the first public subnet and routes every private subnet through it", () => {
    const nats = Object.entries(resourcesOf(s.json, "aws_nat_gateway"));
    expect(nats).toHaveLength(1);
    const [natName, nat] = nats[0];
    expect(nat.subnet_id).toBe(idOf(s.json, "aws_subnet", subnets(s.json, "public")[0]));
    expect(nat.depends_on).toEqual([expect.stringMatching(/^aws_internet_gateway\./)]);
    expect(Object.keys(resourcesOf(s.json, "aws_eip"))).toHaveLength(1);
    const privateRoutes = Object.values(resourcesOf(s.json, "aws_route")).filter((r) => r.nat_gateway_id);
    expect(privateRoutes).toHaveLength(3);
    for (const route of privateRoutes) {
      expect(route.destination_cidr_block).toBe("0.0.0.0/0");
      expect(route.nat_gateway_id).toBe(`\${aws_nat_gateway.${natName}.id}`);
    }
  });

  it("creates the execute-api endpoint (the private API's only door) and no other interface endpoint", () => {
    const byService = endpointsByService(s.json);
    const interfaces = Object.entries(byService).filter(([, e]) => e.vpc_endpoint_type === "Interface");
    expect(interfaces.map(([service]) => service)).toEqual(["execute-api"]);
    expect(byService["execute-api"].private_dns_enabled).toBe(true);
  });

  it("uses the configured log retention for flow logs", () => {
    const groupName = referenceOf(oneResource(s.json, "aws_flow_log").log_destination)![1];
    expect(resourcesOf(s.json, "aws_cloudwatch_log_group")[groupName].retention_in_days).toBe(90);
  });
});

describe("NAT per AZ, two AZs, allowed access CIDRs", () => {
  let s: Scenario;
  beforeAll(() => {
    s = scenario({
      enable_private_subnet: false,
      nat_gateway_per_az: true,
      vpc_cidr_block: "10.20.0.0/20",
      vpc_cidr_block_public: 26,
      vpc_cidr_block_private: 22,
      availability_zone_count: 2,
      allowed_access_cidr_blocks: ["192.168.10.0/24"],
    });
  });

  it("creates one NAT gateway per AZ and routes each private subnet through its own zone's NAT", () => {
    const pub = subnets(s.json, "public");
    expect(pub).toHaveLength(2);
    const nats = Object.entries(resourcesOf(s.json, "aws_nat_gateway")).sort(([a], [b]) =>
      a.localeCompare(b),
    );
    expect(nats.map(([, n]) => n.subnet_id)).toEqual(pub.map((x) => idOf(s.json, "aws_subnet", x)));
    const routes = Object.entries(resourcesOf(s.json, "aws_route"))
      .filter(([, r]) => r.nat_gateway_id)
      .sort(([a], [b]) => a.localeCompare(b));
    expect(routes.map(([, r]) => r.nat_gateway_id)).toEqual(
      nats.map(([name]) => `\${aws_nat_gateway.${name}.id}`),
    );
    // The route of zone i lives in zone i's table.
    routes.forEach(([, route], i) => expect(route.route_table_id).toContain(`az-${i}_private-routes`));
  });

  it("carves a small VPC for two AZs", () => {
    expect(subnets(s.json, "public").map((x) => x.cidr_block)).toEqual(["10.20.0.0/26", "10.20.0.64/26"]);
    expect(subnets(s.json, "private").map((x) => x.cidr_block)).toEqual(["10.20.4.0/22", "10.20.8.0/22"]);
  });

  it("also lets allowed_access_cidr_blocks reach the endpoints on 443", () => {
    expect(
      Testing.toHaveResourceWithProperties(s.text, "aws_vpc_security_group_ingress_rule", {
        cidr_ipv4: "192.168.10.0/24",
        from_port: 443,
        to_port: 443,
      }),
    ).toBe(true);
  });
});
