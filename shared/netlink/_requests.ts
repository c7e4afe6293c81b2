// Private: encoders turning Rtnl calls into rtnetlink requests (pure: each returns a Request whose body writes the
// fixed struct and attributes). Message layouts follow iproute2 (ip link/addr/route/neigh, bridge vlan/fdb) and Go
// vishvananda/netlink where the CNI reference relies on its defaults (IPv4 broadcast, RTPROT_BOOT). Arguments are
// validated here so a bad name or CIDR fails with a clear RangeError before anything reaches the kernel.
import { LE, type MsgWriter } from "./_codec.ts";
import {
  AF_BRIDGE,
  AF_INET,
  AF_INET6,
  AF_UNSPEC,
  BRIDGE_FLAGS_SELF,
  BRIDGE_VLAN_INFO_PVID,
  BRIDGE_VLAN_INFO_RANGE_BEGIN,
  BRIDGE_VLAN_INFO_RANGE_END,
  BRIDGE_VLAN_INFO_UNTAGGED,
  IFA_ADDRESS,
  IFA_BROADCAST,
  IFA_FLAGS,
  IFA_F_NODAD,
  IFA_F_NOPREFIXROUTE,
  IFA_LOCAL,
  IFF_PROMISC,
  IFF_UP,
  IFLA_ADDRESS,
  IFLA_AF_SPEC,
  IFLA_BRIDGE_FLAGS,
  IFLA_BRIDGE_VLAN_INFO,
  IFLA_BRPORT_ISOLATED,
  IFLA_BRPORT_MODE,
  IFLA_BR_VLAN_FILTERING,
  IFLA_EXT_MASK,
  IFLA_IFNAME,
  IFLA_INFO_DATA,
  IFLA_INFO_KIND,
  IFLA_INFO_SLAVE_DATA,
  IFLA_INFO_SLAVE_KIND,
  IFLA_LINKINFO,
  IFLA_MASTER,
  IFLA_MTU,
  IFLA_NET_NS_FD,
  IFLA_VXLAN_GBP,
  IFLA_VXLAN_ID,
  IFLA_VXLAN_LEARNING,
  IFLA_VXLAN_LINK,
  IFLA_VXLAN_LOCAL,
  IFLA_VXLAN_LOCAL6,
  IFLA_VXLAN_PORT,
  NDA_DST,
  NDA_LLADDR,
  NDA_VLAN,
  NLM_F_CREATE,
  NLM_F_EXCL,
  NLM_F_REPLACE,
  NTF_SELF,
  NUD_NOARP,
  NUD_PERMANENT,
  NUD_REACHABLE,
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
  RTEXT_FILTER_BRVLAN,
  RTEXT_FILTER_SKIP_STATS,
  RTM_DELADDR,
  RTM_DELLINK,
  RTM_DELNEIGH,
  RTM_DELROUTE,
  RTM_GETADDR,
  RTM_GETLINK,
  RTM_GETNEIGH,
  RTM_GETROUTE,
  RTM_NEWADDR,
  RTM_NEWLINK,
  RTM_NEWNEIGH,
  RTM_NEWROUTE,
  RTM_SETLINK,
  RTNH_F_ONLINK,
  RTN_UNICAST,
  RTPROT_BOOT,
  RT_SCOPE_LINK,
  RT_SCOPE_NOWHERE,
  RT_SCOPE_UNIVERSE,
  RT_TABLE_MAIN,
  RT_TABLE_UNSPEC,
  VETH_INFO_PEER,
} from "./_consts.ts";
import { type CidrBytes, parseCidr, parseIp, parseMac } from "./_ip.ts";
import type { Request } from "./_transport.ts";
import type {
  AddAddrOptions,
  BridgeVlanAddOptions,
  CreateBridgeOptions,
  CreateVethOptions,
  CreateVxlanOptions,
  DelNeighOptions,
  RouteSpec,
  SetNeighOptions,
} from "./_types.ts";

// ---- argument checks -------------------------------------------------------------------------------------------

/**
 * Checks a kernel interface name: 1-15 bytes (IFNAMSIZ - 1), no "/", ":" or whitespace, not "." or ".."
 * (net/core/dev.c dev_valid_name).
 * @throws {RangeError}
 */
export function checkIfname(name: string): void {
  const bytes = Buffer.byteLength(name, "utf8");
  if (bytes === 0 || bytes > 15) throw new RangeError(`Invalid interface name "${name}": must be 1-15 bytes`);
  if (name === "." || name === ".." || /[/:\s]/.test(name)) {
    throw new RangeError(`Invalid interface name "${name}": must not be "." or ".." nor contain "/", ":" or spaces`);
  }
}

function checkUint(what: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`Invalid ${what} ${v}: must be ${min}..${max}`);
}

function checkIndex(index: number): void {
  checkUint("interface index", index, 1, 0x7fffffff);
}

function afOf(family: 4 | 6): number {
  return family === 4 ? AF_INET : AF_INET6;
}

function linkRef(nameOrIndex: string | number): string {
  return typeof nameOrIndex === "number" ? `with index ${nameOrIndex}` : `"${nameOrIndex}"`;
}

// ---- struct writers ----------------------------------------------------------------------------------------------

/** struct ifinfomsg { u8 family; u8 pad; u16 type; s32 index; u32 flags; u32 change; } */
function ifinfomsg(w: MsgWriter, o: { family?: number; index?: number; flags?: number; change?: number } = {}): void {
  w.u8(o.family ?? AF_UNSPEC);
  w.u8(0);
  w.u16(0);
  w.i32(o.index ?? 0);
  w.u32(o.flags ?? 0);
  w.u32(o.change ?? 0);
}

/** struct ifaddrmsg { u8 family; u8 prefixlen; u8 flags; u8 scope; u32 index; } */
function ifaddrmsg(w: MsgWriter, family: number, prefixLen: number, flags: number, scope: number, index: number): void {
  w.u8(family);
  w.u8(prefixLen);
  w.u8(flags & 0xff);
  w.u8(scope);
  w.u32(index);
}

/** struct rtmsg { u8 family, dst_len, src_len, tos, table, protocol, scope, type; u32 flags; } */
function rtmsg(
  w: MsgWriter,
  o: { family: number; dstLen?: number; table?: number; protocol?: number; scope?: number; type?: number; flags?: number },
): void {
  w.u8(o.family);
  w.u8(o.dstLen ?? 0);
  w.u8(0);
  w.u8(0);
  w.u8(o.table ?? 0);
  w.u8(o.protocol ?? 0);
  w.u8(o.scope ?? 0);
  w.u8(o.type ?? 0);
  w.u32(o.flags ?? 0);
}

/** struct ndmsg { u8 family; u8 pad1; u16 pad2; s32 ifindex; u16 state; u8 flags; u8 type; } */
function ndmsg(w: MsgWriter, family: number, index: number, state: number, flags: number): void {
  w.u8(family);
  w.u8(0);
  w.u16(0);
  w.i32(index);
  w.u16(state);
  w.u8(flags);
  w.u8(0);
}

/** Name, MTU and MAC attributes shared by the link-creating requests. */
function commonLinkAttrs(w: MsgWriter, o: { name?: string; mtu?: number; mac?: Uint8Array }): void {
  if (o.name !== undefined) w.attrStr(IFLA_IFNAME, o.name);
  if (o.mtu !== undefined) w.attrU32(IFLA_MTU, o.mtu);
  if (o.mac !== undefined) w.attrBytes(IFLA_ADDRESS, o.mac);
}

const CREATE_EXCL = NLM_F_CREATE | NLM_F_EXCL;

// ---- links ------------------------------------------------------------------------------------------------------

export function dumpLinksReq(): Request {
  return {
    op: "links",
    what: "list links",
    type: RTM_GETLINK,
    flags: 0,
    body(w) {
      ifinfomsg(w);
      w.attrU32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
    },
  };
}

/** @throws {RangeError} */
export function getLinkReq(nameOrIndex: string | number): Request {
  if (typeof nameOrIndex === "number") checkIndex(nameOrIndex);
  else checkIfname(nameOrIndex);
  return {
    op: "getLink",
    what: `get link ${linkRef(nameOrIndex)}`,
    type: RTM_GETLINK,
    flags: 0,
    body(w) {
      ifinfomsg(w, { index: typeof nameOrIndex === "number" ? nameOrIndex : 0 });
      if (typeof nameOrIndex === "string") w.attrStr(IFLA_IFNAME, nameOrIndex);
      w.attrU32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
    },
  };
}

/** @throws {RangeError} */
export function createBridgeReq(o: CreateBridgeOptions): Request {
  checkIfname(o.name);
  if (o.mtu !== undefined) checkUint("MTU", o.mtu, 68, 65535);
  const mac = o.mac === undefined ? undefined : parseMac(o.mac);
  return {
    op: "createBridge",
    what: `create bridge "${o.name}"`,
    type: RTM_NEWLINK,
    flags: CREATE_EXCL,
    body(w) {
      ifinfomsg(w);
      commonLinkAttrs(w, { name: o.name, ...(o.mtu !== undefined && { mtu: o.mtu }), ...(mac && { mac }) });
      const li = w.nestStart(IFLA_LINKINFO);
      w.attrStr(IFLA_INFO_KIND, "bridge");
      if (o.vlanFiltering !== undefined) {
        const data = w.nestStart(IFLA_INFO_DATA);
        w.attrU8(IFLA_BR_VLAN_FILTERING, o.vlanFiltering ? 1 : 0);
        w.nestEnd(data);
      }
      w.nestEnd(li);
    },
  };
}

/** @throws {RangeError} */
export function createVethReq(o: CreateVethOptions): Request {
  checkIfname(o.name);
  checkIfname(o.peerName);
  if (o.mtu !== undefined) checkUint("MTU", o.mtu, 68, 65535);
  if (o.peerNetnsFd !== undefined) checkUint("netns fd", o.peerNetnsFd, 0, 0x7fffffff);
  const mac = o.mac === undefined ? undefined : parseMac(o.mac);
  const peerMac = o.peerMac === undefined ? undefined : parseMac(o.peerMac);
  const mtu = o.mtu;
  return {
    op: "createVeth",
    what: `create veth "${o.name}" with peer "${o.peerName}"`,
    type: RTM_NEWLINK,
    flags: CREATE_EXCL,
    body(w) {
      ifinfomsg(w);
      commonLinkAttrs(w, { name: o.name, ...(mtu !== undefined && { mtu }), ...(mac && { mac }) });
      const li = w.nestStart(IFLA_LINKINFO);
      w.attrStr(IFLA_INFO_KIND, "veth");
      const data = w.nestStart(IFLA_INFO_DATA);
      // VETH_INFO_PEER is a struct ifinfomsg followed by the peer's IFLA_* attributes; the kernel's policy types it
      // by length, not as NLA_NESTED, so it is sent without NLA_F_NESTED (as iproute2 does).
      const peer = w.nestStart(VETH_INFO_PEER, false);
      ifinfomsg(w);
      commonLinkAttrs(w, { name: o.peerName, ...(mtu !== undefined && { mtu }), ...(peerMac && { mac: peerMac }) });
      if (o.peerNetnsFd !== undefined) w.attrU32(IFLA_NET_NS_FD, o.peerNetnsFd);
      w.nestEnd(peer);
      w.nestEnd(data);
      w.nestEnd(li);
    },
  };
}

/** @throws {RangeError} */
export function createVxlanReq(o: CreateVxlanOptions): Request {
  checkIfname(o.name);
  checkUint("VNI", o.vni, 0, 0xffffff);
  checkUint("VXLAN port", o.port, 1, 65535);
  if (o.mtu !== undefined) checkUint("MTU", o.mtu, 68, 65535);
  if (o.dev !== undefined) checkIndex(o.dev);
  const local = o.localIp === undefined ? undefined : parseIp(o.localIp);
  const mac = o.mac === undefined ? undefined : parseMac(o.mac);
  return {
    op: "createVxlan",
    what: `create vxlan "${o.name}" (VNI ${o.vni})`,
    type: RTM_NEWLINK,
    flags: CREATE_EXCL,
    body(w) {
      ifinfomsg(w);
      commonLinkAttrs(w, { name: o.name, ...(o.mtu !== undefined && { mtu: o.mtu }), ...(mac && { mac }) });
      const li = w.nestStart(IFLA_LINKINFO);
      w.attrStr(IFLA_INFO_KIND, "vxlan");
      const data = w.nestStart(IFLA_INFO_DATA);
      w.attrU32(IFLA_VXLAN_ID, o.vni);
      if (o.dev !== undefined) w.attrU32(IFLA_VXLAN_LINK, o.dev);
      if (local) w.attrBytes(local.family === 4 ? IFLA_VXLAN_LOCAL : IFLA_VXLAN_LOCAL6, local.bytes);
      w.attrU8(IFLA_VXLAN_LEARNING, o.learning ? 1 : 0);
      w.attrU16be(IFLA_VXLAN_PORT, o.port);
      if (o.gbp) w.attrFlag(IFLA_VXLAN_GBP);
      w.nestEnd(data);
      w.nestEnd(li);
    },
  };
}

/** @throws {RangeError} */
export function deleteLinkReq(nameOrIndex: string | number): Request {
  if (typeof nameOrIndex === "number") checkIndex(nameOrIndex);
  else checkIfname(nameOrIndex);
  return {
    op: "deleteLink",
    what: `delete link ${linkRef(nameOrIndex)}`,
    type: RTM_DELLINK,
    flags: 0,
    body(w) {
      ifinfomsg(w, { index: typeof nameOrIndex === "number" ? nameOrIndex : 0 });
      if (typeof nameOrIndex === "string") w.attrStr(IFLA_IFNAME, nameOrIndex);
    },
  };
}

/** A change to one existing link (RTM_SETLINK → do_setlink). */
export interface LinkChange {
  op: string;
  what: string;
  flags?: number;
  change?: number;
  attrs?: (w: MsgWriter) => void;
}

/** @throws {RangeError} */
export function setLinkReq(index: number, c: LinkChange): Request {
  checkIndex(index);
  return {
    op: c.op,
    what: c.what,
    type: RTM_SETLINK,
    flags: 0,
    body(w) {
      ifinfomsg(w, { index, flags: c.flags ?? 0, change: c.change ?? 0 });
      c.attrs?.(w);
    },
  };
}

/** The LinkChange for each setter. @throws {RangeError} */
export const linkChanges = {
  setUp: (index: number): LinkChange => ({ op: "setUp", what: `set link ${index} up`, flags: IFF_UP, change: IFF_UP }),
  setDown: (index: number): LinkChange => ({ op: "setDown", what: `set link ${index} down`, flags: 0, change: IFF_UP }),
  setPromisc: (index: number, on: boolean): LinkChange => ({
    op: "setPromisc",
    what: `turn promiscuous mode ${on ? "on" : "off"} on link ${index}`,
    flags: on ? IFF_PROMISC : 0,
    change: IFF_PROMISC,
  }),
  setMtu(index: number, mtu: number): LinkChange {
    checkUint("MTU", mtu, 68, 65535);
    return { op: "setMtu", what: `set MTU ${mtu} on link ${index}`, attrs: (w) => w.attrU32(IFLA_MTU, mtu) };
  },
  setMaster(index: number, masterIndex: number): LinkChange {
    if (masterIndex !== 0) checkIndex(masterIndex);
    return {
      op: "setMaster",
      what: masterIndex === 0 ? `release link ${index} from its master` : `attach link ${index} to master ${masterIndex}`,
      attrs: (w) => w.attrU32(IFLA_MASTER, masterIndex),
    };
  },
  setName(index: number, name: string): LinkChange {
    checkIfname(name);
    return { op: "setName", what: `rename link ${index} to "${name}"`, attrs: (w) => w.attrStr(IFLA_IFNAME, name) };
  },
  setMac(index: number, mac: string): LinkChange {
    const b = parseMac(mac);
    return { op: "setMac", what: `set MAC ${mac} on link ${index}`, attrs: (w) => w.attrBytes(IFLA_ADDRESS, b) };
  },
  moveToNetns(index: number, netnsFd: number): LinkChange {
    checkUint("netns fd", netnsFd, 0, 0x7fffffff);
    return {
      op: "moveToNetns",
      what: `move link ${index} to another network namespace`,
      attrs: (w) => w.attrU32(IFLA_NET_NS_FD, netnsFd),
    };
  },
};

/**
 * Bridge port flags as IFLA_LINKINFO slave data (IFLA_INFO_SLAVE_DATA, applied by the master's slave_changelink):
 * the port must already be enslaved. IFLA_PROTINFO would need NLA_F_NESTED, which the `netlink` package cannot set.
 * @throws {RangeError}
 */
export function setBridgePortReq(index: number, o: { hairpin?: boolean; isolated?: boolean }): Request {
  checkIndex(index);
  return {
    op: "setBridgePort",
    what: `set bridge port options on link ${index}`,
    type: RTM_NEWLINK, // slave data is handled by rtnl_newlink's "existing device" path, not by RTM_SETLINK
    flags: 0,
    body(w) {
      ifinfomsg(w, { index });
      const li = w.nestStart(IFLA_LINKINFO);
      w.attrStr(IFLA_INFO_SLAVE_KIND, "bridge");
      const data = w.nestStart(IFLA_INFO_SLAVE_DATA);
      if (o.hairpin !== undefined) w.attrU8(IFLA_BRPORT_MODE, o.hairpin ? 1 : 0);
      if (o.isolated !== undefined) w.attrU8(IFLA_BRPORT_ISOLATED, o.isolated ? 1 : 0);
      w.nestEnd(data);
      w.nestEnd(li);
    },
  };
}

// ---- bridge VLANs ------------------------------------------------------------------------------------------------

/**
 * `bridge vlan add|del`: RTM_SETLINK / RTM_DELLINK in family AF_BRIDGE with IFLA_AF_SPEC { IFLA_BRIDGE_FLAGS,
 * IFLA_BRIDGE_VLAN_INFO (struct bridge_vlan_info { u16 flags; u16 vid; }), a range as a BEGIN/END pair }.
 * @throws {RangeError}
 */
export function bridgeVlanReq(add: boolean, index: number, o: BridgeVlanAddOptions): Request {
  checkIndex(index);
  checkUint("VLAN id", o.vid, 1, 4094);
  if (o.vidEnd !== undefined) checkUint("VLAN range end", o.vidEnd, o.vid, 4094);
  const range = o.vidEnd !== undefined && o.vidEnd !== o.vid;
  let flags = 0;
  if (o.pvid) flags |= BRIDGE_VLAN_INFO_PVID;
  if (o.untagged) flags |= BRIDGE_VLAN_INFO_UNTAGGED;
  const vids = range ? `${o.vid}-${o.vidEnd}` : `${o.vid}`;
  return {
    op: add ? "bridgeVlanAdd" : "bridgeVlanDel",
    what: `${add ? "add" : "delete"} VLAN ${vids} ${add ? "to" : "from"} link ${index}`,
    type: add ? RTM_SETLINK : RTM_DELLINK,
    flags: 0,
    body(w) {
      ifinfomsg(w, { family: AF_BRIDGE, index });
      const spec = w.nestStart(IFLA_AF_SPEC);
      if (o.self) w.attrU16(IFLA_BRIDGE_FLAGS, BRIDGE_FLAGS_SELF);
      const info = (f: number, vid: number) => {
        w.attrBytes(IFLA_BRIDGE_VLAN_INFO, vlanInfoBytes(f, vid));
      };
      if (range) {
        info(flags | BRIDGE_VLAN_INFO_RANGE_BEGIN, o.vid);
        info(flags | BRIDGE_VLAN_INFO_RANGE_END, o.vidEnd as number);
      } else {
        info(flags, o.vid);
      }
      w.nestEnd(spec);
    },
  };
}

function vlanInfoBytes(flags: number, vid: number): Uint8Array {
  const b = new Uint8Array(4);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, flags, LE);
  dv.setUint16(2, vid, LE);
  return b;
}

export function dumpBridgeVlansReq(): Request {
  return {
    op: "bridgeVlans",
    what: "list bridge VLANs",
    type: RTM_GETLINK,
    flags: 0,
    body(w) {
      // With strict checking the kernel refuses an ifindex filter on bridge dumps: filter on our side.
      ifinfomsg(w, { family: AF_BRIDGE });
      w.attrU32(IFLA_EXT_MASK, RTEXT_FILTER_BRVLAN);
    },
  };
}

// ---- addresses ---------------------------------------------------------------------------------------------------

function v4Broadcast(c: CidrBytes): Uint8Array | undefined {
  if (c.family !== 4 || c.prefixLen >= 31) return undefined;
  const b = Uint8Array.from(c.bytes);
  for (let bit = c.prefixLen; bit < 32; bit++) b[bit >> 3] = (b[bit >> 3] as number) | (0x80 >> (bit & 7));
  return b;
}

/** @throws {RangeError} */
export function addAddrReq(o: AddAddrOptions): Request {
  checkIndex(o.index);
  const c = parseCidr(o.address);
  let flags = 0;
  if (o.nodad) flags |= IFA_F_NODAD;
  if (o.noprefixroute) flags |= IFA_F_NOPREFIXROUTE;
  const brd = v4Broadcast(c);
  return {
    op: "addAddr",
    what: `add address ${o.address} to link ${o.index}`,
    type: RTM_NEWADDR,
    flags: CREATE_EXCL,
    body(w) {
      ifaddrmsg(w, afOf(c.family), c.prefixLen, flags, RT_SCOPE_UNIVERSE, o.index);
      w.attrBytes(IFA_LOCAL, c.bytes);
      w.attrBytes(IFA_ADDRESS, c.bytes);
      if (brd) w.attrBytes(IFA_BROADCAST, brd);
      if (flags > 0xff) w.attrU32(IFA_FLAGS, flags);
    },
  };
}

/**
 * A bare IPv4 address (no "/len") deletes it whatever its prefix length; IPv6 always matches the prefix length.
 * @throws {RangeError}
 */
export function delAddrReq(o: { index: number; address: string }): Request {
  checkIndex(o.index);
  const c = parseCidr(o.address);
  const anyPrefix = c.family === 4 && !o.address.includes("/");
  return {
    op: "delAddr",
    what: `delete address ${o.address} from link ${o.index}`,
    type: RTM_DELADDR,
    flags: 0,
    body(w) {
      ifaddrmsg(w, afOf(c.family), anyPrefix ? 0 : c.prefixLen, 0, 0, o.index);
      w.attrBytes(IFA_LOCAL, c.bytes);
      if (!anyPrefix) w.attrBytes(IFA_ADDRESS, c.bytes); // the kernel then also matches the prefix length
    },
  };
}

export function dumpAddrsReq(family?: 4 | 6): Request {
  return {
    op: "addrs",
    what: "list addresses",
    type: RTM_GETADDR,
    flags: 0,
    body(w) {
      ifaddrmsg(w, family === undefined ? AF_UNSPEC : afOf(family), 0, 0, 0, 0);
    },
  };
}

// ---- routes ------------------------------------------------------------------------------------------------------

/** @throws {RangeError} */
export function routeReq(kind: "add" | "replace" | "del", o: RouteSpec): Request {
  const dst = parseCidr(o.dst);
  const gw = o.gw === undefined ? undefined : parseIp(o.gw);
  const src = o.src === undefined ? undefined : parseIp(o.src);
  if (src && src.family !== dst.family) throw new RangeError(`Invalid route to ${o.dst}: source ${o.src} is another family`);
  if (o.oif !== undefined) checkIndex(o.oif);
  const table = o.table ?? RT_TABLE_MAIN;
  checkUint("routing table", table, 1, 0xffffffff);
  const del = kind === "del";
  const scope = o.scope ?? (del ? RT_SCOPE_NOWHERE : gw === undefined && o.oif !== undefined ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE);
  const protocol = o.protocol ?? (del ? 0 : RTPROT_BOOT);
  const type = o.type ?? (del ? 0 : RTN_UNICAST);
  const verb = kind === "add" ? "add" : kind === "replace" ? "replace" : "delete";
  const via = gw ? ` via ${o.gw}` : "";
  const dev = o.oif !== undefined ? ` dev ${o.oif}` : "";
  return {
    op: kind === "add" ? "addRoute" : kind === "replace" ? "replaceRoute" : "delRoute",
    what: `${verb} route ${o.dst}${via}${dev}${table !== RT_TABLE_MAIN ? ` table ${table}` : ""}`,
    type: del ? RTM_DELROUTE : RTM_NEWROUTE,
    flags: kind === "add" ? CREATE_EXCL : kind === "replace" ? NLM_F_CREATE | NLM_F_REPLACE : 0,
    body(w) {
      rtmsg(w, {
        family: afOf(dst.family),
        dstLen: dst.prefixLen,
        table: table < 256 ? table : RT_TABLE_UNSPEC,
        protocol,
        scope,
        type,
        flags: o.onlink ? RTNH_F_ONLINK : 0,
      });
      w.attrU32(RTA_TABLE, table);
      if (dst.prefixLen > 0) w.attrBytes(RTA_DST, dst.bytes);
      if (gw && gw.family === dst.family) w.attrBytes(RTA_GATEWAY, gw.bytes);
      else if (gw) {
        // struct rtvia { u16 family; u8 addr[]; }: e.g. an IPv4 route via an IPv6 next hop (RFC 5549)
        const via = new Uint8Array(2 + gw.bytes.length);
        new DataView(via.buffer).setUint16(0, afOf(gw.family), LE);
        via.set(gw.bytes, 2);
        w.attrBytes(RTA_VIA, via);
      }
      if (o.oif !== undefined) w.attrU32(RTA_OIF, o.oif);
      if (o.priority !== undefined) w.attrU32(RTA_PRIORITY, o.priority);
      if (src) w.attrBytes(RTA_PREFSRC, src.bytes);
      // Metrics are matched on delete (fib_metrics_match), which would surprise a caller reusing the add spec.
      if (!del && (o.mtu !== undefined || o.advmss !== undefined)) {
        const m = w.nestStart(RTA_METRICS);
        if (o.mtu !== undefined) w.attrU32(RTAX_MTU, o.mtu);
        if (o.advmss !== undefined) w.attrU32(RTAX_ADVMSS, o.advmss);
        w.nestEnd(m);
      }
    },
  };
}

export function dumpRoutesReq(family?: 4 | 6): Request {
  return {
    op: "routes",
    what: "list routes",
    type: RTM_GETROUTE,
    flags: 0,
    body(w) {
      // Table filtering is done on our side: a kernel-side filter fails with ENOENT for a table that has no routes.
      rtmsg(w, { family: family === undefined ? AF_UNSPEC : afOf(family) });
    },
  };
}

/** @throws {RangeError} */
export function routeGetReq(dst: string): Request {
  const ip = parseIp(dst.includes("/") ? dst.slice(0, dst.indexOf("/")) : dst);
  return {
    op: "routeGet",
    what: `get the route to ${dst}`,
    type: RTM_GETROUTE,
    flags: 0,
    body(w) {
      rtmsg(w, { family: afOf(ip.family), dstLen: ip.family === 4 ? 32 : 128 });
      w.attrBytes(RTA_DST, ip.bytes);
    },
  };
}

// ---- neighbours and fdb -----------------------------------------------------------------------------------------

function neighFamily(family: 4 | 6 | 7): number {
  return family === 7 ? AF_BRIDGE : afOf(family);
}

function neighDst(family: 4 | 6 | 7, dst: string | undefined, required: boolean) {
  if (dst === undefined) {
    if (required) throw new RangeError(`Invalid neighbour: family ${family} needs a "dst" address`);
    return undefined;
  }
  const ip = parseIp(dst);
  if (family !== 7 && ip.family !== family) throw new RangeError(`Invalid neighbour: ${dst} is not IPv${family}`);
  return ip;
}

/** RTM_NEWNEIGH with NLM_F_CREATE|NLM_F_REPLACE (`ip neigh replace` / `bridge fdb replace`). @throws {RangeError} */
export function setNeighReq(o: SetNeighOptions): Request {
  checkIndex(o.index);
  const dst = neighDst(o.family, o.dst, o.family !== 7);
  const ll = parseMac(o.lladdr);
  if (o.vlan !== undefined) checkUint("VLAN id", o.vlan, 1, 4094);
  const state = o.permanent === false ? (o.family === 7 ? NUD_NOARP : NUD_REACHABLE) : NUD_PERMANENT;
  return {
    op: "setNeigh",
    what: `set ${o.family === 7 ? "fdb entry" : "neighbour"} ${o.lladdr}${o.dst ? ` dst ${o.dst}` : ""} on link ${o.index}`,
    type: RTM_NEWNEIGH,
    flags: NLM_F_CREATE | NLM_F_REPLACE,
    body(w) {
      ndmsg(w, neighFamily(o.family), o.index, state, o.self ? NTF_SELF : 0);
      if (dst) w.attrBytes(NDA_DST, dst.bytes);
      w.attrBytes(NDA_LLADDR, ll);
      if (o.vlan !== undefined) w.attrU16(NDA_VLAN, o.vlan);
    },
  };
}

/** RTM_DELNEIGH. @throws {RangeError} */
export function delNeighReq(o: DelNeighOptions): Request {
  checkIndex(o.index);
  const dst = neighDst(o.family, o.dst, o.family !== 7);
  const ll = o.lladdr === undefined ? undefined : parseMac(o.lladdr);
  if (o.family === 7 && ll === undefined) throw new RangeError(`Invalid fdb entry: "lladdr" is required`);
  return {
    op: "delNeigh",
    what: `delete ${o.family === 7 ? "fdb entry" : "neighbour"} ${o.lladdr ?? o.dst} on link ${o.index}`,
    type: RTM_DELNEIGH,
    flags: 0,
    body(w) {
      ndmsg(w, neighFamily(o.family), o.index, 0, o.self ? NTF_SELF : 0);
      if (dst) w.attrBytes(NDA_DST, dst.bytes);
      if (ll) w.attrBytes(NDA_LLADDR, ll);
      if (o.vlan !== undefined) w.attrU16(NDA_VLAN, o.vlan);
    },
  };
}

export function dumpNeighsReq(family?: 4 | 6 | 7): Request {
  return {
    op: "neighs",
    what: family === 7 ? "list fdb entries" : "list neighbours",
    type: RTM_GETNEIGH,
    flags: 0,
    body(w) {
      ndmsg(w, family === undefined ? AF_UNSPEC : neighFamily(family), 0, 0, 0);
    },
  };
}
