// The IPv6 half of the data plane on a dual-stack network, as pure data (flannel vxlan_network.go handleSubnetEvents
// with BackendV6Data, route_network.go GetV6Route): per peer, on `flannel-v6.<VNI>` the neighbour `<v6 subnet>::` at
// the peer's v6 VTEP MAC, the FDB entry to its PublicIPv6 and the route `<v6 subnet> via <v6 subnet>:: onlink`; or,
// for host-gw and DirectRouting, a route via its PublicIPv6. The diff is plan.ts's diffState (family-agnostic text).
import type { NetConf6 } from "./config.ts";
import { type Cidr6, containsCidr6, formatCidr6, formatIp6, sameCidr6, tryParseCidr6 } from "./ip6.ts";
import type { KernelState, RouteEntry } from "./plan.ts";
import type { Lease } from "./store/store.ts";

export interface PlanContext6 {
  conf: NetConf6;
  backend: { type: "vxlan" | "host-gw"; directRouting: boolean };
  own: Cidr6;
  publicIp: string;
  publicIpv6: string;
  extDev: string;
  /** `flannel-v6.<VNI>` (vxlan only). */
  vxlanDev?: string;
  /** Peer IPv6 addresses reachable without a gateway (DirectRouting). */
  direct?: (publicIpv6: string) => boolean;
}

/** Peers with an IPv6 half worth programming: not ours, same backend, inside IPv6Network, with a PublicIPv6 (and v6 VTEP MAC). */
export function peerLeases6(ctx: PlanContext6, leases: readonly Lease[]): { peers: Lease[]; ignored: Lease[] } {
  const peers: Lease[] = [];
  const ignored: Lease[] = [];
  for (const l of leases) {
    const pub = l.attrs.PublicIPv6;
    if ((l.ipv6Subnet && sameCidr6(l.ipv6Subnet, ctx.own)) || l.attrs.PublicIP === ctx.publicIp || (pub && pub === ctx.publicIpv6)) continue;
    if (!l.ipv6Subnet || !pub || l.attrs.BackendType !== ctx.backend.type || !containsCidr6(ctx.conf.network, l.ipv6Subnet)) ignored.push(l);
    else if (ctx.backend.type === "vxlan" && !l.attrs.BackendV6Data?.VtepMAC && !(ctx.backend.directRouting && ctx.direct?.(pub))) ignored.push(l);
    else peers.push(l);
  }
  return { peers, ignored };
}

/** What the kernel must hold for the IPv6 halves of `peers` (each has ipv6Subnet and PublicIPv6: see peerLeases6). */
export function desiredState6(ctx: PlanContext6, peers: readonly Lease[]): KernelState {
  const want: KernelState = { routes: [], neighs: [], fdb: [] };
  for (const p of peers) {
    const sub = p.ipv6Subnet!;
    const dst = formatCidr6(sub);
    const pub = p.attrs.PublicIPv6!;
    if (ctx.backend.type === "host-gw" || (ctx.backend.directRouting && ctx.direct?.(pub))) {
      want.routes.push({ dst, gw: pub, dev: ctx.extDev, onlink: false });
      continue;
    }
    const vtep = formatIp6(sub.ip);
    const mac = p.attrs.BackendV6Data!.VtepMAC!.toLowerCase();
    want.neighs.push({ ip: vtep, mac });
    want.fdb.push({ mac, dst: pub });
    want.routes.push({ dst, gw: vtep, dev: ctx.vxlanDev!, onlink: true });
  }
  return want;
}

/** IPv6 routes the daemon owns: to a subnet of IPv6Network other than ours, via a gateway, on flannel-v6.N or the uplink. */
export function ownedRoute6(ctx: PlanContext6, r: RouteEntry): boolean {
  const dst = tryParseCidr6(r.dst);
  if (!dst || !containsCidr6(ctx.conf.network, dst) || sameCidr6(dst, ctx.own) || !r.gw) return false;
  return r.dev === ctx.vxlanDev || r.dev === ctx.extDev;
}
