import { describe, expect, test } from "bun:test";
import { NetConfError, parseNetConf } from "./config.ts";
import { formatCidr4, formatIp4 } from "./ip4.ts";

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
    { conf: { Network: "10.5.0.0/16", EnableIPv6: true }, msg: "IPv4 only" },
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
