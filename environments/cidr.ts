/**
 * Just enough IPv4 CIDR arithmetic for config validation: containment and overlap.
 * zod checks the syntax (z.cidrv4); this answers the questions zod cannot.
 */
export interface Ipv4Range {
  readonly first: number;
  readonly last: number;
  readonly prefix: number;
}

export function parseIpv4Cidr(cidr: string): Ipv4Range {
  const [address, prefixText] = cidr.split("/");
  const octets = (address ?? "").split(".").map(Number);
  const prefix = Number(prefixText);
  if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255) || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) {
    throw new Error(`not an IPv4 CIDR: ${cidr}`);
  }
  const base = octets.reduce((acc, octet) => acc * 256 + octet, 0);
  const size = 2 ** (32 - prefix);
  const first = base - (base % size);
  return { first, last: first + size - 1, prefix };
}

/**
 * AWS rejects a CIDR whose host bits are set (10.0.0.5/16): say so before Terraform does.
 * A string that is no IPv4 CIDR at all passes here: the syntax check reports it.
 */
export function isNetworkAddress(cidr: string): boolean {
  let range: Ipv4Range;
  try {
    range = parseIpv4Cidr(cidr);
  } catch {
    return true;
  }
  const base = cidr.split("/")[0]!.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0);
  return range.first === base;
}

export function contains(outer: string, inner: string): boolean {
  const a = parseIpv4Cidr(outer);
  const b = parseIpv4Cidr(inner);
  return a.first <= b.first && b.last <= a.last;
}

export function overlaps(left: string, right: string): boolean {
  const a = parseIpv4Cidr(left);
  const b = parseIpv4Cidr(right);
  return a.first <= b.last && b.first <= a.last;
}

const WORLD = new Set(["0.0.0.0/0", "::/0"]);
/** True for a CIDR that admits the whole internet, however it is spelled (0.0.0.0/0, ::/0, 0::/0). */
export function isWorld(cidr: string): boolean {
  if (WORLD.has(cidr)) return true;
  const [, prefix] = cidr.split("/");
  return prefix === "0";
}
