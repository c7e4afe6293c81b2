// Pure planning for the bridge plugin: from the resolved config and the IPAM result to what must exist (pod
// addresses and routes, gateway addresses on the bridge, forwarding, masquerade), the result to print, and the
// comparisons CHECK makes. Matches calcGateways / ConfigureIface / cmdCheck of the reference bridge.go (v1.9.1).
import type { DNS, Interface, IPConfig, Result, Route } from "../../../shared/cni/result.ts";
import type { LinkInfo } from "../../../shared/netlink/index.ts";
import type { Config } from "./config.ts";
import { isSameIp, networkAddress, nextIp, parseCidr, tryParseCidr, type IpFamily } from "../../../shared/ip/index.ts";

/** Index of the pod interface in the result's `interfaces` (bridge, host veth, pod). */
export const POD_INTERFACE_INDEX = 2;

/** A route as it is installed in the pod: the gateway resolved. */
export interface PodRoute {
  dst: string;
  gw?: string;
  priority?: number;
  table?: number;
  scope?: number;
}

export interface L3Plan {
  /** The result's IPs: each on interface 2, the gateway filled in when isGateway. */
  ips: IPConfig[];
  /** The result's routes: the IPAM's plus a default route per family when isDefaultGateway. */
  routes: Route[];
  /** What to install in the pod. */
  podRoutes: PodRoute[];
  /** Gateway addresses (CIDR, the pod's prefix) to put on the bridge, per family. */
  gatewayAddrs: Array<{ family: IpFamily; cidr: string }>;
  /** Families whose forwarding sysctl must be on. */
  forwardFamilies: IpFamily[];
  /** Pod CIDRs to masquerade. */
  masq: string[];
  /** True when the pod gets an IPv6 address (enable IPv6 on lo and the interface first). */
  hasV6: boolean;
  /** True when an IPv6 gateway exists: wait until the pod's IPv6 addresses leave the tentative state. */
  settleV6: boolean;
}

const DEFAULT_DST = { 4: "0.0.0.0/0", 6: "::/0" } as const;

function isDefaultDst(dst: string, family: IpFamily): boolean {
  const n = tryParseCidr(dst);
  return n !== undefined && n.family === family && n.prefix === 0;
}

/** Plans the layer-3 part of ADD from the IPAM result. */
export function planL3(conf: Config, ipam: Result): L3Plan {
  const ips: IPConfig[] = [];
  const routes: Route[] = [...(ipam.routes ?? [])];
  const gatewayAddrs: L3Plan["gatewayAddrs"] = [];
  const firstGw: Partial<Record<IpFamily, string>> = {};
  for (const src of ipam.ips ?? []) {
    const net = parseCidr(src.address);
    const ip: IPConfig = { interface: POD_INTERFACE_INDEX, address: src.address };
    let gateway = src.gateway;
    // The reference's calcGatewayIP: the address after the network address.
    if (gateway === undefined && conf.isGateway) gateway = nextIp(networkAddress(src.address));
    if (gateway !== undefined) ip.gateway = gateway;
    ips.push(ip);
    if (gateway !== undefined && firstGw[net.family] === undefined) firstGw[net.family] = gateway;
    if (conf.isDefaultGateway) {
      const present = routes.some((r) => r.gw !== undefined && isDefaultDst(r.dst, net.family));
      if (!present) routes.push(gateway === undefined ? { dst: DEFAULT_DST[net.family] } : { dst: DEFAULT_DST[net.family], gw: gateway });
    }
    if (conf.isGateway && gateway !== undefined) gatewayAddrs.push({ family: net.family, cidr: `${gateway}/${net.prefix}` });
  }
  const podRoutes = routes.map((r): PodRoute => {
    const family = parseCidr(r.dst).family;
    const out: PodRoute = { dst: r.dst };
    const gw = r.gw ?? firstGw[family];
    if (gw !== undefined) out.gw = gw;
    if (r.priority !== undefined) out.priority = r.priority;
    if (r.table !== undefined) out.table = r.table;
    if (r.scope !== undefined) out.scope = r.scope;
    return out;
  });
  const families = new Set(ips.map((i) => parseCidr(i.address).family));
  return {
    ips,
    routes,
    podRoutes,
    gatewayAddrs,
    forwardFamilies: ([4, 6] as const).filter((f) => gatewayAddrs.some((g) => g.family === f)),
    masq: ips.map((i) => i.address),
    hasV6: families.has(6),
    settleV6: firstGw[6] !== undefined,
  };
}

export interface ResultParts {
  cniVersion: string;
  bridge: Interface;
  hostVeth: Interface;
  pod: Interface;
  /** The `<bridge>.<vlan>` gateway interface, when one carries the gateway address. */
  vlanGateway?: Interface;
  l3?: L3Plan;
  ipamDns?: DNS;
  confDns?: DNS;
}

/** The ADD result: interfaces [bridge, host veth, pod], IPs on the pod, routes, and DNS (the config's wins). */
export function buildResult(p: ResultParts): Result {
  const r: Result = { cniVersion: p.cniVersion, interfaces: [p.bridge, p.hostVeth, p.pod] };
  if (p.vlanGateway) r.interfaces!.push(p.vlanGateway);
  if (p.l3) {
    r.ips = p.l3.ips;
    if (p.l3.routes.length) r.routes = p.l3.routes;
  }
  const dns = p.confDns ?? p.ipamDns;
  if (dns) r.dns = dns;
  return r;
}

/** A host veth name as the reference makes them: "veth" + 8 hex digits from 4 random bytes. */
export function vethName(random: Uint8Array): string {
  return `veth${Array.from(random.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** An address of the pod's interface as the kernel reports it. */
export interface SeenAddr {
  address: string;
}
/** A route of the pod's netns as the kernel reports it. */
export interface SeenRoute {
  dst: string;
  gw?: string;
  table: number;
}

const MAIN_TABLE = 254;

/** Same address and prefix length (host bits kept, text canonicalised). */
function sameCidr(a: string, b: string): boolean {
  const x = tryParseCidr(a);
  const y = tryParseCidr(b);
  return x !== undefined && y !== undefined && x.ip === y.ip && x.prefix === y.prefix;
}
function sameIp(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  try {
    return isSameIp(a, b);
  } catch {
    return false;
  }
}

/** CHECK: every prevResult address on the pod interface must be there; one sentence per missing one. */
export function addressProblems(expected: readonly IPConfig[], seen: readonly SeenAddr[], ifname: string): string[] {
  return expected
    .filter((ip) => !seen.some((s) => sameCidr(s.address, ip.address)))
    .map((ip) => `address ${ip.address} is not on ${ifname} (it has ${seen.map((s) => s.address).join(", ") || "no addresses"})`);
}

/**
 * CHECK: every prevResult route must exist in the pod (its table, else main) with its gateway when it names one.
 * Unlike v1.1.1, a route without `gw` matches on its destination alone.
 */
export function routeProblems(expected: readonly Route[], seen: readonly SeenRoute[]): string[] {
  const out: string[] = [];
  for (const r of expected) {
    const table = r.table ?? MAIN_TABLE;
    const sameDst = seen.filter((s) => s.table === table && sameCidr(s.dst, r.dst));
    if (sameDst.some((s) => r.gw === undefined || sameIp(s.gw, r.gw))) continue;
    const what = r.gw ? `route to ${r.dst} via ${r.gw}` : `route to ${r.dst}`;
    const have = sameDst.map((s) => (s.gw ? `via ${s.gw}` : "without gateway"));
    out.push(have.length ? `${what} is missing (the route to ${r.dst} goes ${have.join(", ")})` : `${what} is missing`);
  }
  return out;
}

/** What CHECK found: the pod interface in its netns, and the bridge and prevResult's other links on the host. */
export interface CheckState {
  pod: LinkInfo;
  bridge?: LinkInfo;
  hostLinks: ReadonlyMap<string, LinkInfo>;
}

/**
 * CHECK of the links (reference validateCni*Interface): the pod interface is a veth with prevResult's MAC, the
 * bridge exists with prevResult's MAC and the configured promiscuous mode, and one host veth of prevResult is the
 * pod's peer, attached to the bridge, with its MAC. One sentence per problem.
 */
export function linkProblems(conf: Config, prev: { bridge?: Interface; pod: Interface; others: readonly Interface[] }, s: CheckState): string[] {
  const out: string[] = [];
  const ifname = prev.pod.name;
  if (s.pod.kind !== "veth") out.push(`${ifname} is a ${s.pod.kind ?? "device"}, not a veth`);
  if (prev.pod.mac && prev.pod.mac !== s.pod.mac) out.push(`${ifname} has MAC ${s.pod.mac}, prevResult says ${prev.pod.mac}`);
  const br = s.bridge;
  if (!br || br.kind !== "bridge") return [...out, `bridge "${conf.bridge}" ${br ? "is not a bridge" : "does not exist"}`];
  if (prev.bridge?.mac && prev.bridge.mac !== br.mac) out.push(`bridge ${conf.bridge} has MAC ${br.mac}, prevResult says ${prev.bridge.mac}`);
  if (br.promisc !== conf.promiscMode) out.push(`bridge ${conf.bridge} promiscuous mode is ${br.promisc ? "on" : "off"}, the config says ${conf.promiscMode ? "on" : "off"}`);
  const peer = prev.others.find((i) => {
    const l = s.hostLinks.get(i.name);
    return l?.kind === "veth" && l.index === s.pod.link && l.link === s.pod.index;
  });
  const link = peer && s.hostLinks.get(peer.name);
  if (!peer || !link) out.push(`no host veth in prevResult is the peer of ${ifname}`);
  else if (link.master !== br.index) out.push(`${peer.name} is not attached to bridge ${conf.bridge}`);
  else if (peer.mac && peer.mac !== link.mac) out.push(`${peer.name} has MAC ${link.mac}, prevResult says ${peer.mac}`);
  return out;
}
