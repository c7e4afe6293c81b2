// Golden delegate configs, derived by hand from flannel-io/cni-plugin v1.9.1 (flannel_linux.go doCmdAdd and
// getDelegateIPAM, cni-notes §3.3; the dual-stack row is flannel_linux_test.go's expectation), never from weft's
// output. Strings are Go's encoding of a map: compact with sorted keys.
import { describe, expect, test } from "bun:test";
import { CniError } from "../../../shared/cni/errors.ts";
import { parseFlannelConfig } from "./config.ts";
import { buildDelegateConf, marshalSorted } from "./delegate-conf.ts";
import { parseSubnetEnv } from "./subnet-env.ts";

const ENV = {
  v4: "FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n",
  v6: "FLANNEL_IPV6_NETWORK=fc00::/48\nFLANNEL_IPV6_SUBNET=fc00::1/64\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n",
  dual: "FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_IPV6_NETWORK=fc00::/48\nFLANNEL_IPV6_SUBNET=fc00::1/64\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n",
  multi: "FLANNEL_NETWORK=10.1.0.0/16,192.168.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n",
  kube: "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n",
  noMasq: "FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=false\n",
  v6NetsOnlyV4Subnet: "FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_IPV6_NETWORK=fc00::/48\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n",
} as const;

const BASE = { name: "cni-flannel", type: "flannel" };
const V4_IPAM = `"ipam":{"ranges":[[{"subnet":"10.1.17.0/24"}]],"routes":[{"dst":"10.1.0.0/16"}],"type":"host-local"}`;

function build(conf: Record<string, unknown>, env: keyof typeof ENV, withRuntimeConfig = true): string {
  return marshalSorted(buildDelegateConf(parseFlannelConfig(conf), parseSubnetEnv(ENV[env], "/run/flannel/subnet.env"), { withRuntimeConfig }));
}

describe("buildDelegateConf() goldens", () => {
  test.each([
    {
      why: "IPv4, no cniVersion: none is set",
      conf: BASE, env: "v4",
      out: `{"ipMasq":false,${V4_IPAM},"isGateway":true,"mtu":1472,"name":"cni-flannel","type":"bridge"}`,
    },
    {
      why: "IPv6 only",
      conf: BASE, env: "v6",
      out: `{"ipMasq":false,"ipam":{"ranges":[[{"subnet":"fc00::/64"}]],"routes":[{"dst":"fc00::/48"}],"type":"host-local"},"isGateway":true,"mtu":1472,"name":"cni-flannel","type":"bridge"}`,
    },
    {
      why: "dual stack: IPv4 range set first, then IPv6; a route per network",
      conf: BASE, env: "dual",
      out: `{"ipMasq":false,"ipam":{"ranges":[[{"subnet":"10.1.17.0/24"}],[{"subnet":"fc00::/64"}]],"routes":[{"dst":"10.1.0.0/16"},{"dst":"fc00::/48"}],"type":"host-local"},"isGateway":true,"mtu":1472,"name":"cni-flannel","type":"bridge"}`,
    },
    {
      why: "multiple IPv4 networks: a route each",
      conf: BASE, env: "multi",
      out: `{"ipMasq":false,"ipam":{"ranges":[[{"subnet":"10.1.17.0/24"}]],"routes":[{"dst":"10.1.0.0/16"},{"dst":"192.168.0.0/16"}],"type":"host-local"},"isGateway":true,"mtu":1472,"name":"cni-flannel","type":"bridge"}`,
    },
    {
      why: "an IPv6 network without an IPv6 subnet still gets its route",
      conf: BASE, env: "v6NetsOnlyV4Subnet",
      out: `{"ipMasq":false,"ipam":{"ranges":[[{"subnet":"10.1.17.0/24"}]],"routes":[{"dst":"10.1.0.0/16"},{"dst":"fc00::/48"}],"type":"host-local"},"isGateway":true,"mtu":1472,"name":"cni-flannel","type":"bridge"}`,
    },
    {
      why: "the stock kube-flannel conflist entry (cni-notes §3.3)",
      conf: { name: "cbr0", cniVersion: "0.3.1", type: "flannel", delegate: { hairpinMode: true, isDefaultGateway: true } }, env: "kube",
      out: `{"cniVersion":"0.3.1","hairpinMode":true,"ipMasq":false,"ipam":{"ranges":[[{"subnet":"10.244.1.0/24"}]],"routes":[{"dst":"10.244.0.0/16"}],"type":"host-local"},"isDefaultGateway":true,"isGateway":true,"mtu":1450,"name":"cbr0","type":"bridge"}`,
    },
    {
      why: "FLANNEL_IPMASQ=false: the delegate masquerades",
      conf: BASE, env: "noMasq",
      out: `{"ipMasq":true,${V4_IPAM},"isGateway":true,"mtu":1472,"name":"cni-flannel","type":"bridge"}`,
    },
    {
      why: "every delegate override wins over flannel's defaults; flannel's cniVersion and runtimeConfig win over the delegate's",
      conf: {
        ...BASE, cniVersion: "1.0.0", runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }] },
        delegate: { type: "bridge", bridge: "mybr0", ipMasq: true, mtu: 1400, isGateway: false, cniVersion: "0.4.0", runtimeConfig: { mac: "c2:11:22:33:44:55" } },
      },
      env: "v4",
      out: `{"bridge":"mybr0","cniVersion":"1.0.0","ipMasq":true,${V4_IPAM},"isGateway":false,"mtu":1400,"name":"cni-flannel","runtimeConfig":{"portMappings":[{"containerPort":80,"hostPort":8080,"protocol":"tcp"}]},"type":"bridge"}`,
    },
    {
      why: "without flannel cniVersion/runtimeConfig the delegate's own stay",
      conf: { ...BASE, delegate: { cniVersion: "0.4.0", runtimeConfig: { mac: "c2:11:22:33:44:55" } } },
      env: "v4",
      out: `{"cniVersion":"0.4.0","ipMasq":false,${V4_IPAM},"isGateway":true,"mtu":1472,"name":"cni-flannel","runtimeConfig":{"mac":"c2:11:22:33:44:55"},"type":"bridge"}`,
    },
    {
      why: "a delegate that is not bridge gets no isGateway",
      conf: { ...BASE, delegate: { type: "ipvlan", master: "eth0" } }, env: "v4",
      out: `{"ipMasq":false,${V4_IPAM},"master":"eth0","mtu":1472,"name":"cni-flannel","type":"ipvlan"}`,
    },
    {
      why: "falsy overrides count as set (ipMasq false, mtu 0)",
      conf: { ...BASE, delegate: { ipMasq: false, mtu: 0 } }, env: "noMasq",
      out: `{"ipMasq":false,${V4_IPAM},"isGateway":true,"mtu":0,"name":"cni-flannel","type":"bridge"}`,
    },
    {
      why: "flannel's ipam block: type and extra keys kept, ranges replaced, user routes first (flannel_linux_test.go inputs)",
      conf: {
        ...BASE,
        ipam: { type: "my-ipam", "unknown-param": "unknown-value", ranges: [[{ subnet: "1.2.3.0/24" }]], routes: [{ dst: "10.96.0.0/12" }, { dst: "192.168.244.0/24", gw: "10.1.17.20" }] },
      },
      env: "v4",
      out: `{"ipMasq":false,"ipam":{"ranges":[[{"subnet":"10.1.17.0/24"}]],"routes":[{"dst":"10.96.0.0/12"},{"dst":"192.168.244.0/24","gw":"10.1.17.20"},{"dst":"10.1.0.0/16"}],"type":"my-ipam","unknown-param":"unknown-value"},"isGateway":true,"mtu":1472,"name":"cni-flannel","type":"bridge"}`,
    },
    {
      why: "ipam.routes round-trip Go's types.Route: host bits and table 0 kept, zero mtu dropped, unknown keys dropped, addresses in Go's form",
      conf: { ...BASE, ipam: { routes: [{ dst: "10.96.0.1/12", gw: "FC00:0:0::1", mtu: 0, advmss: 1400, priority: 5, table: 0, scope: null, foo: "bar" }] } },
      env: "v4",
      out: `{"ipMasq":false,"ipam":{"ranges":[[{"subnet":"10.1.17.0/24"}]],"routes":[{"advmss":1400,"dst":"10.96.0.1/12","gw":"fc00::1","priority":5,"table":0},{"dst":"10.1.0.0/16"}],"type":"host-local"},"isGateway":true,"mtu":1472,"name":"cni-flannel","type":"bridge"}`,
    },
    {
      why: "keys are matched case-insensitively, flannel's and the delegate's alike",
      conf: { Name: "cni-flannel", Type: "flannel", Delegate: { MTU: 1400, IPMasq: true, Type: "bridge", IsGateway: false }, IPAM: { Type: "my-ipam", Routes: [{ Dst: "10.96.0.0/12", GW: "10.1.17.20" }] } },
      env: "v4",
      out: `{"ipMasq":true,"ipam":{"ranges":[[{"subnet":"10.1.17.0/24"}]],"routes":[{"dst":"10.96.0.0/12","gw":"10.1.17.20"},{"dst":"10.1.0.0/16"}],"type":"my-ipam"},"isGateway":false,"mtu":1400,"name":"cni-flannel","type":"bridge"}`,
    },
    {
      why: "ipam: null and delegate: null are absent",
      conf: { ...BASE, ipam: null, delegate: null }, env: "v4",
      out: `{"ipMasq":false,${V4_IPAM},"isGateway":true,"mtu":1472,"name":"cni-flannel","type":"bridge"}`,
    },
  ] as const)("$why", ({ conf, env, out }) => {
    expect(build(conf as Record<string, unknown>, env)).toBe(out);
  });

  test("buildDelegateConf() without runtimeConfig (GC, STATUS) leaves flannel's runtimeConfig out", () => {
    const conf = { ...BASE, runtimeConfig: { portMappings: [] } };
    expect(build(conf, "v4", false)).toBe(`{"ipMasq":false,${V4_IPAM},"isGateway":true,"mtu":1472,"name":"cni-flannel","type":"bridge"}`);
    expect(build(conf, "v4", true)).toContain(`"runtimeConfig":{"portMappings":[]}`);
  });
});

describe("buildDelegateConf() refusals", () => {
  test.each([
    { why: "name", delegate: { name: "x" }, msg: "'delegate' dictionary must not have 'name' field, it'll be set by flannel" },
    { why: "Name", delegate: { Name: "x" }, msg: "'delegate' dictionary must not have 'name' field, it'll be set by flannel" },
    { why: "ipam", delegate: { ipam: {} }, msg: "'delegate' dictionary must not have 'ipam' field, it'll be set by flannel" },
    { why: "IPAM", delegate: { IPAM: { type: "host-local" } }, msg: "'delegate' dictionary must not have 'ipam' field, it'll be set by flannel" },
    { why: "type 5", delegate: { type: 5 }, msg: "'delegate' dictionary, if present, must have (string) 'type' field" },
    { why: "type null", delegate: { type: null }, msg: "'delegate' dictionary, if present, must have (string) 'type' field" },
    { why: "empty type", delegate: { type: "" }, msg: "'delegate' dictionary has an empty 'type' field" },
  ])("refuses a delegate with $why (code 7)", ({ delegate, msg }) => {
    expect(() => build({ ...BASE, delegate }, "v4")).toThrow(expect.objectContaining({ code: 7, msg }));
  });

  test.each([
    { why: "dst without prefix", route: { dst: "10.96.0.0" }, hint: "ipam.routes[0]: invalid CIDR address" },
    { why: "bad gw", route: { dst: "10.96.0.0/12", gw: "10.1.17" }, hint: "ipam.routes[0]: invalid IP address" },
  ])("refuses an ipam.routes entry with a $why (code 7)", ({ route, hint }) => {
    let err: unknown;
    try {
      build({ ...BASE, ipam: { routes: [route] } }, "v4");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CniError);
    expect((err as CniError).code).toBe(7);
    expect((err as CniError).msg).toStartWith("failed to assemble Delegate IPAM: failed to read IPAM routes: failed to parse ipam.routes: ");
    expect((err as CniError).msg).toContain(hint);
  });

  test("parseFlannelConfig() refuses wrong types, a relative or escaping dataDir, and a route without dst (code 7)", () => {
    for (const conf of [
      { ...BASE, delegate: "bridge" },
      { ...BASE, ipam: [] },
      { ...BASE, runtimeConfig: "x" },
      { ...BASE, subnetFile: 5 },
      { ...BASE, dataDir: "var/lib/cni/flannel" },
      { ...BASE, dataDir: "/var/lib/../../etc" },
      { ...BASE, ipam: { routes: [{ gw: "10.1.17.20" }] } },
      { ...BASE, ipam: { routes: [{ dst: "10.96.0.0/12", mtu: 1.5 }] } },
    ]) {
      expect(() => parseFlannelConfig(conf)).toThrow(expect.objectContaining({ code: 7 }));
    }
  });

  test("parseFlannelConfig() applies defaults; empty strings count as unset", () => {
    const c = parseFlannelConfig({ ...BASE, subnetFile: "", dataDir: "" });
    expect([c.subnetFile, c.dataDir, c.cniVersion]).toEqual(["/run/flannel/subnet.env", "/var/lib/cni/flannel", undefined]);
    const d = parseFlannelConfig({ ...BASE, cniVersion: "1.0.0", subnetFile: "/tmp/s.env", dataDir: "/tmp/d" });
    expect([d.subnetFile, d.dataDir, d.cniVersion]).toEqual(["/tmp/s.env", "/tmp/d", "1.0.0"]);
  });
});
