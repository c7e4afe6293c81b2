import { expect, test } from "bun:test";
import { tryParseCidr4 } from "./ip4.ts";
import { containsCidr6, formatCidr6, leaseKey, overlaps6, sameKey, tryParseCidr6, tryParseIp6, tryParseLeaseKey } from "./ip6.ts";

test.each([
  { s: "fd00:10::/48", out: "fd00:10::/48" },
  { s: "FD00:10:0:1:2::7/64", out: "fd00:10:0:1::/64" },
  { s: "::/0", out: "::/0" },
  { s: "fd00::1/128", out: "fd00::1/128" },
  { s: "fd00::/129", out: undefined },
  { s: "10.1.0.0/16", out: undefined },
  { s: "::ffff:10.1.0.0/112", out: undefined },
  { s: "fe80::1%eth0/64", out: undefined },
  { s: " fd00::/48", out: undefined },
  { s: "fd00::/048", out: undefined },
  { s: "fd00::", out: undefined },
])("tryParseCidr6() $s", ({ s, out }) => {
  const c = tryParseCidr6(s);
  expect(c && formatCidr6(c)).toBe(out);
});

test("tryParseIp6() takes bare IPv6 addresses only", () => {
  expect(tryParseIp6("fd00::1")).toBe((0xfd00n << 112n) | 1n);
  expect(tryParseIp6("10.1.2.3")).toBeUndefined();
  expect(tryParseIp6("fd00::/64")).toBeUndefined();
});

test("containsCidr6() and overlaps6()", () => {
  const net = tryParseCidr6("fd00:10::/48")!;
  expect(containsCidr6(net, tryParseCidr6("fd00:10:0:5::/64")!)).toBe(true);
  expect(containsCidr6(net, tryParseCidr6("fd00:11::/64")!)).toBe(false);
  expect(containsCidr6(tryParseCidr6("fd00:10:0:5::/64")!, net)).toBe(false);
  expect(overlaps6(tryParseCidr6("fd00:10:0:5::/64")!, net)).toBe(true);
  expect(overlaps6(tryParseCidr6("fd00:10:0:5::/64")!, tryParseCidr6("fd00:10:0:6::/64")!)).toBe(false);
});

test("leaseKey() spells dual-stack keys as flannel's MakeSubnetKey; tryParseLeaseKey() inverts it", () => {
  const k = { subnet: tryParseCidr4("10.5.52.0/24")!, ipv6Subnet: tryParseCidr6("fd00:10:0:34::/64")! };
  expect(leaseKey(k)).toBe("10.5.52.0-24&fd00:10:0:34::-64");
  expect(leaseKey({ subnet: k.subnet })).toBe("10.5.52.0-24");
  expect(sameKey(tryParseLeaseKey("10.5.52.0-24&fd00:10:0:34::-64")!, k)).toBe(true);
  expect(sameKey(tryParseLeaseKey("10.5.52.0-24")!, k)).toBe(false);
  expect(tryParseLeaseKey("10.5.52.0-24")!.ipv6Subnet).toBeUndefined();
});

test.each([
  "10.5.52.0-24&FD00:10:0:34::-64", // upper case: flannel's regex does not match it
  "10.5.52.0-24&fd00:10:0:34:0::-64", // not canonical
  "10.5.52.0-24&fd00:10:0:34::1-64", // host bits
  "10.5.52.0-24&fd00:10:0:34::-129",
  "10.5.52.0-24&fd00:10:0:34::-064",
  "10.5.52.0-24&10.1.0.0-16",
  "10.5.52.0-24&",
  "10.5.52.1-24&fd00::-64",
  "&fd00::-64",
])("tryParseLeaseKey() refuses %s", (key) => {
  expect(tryParseLeaseKey(key)).toBeUndefined();
});
