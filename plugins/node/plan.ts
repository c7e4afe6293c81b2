// The data plane as pure data: what the kernel must hold for the current peer leases (flannel
// pkg/backend/vxlan/vxlan_network.go handleSubnetEvents, pkg/backend/route_network.go), and the diff against what
// it holds now. Reconciling, not reacting: entries for subnets no longer leased are removed (flannel#2554).
import type { BackendType, NetConf } from "./config.ts";
import { type Cidr4, containsCidr, formatCidr4, formatIp4, sameCidr, tryParseCidr4 } from "./ip4.ts";
import type { Lease } from "./store/store.ts";

/** A route in the main table: `dst via gw dev [onlink]`. */
export interface RouteEntry {
  dst: string;
  gw: string;
  dev: string;
  onlink: boolean;
}
/** A permanent ARP entry on the VXLAN device: the peer's `<subnet>.0` at its VTEP MAC. */
export interface NeighEntry {
  ip: string;
  mac: string;
}
/** A permanent FDB entry on the VXLAN device: frames for `mac` go to VTEP `dst`. */
export interface FdbEntry {
  mac: string;
  dst: string;
}

/** The part of the kernel's state the daemon owns. */
export interface KernelState {
  routes: RouteEntry[];
  neighs: NeighEntry[];
  fdb: FdbEntry[];
}

export interface PlanContext {
  conf: NetConf;
  own: Cidr4;
  publicIp: string;
  /** The external (underlay) interface. */
  extDev: string;
  /** `flannel.<VNI>` (vxlan only). */
  vxlanDev?: string;
  /** Peer public IPs reachable without a gateway (DirectRouting: `ip route get` gives no gateway). */
  direct?: (publicIp: string) => boolean;
}

export interface Changes {
  delRoutes: RouteEntry[];
  delNeighs: NeighEntry[];
  delFdb: FdbEntry[];
  /** Added in flannel's order: neighbour, FDB, then the route last (a route without its ARP/FDB blackholes). */
  addNeighs: NeighEntry[];
  addFdb: FdbEntry[];
  addRoutes: RouteEntry[];
}

/** The peer leases worth programming: not ours, same backend type, inside the network. */
export function peerLeases(ctx: PlanContext, leases: readonly Lease[]): { peers: Lease[]; ignored: Lease[] } {
  const peers: Lease[] = [];
  const ignored: Lease[] = [];
  for (const l of leases) {
    if (sameCidr(l.subnet, ctx.own) || l.attrs.PublicIP === ctx.publicIp) continue;
    if (l.attrs.BackendType !== ctx.conf.backend.type || !containsCidr(ctx.conf.network, l.subnet) || !l.attrs.PublicIP) ignored.push(l);
    else if (ctx.conf.backend.type === "vxlan" && !l.attrs.BackendData?.VtepMAC && !ctx.direct?.(l.attrs.PublicIP)) ignored.push(l);
    else peers.push(l);
  }
  return { peers, ignored };
}

/** What the kernel must hold for `peers`. */
export function desiredState(ctx: PlanContext, peers: readonly Lease[]): KernelState {
  const want: KernelState = { routes: [], neighs: [], fdb: [] };
  for (const p of peers) {
    const dst = formatCidr4(p.subnet);
    const pub = p.attrs.PublicIP;
    const type: BackendType = ctx.conf.backend.type;
    if (type === "host-gw" || (ctx.conf.backend.directRouting && ctx.direct?.(pub))) {
      want.routes.push({ dst, gw: pub, dev: ctx.extDev, onlink: false });
      continue;
    }
    const vtep = formatIp4(p.subnet.ip);
    const mac = p.attrs.BackendData!.VtepMAC!.toLowerCase();
    want.neighs.push({ ip: vtep, mac });
    want.fdb.push({ mac, dst: pub });
    want.routes.push({ dst, gw: vtep, dev: ctx.vxlanDev!, onlink: true });
  }
  return want;
}

/** Routes the daemon owns: to a subnet of the network other than ours, via a gateway, on flannel.N or the uplink. */
export function ownedRoute(ctx: PlanContext, r: RouteEntry): boolean {
  const dst = tryParseCidr4(r.dst);
  if (!dst || !containsCidr(ctx.conf.network, dst) || sameCidr(dst, ctx.own) || !r.gw) return false;
  return r.dev === ctx.vxlanDev || r.dev === ctx.extDev;
}

const routeKey = (r: RouteEntry) => `${r.dst} ${r.gw} ${r.dev} ${r.onlink}`;
const neighKey = (n: NeighEntry) => `${n.ip} ${n.mac}`;
const fdbKey = (f: FdbEntry) => `${f.mac} ${f.dst}`;

/** The changes turning `have` (already filtered to what we own) into `want`. Empty when they agree. */
export function diffState(want: KernelState, have: KernelState): Changes {
  const minus = <T>(a: T[], b: T[], key: (x: T) => string) => {
    const keys = new Set(b.map(key));
    return a.filter((x) => !keys.has(key(x)));
  };
  const wantDst = new Set(want.routes.map((r) => r.dst));
  const wantNeighIp = new Set(want.neighs.map((n) => n.ip));
  return {
    // a route to a wanted dst that merely differs is replaced by the add, not deleted first
    delRoutes: minus(have.routes, want.routes, routeKey).filter((r) => !wantDst.has(r.dst)),
    delNeighs: minus(have.neighs, want.neighs, neighKey).filter((n) => !wantNeighIp.has(n.ip)),
    delFdb: minus(have.fdb, want.fdb, fdbKey),
    addNeighs: minus(want.neighs, have.neighs, neighKey),
    addFdb: minus(want.fdb, have.fdb, fdbKey),
    addRoutes: minus(want.routes, have.routes, routeKey),
  };
}

export function changeCount(c: Changes): number {
  return c.delRoutes.length + c.delNeighs.length + c.delFdb.length + c.addNeighs.length + c.addFdb.length + c.addRoutes.length;
}
