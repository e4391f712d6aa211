/**
 * CIDR questions config validation asks that zod cannot: containment, overlap, and how much of
 * the internet a list of CIDRs lets in. zod checks the syntax (z.cidrv4, z.cidrv6); the set
 * arithmetic (merge, subtract, IPv4 and IPv6 alike) is cidr-tools'.
 */
import { containsCidr, excludeCidr, mergeCidr, overlapCidr, parseCidr as parseAnyCidr } from "cidr-tools";
import { z } from "zod";

const CidrSyntax = z.union([z.cidrv4(), z.cidrv6()]);

/** True for an IPv4 or IPv6 CIDR as zod spells them (cidr-tools alone would take 1.2.3/8 or 0.0.0.0/33). */
export function isCidr(cidr: string): boolean {
  return CidrSyntax.safeParse(cidr).success;
}

function parseCidr(cidr: string): ReturnType<typeof parseAnyCidr> {
  if (!isCidr(cidr)) throw new Error(`not an IPv4 or IPv6 CIDR: ${cidr}`);
  return parseAnyCidr(cidr);
}

/**
 * AWS rejects a CIDR whose host bits are set (10.0.0.5/16): say so before Terraform does.
 * A string that is no CIDR at all passes here: the syntax check reports it.
 */
export function isNetworkAddress(cidr: string): boolean {
  if (!isCidr(cidr)) return true;
  return parseCidr(cidr).start === parseAnyCidr(cidr.split("/")[0]!).start;
}

export function contains(outer: string, inner: string): boolean {
  return containsCidr(outer, inner);
}

export function overlaps(left: string, right: string): boolean {
  return overlapCidr(left, right);
}

/**
 * Addresses that are not "the internet": the IANA special-purpose ranges marked not globally
 * reachable (RFC 6890 and successors), plus multicast, which never opens a TCP connection.
 * Everything else counts as public, including IPv6 space IANA has not allocated yet: a rule
 * written today must not open up the day it is allocated. Two deliberate choices:
 * - 2001::/23 (IETF protocol assignments) stays public: Teredo (2001::/32) embeds any IPv4 client.
 * - ::ffff:0:0/96 (IPv4-mapped) is not public: security groups match IPv4 clients by IPv4 rules only.
 */
const NOT_PUBLIC: Readonly<Record<4 | 6, readonly string[]>> = {
  4: [
    "0.0.0.0/8", // "this network"
    "10.0.0.0/8", // private (RFC 1918)
    "100.64.0.0/10", // shared address space, carrier-grade NAT (RFC 6598)
    "127.0.0.0/8", // loopback
    "169.254.0.0/16", // link-local
    "172.16.0.0/12", // private (RFC 1918)
    "192.0.0.0/24", // IETF protocol assignments
    "192.0.2.0/24", // documentation (TEST-NET-1)
    "192.168.0.0/16", // private (RFC 1918)
    "198.18.0.0/15", // benchmarking
    "198.51.100.0/24", // documentation (TEST-NET-2)
    "203.0.113.0/24", // documentation (TEST-NET-3)
    "224.0.0.0/4", // multicast
    "240.0.0.0/4", // reserved, and the limited broadcast address
  ],
  6: [
    "::/128", // unspecified
    "::1/128", // loopback
    "::ffff:0:0/96", // IPv4-mapped
    "64:ff9b:1::/48", // local-use IPv4/IPv6 translation
    "100::/64", // discard-only
    "2001:db8::/32", // documentation
    "3fff::/20", // documentation (RFC 9637)
    "5f00::/16", // SRv6 SIDs (RFC 9602)
    "fc00::/7", // unique local
    "fe80::/10", // link-local
    "ff00::/8", // multicast
  ],
};

/**
 * "The internet", precisely: a list of CIDRs admits the internet when the public addresses it
 * covers, counted on the union of its entries (so splitting 0.0.0.0/0 into two /1s, or 256 /8s,
 * changes nothing), are more than one organisation's network spans: 65,536 IPv4 addresses
 * (a /16, the old class B) or 2^80 IPv6 addresses (a /48, what the registries assign one end
 * site, RFC 6177). Private and other non-public ranges count for nothing, so 10.0.0.0/8 or
 * fc00::/7 stay allowed; an office's /24 or a VPN's /32 stay allowed; 0.0.0.0/1 + 128.0.0.0/1,
 * 2000::/3 and ::/1 + 8000::/1 do not.
 */
export const MAX_PUBLIC_PREFIX: Readonly<Record<4 | 6, number>> = { 4: 16, 6: 48 };

export interface InternetExposure {
  readonly family: 4 | 6;
  /** How many public addresses the list admits in this family. */
  readonly publicAddresses: bigint;
  /** The most it may admit (the size of a MAX_PUBLIC_PREFIX block). */
  readonly limit: bigint;
  /** The entries that contribute public addresses, as written. */
  readonly entries: readonly string[];
}

/** How much of the public internet `cidrs` admit, per address family. Throws on a malformed CIDR. */
export function publicAddresses(cidrs: readonly string[]): Record<4 | 6, bigint> {
  const count = { 4: 0n, 6: 0n };
  for (const family of [4, 6] as const) {
    const ofFamily = cidrs.filter((cidr) => parseCidr(cidr).version === family);
    if (!ofFamily.length) continue;
    for (const block of excludeCidr(mergeCidr(ofFamily), [...NOT_PUBLIC[family]])) {
      const { start, end } = parseAnyCidr(block);
      count[family] += end - start + 1n;
    }
  }
  return count;
}

/**
 * The reusable check for every list that must not be "the internet" (see MAX_PUBLIC_PREFIX):
 * undefined when `cidrs` stay within the limit, otherwise the first family that does not.
 * Throws on a malformed CIDR: validate the syntax first.
 */
export function internetExposure(cidrs: readonly string[]): InternetExposure | undefined {
  const counts = publicAddresses(cidrs);
  for (const family of [4, 6] as const) {
    const limit = 2n ** BigInt((family === 4 ? 32 : 128) - MAX_PUBLIC_PREFIX[family]);
    if (counts[family] > limit) {
      const entries = cidrs.filter((cidr) => parseCidr(cidr).version === family && publicAddresses([cidr])[family] > 0n);
      return { family, publicAddresses: counts[family], limit, entries };
    }
  }
  return undefined;
}

/** "0.0.0.0/1, 128.0.0.0/1 admit 3,702,258,432 public IPv4 addresses, more than a /16 (65,536)". */
export function describeExposure(exposure: InternetExposure): string {
  const { family, publicAddresses: count, limit, entries } = exposure;
  const shown = entries.length > 4 ? `${entries.slice(0, 4).join(", ")} and ${entries.length - 4} more` : entries.join(", ");
  return `${shown} ${entries.length === 1 ? "admits" : "admit"} ${addressCount(count)} public IPv${family} addresses, more than a /${MAX_PUBLIC_PREFIX[family]} (${addressCount(limit)})`;
}

/** Exact below 2^53; beyond, a power of two (IPv6 counts have up to 39 digits). */
function addressCount(n: bigint): string {
  if (n <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(n).toLocaleString("en-US");
  const bits = n.toString(2).length - 1;
  return `${n === 2n ** BigInt(bits) ? "" : "over "}2^${bits}`;
}
