import { expect, test } from "bun:test";
import { parseNetConf } from "./config.ts";
import { tryParseCidr4 } from "./ip4.ts";
import { tryParseCidr6 } from "./ip6.ts";
import { diffState } from "./plan.ts";
import { type PlanContext6, desiredState6, ownedRoute6, peerLeases6 } from "./plan6.ts";
import type { Lease } from "./store/store.ts";

const ctxFor = (type: "vxlan" | "host-gw", directRouting = false): PlanContext6 => ({
  conf: parseNetConf(JSON.stringify({ Network: "10.5.0.0/16", EnableIPv6: true, IPv6Network: "fd00:5::/48", Backend: { Type: type } })).ipv6!,
  backend: { type, directRouting },
  own: tryParseCidr6("fd00:5:0:1::/64")!,
  publicIp: "192.0.2.1",
  publicIpv6: "fd00:192::1",
  extDev: "eth0",
  vxlanDev: "flannel-v6.1",
  direct: (ip) => ip === "fd00:192::3",
});
const peer = (i: number, o: { type?: string; v6?: boolean; mac6?: boolean } = {}): Lease => ({
  subnet: tryParseCidr4(`10.5.${i}.0/24`)!,
  ...(o.v6 === false ? {} : { ipv6Subnet: tryParseCidr6(`fd00:5:0:${i}::/64`)! }),
  attrs: {
    PublicIP: `192.0.2.${i}`,
    PublicIPv6: o.v6 === false ? null : `fd00:192::${i}`,
    BackendType: o.type ?? "vxlan",
    BackendData: { VNI: 1, VtepMAC: `02:aa:00:00:00:0${i}` },
    ...(o.mac6 === false ? {} : { BackendV6Data: { VNI: 1, VtepMAC: `02:bb:00:00:00:0${i}` } }),
  },
});

test("peerLeases6(): ours, IPv4-only peers, other backends and peers without a v6 VTEP MAC are not programmed", () => {
  const ctx = ctxFor("vxlan");
  const { peers, ignored } = peerLeases6(ctx, [peer(1), peer(2), peer(4, { v6: false }), peer(5, { type: "host-gw" }), peer(6, { mac6: false })]);
  expect(peers.map((p) => p.attrs.PublicIP)).toEqual(["192.0.2.2"]);
  expect(ignored.map((p) => p.attrs.PublicIP)).toEqual(["192.0.2.4", "192.0.2.5", "192.0.2.6"]);
});

test("vxlan: neighbour <subnet>:: at the v6 VTEP MAC, FDB to PublicIPv6, onlink route on flannel-v6.1", () => {
  const ctx = ctxFor("vxlan");
  expect(desiredState6(ctx, [peer(2)])).toEqual({
    routes: [{ dst: "fd00:5:0:2::/64", gw: "fd00:5:0:2::", dev: "flannel-v6.1", onlink: true }],
    neighs: [{ ip: "fd00:5:0:2::", mac: "02:bb:00:00:00:02" }],
    fdb: [{ mac: "02:bb:00:00:00:02", dst: "fd00:192::2" }],
  });
});

test("host-gw and DirectRouting: a route via the peer's PublicIPv6 on the uplink", () => {
  expect(desiredState6(ctxFor("host-gw"), [peer(2, { type: "host-gw", mac6: false })]).routes).toEqual([
    { dst: "fd00:5:0:2::/64", gw: "fd00:192::2", dev: "eth0", onlink: false },
  ]);
  const d = desiredState6(ctxFor("vxlan", true), [peer(3), peer(2)]);
  expect(d.routes.map((r) => `${r.dst} ${r.gw} ${r.dev}`)).toEqual(["fd00:5:0:3::/64 fd00:192::3 eth0", "fd00:5:0:2::/64 fd00:5:0:2:: flannel-v6.1"]);
});

test("ownedRoute6() and diffState(): a stale IPv6 route is removed, foreign routes are left alone", () => {
  const ctx = ctxFor("vxlan");
  expect(ownedRoute6(ctx, { dst: "fd00:5:0:9::/64", gw: "fd00:5:0:9::", dev: "flannel-v6.1", onlink: true })).toBe(true);
  expect(ownedRoute6(ctx, { dst: "fd00:5:0:1::/64", gw: "fd00:5:0:1::9", dev: "eth0", onlink: false })).toBe(false);
  expect(ownedRoute6(ctx, { dst: "fd00:6::/64", gw: "fd00:192::2", dev: "eth0", onlink: false })).toBe(false);
  expect(ownedRoute6(ctx, { dst: "::/0", gw: "fd00:192::fe", dev: "eth0", onlink: false })).toBe(false);
  expect(ownedRoute6(ctx, { dst: "fd00:5:0:2::/64", gw: "fd00:5:0:1::1", dev: "cni0", onlink: false })).toBe(false);
  const want = desiredState6(ctx, [peer(2)]);
  const c = diffState(want, { routes: [{ dst: "fd00:5:0:9::/64", gw: "fd00:5:0:9::", dev: "flannel-v6.1", onlink: true }], neighs: [], fdb: [] });
  expect(c.delRoutes.map((r) => r.dst)).toEqual(["fd00:5:0:9::/64"]);
  expect(c.addRoutes).toEqual(want.routes);
});
