// IPv4 CIDR arithmetic for validating and carving subnet layouts at synth time (no plan-time surprises).

export interface Cidr {
  readonly base: number; // network address as an unsigned 32-bit integer
  readonly prefix: number;
}

/** Parse "a.b.c.d/n"; returns undefined when malformed or when host bits are set. */
export function parseCidr(text: string): Cidr | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text);
  if (!m) return undefined;
  const octets = m.slice(1, 5).map(Number);
  const prefix = Number(m[5]);
  if (octets.some((o) => o > 255) || prefix > 32) return undefined;
  const base = ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0;
  if ((base & hostMask(prefix)) !== 0) return undefined;
  return { base, prefix };
}

function hostMask(prefix: number): number {
  return prefix === 0 ? 0xffffffff : (2 ** (32 - prefix) - 1) >>> 0;
}

export function size(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

export function formatCidr(c: Cidr): string {
  const b = c.base;
  return `${b >>> 24}.${(b >>> 16) & 255}.${(b >>> 8) & 255}.${b & 255}/${c.prefix}`;
}

/** true when `inner` lies entirely inside `outer`. */
export function contains(outer: Cidr, inner: Cidr): boolean {
  return (
    inner.prefix >= outer.prefix &&
    inner.base >= outer.base &&
    inner.base + size(inner) <= outer.base + size(outer)
  );
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.base < b.base + size(b) && b.base < a.base + size(a);
}

/**
 * Carve consecutive subnets of the given prefixes from `parent`, each aligned to its own size (Terraform's
 * `cidrsubnets` semantics). Returns undefined when they do not fit.
 */
export function carve(parent: Cidr, prefixes: number[]): Cidr[] | undefined {
  const out: Cidr[] = [];
  let next = parent.base;
  for (const prefix of prefixes) {
    if (prefix < parent.prefix || prefix > 32) return undefined;
    const s = 2 ** (32 - prefix);
    next = Math.ceil(next / s) * s;
    if (next + s > parent.base + size(parent)) return undefined;
    out.push({ base: next >>> 0, prefix });
    next += s;
  }
  return out;
}
