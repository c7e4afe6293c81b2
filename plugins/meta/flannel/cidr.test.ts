import { describe, expect, test } from "bun:test";
import { formatCidr, formatIp, networkOf, parseCidr, parseIp } from "./cidr.ts";

describe("parseIp()/formatIp()", () => {
  test.each([
    { text: "10.1.2.3", out: "10.1.2.3" },
    { text: "0.0.0.0", out: "0.0.0.0" },
    { text: "FC00::ABCD", out: "fc00::abcd" },
    { text: "fc00:0:0:0:0:0:0:1", out: "fc00::1" },
    { text: "1:0:0:2:0:0:0:3", out: "1:0:0:2::3" },
    { text: "1:0:2:0:3:0:4:0", out: "1:0:2:0:3:0:4:0" },
    { text: "0:0:1:0:0:1:0:0", out: "::1:0:0:1:0:0" },
    { text: "::", out: "::" },
    { text: "::1", out: "::1" },
    { text: "2001:db8::", out: "2001:db8::" },
    { text: "64:ff9b::10.1.2.3", out: "64:ff9b::a01:203" },
  ])("$text prints as $out (Go's form)", ({ text, out }) => {
    expect(formatIp(parseIp(text))).toBe(out);
  });

  test.each([
    { text: "10.1.2.3." }, // trailing dot
    { text: "0x0a.1.2.3" }, // hex octet
    { text: "010.1.2.3" }, // leading zero (Go refuses)
    { text: " 10.1.2.3" }, // leading space
    { text: "256.1.2.3" },
    { text: "1.2.3" },
    { text: "::ffff:10.1.2.3" }, // IPv4-mapped IPv6
    { text: "fe80::1%eth0" }, // zone
    { text: "1::2::3" },
    { text: "1:2:3:4:5:6:7:8:9" },
    { text: "1:2:3:4:5:6:7::8" },
    { text: "" },
  ])("refuses $text", ({ text }) => {
    expect(() => parseIp(text)).toThrow(/invalid IP address/);
  });
});

describe("parseCidr()", () => {
  test.each([
    { text: "10.244.1.1/24", network: "10.244.1.0/24", keep: "10.244.1.1/24" },
    { text: "0.0.0.0/0", network: "0.0.0.0/0", keep: "0.0.0.0/0" },
    { text: "10.1.2.3/32", network: "10.1.2.3/32", keep: "10.1.2.3/32" },
    { text: "fc00::1/64", network: "fc00::/64", keep: "fc00::1/64" },
    { text: "fc00::1/128", network: "fc00::1/128", keep: "fc00::1/128" },
    { text: "::/0", network: "::/0", keep: "::/0" },
    { text: "10.255.255.255/9", network: "10.128.0.0/9", keep: "10.255.255.255/9" },
  ])("$text: network $network", ({ text, network, keep }) => {
    const c = parseCidr(text);
    expect(formatCidr(networkOf(c))).toBe(network);
    expect(formatCidr(c)).toBe(keep);
  });

  test.each([
    { text: "10.1.0.0" },
    { text: "10.1.0.0/33" },
    { text: "fc00::/129" },
    { text: "10.1.0.0/024" },
    { text: "10.1.0.0/-1" },
    { text: "10.1.0.0/ 16" },
    { text: "10.1.0.0./16" },
    { text: "::ffff:10.0.0.0/104" },
    { text: "" },
  ])("refuses $text", ({ text }) => {
    expect(() => parseCidr(text)).toThrow(/invalid CIDR address/);
  });
});
