// The only bridge code that touches the kernel (rtnetlink through shared/netlink, sysctls, pod netns entry):
// each step of ADD/DEL/CHECK as one function, matching the reference's setupBridge / setupVeth / ConfigureIface /
// ensureAddr / DelLinkByNameAddr (containernetworking/plugins v1.9.1). Host-side calls run in the plugin's netns.
import { CniCode, CniError } from "../../../shared/cni/errors.ts";
import { NetlinkError, openRtnl, type AddrInfo, type LinkInfo, type RouteInfo, type Rtnl } from "../../../shared/netlink/index.ts";
import { NetnsNotFoundError, withNetns } from "../../../shared/netns/index.ts";
import { cidrsOverlap, parseCidr } from "../../../shared/ip/index.ts";
import { ensureSysctl, writeSysctl } from "../../../shared/sysctl/index.ts";
import type { Config } from "./config.ts";
import { vethName, type L3Plan } from "./plan.ts";

const SCOPE_UNIVERSE = 0;

function fail(msg: string, e: unknown): CniError {
  if (e instanceof CniError) return e.wrap(msg);
  return new CniError(CniCode.Internal, msg, e instanceof Error ? e.message : String(e));
}

/** Writes a sysctl, ignoring failure (the reference ignores these errors too: IPv6 may be off). */
function trySysctl(key: string, value: string): void {
  try {
    writeSysctl(key, value);
  } catch {
    // best effort
  }
}

/**
 * Creates the bridge if missing (MTU and VLAN filtering only then), turns promiscuous mode on when asked, brings
 * it up. An existing link of that name that is not a bridge is an error.
 * @throws {CniError}
 */
export function ensureBridge(rtnl: Rtnl, conf: Config): LinkInfo {
  let br = rtnl.findLink(conf.bridge);
  if (!br) {
    try {
      rtnl.createBridge({ name: conf.bridge, ...(conf.mtu ? { mtu: conf.mtu } : {}), ...(conf.vlanFiltering ? { vlanFiltering: true } : {}) });
    } catch (e) {
      const code = e instanceof NetlinkError ? e.code : undefined;
      if (code === "EOPNOTSUPP" && conf.vlanFiltering) {
        throw new CniError(CniCode.Internal, `failed to create bridge "${conf.bridge}": this kernel has no bridge VLAN filtering`, '"vlan" and "vlanTrunk" need CONFIG_BRIDGE_VLAN_FILTERING');
      }
      if (code !== "EEXIST") throw fail(`failed to create bridge "${conf.bridge}"`, e); // EEXIST: a concurrent ADD made it
    }
    br = rtnl.getLink(conf.bridge);
  }
  if (br.kind !== "bridge") {
    throw new CniError(CniCode.InvalidConfig, `"${conf.bridge}" already exists but is not a bridge`, `it is a ${br.kind ?? "device without a link kind"}; choose another "bridge" name`);
  }
  try {
    if (conf.promiscMode && !br.promisc) rtnl.setPromisc(br.index, true);
    trySysctl(`net/ipv6/conf/${conf.bridge}/accept_ra`, "0"); // we own the routes of this interface
    if (!br.up) rtnl.setUp(br.index);
  } catch (e) {
    throw fail(`failed to set up bridge "${conf.bridge}"`, e);
  }
  return br;
}

export interface PodVeth {
  pod: LinkInfo;
  hostName: string;
}

/**
 * Creates the veth pair in ONE request from inside the pod netns: `ifname` there, its peer `veth<8 hex>` born in
 * the host netns. Retries on a peer-name clash as the reference does (10 tries).
 * @throws {CniError} code 4 when `ifname` already exists in the pod
 */
export function createVeth(netns: string, ifname: string, conf: Config): PodVeth {
  return withNetns(netns, (host) => {
    using rtnl = openRtnl();
    if (rtnl.findLink(ifname)) {
      throw new CniError(CniCode.InvalidEnv, `container veth name "${ifname}" already exists`, `in ${netns}: DEL the previous attachment or choose another CNI_IFNAME`);
    }
    for (let attempt = 0; ; attempt++) {
      const hostName = vethName(crypto.getRandomValues(new Uint8Array(4)));
      try {
        rtnl.createVeth({ name: ifname, peerName: hostName, peerNetnsFd: host.fd, ...(conf.mtu ? { mtu: conf.mtu } : {}), ...(conf.mac ? { mac: conf.mac } : {}) });
        return { pod: rtnl.getLink(ifname), hostName };
      } catch (e) {
        if (e instanceof NetlinkError && e.code === "EEXIST" && attempt < 9 && !rtnl.findLink(ifname)) continue;
        throw fail(`failed to create veth pair "${ifname}"/"${hostName}" in ${netns}`, e);
      }
    }
  });
}

/** Deletes a host-side link (the veth's other end goes with it); absent is fine. */
export function deleteHostLink(name: string): void {
  using rtnl = openRtnl();
  rtnl.deleteLink(name);
}

/** Consecutive VLAN IDs as ranges, so a trunk of 1-4094 is one request per range, not 4094. */
function vlanRanges(ids: readonly number[]): Array<{ vid: number; vidEnd?: number }> {
  const out: Array<{ vid: number; vidEnd?: number }> = [];
  for (const id of ids) {
    const last = out.at(-1);
    if (last && (last.vidEnd ?? last.vid) + 1 === id) last.vidEnd = id;
    else out.push({ vid: id });
  }
  return out;
}

/**
 * Attaches the host veth to the bridge: master, hairpin and isolation flags, VLANs, accept_ra=0, up.
 * @throws {CniError}
 */
export function attachHostVeth(rtnl: Rtnl, o: { hostName: string; bridge: LinkInfo; conf: Config; vlan?: number; trunk?: readonly number[] }): LinkInfo {
  const { conf, hostName } = o;
  const vlan = o.vlan ?? conf.vlan;
  const trunk = o.trunk ?? conf.trunk;
  try {
    const veth = rtnl.getLink(hostName);
    rtnl.setMaster(veth.index, o.bridge.index);
    if (conf.hairpinMode || conf.portIsolation) rtnl.setBridgePort(veth.index, { hairpin: conf.hairpinMode, isolated: conf.portIsolation });
    if ((vlan !== 0 || trunk.length > 0) && !conf.preserveDefaultVlan) {
      for (const v of rtnl.bridgeVlans(veth.index)) rtnl.bridgeVlanDel(veth.index, { vid: v.vid });
    }
    if (vlan !== 0) rtnl.bridgeVlanAdd(veth.index, { vid: vlan, pvid: true, untagged: true });
    for (const r of vlanRanges(trunk)) rtnl.bridgeVlanAdd(veth.index, r);
    // Without an access VLAN a trunk port's native VLAN is 1 (the reference's backwards compatibility).
    if (vlan === 0 && trunk.length > 0) rtnl.bridgeVlanAdd(veth.index, { vid: 1, pvid: true, untagged: true });
    trySysctl(`net/ipv6/conf/${hostName}/accept_ra`, "0");
    rtnl.setUp(veth.index);
    return veth;
  } catch (e) {
    throw fail(`failed to connect "${hostName}" to bridge "${o.bridge.name}"`, e);
  }
}

/**
 * In the pod: DAD and arp_notify sysctls (arp_notify makes the kernel announce the address: the gratuitous ARP),
 * IPv6 enabled when needed, addresses, link up, wait for DAD when it is on, routes.
 * @throws {CniError}
 */
export function configurePod(netns: string, ifname: string, plan: L3Plan, enableDad: boolean): void {
  withNetns(netns, () => {
    using rtnl = openRtnl();
    try {
      if (enableDad) {
        trySysctl(`net/ipv6/conf/${ifname}/enhanced_dad`, "1");
        trySysctl(`net/ipv6/conf/${ifname}/accept_dad`, "1");
      } else {
        trySysctl(`net/ipv6/conf/${ifname}/accept_dad`, "0");
      }
      trySysctl(`net/ipv4/conf/${ifname}/arp_notify`, "1");
      const link = rtnl.getLink(ifname);
      if (plan.hasV6) {
        for (const dev of ["lo", ifname]) ensureSysctl(`net/ipv6/conf/${dev}/disable_ipv6`, "0");
        writeSysctl(`net/ipv6/conf/${ifname}/keep_addr_on_down`, "1");
      }
      for (const ip of plan.ips) rtnl.addAddr({ index: link.index, address: ip.address });
      rtnl.setUp(link.index);
      if (plan.settleV6 && enableDad) settleAddresses(rtnl, link.index);
      for (const r of plan.podRoutes) rtnl.addRoute({ ...r, oif: link.index });
    } catch (e) {
      throw fail(`failed to configure ${ifname} in ${netns}`, e);
    }
  });
}

/** Polls until no IPv6 address of the link is tentative (the reference's SettleAddresses: 50 ms steps, 5 s). */
function settleAddresses(rtnl: Rtnl, index: number): void {
  const deadline = performance.now() + 5000;
  for (;;) {
    const addrs = rtnl.addrs({ family: 6, index });
    const failed = addrs.find((a) => a.dadFailed);
    if (failed) throw new CniError(CniCode.Internal, `duplicate address detection failed for ${failed.address}`, "another host on the network uses it");
    if (!addrs.some((a) => a.tentative && a.scope === SCOPE_UNIVERSE)) return;
    if (performance.now() > deadline) throw new CniError(CniCode.Internal, "IPv6 addresses still tentative after 5 s", "duplicate address detection did not finish");
    Bun.sleepSync(50);
  }
}

/** Brings the pod interface up (layer-2 mode: no IPAM). @throws {CniError} */
export function setPodUp(netns: string, ifname: string): void {
  withNetns(netns, () => {
    using rtnl = openRtnl();
    try {
      rtnl.setUp(rtnl.getLink(ifname).index);
    } catch (e) {
      throw fail(`failed to set "${ifname}" up`, e);
    }
  });
}

/**
 * Puts a gateway address on the bridge (or its VLAN interface) unless it is there. Another IPv4 address, or an
 * overlapping IPv6 one, is an error unless forceAddress (then it is replaced). A concurrent ADD adding the same
 * address first (EEXIST) is fine. Afterwards the device's MAC is pinned to `mac`, so it no longer follows the
 * lowest port MAC.
 * @throws {CniError}
 */
export function ensureGatewayAddr(rtnl: Rtnl, o: { dev: LinkInfo; family: 4 | 6; cidr: string; force: boolean; mac: string }): void {
  const want = parseCidr(o.cidr);
  const have = rtnl.addrs({ family: o.family, index: o.dev.index }).filter((a) => a.scope === SCOPE_UNIVERSE);
  if (have.some((a) => sameAddr(a, o.cidr))) return;
  for (const a of have) {
    if (o.family === 6 && !cidrsOverlap(a.address, o.cidr)) continue;
    if (!o.force) {
      throw new CniError(CniCode.Internal, `failed to set bridge addr: "${o.dev.name}" already has an IP address different from ${want.ip}/${want.prefix}`, `it has ${a.address}; remove it, or set "forceAddress" to replace it`);
    }
    rtnl.delAddr({ index: o.dev.index, address: a.address });
  }
  try {
    // No DAD for the gateway: IPAM never hands it out, and with DAD pods could not reach an IPv6 gateway
    // for the first second (the reference leaves it tentative meanwhile).
    rtnl.addAddr({ index: o.dev.index, address: o.cidr, ...(o.family === 6 ? { nodad: true } : {}) });
  } catch (e) {
    if (!(e instanceof NetlinkError && e.code === "EEXIST")) throw fail(`failed to set bridge addr: could not add IP address ${o.cidr} to "${o.dev.name}"`, e);
  }
  try {
    if (o.mac) rtnl.setMac(o.dev.index, o.mac);
  } catch (e) {
    throw fail(`could not set the MAC of "${o.dev.name}"`, e);
  }
}

function sameAddr(a: AddrInfo, cidr: string): boolean {
  const x = parseCidr(a.address);
  const y = parseCidr(cidr);
  return x.ip === y.ip && x.prefix === y.prefix;
}

/** Turns IPv4/IPv6 forwarding on in the host netns, writing only when it is off. @throws {CniError} */
export function ensureForwarding(families: readonly (4 | 6)[]): void {
  for (const f of families) {
    const key = f === 4 ? "net/ipv4/ip_forward" : "net/ipv6/conf/all/forwarding";
    try {
      ensureSysctl(key, "1");
    } catch (e) {
      throw fail("failed to enable forwarding", e);
    }
  }
}

/**
 * The `<bridge>.<vlan>` gateway interface: a veth pair in the host netns whose peer is a VLAN access port of the
 * bridge (reference ensureVlanInterface). Created once, reused afterwards.
 * @throws {CniError}
 */
export function ensureVlanGateway(rtnl: Rtnl, bridge: LinkInfo, conf: Config): LinkInfo {
  const name = `${bridge.name}.${conf.vlan}`;
  const found = rtnl.findLink(name);
  if (found) return found;
  const peer = vethName(crypto.getRandomValues(new Uint8Array(4)));
  try {
    rtnl.createVeth({ name, peerName: peer, ...(bridge.mtu ? { mtu: bridge.mtu } : {}) });
  } catch (e) {
    if (e instanceof NetlinkError && e.code === "EEXIST") return rtnl.getLink(name);
    throw fail(`failed to create vlan interface "${name}"`, e);
  }
  attachHostVeth(rtnl, { hostName: peer, bridge, conf: { ...conf, hairpinMode: false, portIsolation: false }, trunk: [] });
  const dev = rtnl.getLink(name);
  rtnl.setUp(dev.index);
  return dev;
}

/**
 * Waits until the host veth is operationally up (its bridge port forwards), polling briefly; the reference sleeps
 * 0/50/500/1000/1000 ms. @throws {CniError} after 2.5 s
 */
export function waitOperUp(rtnl: Rtnl, name: string): LinkInfo {
  const deadline = performance.now() + 2500;
  for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
    const link = rtnl.getLink(name);
    if (link.operState === "up") return link;
    if (performance.now() > deadline) throw new CniError(CniCode.Internal, `bridge port in error state: ${link.operState}`, `"${name}" did not come up within 2.5 s`);
    Bun.sleepSync(delay);
  }
}

/**
 * DEL: the global addresses of the pod's `ifname` ([] when the link is gone), or undefined when the netns is gone.
 * @throws {CniError} for other failures
 */
export function podAddresses(netns: string, ifname: string): string[] | undefined {
  try {
    return withNetns(netns, () => {
      using rtnl = openRtnl();
      const link = rtnl.findLink(ifname);
      return link ? rtnl.addrs({ index: link.index }).filter((a) => a.scope === SCOPE_UNIVERSE).map((a) => a.address) : [];
    });
  } catch (e) {
    if (e instanceof NetnsNotFoundError) return undefined;
    throw fail(`failed to read "${ifname}" in ${netns}`, e);
  }
}

/** DEL: deletes the pod's `ifname` from inside its netns (the host veth goes with it); gone is fine. @throws {CniError} */
export function deletePodInterface(netns: string, ifname: string): void {
  try {
    withNetns(netns, () => {
      using rtnl = openRtnl();
      const link = rtnl.findLink(ifname);
      if (link) rtnl.deleteLink(link.index);
    });
  } catch (e) {
    if (e instanceof NetnsNotFoundError) return;
    throw fail(`failed to delete "${ifname}" in ${netns}`, e);
  }
}

/** What CHECK reads in the pod. */
export interface PodState {
  link?: LinkInfo;
  addrs: AddrInfo[];
  routes: RouteInfo[];
}

/** Reads the pod interface, its addresses and the netns routes (all tables). */
export function readPod(netns: string, ifname: string): PodState {
  return withNetns(netns, () => {
    using rtnl = openRtnl();
    const link = rtnl.findLink(ifname);
    if (!link) return { addrs: [], routes: [] };
    return { link, addrs: rtnl.addrs({ index: link.index }), routes: rtnl.routes({ table: 0 }) };
  });
}

/** Runs `fn` with an rtnetlink socket in the plugin's own (host) netns. */
export function withHost<T>(fn: (rtnl: Rtnl) => T): T {
  using rtnl = openRtnl();
  return fn(rtnl);
}

/** The host veth and bridge as they are once the port forwards (MACs read last: the bridge's changes). */
export function finalHostState(o: { hostName: string; bridge: string; waitUp: boolean }): { hostMac: string; bridgeMac: string } {
  return withHost((rtnl) => {
    const host = o.waitUp ? waitOperUp(rtnl, o.hostName) : rtnl.getLink(o.hostName);
    return { hostMac: host.mac, bridgeMac: rtnl.getLink(o.bridge).mac };
  });
}

/** What CHECK reads on the host: the bridge and the links named in prevResult. */
export function readHost(bridge: string, names: readonly string[]): { bridge?: LinkInfo; links: Map<string, LinkInfo> } {
  return withHost((rtnl) => {
    const links = new Map<string, LinkInfo>();
    for (const n of names) {
      const l = rtnl.findLink(n);
      if (l) links.set(n, l);
    }
    const br = rtnl.findLink(bridge);
    return br ? { bridge: br, links } : { links };
  });
}
