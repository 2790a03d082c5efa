// The grid's VPC: one public and one private subnet per availability zone, egress through NAT or through VPC
// endpoints only (enable_private_subnet), flow logs to a KMS-encrypted log group, and a default security group
// with no rules.
import { Construct } from "constructs";
import { Fn } from "cdktf";
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { DataAwsAvailabilityZones } from "@cdktf/provider-aws/lib/data-aws-availability-zones";
import { DataAwsVpcEndpointService } from "@cdktf/provider-aws/lib/data-aws-vpc-endpoint-service";
import { DefaultSecurityGroup } from "@cdktf/provider-aws/lib/default-security-group";
import { Eip } from "@cdktf/provider-aws/lib/eip";
import { FlowLog } from "@cdktf/provider-aws/lib/flow-log";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { InternetGateway } from "@cdktf/provider-aws/lib/internet-gateway";
import { NatGateway } from "@cdktf/provider-aws/lib/nat-gateway";
import { Route } from "@cdktf/provider-aws/lib/route";
import { RouteTable } from "@cdktf/provider-aws/lib/route-table";
import { RouteTableAssociation } from "@cdktf/provider-aws/lib/route-table-association";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { Subnet } from "@cdktf/provider-aws/lib/subnet";
import { Vpc } from "@cdktf/provider-aws/lib/vpc";
import { VpcEndpoint } from "@cdktf/provider-aws/lib/vpc-endpoint";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import type { AccountContext } from "../account/account-context";
import type { NetworkConfig } from "../config/model";
import type { GridKey } from "../kms/grid-key";
import type { GridNames } from "../naming/names";
import type { NetworkHandoff } from "./handoff";

/**
 * Interface endpoints of a private grid (no NAT): everything nodes, add-ons, VPC Lambdas and agents call.
 * execute-api is always created (see EXECUTE_API).
 */
export const PRIVATE_INTERFACE_ENDPOINTS = [
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
] as const;

/** The private REST API is reachable only through this endpoint, so it exists with or without NAT. */
export const EXECUTE_API = "execute-api";

/**
 * Gateway endpoints (free) on the private route tables. Created in both modes: without NAT they are the only
 * path to S3 and DynamoDB; with NAT they keep payload and state traffic off the NAT's per-GB charge.
 */
export const GATEWAY_ENDPOINTS = ["s3", "dynamodb"] as const;

const HTTPS = 443;
/** Flow-log aggregation interval: 60 s (the finest AWS offers) so incidents show up within a minute. */
const FLOW_LOG_AGGREGATION_SEC = 60;

export interface GridNetworkProps {
  /** The validated network slice of the grid config (CIDRs already carved per AZ). */
  readonly network: NetworkConfig;
  /** EKS cluster name `<cluster_name>-<project>`: names the VPC and the subnet discovery tags. */
  readonly clusterName: string;
  /** Retention of the flow-log group (days). */
  readonly logRetentionDays: number;
  readonly names: GridNames;
  readonly account: AccountContext;
  /** Key of every grid log group (`GridKeys.logs`). */
  readonly logsKey: GridKey;
}

/** VPC, subnets, routing, endpoints and flow logs of one grid. */
export class GridNetwork extends Construct implements NetworkHandoff {
  public readonly vpc: Vpc;
  public readonly publicSubnets: Subnet[] = [];
  public readonly privateSubnets: Subnet[] = [];
  /** One per AZ, AZ order (private subnets route through their own table). */
  public readonly privateRouteTables: RouteTable[] = [];
  public readonly publicRouteTable: RouteTable;
  public readonly internetGateway: InternetGateway;
  /** Empty when enablePrivateSubnet; one, or one per AZ with natGatewayPerAz. */
  public readonly natGateways: NatGateway[] = [];
  /** Interface endpoints by service (`ecr.api`, `execute-api`, ...). */
  public readonly interfaceEndpoints: Record<string, VpcEndpoint> = {};
  /** Gateway endpoints by service (`s3`, `dynamodb`). */
  public readonly gatewayEndpoints: Record<string, VpcEndpoint> = {};
  public readonly executeApiEndpoint: VpcEndpoint;
  public readonly endpointSecurityGroup: SecurityGroup;
  public readonly flowLogGroup: CloudwatchLogGroup;
  /** AZ names (tokens), in the order of the subnet lists. */
  public readonly availabilityZones: string[] = [];
  /** VPC range from the config (a literal, usable where a token is not). */
  public readonly vpcCidr: string;

  constructor(scope: Construct, id: string, props: GridNetworkProps) {
    super(scope, id);
    const { network, clusterName, names, account } = props;
    this.vpcCidr = network.vpcCidr;

    // AZs by position in the region's list. The AZ count was checked against a region table when the config
    // was parsed (no default-VPC lookup, upstream defect 10); the postcondition catches an account whose
    // region exposes fewer zones than the table says.
    const zones = new DataAwsAvailabilityZones(this, "azs", {
      state: "available",
      filter: [{ name: "opt-in-status", values: ["opt-in-not-required"] }],
      lifecycle: {
        postcondition: [
          {
            condition: `\${length(self.names) >= ${network.azCount}}`,
            errorMessage: `The grid spans ${network.azCount} availability zones but ${account.region} offers fewer to this account; lower availability_zone_count or list fewer subnets.`,
          },
        ],
      },
    });

    this.vpc = new Vpc(this, "vpc", {
      cidrBlock: network.vpcCidr,
      enableDnsSupport: true,
      enableDnsHostnames: true,
      tags: { Name: clusterName },
    });

    // The default security group is attached to anything launched without one: keep it empty.
    new DefaultSecurityGroup(this, "default-sg", {
      vpcId: this.vpc.id,
      tags: { Name: `${clusterName}-default` },
    });

    this.internetGateway = new InternetGateway(this, "igw", {
      vpcId: this.vpc.id,
      tags: { Name: clusterName },
    });
    this.publicRouteTable = new RouteTable(this, "public-routes", {
      vpcId: this.vpc.id,
      tags: { Name: `${clusterName}-public` },
    });
    new Route(this, "public-default-route", {
      routeTableId: this.publicRouteTable.id,
      destinationCidrBlock: "0.0.0.0/0",
      gatewayId: this.internetGateway.id,
    });

    const clusterTag = `kubernetes.io/cluster/${clusterName}`;
    for (let i = 0; i < network.azCount; i++) {
      const az = new Construct(this, `az-${i}`);
      const zone = Fn.element(zones.names, i);
      this.availabilityZones.push(zone);
      const publicSubnet = new Subnet(az, "public-subnet", {
        vpcId: this.vpc.id,
        cidrBlock: network.publicSubnetCidrs[i],
        availabilityZone: zone,
        // Nothing in the grid needs a public address; load balancers get theirs from ELB.
        mapPublicIpOnLaunch: false,
        tags: { Name: `${clusterName}-public-${i}`, [clusterTag]: "shared", "kubernetes.io/role/elb": "1" },
      });
      const privateSubnet = new Subnet(az, "private-subnet", {
        vpcId: this.vpc.id,
        cidrBlock: network.privateSubnetCidrs[i],
        availabilityZone: zone,
        tags: {
          Name: `${clusterName}-private-${i}`,
          [clusterTag]: "shared",
          "kubernetes.io/role/internal-elb": "1",
        },
      });
      new RouteTableAssociation(az, "public-routes", {
        subnetId: publicSubnet.id,
        routeTableId: this.publicRouteTable.id,
      });
      const privateRoutes = new RouteTable(az, "private-routes", {
        vpcId: this.vpc.id,
        tags: { Name: `${clusterName}-private-${i}` },
      });
      new RouteTableAssociation(az, "private-routes-assoc", {
        subnetId: privateSubnet.id,
        routeTableId: privateRoutes.id,
      });
      this.publicSubnets.push(publicSubnet);
      this.privateSubnets.push(privateSubnet);
      this.privateRouteTables.push(privateRoutes);

      if (!network.enablePrivateSubnet && (network.natGatewayPerAz || i === 0)) {
        const eip = new Eip(az, "nat-ip", { domain: "vpc", tags: { Name: `${clusterName}-nat-${i}` } });
        this.natGateways.push(
          new NatGateway(az, "nat", {
            allocationId: eip.allocationId,
            subnetId: publicSubnet.id,
            tags: { Name: `${clusterName}-nat-${i}` },
            dependsOn: [this.internetGateway],
          }),
        );
      }
      if (!network.enablePrivateSubnet) {
        // Zone 0's NAT exists by now, so every zone can route through it when there is only one.
        new Route(az, "private-default-route", {
          routeTableId: privateRoutes.id,
          destinationCidrBlock: "0.0.0.0/0",
          natGatewayId: this.natGateways[network.natGatewayPerAz ? i : 0].id,
        });
      }
    }
    const endpoints = new Construct(this, "endpoints");
    for (const service of GATEWAY_ENDPOINTS) {
      const group = new Construct(endpoints, service);
      // The endpoint service name is looked up rather than spelled `com.amazonaws.<region>.<svc>`: China
      // regions use `cn.com.amazonaws.` for some services and not others.
      const lookup = new DataAwsVpcEndpointService(group, "service", { service, serviceType: "Gateway" });
      this.gatewayEndpoints[service] = new VpcEndpoint(group, "endpoint", {
        vpcId: this.vpc.id,
        serviceName: lookup.serviceName,
        vpcEndpointType: "Gateway",
        routeTableIds: this.privateRouteTables.map((t) => t.id),
        tags: { Name: `${clusterName}-${service}` },
      });
    }

    this.endpointSecurityGroup = new SecurityGroup(endpoints, "security-group", {
      name: names.name("securityGroup", "htc-vpc-endpoints"),
      description: "HTTPS from the grid VPC to its interface endpoints",
      vpcId: this.vpc.id,
      tags: { Name: names.name("securityGroup", "htc-vpc-endpoints") },
    });
    const httpsSources = [
      { id: "https-from-vpc", cidr: this.vpc.cidrBlock, description: "HTTPS from the grid VPC" },
      ...network.allowedAccessCidrBlocks.map((cidr, i) => ({
        id: `https-from-allowed-${i}`,
        cidr,
        description: `HTTPS from allowed_access_cidr_blocks[${i}]`,
      })),
    ];
    for (const source of httpsSources) {
      new VpcSecurityGroupIngressRule(endpoints, source.id, {
        securityGroupId: this.endpointSecurityGroup.id,
        ipProtocol: "tcp",
        fromPort: HTTPS,
        toPort: HTTPS,
        cidrIpv4: source.cidr,
        description: source.description,
      });
    }
    // No egress rules: Terraform removes AWS's allow-all default, and endpoints never initiate connections.

    const interfaceServices: readonly string[] = network.enablePrivateSubnet
      ? PRIVATE_INTERFACE_ENDPOINTS
      : [EXECUTE_API];
    for (const service of interfaceServices) {
      const group = new Construct(endpoints, service.replace(/\./g, "-"));
      const lookup = new DataAwsVpcEndpointService(group, "service", { service, serviceType: "Interface" });
      this.interfaceEndpoints[service] = new VpcEndpoint(group, "endpoint", {
        vpcId: this.vpc.id,
        serviceName: lookup.serviceName,
        vpcEndpointType: "Interface",
        // Private DNS lets clients use the service's normal hostname. For execute-api this also means every
        // *.execute-api hostname resolves to the endpoint inside the VPC: in-VPC clients use the private API.
        privateDnsEnabled: true,
        subnetIds: this.privateSubnets.map((s) => s.id),
        securityGroupIds: [this.endpointSecurityGroup.id],
        tags: { Name: `${clusterName}-${service}` },
      });
    }
    this.executeApiEndpoint = this.interfaceEndpoints[EXECUTE_API];

    this.flowLogGroup = this.flowLogs(props);
  }

  private flowLogs(props: GridNetworkProps): CloudwatchLogGroup {
    const { account, names, clusterName } = props;
    const scope = new Construct(this, "flow-logs");
    const logGroup = new CloudwatchLogGroup(scope, "log-group", {
      name: `/aws/vpc-flow-logs/${clusterName}`,
      retentionInDays: props.logRetentionDays,
      kmsKeyId: props.logsKey.arn,
    });
    const role = new IamRole(scope, "role", {
      name: names.name("iamRole", "htc-vpc-flow-logs"),
      description: `Delivers VPC flow logs of ${clusterName} to its log group`,
      assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          {
            Effect: "Allow",
            Principal: { Service: "vpc-flow-logs.amazonaws.com" },
            Action: "sts:AssumeRole",
            Condition: {
              StringEquals: { "aws:SourceAccount": account.accountId },
              ArnLike: {
                "aws:SourceArn": `arn:${account.partition}:ec2:${account.region}:${account.accountId}:vpc-flow-log/*`,
              },
            },
          },
        ],
      }),
    });
    new IamRolePolicy(scope, "role-policy", {
      role: role.id,
      name: "write-flow-logs",
      policy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          {
            Sid: "WriteThisLogGroupOnly",
            Effect: "Allow",
            Action: ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            Resource: [logGroup.arn, `${logGroup.arn}:log-stream:*`],
          },
        ],
      }),
    });
    new FlowLog(scope, "flow-log", {
      vpcId: this.vpc.id,
      trafficType: "ALL",
      maxAggregationInterval: FLOW_LOG_AGGREGATION_SEC,
      logDestinationType: "cloud-watch-logs",
      logDestination: logGroup.arn,
      iamRoleArn: role.arn,
      tags: { Name: clusterName },
    });
    return logGroup;
  }
}
