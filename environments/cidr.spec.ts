import { describe, expect, it } from "vitest";
import { contains, describeExposure, internetExposure, isNetworkAddress, overlaps, publicAddresses } from "./cidr.js";

describe("internetExposure: a list that must not be the internet is judged by what it covers", () => {
  const internet: Array<[string, string[]]> = [
    ["0.0.0.0/0", ["0.0.0.0/0"]],
    ["::/0 and its other spellings", ["0::/0"]],
    ["IPv4 as two halves", ["0.0.0.0/1", "128.0.0.0/1"]],
    ["half of IPv4", ["128.0.0.0/1"]],
    ["all global unicast IPv6", ["2000::/3"]],
    ["IPv6 as two halves", ["::/1", "8000::/1"]],
    ["IPv6 space IANA has not allocated yet", ["4000::/2"]],
    ["IPv4 as 256 /8s", Array.from({ length: 256 }, (_, i) => `${i}.0.0.0/8`)],
    ["two public /16s", ["3.0.0.0/16", "52.0.0.0/16"]],
    ["a public /15", ["3.0.0.0/15"]],
    ["a /16 of public space plus one address", ["3.0.0.0/16", "52.1.2.3/32"]],
    ["one /47 of IPv6", ["2a01:4f8::/47"]],
    ["Teredo, which embeds any IPv4 client", ["2001::/32"]],
    ["IPv4 hidden behind a private range listed first", ["10.0.0.0/8", "0.0.0.0/0"]],
  ];
  it.each(internet)("refuses %s", (_what, cidrs) => {
    expect(internetExposure(cidrs)).toBeDefined();
  });

  const allowed: Array<[string, string[]]> = [
    ["nothing", []],
    ["the RFC 1918 ranges, carrier-grade NAT and loopback", ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8"]],
    ["unique local and link-local IPv6", ["fc00::/7", "fe80::/10"]],
    ["an office's /24 and a VPN's /32", ["81.2.69.0/24", "81.2.70.17/32"]],
    ["exactly one public /16", ["3.0.0.0/16"]],
    ["one public /16 written as its two halves, twice", ["3.0.0.0/17", "3.0.128.0/17", "3.0.0.0/16"]],
    ["a /16 of public space plus private ranges", ["3.0.0.0/16", "10.0.0.0/8"]],
    ["one site's /48 of IPv6", ["2a01:4f8:c0c::/48"]],
    ["IPv4-mapped IPv6, which security groups never match against IPv4 clients", ["::ffff:0:0/96"]],
    ["the documentation ranges", ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32"]],
  ];
  it.each(allowed)("allows %s", (_what, cidrs) => {
    expect(internetExposure(cidrs)).toBeUndefined();
  });

  it("counts public addresses on the union, without the non-public ranges", () => {
    expect(publicAddresses(["3.0.0.0/16", "3.0.0.0/17", "10.0.0.0/8"])).toEqual({ 4: 65_536n, 6: 0n });
    // 2^32 less the special-purpose ranges: what 0.0.0.0/0 really lets in.
    expect(publicAddresses(["0.0.0.0/0"])[4]).toBe(3_702_258_688n);
    expect(publicAddresses(["0.0.0.0/0"])).toEqual(publicAddresses(["0.0.0.0/1", "128.0.0.0/1"]));
    expect(publicAddresses(["::/1", "8000::/1"])).toEqual(publicAddresses(["::/0"]));
  });

  it("says which entries let the internet in, how much and the limit", () => {
    expect(describeExposure(internetExposure(["10.0.0.0/8", "0.0.0.0/1", "128.0.0.0/1"])!)).toBe("0.0.0.0/1, 128.0.0.0/1 admit 3,702,258,688 public IPv4 addresses, more than a /16 (65,536)");
    expect(describeExposure(internetExposure(["fc00::/7", "2000::/3"])!)).toBe("2000::/3 admits over 2^124 public IPv6 addresses, more than a /48 (2^80)");
    expect(describeExposure(internetExposure(["8000::/2"])!)).toBe("8000::/2 admits 2^126 public IPv6 addresses, more than a /48 (2^80)");
  });

  it("throws on a malformed CIDR rather than guessing", () => {
    for (const bad of ["0.0.0.0/33", "300.1.1.1/8", "1.2.3/8", "::/129", "10.0.0.0"]) expect(() => internetExposure([bad]), bad).toThrow(`not an IPv4 or IPv6 CIDR: ${bad}`);
  });
});

describe("containment, overlap and network addresses", () => {
  it("answers for IPv4", () => {
    expect(contains("10.10.0.0/16", "10.10.3.0/24")).toBe(true);
    expect(contains("10.10.0.0/16", "10.11.0.0/24")).toBe(false);
    expect(overlaps("10.10.0.0/24", "10.10.0.128/25")).toBe(true);
    expect(overlaps("10.10.0.0/24", "10.10.1.0/24")).toBe(false);
  });

  it("knows a network address from one with host bits set", () => {
    expect(isNetworkAddress("10.10.0.0/16")).toBe(true);
    expect(isNetworkAddress("10.10.0.5/16")).toBe(false);
    expect(isNetworkAddress("2001:db8::/32")).toBe(true);
    expect(isNetworkAddress("2001:db8::1/32")).toBe(false);
    // Not a CIDR at all: the syntax check reports that, not this one.
    expect(isNetworkAddress("not-a-cidr")).toBe(true);
  });
});
