// Private: decoders from rtnetlink reply payloads to the public *Info shapes. Each takes a Reader and the payload's
// [off, end) and reads only the attributes weft uses, so unknown or resized attributes on newer kernels are ignored
// rather than rejected. Layouts: struct ifinfomsg (16 B), ifaddrmsg (8 B), rtmsg (12 B), ndmsg (12 B).
import { type Reader, collectAttrs, forEachAttr } from "./_codec.ts";
import {
  AF_BRIDGE,
  AF_INET,
  AF_INET6,
  BRIDGE_VLAN_INFO_PVID,
  BRIDGE_VLAN_INFO_RANGE_BEGIN,
  BRIDGE_VLAN_INFO_RANGE_END,
  BRIDGE_VLAN_INFO_UNTAGGED,
  IFA_ADDRESS,
  IFA_FLAGS,
  IFA_F_DADFAILED,
  IFA_F_TENTATIVE,
  IFA_LOCAL,
  IFADDRMSG_LEN,
  IFF_PROMISC,
  IFF_UP,
  IFINFOMSG_LEN,
  IFLA_ADDRESS,
  IFLA_AF_SPEC,
  IFLA_BRIDGE_VLAN_INFO,
  IFLA_BRPORT_ISOLATED,
  IFLA_BRPORT_LEARNING,
  IFLA_BRPORT_MODE,
  IFLA_BR_VLAN_FILTERING,
  IFLA_IFNAME,
  IFLA_INFO_DATA,
  IFLA_INFO_KIND,
  IFLA_INFO_SLAVE_DATA,
  IFLA_INFO_SLAVE_KIND,
  IFLA_LINK,
  IFLA_LINKINFO,
  IFLA_LINK_NETNSID,
  IFLA_MASTER,
  IFLA_MTU,
  IFLA_OPERSTATE,
  IFLA_VXLAN_GBP,
  IFLA_VXLAN_ID,
  IFLA_VXLAN_LEARNING,
  IFLA_VXLAN_LINK,
  IFLA_VXLAN_LOCAL,
  IFLA_VXLAN_LOCAL6,
  IFLA_VXLAN_PORT,
  NDA_DST,
  NDA_LLADDR,
  NDA_MASTER,
  NDA_VLAN,
  NDA_VNI,
  NDMSG_LEN,
  RTAX_ADVMSS,
  RTAX_MTU,
  RTA_DST,
  RTA_GATEWAY,
  RTA_METRICS,
  RTA_OIF,
  RTA_PREFSRC,
  RTA_PRIORITY,
  RTA_TABLE,
  RTA_VIA,
  RTMSG_LEN,
  RTNH_F_ONLINK,
} from "./_consts.ts";
import { formatCidr, formatIp, formatMac } from "./_ip.ts";
import type { AddrInfo, BridgePortInfo, BridgeVlan, LinkInfo, NeighInfo, RouteInfo, VxlanInfo } from "./_types.ts";

const OPER_STATES = ["unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up"] as const;

/** AF_* → 4 | 6 | undefined. */
export function ipFamily(af: number): 4 | 6 | undefined {
  return af === AF_INET ? 4 : af === AF_INET6 ? 6 : undefined;
}

/** The ifi_index of an RTM_NEWLINK payload (for filtering before a full decode). */
export function linkIndexOf(r: Reader, off: number): number {
  return r.i32(off + 4);
}

/** Decodes RTM_NEWLINK. Returns undefined for a payload too short to be one. */
export function parseLink(r: Reader, off: number, end: number): LinkInfo | undefined {
  if (end - off < IFINFOMSG_LEN) return undefined;
  const index = r.i32(off + 4);
  const flags = r.u32(off + 8);
  const a = collectAttrs(r, off + IFINFOMSG_LEN, end);
  const name = a[IFLA_IFNAME];
  const mtu = a[IFLA_MTU];
  const mac = a[IFLA_ADDRESS];
  const oper = a[IFLA_OPERSTATE];
  const info: LinkInfo = {
    index,
    name: name ? r.str(name.off, name.len) : "",
    mtu: mtu ? r.u32(mtu.off) : 0,
    mac: mac ? formatMac(r.buf.subarray(mac.off, mac.off + mac.len)) : "",
    up: (flags & IFF_UP) !== 0,
    operState: oper ? (OPER_STATES[r.u8(oper.off)] ?? "unknown") : "unknown",
    promisc: (flags & IFF_PROMISC) !== 0,
    flags,
  };
  const master = a[IFLA_MASTER];
  if (master) info.master = r.u32(master.off);
  const link = a[IFLA_LINK];
  if (link) info.link = r.u32(link.off);
  const nsid = a[IFLA_LINK_NETNSID];
  if (nsid) info.linkNetnsId = r.i32(nsid.off);
  const li = a[IFLA_LINKINFO];
  if (li) parseLinkInfoNest(r, li.off, li.off + li.len, info);
  return info;
}

function parseLinkInfoNest(r: Reader, off: number, end: number, info: LinkInfo): void {
  const a = collectAttrs(r, off, end);
  const kind = a[IFLA_INFO_KIND];
  if (kind) info.kind = r.str(kind.off, kind.len);
  const slaveKind = a[IFLA_INFO_SLAVE_KIND];
  if (slaveKind) info.slaveKind = r.str(slaveKind.off, slaveKind.len);
  const data = a[IFLA_INFO_DATA];
  if (data && info.kind === "bridge") {
    const d = collectAttrs(r, data.off, data.off + data.len);
    const vf = d[IFLA_BR_VLAN_FILTERING];
    info.bridge = { vlanFiltering: vf ? r.u8(vf.off) !== 0 : false };
  }
  if (data && info.kind === "vxlan") info.vxlan = parseVxlanData(r, data.off, data.off + data.len);
  const sdata = a[IFLA_INFO_SLAVE_DATA];
  if (sdata && info.slaveKind === "bridge") info.bridgePort = parseBridgePortData(r, sdata.off, sdata.off + sdata.len);
}

function parseVxlanData(r: Reader, off: number, end: number): VxlanInfo {
  const d = collectAttrs(r, off, end);
  const id = d[IFLA_VXLAN_ID];
  const port = d[IFLA_VXLAN_PORT];
  const learning = d[IFLA_VXLAN_LEARNING];
  const v: VxlanInfo = {
    vni: id ? r.u32(id.off) : 0,
    port: port ? r.u16be(port.off) : 0,
    learning: learning ? r.u8(learning.off) !== 0 : false,
    gbp: d[IFLA_VXLAN_GBP] !== undefined,
  };
  const local = d[IFLA_VXLAN_LOCAL] ?? d[IFLA_VXLAN_LOCAL6];
  if (local) v.localIp = formatIp(r.buf.subarray(local.off, local.off + local.len));
  const dev = d[IFLA_VXLAN_LINK];
  if (dev) v.dev = r.u32(dev.off);
  return v;
}

function parseBridgePortData(r: Reader, off: number, end: number): BridgePortInfo {
  const d = collectAttrs(r, off, end);
  const flag = (t: number) => {
    const s = d[t];
    return s !== undefined && r.u8(s.off) !== 0;
  };
  return { hairpin: flag(IFLA_BRPORT_MODE), isolated: flag(IFLA_BRPORT_ISOLATED), learning: flag(IFLA_BRPORT_LEARNING) };
}

/** Decodes the IFLA_AF_SPEC bridge VLAN list of an AF_BRIDGE RTM_NEWLINK, expanding ranges. */
export function parseBridgeVlans(r: Reader, off: number, end: number): BridgeVlan[] {
  const out: BridgeVlan[] = [];
  if (end - off < IFINFOMSG_LEN) return out;
  const spec = collectAttrs(r, off + IFINFOMSG_LEN, end)[IFLA_AF_SPEC];
  if (!spec) return out;
  let rangeStart: number | undefined;
  forEachAttr(r, spec.off, spec.off + spec.len, (type, aoff, alen) => {
    if (type !== IFLA_BRIDGE_VLAN_INFO || alen < 4) return;
    // struct bridge_vlan_info { __u16 flags; __u16 vid; }
    const flags = r.u16(aoff);
    const vid = r.u16(aoff + 2);
    const pvid = (flags & BRIDGE_VLAN_INFO_PVID) !== 0;
    const untagged = (flags & BRIDGE_VLAN_INFO_UNTAGGED) !== 0;
    if ((flags & BRIDGE_VLAN_INFO_RANGE_BEGIN) !== 0) {
      rangeStart = vid;
      return;
    }
    const from = (flags & BRIDGE_VLAN_INFO_RANGE_END) !== 0 && rangeStart !== undefined ? rangeStart : vid;
    rangeStart = undefined;
    for (let v = from; v <= vid; v++) out.push({ vid: v, pvid, untagged });
  });
  return out;
}

/** Decodes RTM_NEWADDR (undefined for a family other than IPv4/IPv6). */
export function parseAddr(r: Reader, off: number, end: number): AddrInfo | undefined {
  if (end - off < IFADDRMSG_LEN) return undefined;
  const family = ipFamily(r.u8(off));
  if (family === undefined) return undefined;
  const prefixLen = r.u8(off + 1);
  const a = collectAttrs(r, off + IFADDRMSG_LEN, end);
  // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on point-to-point links (IPv6 sends only it).
  const addr = a[IFA_LOCAL] ?? a[IFA_ADDRESS];
  if (!addr) return undefined;
  const fl = a[IFA_FLAGS];
  const flags = fl ? r.u32(fl.off) : r.u8(off + 2);
  return {
    index: r.u32(off + 4),
    family,
    address: formatCidr(r.buf.subarray(addr.off, addr.off + addr.len), prefixLen),
    scope: r.u8(off + 3),
    flags,
    tentative: (flags & IFA_F_TENTATIVE) !== 0,
    dadFailed: (flags & IFA_F_DADFAILED) !== 0,
  };
}

/** The table of an RTM_NEWROUTE payload (RTA_TABLE, else rtm_table). */
export function routeTableOf(r: Reader, off: number, end: number): number {
  const t = collectAttrs(r, off + RTMSG_LEN, end)[RTA_TABLE];
  return t ? r.u32(t.off) : r.u8(off + 4);
}

/** Decodes RTM_NEWROUTE (undefined for a family other than IPv4/IPv6). */
export function parseRoute(r: Reader, off: number, end: number): RouteInfo | undefined {
  if (end - off < RTMSG_LEN) return undefined;
  const family = ipFamily(r.u8(off));
  if (family === undefined) return undefined;
  const dstLen = r.u8(off + 1);
  const a = collectAttrs(r, off + RTMSG_LEN, end);
  const dst = a[RTA_DST];
  const tbl = a[RTA_TABLE];
  const info: RouteInfo = {
    family,
    dst: dst
      ? formatCidr(r.buf.subarray(dst.off, dst.off + dst.len), dstLen)
      : family === 4
        ? `0.0.0.0/${dstLen}`
        : `::/${dstLen}`,
    table: tbl ? r.u32(tbl.off) : r.u8(off + 4),
    protocol: r.u8(off + 5),
    scope: r.u8(off + 6),
    type: r.u8(off + 7),
    onlink: (r.u32(off + 8) & RTNH_F_ONLINK) !== 0,
  };
  const gw = a[RTA_GATEWAY];
  const via = a[RTA_VIA];
  if (gw) info.gw = formatIp(r.buf.subarray(gw.off, gw.off + gw.len));
  // struct rtvia { __kernel_sa_family_t rtvia_family; __u8 rtvia_addr[]; }: an IPv4 route via an IPv6 gateway
  else if (via && via.len > 2) info.gw = formatIp(r.buf.subarray(via.off + 2, via.off + via.len));
  const oif = a[RTA_OIF];
  if (oif) info.oif = r.u32(oif.off);
  const prio = a[RTA_PRIORITY];
  if (prio) info.priority = r.u32(prio.off);
  const src = a[RTA_PREFSRC];
  if (src) info.prefsrc = formatIp(r.buf.subarray(src.off, src.off + src.len));
  const metrics = a[RTA_METRICS];
  if (metrics) {
    forEachAttr(r, metrics.off, metrics.off + metrics.len, (type, moff, mlen) => {
      if (mlen < 4) return;
      if (type === RTAX_MTU) info.mtu = r.u32(moff);
      else if (type === RTAX_ADVMSS) info.advmss = r.u32(moff);
    });
  }
  return info;
}

/** Decodes RTM_NEWNEIGH (IPv4/IPv6 neighbours and AF_BRIDGE fdb entries; undefined for other families). */
export function parseNeigh(r: Reader, off: number, end: number): NeighInfo | undefined {
  if (end - off < NDMSG_LEN) return undefined;
  const af = r.u8(off);
  const family = af === AF_BRIDGE ? 7 : ipFamily(af);
  if (family === undefined) return undefined;
  const a = collectAttrs(r, off + NDMSG_LEN, end);
  const info: NeighInfo = { index: r.i32(off + 4), family, state: r.u16(off + 8), flags: r.u8(off + 10) };
  const dst = a[NDA_DST];
  if (dst) info.dst = formatIp(r.buf.subarray(dst.off, dst.off + dst.len));
  const ll = a[NDA_LLADDR];
  if (ll) info.lladdr = formatMac(r.buf.subarray(ll.off, ll.off + ll.len));
  const master = a[NDA_MASTER];
  if (master) info.master = r.u32(master.off);
  const vlan = a[NDA_VLAN];
  if (vlan) info.vlan = r.u16(vlan.off);
  const vni = a[NDA_VNI];
  if (vni) info.vni = r.u32(vni.off);
  return info;
}
