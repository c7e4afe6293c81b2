import { expect, test } from "bun:test";
import { parseNetConf } from "./config.ts";
import { tryParseCidr4 } from "./ip4.ts";
import { type PlanContext, desiredState, diffState, ownedRoute, peerLeases } from "./plan.ts";
import type { Lease } from "./store/store.ts";

const ctxFor = (type: string, directRouting = false): PlanContext => ({
  conf: parseNetConf(JSON.stringify({ Network: "10.5.0.0/16", Backend: { Type: type, DirectRouting: directRouting } })),
  own: tryParseCidr4("10.5.1.0/24")!,
  publicIp: "192.0.2.1",
  extDev: "eth0",
  vxlanDev: "flannel.1",
  direct: (ip) => ip === "192.0.2.3",
});
const peer = (s: string, ip: string, mac = "02:aa:00:00:00:0" + ip.slice(-1), type = "vxlan"): Lease => ({
  subnet: tryParseCidr4(s)!,
  attrs: { PublicIP: ip, BackendType: type, BackendData: { VNI: 1, VtepMAC: mac } },
});

test("vxlan: neighbour, FDB and onlink route per peer; our own lease and other backends are skipped", () => {
  const ctx = ctxFor("vxlan");
  const { peers, ignored } = peerLeases(ctx, [peer("10.5.1.0/24", "192.0.2.1"), peer("10.5.2.0/24", "192.0.2.2"), peer("10.5.4.0/24", "192.0.2.4", "x", "host-gw")]);
  expect(ignored.length).toBe(1);
  expect(desiredState(ctx, peers)).toEqual({
    routes: [{ dst: "10.5.2.0/24", gw: "10.5.2.0", dev: "flannel.1", onlink: true }],
    neighs: [{ ip: "10.5.2.0", mac: "02:aa:00:00:00:02" }],
    fdb: [{ mac: "02:aa:00:00:00:02", dst: "192.0.2.2" }],
  });
});

test("host-gw and DirectRouting: a route via the peer's public IP on the uplink", () => {
  expect(desiredState(ctxFor("host-gw"), [peer("10.5.2.0/24", "192.0.2.2")]).routes).toEqual([{ dst: "10.5.2.0/24", gw: "192.0.2.2", dev: "eth0", onlink: false }]);
  const d = desiredState(ctxFor("vxlan", true), [peer("10.5.3.0/24", "192.0.2.3"), peer("10.5.2.0/24", "192.0.2.2")]);
  expect(d.routes.map((r) => `${r.dst} ${r.gw} ${r.dev}`)).toEqual(["10.5.3.0/24 192.0.2.3 eth0", "10.5.2.0/24 10.5.2.0 flannel.1"]);
});

test("diffState() removes stale entries, adds missing ones, replaces a changed route without deleting it", () => {
  const ctx = ctxFor("vxlan");
  const want = desiredState(ctx, [peer("10.5.2.0/24", "192.0.2.2")]);
  const have = {
    routes: [
      { dst: "10.5.9.0/24", gw: "10.5.9.0", dev: "flannel.1", onlink: true },
      { dst: "10.5.2.0/24", gw: "192.0.2.2", dev: "eth0", onlink: false },
    ],
    neighs: [{ ip: "10.5.9.0", mac: "02:aa:00:00:00:09" }],
    fdb: [{ mac: "02:aa:00:00:00:09", dst: "192.0.2.9" }, { mac: "02:aa:00:00:00:02", dst: "192.0.2.2" }],
  };
  const c = diffState(want, have);
  expect(c.delRoutes.map((r) => r.dst)).toEqual(["10.5.9.0/24"]);
  expect(c.delNeighs.map((n) => n.ip)).toEqual(["10.5.9.0"]);
  expect(c.delFdb.map((f) => f.dst)).toEqual(["192.0.2.9"]);
  expect(c.addNeighs.length).toBe(1);
  expect(c.addFdb.length).toBe(0);
  expect(c.addRoutes).toEqual(want.routes);
  expect(diffState(want, want)).toEqual({ delRoutes: [], delNeighs: [], delFdb: [], addNeighs: [], addFdb: [], addRoutes: [] });
});

test("ownedRoute(): only gateway routes to other subnets of the network on flannel.1 or the uplink", () => {
  const ctx = ctxFor("vxlan");
  expect(ownedRoute(ctx, { dst: "10.5.2.0/24", gw: "10.5.2.0", dev: "flannel.1", onlink: true })).toBe(true);
  expect(ownedRoute(ctx, { dst: "10.5.1.0/24", gw: "10.5.1.9", dev: "eth0", onlink: false })).toBe(false);
  expect(ownedRoute(ctx, { dst: "10.6.2.0/24", gw: "192.0.2.2", dev: "eth0", onlink: false })).toBe(false);
  expect(ownedRoute(ctx, { dst: "default", gw: "192.0.2.254", dev: "eth0", onlink: false })).toBe(false);
  expect(ownedRoute(ctx, { dst: "10.5.2.0/24", gw: "10.9.0.1", dev: "cni0", onlink: false })).toBe(false);
});
