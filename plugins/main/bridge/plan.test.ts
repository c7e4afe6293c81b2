import { describe, expect, test } from "bun:test";
import { loadConfig } from "./config.ts";
import type { LinkInfo } from "../../../shared/netlink/index.ts";
import { addressProblems, buildResult, linkProblems, planL3, routeProblems, vethName } from "./plan.ts";

const conf = (extra: Record<string, unknown> = {}) => loadConfig({ cniVersion: "1.0.0", name: "net", ...extra }, "");

describe("planL3()", () => {
  test("planL3() with isDefaultGateway: gateway filled in, default route added, gateway address for the bridge", () => {
    const p = planL3(conf({ isDefaultGateway: true }), { cniVersion: "1.0.0", ips: [{ address: "10.1.0.5/24" }] });
    expect(p.ips).toEqual([{ interface: 2, address: "10.1.0.5/24", gateway: "10.1.0.1" }]);
    expect(p.routes).toEqual([{ dst: "0.0.0.0/0", gw: "10.1.0.1" }]);
    expect(p.gatewayAddrs).toEqual([{ family: 4, cidr: "10.1.0.1/24" }]);
    expect(p.forwardFamilies).toEqual([4]);
    expect(p.masq).toEqual(["10.1.0.5/24"]);
    expect(p.hasV6).toBe(false);
  });

  test("planL3() keeps the IPAM's gateway and does not add a default route when one with a gateway exists", () => {
    const p = planL3(conf({ isDefaultGateway: true }), {
      cniVersion: "1.0.0",
      ips: [{ address: "10.1.0.5/24", gateway: "10.1.0.254" }],
      routes: [{ dst: "0.0.0.0/0", gw: "10.1.0.9" }],
    });
    expect(p.routes).toEqual([{ dst: "0.0.0.0/0", gw: "10.1.0.9" }]);
    expect(p.gatewayAddrs).toEqual([{ family: 4, cidr: "10.1.0.254/24" }]);
  });

  test("planL3() adds a default route when the IPAM's default route has no gateway (as the reference)", () => {
    const p = planL3(conf({ isDefaultGateway: true }), { cniVersion: "1.0.0", ips: [{ address: "10.1.0.5/24" }], routes: [{ dst: "0.0.0.0/0" }] });
    expect(p.routes).toEqual([{ dst: "0.0.0.0/0" }, { dst: "0.0.0.0/0", gw: "10.1.0.1" }]);
  });

  test("planL3() dual stack: one default route and one gateway per family, IPv6 settles", () => {
    const p = planL3(conf({ isDefaultGateway: true }), { cniVersion: "1.0.0", ips: [{ address: "10.1.0.5/24" }, { address: "fd00:1::5/64" }] });
    expect(p.routes).toEqual([
      { dst: "0.0.0.0/0", gw: "10.1.0.1" },
      { dst: "::/0", gw: "fd00:1::1" },
    ]);
    expect(p.forwardFamilies).toEqual([4, 6]);
    expect(p.hasV6).toBe(true);
    expect(p.settleV6).toBe(true);
  });

  test("planL3() without isGateway: no gateway invented, nothing on the bridge, routes without gw stay device routes", () => {
    const p = planL3(conf(), { cniVersion: "1.0.0", ips: [{ address: "10.1.0.5/24" }], routes: [{ dst: "10.2.0.0/16" }] });
    expect(p.ips).toEqual([{ interface: 2, address: "10.1.0.5/24" }]);
    expect(p.gatewayAddrs).toEqual([]);
    expect(p.podRoutes).toEqual([{ dst: "10.2.0.0/16" }]);
  });

  test("planL3() routes without gw go via the family's first gateway; route extras are kept", () => {
    const p = planL3(conf({ isGateway: true }), {
      cniVersion: "1.0.0",
      ips: [{ address: "10.1.0.5/24" }],
      routes: [{ dst: "10.2.0.0/16", priority: 5, table: 100 }, { dst: "fd09::/64" }],
    });
    expect(p.podRoutes).toEqual([{ dst: "10.2.0.0/16", gw: "10.1.0.1", priority: 5, table: 100 }, { dst: "fd09::/64" }]);
  });

  test("planL3() /32 pod address: the gateway is network + 1 all the same (reference calcGatewayIP)", () => {
    const p = planL3(conf({ isGateway: true }), { cniVersion: "1.0.0", ips: [{ address: "10.1.0.5/32" }] });
    expect(p.ips[0]!.gateway).toBe("10.1.0.6");
  });
});

describe("buildResult()", () => {
  const parts = {
    cniVersion: "1.0.0",
    bridge: { name: "cni0", mac: "aa:aa:aa:aa:aa:aa" },
    hostVeth: { name: "veth01020304", mac: "bb:bb:bb:bb:bb:bb" },
    pod: { name: "eth0", mac: "cc:cc:cc:cc:cc:cc", sandbox: "/run/netns/p" },
  };

  test("buildResult() orders interfaces bridge, host veth, pod; the config's dns replaces the IPAM's", () => {
    const l3 = planL3(conf({ isGateway: true }), { cniVersion: "1.0.0", ips: [{ address: "10.1.0.5/24" }] });
    const r = buildResult({ ...parts, l3, ipamDns: { nameservers: ["1.1.1.1"] }, confDns: { nameservers: ["10.0.0.10"] } });
    expect(r.interfaces!.map((i) => i.name)).toEqual(["cni0", "veth01020304", "eth0"]);
    expect(r.ips).toEqual([{ interface: 2, address: "10.1.0.5/24", gateway: "10.1.0.1" }]);
    expect(r.routes).toBeUndefined();
    expect(r.dns).toEqual({ nameservers: ["10.0.0.10"] });
  });

  test("buildResult() keeps the IPAM's dns when the config has none; layer 2 has no ips", () => {
    expect(buildResult({ ...parts, ipamDns: { domain: "x" } }).dns).toEqual({ domain: "x" });
    expect(buildResult(parts).ips).toBeUndefined();
  });
});

describe("vethName()", () => {
  test("vethName() is veth + 8 lowercase hex digits", () => {
    expect(vethName(new Uint8Array([0x0f, 0xa9, 0xc0, 0x1b]))).toBe("veth0fa9c01b");
  });
});

describe("addressProblems() / routeProblems()", () => {
  test("addressProblems() names a missing address and what is there; canonical forms compare equal", () => {
    expect(addressProblems([{ address: "fd00:0::5/64" }], [{ address: "fd00::5/64" }], "eth0")).toEqual([]);
    expect(addressProblems([{ address: "10.1.0.5/24" }], [{ address: "10.1.0.6/24" }], "eth0")).toEqual(["address 10.1.0.5/24 is not on eth0 (it has 10.1.0.6/24)"]);
    expect(addressProblems([{ address: "10.1.0.5/24" }], [{ address: "10.1.0.5/16" }], "eth0")).toHaveLength(1);
  });

  test("routeProblems() matches a route without gw on its destination (v1.1.1 fails it) and checks gw when given", () => {
    const seen = [{ dst: "10.2.0.0/16", gw: "10.1.0.1", table: 254 }, { dst: "0.0.0.0/0", gw: "10.1.0.1", table: 254 }];
    expect(routeProblems([{ dst: "10.2.0.0/16" }, { dst: "0.0.0.0/0", gw: "10.1.0.1" }], seen)).toEqual([]);
    expect(routeProblems([{ dst: "0.0.0.0/0", gw: "10.1.0.9" }], seen)).toEqual(["route to 0.0.0.0/0 via 10.1.0.9 is missing (the route to 0.0.0.0/0 goes via 10.1.0.1)"]);
    expect(routeProblems([{ dst: "10.3.0.0/16" }], seen)).toEqual(["route to 10.3.0.0/16 is missing"]);
    expect(routeProblems([{ dst: "10.2.0.0/16", table: 100 }], seen)).toHaveLength(1);
  });
});

describe("linkProblems()", () => {
  const link = (o: Partial<LinkInfo>): LinkInfo => ({ index: 1, name: "x", mtu: 1500, mac: "", up: true, operState: "up", promisc: false, flags: 0, ...o });
  const c = conf({ bridge: "cni0" });
  const pod = link({ index: 2, name: "eth0", kind: "veth", mac: "0a:00:00:00:00:02", link: 7 });
  const br = link({ index: 5, name: "cni0", kind: "bridge", mac: "0a:00:00:00:00:05" });
  const veth = link({ index: 7, name: "veth01020304", kind: "veth", mac: "0a:00:00:00:00:07", link: 2, master: 5 });
  const prev = { bridge: { name: "cni0", mac: br.mac }, pod: { name: "eth0", mac: pod.mac, sandbox: "/n" }, others: [{ name: "veth01020304", mac: veth.mac }] };
  const hostLinks = new Map([["veth01020304", veth]]);

  test("linkProblems() is empty when everything matches", () => {
    expect(linkProblems(c, prev, { pod, bridge: br, hostLinks })).toEqual([]);
  });

  test.each([
    { what: "a bridge that is missing", state: { pod, hostLinks }, want: 'bridge "cni0" does not exist' },
    { what: "a promiscuous bridge", state: { pod, bridge: { ...br, promisc: true }, hostLinks }, want: "bridge cni0 promiscuous mode is on, the config says off" },
    { what: "a pod MAC that changed", state: { pod: { ...pod, mac: "0a:00:00:00:00:99" }, bridge: br, hostLinks }, want: "eth0 has MAC 0a:00:00:00:00:99, prevResult says 0a:00:00:00:00:02" },
    { what: "a veth detached from the bridge", state: { pod, bridge: br, hostLinks: new Map([["veth01020304", { ...veth, master: undefined }]]) }, want: "veth01020304 is not attached to bridge cni0" },
    { what: "no peer veth", state: { pod: { ...pod, link: 99 }, bridge: br, hostLinks }, want: "no host veth in prevResult is the peer of eth0" },
  ])("linkProblems() reports $what", ({ state, want }) => {
    expect(linkProblems(c, prev, state as never)).toContain(want);
  });
});
