import { describe, expect, test } from "bun:test";
import {
  InvalidIpError,
  bigIntToIp,
  broadcastAddress,
  canonicalCidr,
  cidrSize,
  cidrsOverlap,
  compareIps,
  containsIp,
  firstHost,
  ipFamily,
  ipToBigInt,
  isSameIp,
  lastHost,
  networkAddress,
  nextIp,
  parseCidr,
  parseIp,
  prevIp,
  tryParseCidr,
  tryParseIp,
  bytesToIp,
  ipToBytes,
  tryIpToBytes,
} from "./index.ts";

describe("parseIp()", () => {
  test.each([
    { input: "10.1.2.3", address: "10.1.2.3", family: 4 },
    { input: "0.0.0.0", address: "0.0.0.0", family: 4 },
    { input: "255.255.255.255", address: "255.255.255.255", family: 4 },
    { input: "fd00::1", address: "fd00::1", family: 6 },
    { input: "FD00:0:0:0:0:0:0:1", address: "fd00::1", family: 6 },
    { input: "fd00::01", address: "fd00::1", family: 6 },
    { input: "::", address: "::", family: 6 },
    { input: "::1", address: "::1", family: 6 },
    { input: "2001:db8:0:0:1:0:0:1", address: "2001:db8::1:0:0:1", family: 6 },
    { input: "2001:db8:0:1:1:1:1:1", address: "2001:db8:0:1:1:1:1:1", family: 6 },
    { input: "1:0:0:2:0:0:0:3", address: "1:0:0:2::3", family: 6 },
    { input: "::1.2.3.4", address: "::102:304", family: 6 },
    { input: "fe80::", address: "fe80::", family: 6 },
  ])("parseIp() accepts $input", ({ input, address, family }) => {
    expect(parseIp(input)).toEqual({ address, family: family as 4 | 6 });
    expect(tryParseIp(input)).toEqual({ address, family: family as 4 | 6 });
  });

  test.each([
    { input: "1.2.3." },
    { input: "0x1.2.3.4" },
    { input: " 1.2.3.4" },
    { input: "1.2.3.4 " },
    { input: "1.2.3.4\n" },
    { input: "01.2.3.4" },
    { input: "1.2.3" },
    { input: "1.2.3.4.5" },
    { input: "256.1.1.1" },
    { input: "1.2.3.-1" },
    { input: "+1.2.3.4" },
    { input: "1.2.3.4/32" },
    { input: "" },
    { input: "::ffff:1.2.3.4" },
    { input: "::ffff:a01:203" },
    { input: "fe80::1%eth0" },
    { input: "1::2::3" },
    { input: ":::" },
    { input: "fd00::00001" },
    { input: "1:2:3:4:5:6:7:8:9" },
    { input: "[fd00::1]" },
    { input: "::1.2.3.04" },
    { input: "g::1" },
    { input: "1.2.3.4\0" },
    { input: "1".repeat(100) },
  ])("parseIp() rejects $input", ({ input }) => {
    expect(() => parseIp(input)).toThrow(InvalidIpError);
    expect(tryParseIp(input)).toBeUndefined();
  });

  test("parseIp() error names the input and the reason", () => {
    try {
      parseIp("::ffff:10.0.0.1");
      throw new Error("parseIp accepted an IPv4-mapped address");
    } catch (e) {
      expect(e).toBeInstanceOf(InvalidIpError);
      expect((e as InvalidIpError).input).toBe("::ffff:10.0.0.1");
      expect((e as InvalidIpError).message).toContain("write the IPv4 address 10.0.0.1");
    }
    expect(() => parseIp("01.2.3.4")).toThrow(/leading zero/);
  });
});

describe("parseCidr()", () => {
  test.each([
    { input: "10.1.2.3/16", ip: "10.1.2.3", prefix: 16, family: 4, network: "10.1.0.0/16" },
    { input: "10.1.2.3/32", ip: "10.1.2.3", prefix: 32, family: 4, network: "10.1.2.3/32" },
    { input: "10.1.2.3/0", ip: "10.1.2.3", prefix: 0, family: 4, network: "0.0.0.0/0" },
    { input: "fd00::5/64", ip: "fd00::5", prefix: 64, family: 6, network: "fd00::/64" },
    { input: "fd00::5/128", ip: "fd00::5", prefix: 128, family: 6, network: "fd00::5/128" },
    { input: "::/0", ip: "::", prefix: 0, family: 6, network: "::/0" },
  ])("parseCidr() accepts $input", ({ input, ip, prefix, family, network }) => {
    expect(parseCidr(input)).toEqual({ ip, prefix, family: family as 4 | 6, network });
    expect(canonicalCidr(input)).toBe(network);
  });

  test.each([
    { input: "10.1.2.3" },
    { input: "10.1.2.3/33" },
    { input: "10.1.2.3/024" },
    { input: "10.1.2.3/-1" },
    { input: "10.1.2.3/ 24" },
    { input: "10.1.2.3/24/24" },
    { input: "10.1.2./24" },
    { input: "fd00::/129" },
    { input: "::ffff:10.0.0.0/104" },
    { input: "/24" },
  ])("parseCidr() rejects $input", ({ input }) => {
    expect(() => parseCidr(input)).toThrow(InvalidIpError);
    expect(tryParseCidr(input)).toBeUndefined();
  });
});

describe("integer conversion", () => {
  test.each([
    { ip: "0.0.0.0", n: 0n, family: 4 },
    { ip: "10.0.0.1", n: 0x0a000001n, family: 4 },
    { ip: "255.255.255.255", n: 0xffffffffn, family: 4 },
    { ip: "::", n: 0n, family: 6 },
    { ip: "fd00::1", n: (0xfd00n << 112n) | 1n, family: 6 },
    { ip: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", n: (1n << 128n) - 1n, family: 6 },
  ])("ipToBigInt()/bigIntToIp() round-trip $ip", ({ ip, n, family }) => {
    expect(ipToBigInt(ip)).toBe(n);
    expect(bigIntToIp(n, family as 4 | 6)).toBe(ip);
  });

  test("bigIntToIp() rejects values outside the family", () => {
    expect(() => bigIntToIp(1n << 32n, 4)).toThrow(RangeError);
    expect(() => bigIntToIp(-1n, 6)).toThrow(RangeError);
  });
});

describe("arithmetic and relations", () => {
  test.each([
    { ip: "10.0.0.255", next: "10.0.1.0" },
    { ip: "10.0.0.1", next: "10.0.0.2" },
    { ip: "fd00::ffff", next: "fd00::1:0" },
    { ip: "::", next: "::1" },
  ])("nextIp($ip) = $next and back", ({ ip, next }) => {
    expect(nextIp(ip)).toBe(next);
    expect(prevIp(next)).toBe(ip);
  });

  test("nextIp()/prevIp() refuse to wrap", () => {
    expect(() => nextIp("255.255.255.255")).toThrow(RangeError);
    expect(() => prevIp("0.0.0.0")).toThrow(RangeError);
    expect(() => nextIp("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")).toThrow(RangeError);
  });

  test.each([
    { cidr: "10.1.0.0/16", ip: "10.1.255.255", want: true },
    { cidr: "10.1.0.0/16", ip: "10.2.0.0", want: false },
    { cidr: "10.1.2.3/16", ip: "10.1.0.0", want: true },
    { cidr: "0.0.0.0/0", ip: "1.2.3.4", want: true },
    { cidr: "10.0.0.1/32", ip: "10.0.0.1", want: true },
    { cidr: "10.0.0.1/32", ip: "10.0.0.2", want: false },
    { cidr: "fd00::/64", ip: "fd00::ffff", want: true },
    { cidr: "fd00::/64", ip: "fd00:0:0:1::", want: false },
    { cidr: "::/0", ip: "10.0.0.1", want: false },
    { cidr: "0.0.0.0/0", ip: "::1", want: false },
  ])("containsIp($cidr, $ip) = $want", ({ cidr, ip, want }) => {
    expect(containsIp(cidr, ip)).toBe(want);
  });

  test.each([
    { a: "10.0.0.0/24", b: "10.0.0.128/25", want: true },
    { a: "10.0.0.0/25", b: "10.0.0.128/25", want: false },
    { a: "10.0.0.0/8", b: "10.255.255.255/32", want: true },
    { a: "0.0.0.0/0", b: "::/0", want: false },
    { a: "fd00::/48", b: "fd00:0:0:ffff::/64", want: true },
    { a: "fd00::/64", b: "fd01::/64", want: false },
  ])("cidrsOverlap($a, $b) = $want", ({ a, b, want }) => {
    expect(cidrsOverlap(a, b)).toBe(want);
    expect(cidrsOverlap(b, a)).toBe(want);
  });

  test.each([
    { cidr: "10.1.2.3/24", network: "10.1.2.0", broadcast: "10.1.2.255", first: "10.1.2.1", last: "10.1.2.254", size: 256n },
    { cidr: "10.1.2.0/30", network: "10.1.2.0", broadcast: "10.1.2.3", first: "10.1.2.1", last: "10.1.2.2", size: 4n },
    { cidr: "10.1.2.0/31", network: "10.1.2.0", broadcast: "10.1.2.1", first: "10.1.2.0", last: "10.1.2.1", size: 2n },
    { cidr: "10.1.2.7/32", network: "10.1.2.7", broadcast: "10.1.2.7", first: "10.1.2.7", last: "10.1.2.7", size: 1n },
    { cidr: "fd00::/64", network: "fd00::", broadcast: "fd00::ffff:ffff:ffff:ffff", first: "fd00::1", last: "fd00::ffff:ffff:ffff:ffff", size: 1n << 64n },
    { cidr: "fd00::/127", network: "fd00::", broadcast: "fd00::1", first: "fd00::", last: "fd00::1", size: 2n },
  ])("bounds of $cidr", ({ cidr, network, broadcast, first, last, size }) => {
    expect(networkAddress(cidr)).toBe(network);
    expect(broadcastAddress(cidr)).toBe(broadcast);
    expect(firstHost(cidr)).toBe(first);
    expect(lastHost(cidr)).toBe(last);
    expect(cidrSize(cidr)).toBe(size);
  });

  test("isSameIp() compares values, not spelling", () => {
    expect(isSameIp("fd00::1", "FD00:0::0001")).toBe(true);
    expect(isSameIp("10.0.0.1", "10.0.0.2")).toBe(false);
    expect(isSameIp("::", "0.0.0.0")).toBe(false);
    expect(isSameIp("1.2.3.", "1.2.3.")).toBe(false);
  });

  test("compareIps() orders one family and refuses two", () => {
    expect(compareIps("10.0.0.2", "10.0.0.10")).toBe(-1);
    expect(compareIps("fd00::10", "fd00::2")).toBe(1);
    expect(compareIps("10.0.0.2", "10.0.0.2")).toBe(0);
    expect(() => compareIps("10.0.0.2", "::2")).toThrow(RangeError);
  });

  test("ipFamily() of addresses and CIDRs", () => {
    expect(ipFamily("10.0.0.1")).toBe(4);
    expect(ipFamily("fd00::/8")).toBe(6);
    expect(() => ipFamily("x")).toThrow(InvalidIpError);
  });
});

describe("ipToBytes() / bytesToIp()", () => {
  const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
  test.each([
    { input: "10.1.2.3", family: 4, hex: "0a010203", text: "10.1.2.3" },
    { input: "255.255.255.255", family: 4, hex: "ffffffff", text: "255.255.255.255" },
    { input: "FD00::1", family: 6, hex: `fd00${"0".repeat(27)}1`, text: "fd00::1" },
    { input: "::", family: 6, hex: "0".repeat(32), text: "::" },
    { input: "2001:db8:0:0:1:0:0:1", family: 6, hex: "20010db8000000000001000000000001", text: "2001:db8::1:0:0:1" },
  ])("$input round-trips through $hex", ({ input, family, hex: h, text }) => {
    const b = ipToBytes(input);
    expect(b.family).toBe(family as 4 | 6);
    expect(hex(b.bytes)).toBe(h);
    expect(tryIpToBytes(input)).toEqual(b);
    expect(bytesToIp(b.bytes)).toBe(text);
  });

  test("refuses what parseIp refuses; IPv4-mapped IPv6 only on request", () => {
    for (const bad of ["1.2.3.4::", "01.2.3.4", "fe80::1%eth0", "1.2.3.4/32", ""]) {
      expect(() => ipToBytes(bad)).toThrow(InvalidIpError);
      expect(tryIpToBytes(bad, { allowMapped: true })).toBeUndefined();
    }
    expect(() => ipToBytes("::ffff:1.2.3.4")).toThrow(/IPv4-mapped/);
    expect(hex(ipToBytes("::ffff:1.2.3.4", { allowMapped: true }).bytes)).toBe("00000000000000000000ffff01020304");
    expect(tryIpToBytes("::ffff:1.2.3.04", { allowMapped: true })).toBeUndefined();
  });

  test("bytesToIp() prints IPv4-mapped bytes (as the kernel reports them) in dotted form, and refuses other lengths", () => {
    expect(bytesToIp(Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1]))).toBe("::ffff:10.0.0.1");
    expect(bigIntToIp(0xffff0a000001n, 6)).toBe("::ffff:a00:1");
    expect(() => bytesToIp(new Uint8Array(6))).toThrow(RangeError);
  });
});
