// Unit tests for the address/MAC codecs of shared/netlink (pure).
import { describe, expect, test } from "bun:test";
import { formatCidr, formatIp, formatMac, parseCidr, parseIp, parseMac, tryParseIp } from "./_ip.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("parseIp()", () => {
  test.each([
    { s: "10.1.2.3", family: 4, hex: "0a010203" },
    { s: "0.0.0.0", family: 4, hex: "00000000" },
    { s: "255.255.255.255", family: 4, hex: "ffffffff" },
    { s: "::", family: 6, hex: "0".repeat(32) },
    { s: "::1", family: 6, hex: "0".repeat(31) + "1" },
    { s: "fd00::1", family: 6, hex: "fd00" + "0".repeat(27) + "1" },
    { s: "FD00:0:0:0:0:0:0:A", family: 6, hex: "fd00" + "0".repeat(27) + "a" },
    { s: "1:2:3:4:5:6:7::", family: 6, hex: "0001000200030004000500060007" + "0000" },
    { s: "::ffff:1.2.3.4", family: 6, hex: "00000000000000000000ffff01020304" },
  ])("parseIp() accepts $s", ({ s, family, hex: h }) => {
    const r = parseIp(s);
    expect(r.family).toBe(family as 4 | 6);
    expect(hex(r.bytes)).toBe(h);
  });

  test.each([
    { s: "" },
    { s: "10.1.2" },
    { s: "10.1.2.3." }, // trailing dot
    { s: "010.1.2.3" }, // leading zero (octal ambiguity, Go rejects since 1.17)
    { s: "0x0a.1.2.3" }, // hex octet
    { s: " 10.1.2.3" }, // leading space
    { s: "10.1.2.256" },
    { s: "10.1.2.3/24" },
    { s: "1::2::3" },
    { s: "1:2:3:4:5:6:7:8::" },
    { s: "1:2:3:4:5:6:7:8:9" },
    { s: "12345::" },
    { s: "fe80::1%eth0" }, // zone
    { s: ":1::" },
  ])("parseIp() rejects $s", ({ s }) => {
    expect(tryParseIp(s)).toBeUndefined();
    expect(() => parseIp(s)).toThrow(RangeError);
  });
});

describe("formatIp()", () => {
  test.each([
    { s: "10.0.0.1", out: "10.0.0.1" },
    { s: "2001:db8:0:0:1:0:0:1", out: "2001:db8::1:0:0:1" }, // RFC 5952 4.2.3: first of equal runs
    { s: "2001:db8:0:1:1:1:1:1", out: "2001:db8:0:1:1:1:1:1" }, // a single zero group is not compressed
    { s: "0:0:0:0:0:0:0:0", out: "::" },
    { s: "fd00:0:0:0:0:0:0:0", out: "fd00::" },
    { s: "::ffff:10.0.0.1", out: "::ffff:10.0.0.1" }, // IPv4-mapped IPv6
    { s: "2001:0DB8::0001", out: "2001:db8::1" },
  ])("formatIp() prints $s as $out", ({ s, out }) => {
    expect(formatIp(parseIp(s).bytes)).toBe(out);
  });
});

describe("parseCidr()", () => {
  test.each([
    { s: "10.1.2.3/24", family: 4, len: 24 },
    { s: "0.0.0.0/0", family: 4, len: 0 },
    { s: "10.1.2.3/32", family: 4, len: 32 },
    { s: "10.1.2.3", family: 4, len: 32 },
    { s: "::/0", family: 6, len: 0 },
    { s: "fd00::1/128", family: 6, len: 128 },
  ])("parseCidr() accepts $s", ({ s, family, len }) => {
    const c = parseCidr(s);
    expect(c.family).toBe(family as 4 | 6);
    expect(c.prefixLen).toBe(len);
    expect(formatCidr(c.bytes, c.prefixLen)).toBe(s.includes("/") ? s : `${s}/${len}`);
  });

  test.each([{ s: "10.1.2.3/33" }, { s: "10.1.2.3/024" }, { s: "10.1.2.3/" }, { s: "fd00::/129" }, { s: "/24" }, { s: "10.1.2.3/ 24" }])(
    "parseCidr() rejects $s",
    ({ s }) => {
      expect(() => parseCidr(s)).toThrow(RangeError);
    },
  );
});

describe("parseMac() / formatMac()", () => {
  test.each([
    { s: "aa:bb:cc:dd:ee:ff", out: "aa:bb:cc:dd:ee:ff" },
    { s: "AA:BB:CC:00:01:02", out: "aa:bb:cc:00:01:02" },
    { s: "02-00-00-00-00-01", out: "02:00:00:00:00:01" },
  ])("parseMac() accepts $s", ({ s, out }) => {
    expect(formatMac(parseMac(s))).toBe(out);
  });

  test.each([{ s: "aa:bb:cc:dd:ee" }, { s: "aa:bb:cc:dd:ee:ff:00" }, { s: "aa:bb-cc:dd:ee:ff" }, { s: "aabb.ccdd.eeff" }, { s: " aa:bb:cc:dd:ee:ff" }, { s: "g0:bb:cc:dd:ee:ff" }])(
    "parseMac() rejects $s",
    ({ s }) => {
      expect(() => parseMac(s)).toThrow(RangeError);
    },
  );

  test("formatMac() pads single hex digits and handles empty input", () => {
    expect(formatMac(new Uint8Array([0, 1, 0xa, 0xff]))).toBe("00:01:0a:ff");
    expect(formatMac(new Uint8Array(0))).toBe("");
  });
});
