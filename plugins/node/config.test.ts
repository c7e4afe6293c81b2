import { describe, expect, test } from "bun:test";
import { NetConfError, parseNetConf } from "./config.ts";
import { formatCidr4, formatIp4 } from "./ip4.ts";
import { formatCidr6, formatIp6 } from "./ip6.ts";

const parse = (o: unknown) => parseNetConf(JSON.stringify(o));

describe("parseNetConf()", () => {
  test.each([
    { net: "10.244.0.0/16", len: 24, min: "10.244.1.0", max: "10.244.255.0" },
    { net: "10.0.0.0/22", len: 24, min: "10.0.1.0", max: "10.0.3.0" },
    { net: "10.0.0.0/23", len: 25, min: "10.0.0.128", max: "10.0.1.128" },
    { net: "10.0.0.0/28", len: 30, min: "10.0.0.4", max: "10.0.0.12" },
  ])("defaults SubnetLen/Min/Max as flanneld for $net", ({ net, len, min, max }) => {
    const c = parse({ Network: net, Backend: { Type: "vxlan" } });
    expect([c.subnetLen, formatIp4(c.subnetMin), formatIp4(c.subnetMax)]).toEqual([len, min, max]);
  });

  test("keys are case-insensitive and Backend keys default (VNI 1, port 0)", () => {
    const c = parse({ network: "10.5.0.0/16", subnetlen: 26, backend: { type: "vxlan", vni: 7, directrouting: true } });
    expect(formatCidr4(c.network)).toBe("10.5.0.0/16");
    expect(c.subnetLen).toBe(26);
    expect(c.backend).toEqual({ type: "vxlan", vni: 7, port: 0, directRouting: true, gbp: false });
  });

  test("no Backend: vxlan, with a note saying flanneld would use udp", () => {
    const c = parse({ Network: "10.5.0.0/16" });
    expect(c.backend.type).toBe("vxlan");
    expect(c.notes.join()).toContain("udp");
  });

  test.each([
    { conf: { Network: "10.5.0.0/16", SubnetLen: 31 }, msg: '"SubnetLen" 31 is out of range' },
    { conf: { Network: "10.5.0.0/16", SubnetLen: 17 }, msg: "SubnetLen must be at least 18" },
    { conf: { Network: "10.5.0.0/29" }, msg: "too small" },
    { conf: { Network: "10.5.0.0/16", SubnetMin: "10.6.0.0" }, msg: '"SubnetMin" 10.6.0.0 is not inside' },
    { conf: { Network: "10.5.0.0/16", SubnetMax: "10.5.3.7" }, msg: "not on a /24 boundary" },
    { conf: { SubnetLen: 24 }, msg: '"Network" is required' },
    { conf: { Network: "10.5.0.0/16 " }, msg: "must be an IPv4 CIDR" },
    { conf: { Network: "010.5.0.0/16" }, msg: "must be an IPv4 CIDR" },
    { conf: { Network: "fd00::/64" }, msg: "must be an IPv4 CIDR" },
    { conf: { Network: "10.5.0.0/16", EnableIPv6: true }, msg: '"IPv6Network" is required' },
    { conf: { Network: "10.5.0.0/16", Backend: { Type: "udp" } }, msg: 'backend type "udp" is not supported' },
    { conf: { Network: "10.5.0.0/16", SubnetLen: "24" }, msg: "SubnetLen" },
    { conf: [], msg: "JSON object" },
  ])("rejects $conf", ({ conf, msg }) => {
    expect(() => parse(conf)).toThrow(NetConfError);
    expect(() => parse(conf)).toThrow(msg);
  });

  test("not JSON is a NetConfError", () => {
    expect(() => parseNetConf("{")).toThrow("not JSON");
  });
});

describe("parseNetConf() with EnableIPv6 (dual stack)", () => {
  const v6 = (o: Record<string, unknown>) => parse({ Network: "10.5.0.0/16", EnableIPv6: true, Backend: { Type: "vxlan" }, ...o }).ipv6!;

  test.each([
    { net: "fd00:10::/48", len: 64, min: "fd00:10:0:1::", max: "fd00:10:0:ffff::" },
    { net: "fd00:10::/62", len: 64, min: "fd00:10:0:1::", max: "fd00:10:0:3::" },
    { net: "fd00:10::/63", len: 65, min: "fd00:10:0:0:8000::", max: "fd00:10:0:1:8000::" },
    { net: "fd00:10::/124", len: 126, min: "fd00:10::4", max: "fd00:10::c" },
    { net: "fd00:10::1/0", len: 64, min: "0:0:0:1::", max: "ffff:ffff:ffff:ffff::" },
  ])("defaults IPv6SubnetLen/Min/Max as flanneld for $net", ({ net, len, min, max }) => {
    const c = v6({ IPv6Network: net });
    expect([c.subnetLen, formatIp6(c.subnetMin), formatIp6(c.subnetMax)]).toEqual([len, min, max]);
  });

  test("keys are case-insensitive; explicit IPv6SubnetLen/Min/Max are kept; the IPv4 half is unchanged", () => {
    const c = parse({ network: "10.5.0.0/16", enableipv6: true, ipv6network: "FD00:10::/56", ipv6subnetlen: 80, ipv6subnetmin: "fd00:10:0:2::", ipv6subnetmax: "fd00:10:0:3::" });
    expect(formatCidr6(c.ipv6!.network)).toBe("fd00:10::/56");
    expect([c.ipv6!.subnetLen, formatIp6(c.ipv6!.subnetMin), formatIp6(c.ipv6!.subnetMax)]).toEqual([80, "fd00:10:0:2::", "fd00:10:0:3::"]);
    expect([formatCidr4(c.network), c.subnetLen]).toEqual(["10.5.0.0/16", 24]);
  });

  test("IPv6Network without EnableIPv6 is ignored, as flanneld ignores it", () => {
    expect(parse({ Network: "10.5.0.0/16", IPv6Network: "fd00::/48" }).ipv6).toBeUndefined();
  });

  test.each([
    { conf: { IPv6Network: "fd00::/48", IPv6SubnetLen: 127 }, msg: '"IPv6SubnetLen" 127 is out of range: it must be at most 126' },
    { conf: { IPv6Network: "fd00::/48", IPv6SubnetLen: 49 }, msg: "IPv6SubnetLen must be at least 50" },
    { conf: { IPv6Network: "fd00::/125" }, msg: "minimum useful prefix is /124" },
    { conf: { IPv6Network: "10.6.0.0/16" }, msg: '"IPv6Network" must be an IPv6 CIDR' },
    { conf: { IPv6Network: "fd00::%eth0/48" }, msg: '"IPv6Network" must be an IPv6 CIDR' },
    { conf: { IPv6Network: "::ffff:10.0.0.0/104" }, msg: '"IPv6Network" must be an IPv6 CIDR' },
    { conf: { IPv6Network: " fd00::/48" }, msg: '"IPv6Network" must be an IPv6 CIDR' },
    { conf: { IPv6Network: "fd00::/129" }, msg: '"IPv6Network" must be an IPv6 CIDR' },
    { conf: { IPv6Network: "fd00::/48", IPv6SubnetMin: "fd01::" }, msg: '"IPv6SubnetMin" fd01:: is not inside IPv6Network' },
    { conf: { IPv6Network: "fd00::/48", IPv6SubnetMax: "fd00:0:0:5::1" }, msg: '"IPv6SubnetMax" fd00:0:0:5::1 is not on a /64 boundary' },
    { conf: { IPv6Network: "fd00::/48", IPv6SubnetMin: "10.5.0.0" }, msg: '"IPv6SubnetMin" must be an IPv6 address' },
    { conf: { IPv6Network: 48 }, msg: "IPv6Network" },
  ])("rejects $conf", ({ conf, msg }) => {
    expect(() => v6(conf)).toThrow(NetConfError);
    expect(() => v6(conf)).toThrow(msg);
  });

  test("IPv6-only (EnableIPv4 false) is refused with the reason: leases are keyed by their IPv4 subnet (flannel#1539)", () => {
    expect(() => parse({ EnableIPv4: false, EnableIPv6: true, IPv6Network: "fd00::/48" })).toThrow(/IPv6-only network needs a Kubernetes subnet manager/);
    expect(() => parse({ EnableIPv4: false, Network: "10.5.0.0/16" })).toThrow('both "EnableIPv4" and "EnableIPv6" are off');
  });
});
