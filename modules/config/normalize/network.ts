// Network area: the VPC range, the subnet layout (explicit CIDR lists or netmasks carved per AZ), NAT, and the
// CIDR lists that open the grid to other networks.
import { carve, contains, formatCidr, overlaps, parseCidr, type Cidr } from "../cidr";
import type { GridConfig } from "../model";
import type { RawGridConfig } from "../schema";
import { show, type IssueSink } from "./issues";

/** Parses a list of CIDRs, one issue per entry that is not a valid IPv4 CIDR. */
export function checkCidrList(
  path: string,
  list: string[],
  issue: IssueSink,
  _opts: { allowPublic: boolean },
): Cidr[] {
  const out: Cidr[] = [];
  list.forEach((text, i) => {
    const c = parseCidr(text);
    if (!c)
      issue(`${path}[${i}]`, `${show(text)} is not a valid IPv4 CIDR (a.b.c.d/n with no host bits set)`);
    else out.push(c);
  });
  return out;
}

export function normalizeNetwork(
  raw: RawGridConfig,
  azAvailable: number,
  issue: IssueSink,
): GridConfig["network"] | undefined {
  const vpc = parseCidr(raw.vpc_cidr_block);
  if (!vpc) {
    issue(
      "vpc_cidr_block",
      `${show(raw.vpc_cidr_block)} is not a valid IPv4 CIDR (a.b.c.d/n with no host bits set)`,
    );
    return undefined;
  }
  if (vpc.prefix < 16 || vpc.prefix > 24) {
    issue(
      "vpc_cidr_block",
      `${show(raw.vpc_cidr_block)} is not allowed; a VPC range has a netmask from /16 to /24`,
    );
    return undefined;
  }
  const pub = raw.vpc_cidr_block_public;
  const priv = raw.vpc_cidr_block_private;
  let azCount: number;
  let publicCidrs: Cidr[] | undefined;
  let privateCidrs: Cidr[] | undefined;
  if (Array.isArray(pub) !== Array.isArray(priv)) {
    issue(
      "vpc_cidr_block_private",
      "must use the same form as vpc_cidr_block_public: both netmask sizes or both CIDR lists",
    );
    return undefined;
  }
  if (Array.isArray(pub) && Array.isArray(priv)) {
    if (raw.availability_zone_count !== undefined && raw.availability_zone_count !== pub.length) {
      issue(
        "availability_zone_count",
        `${raw.availability_zone_count} does not match the ${pub.length} subnets listed per tier`,
      );
    }
    publicCidrs = checkCidrList("vpc_cidr_block_public", pub, issue, { allowPublic: false });
    privateCidrs = checkCidrList("vpc_cidr_block_private", priv, issue, { allowPublic: false });
    if (pub.length !== priv.length) {
      issue(
        "vpc_cidr_block_private",
        `lists ${priv.length} subnets but vpc_cidr_block_public lists ${pub.length}; give one of each per availability zone`,
      );
    }
    if (pub.length < 2)
      issue(
        "vpc_cidr_block_public",
        `${show(pub)} is not allowed; EKS needs subnets in at least 2 availability zones`,
      );
    azCount = pub.length;
    if (publicCidrs.length !== pub.length || privateCidrs.length !== priv.length) return undefined;
    const all = [
      ...publicCidrs.map((c, i) => ({ c, path: `vpc_cidr_block_public[${i}]` })),
      ...privateCidrs.map((c, i) => ({ c, path: `vpc_cidr_block_private[${i}]` })),
    ];
    for (const { c, path } of all) {
      if (!contains(vpc, c))
        issue(path, `${show(formatCidr(c))} is outside the VPC range ${raw.vpc_cidr_block}`);
      if (c.prefix > 28)
        issue(path, `${show(formatCidr(c))} is too small; subnets need a netmask of /28 or larger`);
    }
    for (let i = 0; i < all.length; i++) {
      for (let j = i + 1; j < all.length; j++) {
        if (overlaps(all[i].c, all[j].c)) {
          issue(
            all[j].path,
            `${show(formatCidr(all[j].c))} overlaps ${all[i].path} (${formatCidr(all[i].c)})`,
          );
        }
      }
    }
  } else {
    const pubMask = pub as number;
    const privMask = priv as number;
    azCount = raw.availability_zone_count ?? Math.min(3, azAvailable);
    if (pubMask < vpc.prefix || privMask < vpc.prefix) {
      const [key, mask] =
        pubMask < vpc.prefix ? ["vpc_cidr_block_public", pubMask] : ["vpc_cidr_block_private", privMask];
      issue(
        key,
        `/${mask} is larger than the VPC range ${raw.vpc_cidr_block}; allowed: /${vpc.prefix} to /28`,
      );
      return undefined;
    }
    const carved = carve(vpc, [...Array(azCount).fill(pubMask), ...Array(azCount).fill(privMask)]);
    if (!carved) {
      issue(
        "vpc_cidr_block_private",
        `${azCount} public /${pubMask} and ${azCount} private /${privMask} subnets do not fit in ${raw.vpc_cidr_block}; use smaller subnets (larger netmask numbers), fewer availability zones or a larger VPC`,
      );
      return undefined;
    }
    publicCidrs = carved.slice(0, azCount);
    privateCidrs = carved.slice(azCount);
  }
  if (azCount > azAvailable) {
    issue(
      Array.isArray(pub) ? "vpc_cidr_block_public" : "availability_zone_count",
      `${azCount} availability zones requested but ${raw.region} has ${azAvailable}; allowed: 2 to ${azAvailable}`,
    );
  }
  if (azCount < 2)
    issue("availability_zone_count", `${azCount} is not allowed; EKS needs at least 2 availability zones`);
  if (raw.nat_gateway_per_az && raw.enable_private_subnet) {
    issue(
      "nat_gateway_per_az",
      "true has no effect with enable_private_subnet true (no NAT gateways are created)",
    );
  }
  return {
    vpcCidr: raw.vpc_cidr_block,
    azCount,
    publicSubnetCidrs: publicCidrs.map(formatCidr),
    privateSubnetCidrs: privateCidrs.map(formatCidr),
    enablePrivateSubnet: raw.enable_private_subnet,
    natGatewayPerAz: raw.nat_gateway_per_az,
    allowedAccessCidrBlocks: [...raw.allowed_access_cidr_blocks],
  };
}
