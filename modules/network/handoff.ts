// What the network hands to the data, control and compute planes.
import type { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import type { Subnet } from "@cdktf/provider-aws/lib/subnet";
import type { Vpc } from "@cdktf/provider-aws/lib/vpc";
import type { VpcEndpoint } from "@cdktf/provider-aws/lib/vpc-endpoint";

export interface NetworkHandoff {
  readonly vpc: Vpc;
  /** One per AZ, AZ order. Workloads (nodes, VPC-attached Lambdas, Redis) live here. */
  readonly privateSubnets: Subnet[];
  /** One per AZ, AZ order. */
  readonly publicSubnets: Subnet[];
  /** Interface endpoint for execute-api: the private REST API is reachable only through it. */
  readonly executeApiEndpoint: VpcEndpoint;
  /** Security group of the interface endpoints (443 from the VPC). */
  readonly endpointSecurityGroup: SecurityGroup;
}
