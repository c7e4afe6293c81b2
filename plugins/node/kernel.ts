// The node daemon's only kernel access, over shared/netlink (in the daemon's own netns): the uplink, the VXLAN
// device and its address, and the routes/neighbours/FDB entries of plan.ts. Changes go in as ONE netlink batch
// (many requests per datagram), ordered as flannel does: deletes, then neighbours and FDB, then routes last.
// Link events come from `ip -o monitor link` (shared/netlink has no multicast subscription yet).
import { type LinkInfo as NlLink, NeighState, type Rtnl, RouteTable, openRtnl } from "../../shared/netlink/index.ts";
import type { Changes, FdbEntry, KernelState, NeighEntry, RouteEntry } from "./plan.ts";

const AF_BRIDGE = 7;
/** NTF_SELF: an FDB entry of the VXLAN device itself. */
const NTF_SELF = 0x02;

export interface LinkInfo extends NlLink {
  /** IPv4 addresses, "10.1.2.3/24". */
  addrs: string[];
  /** Global IPv6 addresses (no link-local, no failed DAD), "fd00::1/64". */
  addrs6: string[];
}

/** Global-scope IPv6 addresses whose DAD has not failed, per link index. */
function globalAddrs6(rtnl: Rtnl, index?: number): { index: number; address: string }[] {
  return rtnl.addrs({ family: 6, ...(index === undefined ? {} : { index }) }).filter((a) => a.scope === 0 && !a.dadFailed);
}

function withAddrs(rtnl: Rtnl, l: NlLink): LinkInfo {
  return {
    ...l,
    addrs: rtnl.addrs({ family: 4, index: l.index }).map((a) => a.address),
    addrs6: globalAddrs6(rtnl, l.index).map((a) => a.address),
  };
}

/** The link called `name` with its IPv4 addresses, or undefined. */
export function findLink(name: string): LinkInfo | undefined {
  using rtnl = openRtnl();
  const l = rtnl.findLink(name);
  return l && withAddrs(rtnl, l);
}

/** Every link with its IPv4 and global IPv6 addresses. */
export function listLinks(): LinkInfo[] {
  using rtnl = openRtnl();
  const addrs = rtnl.addrs({ family: 4 });
  const addrs6 = globalAddrs6(rtnl);
  const of = (list: { index: number; address: string }[], index: number) => list.filter((a) => a.index === index).map((a) => a.address);
  return rtnl.links().map((l) => ({ ...l, addrs: of(addrs, l.index), addrs6: of(addrs6, l.index) }));
}

/** The interface of the IPv4 default route, if any. */
export function defaultRouteDev(): string | undefined {
  using rtnl = openRtnl();
  const r = rtnl.routes({ family: 4, table: RouteTable.main }).find((x) => x.dst === "0.0.0.0/0" && x.oif !== undefined);
  return r ? rtnl.links().find((l) => l.index === r.oif)?.name : undefined;
}

/** Whether the route to `ip` has no gateway (same L2 segment): DirectRouting's test (flannel pkg/ip DirectRouting). */
export function isDirect(ip: string): boolean {
  try {
    using rtnl = openRtnl();
    return rtnl.routeGet(ip).gw === undefined;
  } catch {
    return false;
  }
}

export interface VxlanSpec {
  name: string;
  vni: number;
  local: string;
  /** The uplink's name. */
  dev: string;
  /** 0 = the kernel's default, 8472. */
  port: number;
  gbp: boolean;
  mtu: number;
  /** Re-use this MAC (the one our lease published) so peers' entries stay valid across a recreate. */
  mac?: string;
}

/** Whether an existing device matches the spec (flannel device.go ensureLink compares these). */
export function vxlanMatches(l: LinkInfo, s: VxlanSpec): boolean {
  const v = l.vxlan;
  if (!v) return false;
  using rtnl = openRtnl();
  const dev = rtnl.findLink(s.dev)?.index;
  return v.vni === s.vni && v.localIp === s.local && v.dev === dev && v.port === (s.port || 8472) && !v.learning && v.gbp === s.gbp;
}

/** @throws {NetlinkError} */
export function createVxlan(s: VxlanSpec): void {
  using rtnl = openRtnl();
  rtnl.createVxlan({
    name: s.name,
    vni: s.vni,
    port: s.port || 8472,
    localIp: s.local,
    dev: rtnl.getLink(s.dev).index,
    learning: false,
    gbp: s.gbp,
    mtu: s.mtu,
    ...(s.mac ? { mac: s.mac } : {}),
  });
}

export function deleteLink(name: string): void {
  using rtnl = openRtnl();
  rtnl.deleteLink(name);
}

/**
 * Puts `address` on the link, removes `remove`, and sets it up with `mtu`. An IPv6 address skips DAD: it is a /128
 * of our own lease, and a tentative address could not source host-to-pod traffic yet. @throws {NetlinkError}
 */
export function ensureAddrAndUp(o: { name: string; address: string; remove: string[]; mtu: number; family?: 4 | 6 }): void {
  using rtnl = openRtnl();
  const family = o.family ?? 4;
  const l = rtnl.getLink(o.name);
  for (const a of o.remove) rtnl.delAddr({ index: l.index, address: a });
  if (!rtnl.addrs({ family, index: l.index }).some((a) => a.address === o.address)) {
    rtnl.addAddr({ index: l.index, address: o.address, ...(family === 6 ? { nodad: true } : {}) });
  }
  if (l.mtu !== o.mtu) rtnl.setMtu(l.index, o.mtu);
  if (!l.up) rtnl.setUp(l.index);
}

/**
 * The main table's gateway routes of `family`, and the VXLAN device's permanent neighbours and FDB entries (plan.ts
 * filters).
 */
export function readState(vxlanDev: string | undefined, family: 4 | 6 = 4): KernelState {
  using rtnl = openRtnl();
  const names = new Map(rtnl.links().map((l) => [l.index, l.name]));
  const routes = rtnl.routes({ family, table: RouteTable.main }).flatMap((r): RouteEntry[] => {
    const dev = r.oif === undefined ? undefined : names.get(r.oif);
    return r.gw && dev ? [{ dst: r.dst, gw: r.gw, dev, onlink: r.onlink }] : [];
  });
  const vx = vxlanDev ? [...names].find(([, n]) => n === vxlanDev)?.[0] : undefined;
  let neighs: NeighEntry[] = [];
  let fdb: FdbEntry[] = [];
  if (vx !== undefined) {
    const permanent = (s: number) => (s & NeighState.permanent) !== 0;
    neighs = rtnl
      .neighs({ family, index: vx })
      .filter((n) => n.dst && n.lladdr && permanent(n.state))
      .map((n) => ({ ip: n.dst!, mac: n.lladdr! }));
    fdb = rtnl
      .neighs({ family: AF_BRIDGE, index: vx })
      .filter((n) => n.dst && n.lladdr && permanent(n.state) && (n.flags & NTF_SELF) !== 0)
      .map((n) => ({ mac: n.lladdr!, dst: n.dst! }));
  }
  return { routes, neighs, fdb };
}

/**
 * Applies `c` as one netlink batch: route deletes, neighbour/FDB deletes and sets, then route replaces last.
 * Every request is tried; the first failure (other than deleting something already gone) is thrown afterwards.
 * @throws {Error} naming the failed request
 */
export function applyChanges(c: Changes, vxlanDev: string | undefined, family: 4 | 6 = 4): void {
  using rtnl = openRtnl();
  const indexes = new Map(rtnl.links().map((l) => [l.name, l.index]));
  const index = (name: string) => {
    const i = indexes.get(name);
    if (i === undefined) throw new Error(`Cannot program the data plane: device "${name}" does not exist`);
    return i;
  };
  const vx = vxlanDev ? index(vxlanDev) : -1;
  const what: string[] = [];
  const errors = rtnl.batch((b) => {
    for (const r of c.delRoutes) {
      b.delRoute({ dst: r.dst, gw: r.gw, oif: index(r.dev) });
      what.push(`delete route ${r.dst} via ${r.gw}`);
    }
    for (const n of c.delNeighs) {
      b.delNeigh({ index: vx, family, dst: n.ip });
      what.push(`delete neighbour ${n.ip}`);
    }
    for (const f of c.delFdb) {
      b.delNeigh({ index: vx, family: AF_BRIDGE, lladdr: f.mac, dst: f.dst, self: true });
      what.push(`delete fdb ${f.mac} dst ${f.dst}`);
    }
    for (const n of c.addNeighs) {
      b.setNeigh({ index: vx, family, dst: n.ip, lladdr: n.mac, permanent: true });
      what.push(`set neighbour ${n.ip} ${n.mac}`);
    }
    for (const f of c.addFdb) {
      b.setNeigh({ index: vx, family: AF_BRIDGE, lladdr: f.mac, dst: f.dst, self: true, permanent: true });
      what.push(`set fdb ${f.mac} dst ${f.dst}`);
    }
    for (const r of c.addRoutes) {
      b.replaceRoute({ dst: r.dst, gw: r.gw, oif: index(r.dev), onlink: r.onlink });
      what.push(`replace route ${r.dst} via ${r.gw} dev ${r.dev}`);
    }
  });
  const failed = errors.flatMap((e, i) => (e && !(e.code === "ESRCH" || e.code === "ENOENT") ? [`${what[i]}: ${e.message}`] : []));
  if (failed.length > 0) throw new Error(`Cannot program the data plane (${failed.length} of ${what.length} requests failed): ${failed.slice(0, 3).join("; ")}`);
}

/**
 * Follows link events (`ip -o monitor link`) and calls `onEvent` with each line, until the returned function is
 * called. Used to notice `flannel.<VNI>` being deleted or recreated at once.
 */
export function monitorLinks(onEvent: (line: string) => void): () => void {
  const p = Bun.spawn(["ip", "-o", "monitor", "link"], { stdout: "pipe", stderr: "ignore", stdin: "ignore" });
  void (async () => {
    const dec = new TextDecoder();
    let buf = "";
    try {
      for await (const chunk of p.stdout) {
        buf += dec.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          onEvent(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
        }
      }
    } catch {
      // the process was killed
    }
  })();
  return () => p.kill();
}
