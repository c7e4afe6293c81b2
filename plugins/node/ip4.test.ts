import { expect, test } from "bun:test";
import { containsCidr, formatCidr4, overlaps, subnetKey, tryParseCidr4, tryParseIp4, tryParseSubnetKey } from "./ip4.ts";

test.each([
  { s: "10.1.2.3", ok: true },
  { s: "255.255.255.255", ok: true },
  { s: "10.1.2.3.", ok: false },
  { s: " 10.1.2.3", ok: false },
  { s: "0x0a.1.2.3", ok: false },
  { s: "010.1.2.3", ok: false },
  { s: "256.1.2.3", ok: false },
  { s: "::ffff:10.1.2.3", ok: false },
])("tryParseIp4() $s", ({ s, ok }) => {
  expect(tryParseIp4(s) !== undefined).toBe(ok);
});

test("tryParseCidr4() masks host bits and handles /0 and /32", () => {
  expect(formatCidr4(tryParseCidr4("10.1.2.3/16")!)).toBe("10.1.0.0/16");
  expect(formatCidr4(tryParseCidr4("10.1.2.3/0")!)).toBe("0.0.0.0/0");
  expect(formatCidr4(tryParseCidr4("10.1.2.3/32")!)).toBe("10.1.2.3/32");
  expect(tryParseCidr4("10.1.2.3/33")).toBeUndefined();
  expect(tryParseCidr4("10.1.2.3/024")).toBeUndefined();
});

test("subnet keys round-trip as flannel spells them; a dual-stack key gives its IPv4 part", () => {
  expect(subnetKey(tryParseCidr4("10.5.52.0/24")!)).toBe("10.5.52.0-24");
  expect(formatCidr4(tryParseSubnetKey("10.5.52.0-24")!)).toBe("10.5.52.0/24");
  expect(formatCidr4(tryParseSubnetKey("10.5.52.0-24&fd00:1::-64")!)).toBe("10.5.52.0/24");
  expect(tryParseSubnetKey("10.5.52.1-24")).toBeUndefined();
  expect(tryParseSubnetKey("config")).toBeUndefined();
});

test("containsCidr() and overlaps()", () => {
  const n = tryParseCidr4("10.5.0.0/16")!;
  expect(containsCidr(n, tryParseCidr4("10.5.3.0/24")!)).toBe(true);
  expect(containsCidr(n, tryParseCidr4("10.0.0.0/8")!)).toBe(false);
  expect(overlaps(n, tryParseCidr4("10.0.0.0/8")!)).toBe(true);
  expect(overlaps(n, tryParseCidr4("10.6.0.0/24")!)).toBe(false);
});
