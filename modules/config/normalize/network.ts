// Network area: the VPC range, the subnet layout (explicit CIDR lists or netmasks carved per AZ), NAT, and the
// CIDR lists that open the grid to other networks.
import { carve, contains, formatCidr, overlaps, parseCidr, type Cidr } from "../cidr";
import type { GridConfig } from "../model";
import type { RawGridConfig } from "../schema";
import { show, type IssueSink } from "./issues";

/** Address ranges AWS refuses as a VPC range (RFC 6890 special-purpose blocks). */
const RESERVED_RANGES: readonly { cidr: string; what: string }[] = [
  { cidr: "0.0.0.0/8", what: '"this network"' },
  { cidr: "127.0.0.0/8", what: "loopback" },
  { cidr: "169.254.0.0/16", what: "link-local" },
  { cidr: "224.0.0.0/4", what: "multicast" },
  { cidr: "240.0.0.0/4", what: "reserved (and broadcast)" },
];
/** Private and special ranges the public EKS endpoint never sees as a source address. */
const NON_PUBLIC_RANGES: readonly { cidr: string; what: string }[] = [
  { cidr: "10.0.0.0/8", what: "private (RFC 1918)" },
  { cidr: "172.16.0.0/12", what: "private (RFC 1918)" },
  { cidr: "192.168.0.0/16", what: "private (RFC 1918)" },
  { cidr: "100.64.0.0/10", what: "carrier-grade NAT (RFC 6598)" },
  ...RESERVED_RANGES,
];

/**
 * A CIDR this wide opens a port to (nearly) the whole internet: 0.0.0.0/0, but also 0.0.0.0/1 + 128.0.0.0/1 and
 * anything else wider than a /8.
 */
export const WORLD_OPEN_PREFIX = 8;

/** The config keys whose CIDRs may be world-open only when `allow_public_access` names them. */
export const PUBLIC_ACCESS_KEYS = {
  eks_public_access_cidrs: "the Kubernetes API endpoint",
  grafana_allowed_cidrs: "Grafana (plain HTTP through an NLB)",
  allowed_access_cidr_blocks: "Redis and the VPC endpoints",
} as const;
export type PublicAccessKey = keyof typeof PUBLIC_ACCESS_KEYS;

function overlapsRange(c: Cidr, ranges: readonly { cidr: string; what: string }[]) {
  return ranges.find((r) => overlaps(c, parseCidr(r.cidr)!));
}

/**
 * Parses a list of CIDRs: one issue per entry that is not a valid IPv4 CIDR, is listed twice, or (for the keys
 * in PUBLIC_ACCESS_KEYS) opens the grid to the internet without the key's acknowledgement in allow_public_access.
 */
export function checkCidrList(
  path: string,
  list: string[],
  issue: IssueSink,
  opts: { allowPublic: boolean; publicAccessKey?: PublicAccessKey },
): Cidr[] {
  const out: Cidr[] = [];
  const seen = new Map<string, number>();
  list.forEach((text, i) => {
    const at = `${path}[${i}]`;
    const c = parseCidr(text);
    if (!c) {
      const ipv6 = text.includes(":");
      issue(
        at,
        ipv6
          ? `${show(text)} is an IPv6 range; this grid is IPv4-only here${text.trim() === "::/0" ? " (and ::/0 would open it to the whole IPv6 internet)" : ""}; allowed: an IPv4 CIDR a.b.c.d/n`
          : `${show(text)} is not a valid IPv4 CIDR (a.b.c.d/n with no host bits set)`,
      );
      return;
    }
    const canonical = formatCidr(c);
    if (seen.has(canonical)) {
      issue(
        at,
        `${show(text)} is already listed at ${path}[${seen.get(canonical)}]; AWS refuses duplicate rules`,
      );
      return;
    }
    seen.set(canonical, i);
    if (c.prefix < WORLD_OPEN_PREFIX && !opts.allowPublic) {
      const what = opts.publicAccessKey ? PUBLIC_ACCESS_KEYS[opts.publicAccessKey] : "this";
      issue(
        at,
        `${show(text)} opens ${what} to the whole internet; list the networks that need access (e.g. "203.0.113.7/32"), or, if you mean it, add "${opts.publicAccessKey ?? path}" to allow_public_access`,
      );
    }
    out.push(c);
  });
  return out;
}

/** The EKS public endpoint filters on public source addresses: private or special ranges never match. */
export function checkPublicEndpointCidrs(path: string, list: string[], issue: IssueSink): void {
  // EKS's documented limit on public access CIDR blocks.
  const maxCidrs = 40;
  if (list.length > maxCidrs)
    issue(path, `${list.length} CIDRs is too many; EKS allows at most ${maxCidrs} public access CIDR blocks`);
  list.forEach((text, i) => {
    const c = parseCidr(text);
    if (!c || c.prefix < WORLD_OPEN_PREFIX) return;
    const range = overlapsRange(c, NON_PUBLIC_RANGES);
    if (range)
      issue(
        `${path}[${i}]`,
        `${show(text)} is ${range.what} address space, which EKS refuses for the public endpoint (it only sees public source addresses); allowed: public IPv4 ranges. Machines inside the VPC use the private endpoint, which is always on`,
      );
  });
}

/** Which keys `allow_public_access` acknowledges; an acknowledgement that opens nothing is reported. */
export function checkPublicAccessAcknowledgements(
  raw: RawGridConfig,
  issue: IssueSink,
): Set<PublicAccessKey> {
  const acknowledged = new Set<PublicAccessKey>(raw.allow_public_access);
  raw.allow_public_access.forEach((key, i) => {
    const wide = raw[key].some((text) => {
      const c = parseCidr(text);
      return c !== undefined && c.prefix < WORLD_OPEN_PREFIX;
    });
    if (!wide)
      issue(
        `allow_public_access[${i}]`,
        `${show(key)} acknowledges nothing: no CIDR in ${key} is wider than /${WORLD_OPEN_PREFIX}; remove it`,
      );
  });
  return acknowledged;
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
  const reserved = overlapsRange(vpc, RESERVED_RANGES);
  if (reserved) {
    issue(
      "vpc_cidr_block",
      `${show(raw.vpc_cidr_block)} overlaps ${reserved.what} space (${reserved.cidr}), which AWS refuses for a VPC; allowed: a private range such as 10.0.0.0/16, 172.16.0.0/16 or 192.168.0.0/16`,
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
    publicCidrs = checkCidrList("vpc_cidr_block_public", pub, issue, { allowPublic: true });
    privateCidrs = checkCidrList("vpc_cidr_block_private", priv, issue, { allowPublic: true });
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
  raw.allowed_access_cidr_blocks.forEach((text, i) => {
    const c = parseCidr(text);
    if (c && c.base === vpc.base && c.prefix === vpc.prefix)
      issue(
        `allowed_access_cidr_blocks[${i}]`,
        `${show(text)} is the VPC range, which the grid already allows; AWS refuses the duplicate rule; remove it`,
      );
  });
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
