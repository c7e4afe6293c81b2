// Private: the Rtnl object behind openRtnl(): one NETLINK_ROUTE socket plus the request encoders (_requests.ts)
// and reply decoders (_parse.ts). Every method is synchronous. The socket belongs to the netns that was current
// when openRtnl() ran, even if the thread later leaves it (withNetns), so open it inside and close it inside.
import { AF_BRIDGE, RTM_F_CLONED, RTM_NEWADDR, RTM_NEWLINK, RTM_NEWNEIGH, RTM_NEWROUTE, RT_TABLE_MAIN, RTMSG_LEN } from "./_consts.ts";
import { LinkNotFoundError, type NetlinkError } from "./_errors.ts";
import { linkIndexOf, parseAddr, parseBridgeVlans, parseLink, parseNeigh, parseRoute } from "./_parse.ts";
import {
  addAddrReq,
  bridgeVlanReq,
  createBridgeReq,
  createVethReq,
  createVxlanReq,
  delAddrReq,
  delNeighReq,
  deleteLinkReq,
  dumpAddrsReq,
  dumpBridgeVlansReq,
  dumpLinksReq,
  dumpNeighsReq,
  dumpRoutesReq,
  getLinkReq,
  linkChanges,
  routeGetReq,
  routeReq,
  setBridgePortReq,
  setLinkReq,
  setNeighReq,
} from "./_requests.ts";
import { type Msg, NetlinkSocket, type Request } from "./_transport.ts";
import type {
  AddAddrOptions,
  AddrInfo,
  BridgeVlan,
  BridgeVlanAddOptions,
  CreateBridgeOptions,
  CreateVethOptions,
  CreateVxlanOptions,
  DelNeighOptions,
  LinkInfo,
  NeighInfo,
  RouteInfo,
  RouteSpec,
  SetNeighOptions,
} from "./_types.ts";

/**
 * The mutating requests that can be queued in {@link Rtnl.batch}; same arguments as the Rtnl methods of the same
 * name. Argument errors (RangeError) throw at once, while queueing.
 */
export interface RtnlBatch {
  addRoute(o: RouteSpec): void;
  replaceRoute(o: RouteSpec): void;
  delRoute(o: RouteSpec): void;
  addAddr(o: AddAddrOptions): void;
  delAddr(o: { index: number; address: string }): void;
  setNeigh(o: SetNeighOptions): void;
  delNeigh(o: DelNeighOptions): void;
  bridgeVlanAdd(index: number, o: BridgeVlanAddOptions): void;
  bridgeVlanDel(index: number, o: { vid: number; vidEnd?: number; self?: boolean }): void;
  setUp(index: number): void;
  setDown(index: number): void;
  setMtu(index: number, mtu: number): void;
  setMaster(index: number, masterIndex: number): void;
}

/**
 * An rtnetlink session. Errors: a kernel refusal throws NetlinkError (`code` "EEXIST", "ENODEV", ..., `extack` when
 * the kernel explains); malformed arguments (interface names over 15 bytes, bad CIDRs/MACs) throw RangeError before
 * anything is sent.
 */
export interface Rtnl extends Disposable {
  /** Closes the socket (idempotent). */
  close(): void;

  /** All links of the socket's netns. @throws {NetlinkError} */
  links(): LinkInfo[];
  /** The link named `name`, or undefined. @throws {NetlinkError} @throws {RangeError} */
  findLink(name: string): LinkInfo | undefined;
  /** @throws {LinkNotFoundError} @throws {NetlinkError} @throws {RangeError} */
  getLink(nameOrIndex: string | number): LinkInfo;

  /** @throws {NetlinkError} EEXIST when the name is taken */
  createBridge(o: CreateBridgeOptions): void;
  /**
   * Creates a veth pair in one RTM_NEWLINK; with `peerNetnsFd` the peer is born in that netns (no move, ~1.6 ms).
   * @throws {NetlinkError} EEXIST when either name is taken in its netns
   */
  createVeth(o: CreateVethOptions): void;
  /** @throws {NetlinkError} EEXIST (name, or another device with this VNI and port) */
  createVxlan(o: CreateVxlanOptions): void;
  /** Deletes a link; absence is success. For a veth, the peer goes too. @throws {NetlinkError} */
  deleteLink(nameOrIndex: string | number): void;

  /** @throws {NetlinkError} ENODEV for an unknown index */
  setUp(index: number): void;
  /** @throws {NetlinkError} */
  setDown(index: number): void;
  /** @throws {NetlinkError} EINVAL out of the device's range */
  setMtu(index: number, mtu: number): void;
  /** Enslaves to `masterIndex` (a bridge); 0 releases. @throws {NetlinkError} */
  setMaster(index: number, masterIndex: number): void;
  /** @throws {NetlinkError} EEXIST when taken; EBUSY on some kernels when the link is up */
  setName(index: number, name: string): void;
  /** @throws {NetlinkError} */
  setMac(index: number, mac: string): void;
  /** @throws {NetlinkError} */
  setPromisc(index: number, on: boolean): void;
  /** Moves the link into the netns of `netnsFd` (slow: an RCU grace period; prefer createVeth's peerNetnsFd). */
  moveToNetns(index: number, netnsFd: number): void;

  /** Bridge port flags; the link must already be enslaved (setMaster). @throws {NetlinkError} EOPNOTSUPP if not */
  setBridgePort(index: number, o: { hairpin?: boolean; isolated?: boolean }): void;
  /** `bridge vlan add`; the bridge needs vlanFiltering for VLANs to take effect. @throws {NetlinkError} */
  bridgeVlanAdd(index: number, o: BridgeVlanAddOptions): void;
  /** `bridge vlan del`. @throws {NetlinkError} */
  bridgeVlanDel(index: number, o: { vid: number; vidEnd?: number; self?: boolean }): void;
  /** The VLANs of a bridge port (or of the bridge itself), ranges expanded. @throws {NetlinkError} */
  bridgeVlans(index: number): BridgeVlan[];

  /** @throws {NetlinkError} */
  addrs(o?: { family?: 4 | 6; index?: number }): AddrInfo[];
  /** @throws {NetlinkError} EEXIST when already present */
  addAddr(o: AddAddrOptions): void;
  /** @throws {NetlinkError} EADDRNOTAVAIL when absent */
  delAddr(o: { index: number; address: string }): void;

  /** Routes of one table (default main, 254; 0 = all tables), cached clones left out. @throws {NetlinkError} */
  routes(o?: { family?: 4 | 6; table?: number }): RouteInfo[];
  /** @throws {NetlinkError} EEXIST when present; ENETUNREACH when the gateway is not reachable (try onlink) */
  addRoute(o: RouteSpec): void;
  /** Create-or-replace. @throws {NetlinkError} */
  replaceRoute(o: RouteSpec): void;
  /** @throws {NetlinkError} ESRCH when absent */
  delRoute(o: RouteSpec): void;
  /** The route the kernel would use to reach `dst` (`ip route get`). @throws {NetlinkError} ENETUNREACH */
  routeGet(dst: string): RouteInfo;

  /** Neighbours (4, 6) or fdb entries (7); all three when no family is given (two dumps). @throws {NetlinkError} */
  neighs(o?: { family?: 4 | 6 | 7; index?: number }): NeighInfo[];
  /** Create-or-replace a neighbour or fdb entry. @throws {NetlinkError} */
  setNeigh(o: SetNeighOptions): void;
  /** @throws {NetlinkError} ENOENT when absent */
  delNeigh(o: DelNeighOptions): void;

  /**
   * Queues the requests `fn` makes, sends them many per datagram, then reads all acks: for programming hundreds of
   * routes or neighbours. Returns one entry per queued request, in order: undefined for success, else its error.
   * @throws {NetlinkError} only when the transport fails (timeout)
   */
  batch(fn: (b: RtnlBatch) => void): Array<NetlinkError | undefined>;
}

function batchFor(queue: Request[]): RtnlBatch {
  const link = (index: number, c: ReturnType<(typeof linkChanges)["setUp"]>) => queue.push(setLinkReq(index, c));
  return {
    addRoute: (o) => void queue.push(routeReq("add", o)),
    replaceRoute: (o) => void queue.push(routeReq("replace", o)),
    delRoute: (o) => void queue.push(routeReq("del", o)),
    addAddr: (o) => void queue.push(addAddrReq(o)),
    delAddr: (o) => void queue.push(delAddrReq(o)),
    setNeigh: (o) => void queue.push(setNeighReq(o)),
    delNeigh: (o) => void queue.push(delNeighReq(o)),
    bridgeVlanAdd: (index, o) => void queue.push(bridgeVlanReq(true, index, o)),
    bridgeVlanDel: (index, o) => void queue.push(bridgeVlanReq(false, index, o)),
    setUp: (index) => void link(index, linkChanges.setUp(index)),
    setDown: (index) => void link(index, linkChanges.setDown(index)),
    setMtu: (index, mtu) => void link(index, linkChanges.setMtu(index, mtu)),
    setMaster: (index, m) => void link(index, linkChanges.setMaster(index, m)),
  };
}

const whenType =
  <T>(type: number, parse: (m: Msg) => T | undefined) =>
  (m: Msg): T | undefined =>
    m.type === type ? parse(m) : undefined;

/** The implementation of {@link Rtnl}. */
export class RtnlSession implements Rtnl {
  private readonly sock = new NetlinkSocket();

  close(): void {
    this.sock.close();
  }
  [Symbol.dispose](): void {
    this.sock.close();
  }

  links(): LinkInfo[] {
    return this.sock.dump(
      dumpLinksReq(),
      whenType(RTM_NEWLINK, (m) => parseLink(m.r, m.off, m.end)),
    );
  }

  getLink(nameOrIndex: string | number): LinkInfo {
    try {
      const info = this.sock.get(getLinkReq(nameOrIndex), (m) =>
        m.type === RTM_NEWLINK ? parseLink(m.r, m.off, m.end) : undefined,
      );
      if (info === undefined) throw new LinkNotFoundError(nameOrIndex);
      return info;
    } catch (e) {
      if ((e as NetlinkError).code === "ENODEV") throw new LinkNotFoundError(nameOrIndex);
      throw e;
    }
  }

  findLink(name: string): LinkInfo | undefined {
    try {
      return this.getLink(name);
    } catch (e) {
      if (e instanceof LinkNotFoundError) return undefined;
      throw e;
    }
  }

  createBridge(o: CreateBridgeOptions): void {
    this.sock.ack(createBridgeReq(o));
  }
  createVeth(o: CreateVethOptions): void {
    this.sock.ack(createVethReq(o));
  }
  createVxlan(o: CreateVxlanOptions): void {
    this.sock.ack(createVxlanReq(o));
  }

  deleteLink(nameOrIndex: string | number): void {
    try {
      this.sock.ack(deleteLinkReq(nameOrIndex));
    } catch (e) {
      if ((e as NetlinkError).code !== "ENODEV") throw e;
    }
  }

  setUp(index: number): void {
    this.sock.ack(setLinkReq(index, linkChanges.setUp(index)));
  }
  setDown(index: number): void {
    this.sock.ack(setLinkReq(index, linkChanges.setDown(index)));
  }
  setMtu(index: number, mtu: number): void {
    this.sock.ack(setLinkReq(index, linkChanges.setMtu(index, mtu)));
  }
  setMaster(index: number, masterIndex: number): void {
    this.sock.ack(setLinkReq(index, linkChanges.setMaster(index, masterIndex)));
  }
  setName(index: number, name: string): void {
    this.sock.ack(setLinkReq(index, linkChanges.setName(index, name)));
  }
  setMac(index: number, mac: string): void {
    this.sock.ack(setLinkReq(index, linkChanges.setMac(index, mac)));
  }
  setPromisc(index: number, on: boolean): void {
    this.sock.ack(setLinkReq(index, linkChanges.setPromisc(index, on)));
  }
  moveToNetns(index: number, netnsFd: number): void {
    this.sock.ack(setLinkReq(index, linkChanges.moveToNetns(index, netnsFd)));
  }

  setBridgePort(index: number, o: { hairpin?: boolean; isolated?: boolean }): void {
    this.sock.ack(setBridgePortReq(index, o));
  }

  bridgeVlanAdd(index: number, o: BridgeVlanAddOptions): void {
    this.sock.ack(bridgeVlanReq(true, index, o));
  }
  bridgeVlanDel(index: number, o: { vid: number; vidEnd?: number; self?: boolean }): void {
    this.sock.ack(bridgeVlanReq(false, index, o));
  }
  bridgeVlans(index: number): BridgeVlan[] {
    const lists = this.sock.dump(dumpBridgeVlansReq(), (m) =>
      m.type === RTM_NEWLINK && m.r.u8(m.off) === AF_BRIDGE && linkIndexOf(m.r, m.off) === index
        ? parseBridgeVlans(m.r, m.off, m.end)
        : undefined,
    );
    return lists.flat();
  }

  addrs(o: { family?: 4 | 6; index?: number } = {}): AddrInfo[] {
    const all = this.sock.dump(
      dumpAddrsReq(o.family),
      whenType(RTM_NEWADDR, (m) => parseAddr(m.r, m.off, m.end)),
    );
    return all.filter(
      (a) => (o.index === undefined || a.index === o.index) && (o.family === undefined || a.family === o.family),
    );
  }
  addAddr(o: AddAddrOptions): void {
    this.sock.ack(addAddrReq(o));
  }
  delAddr(o: { index: number; address: string }): void {
    this.sock.ack(delAddrReq(o));
  }

  routes(o: { family?: 4 | 6; table?: number } = {}): RouteInfo[] {
    const table = o.table ?? RT_TABLE_MAIN;
    const all = this.sock.dump(
      dumpRoutesReq(o.family),
      whenType(RTM_NEWROUTE, (m) =>
        m.end - m.off >= RTMSG_LEN && (m.r.u32(m.off + 8) & RTM_F_CLONED) === 0
          ? parseRoute(m.r, m.off, m.end)
          : undefined,
      ),
    );
    return all.filter((r) => (table === 0 || r.table === table) && (o.family === undefined || r.family === o.family));
  }
  addRoute(o: RouteSpec): void {
    this.sock.ack(routeReq("add", o));
  }
  replaceRoute(o: RouteSpec): void {
    this.sock.ack(routeReq("replace", o));
  }
  delRoute(o: RouteSpec): void {
    this.sock.ack(routeReq("del", o));
  }
  routeGet(dst: string): RouteInfo {
    const req = routeGetReq(dst);
    const r = this.sock.get(req, (m) => (m.type === RTM_NEWROUTE ? parseRoute(m.r, m.off, m.end) : undefined));
    if (r === undefined) throw new Error(`Cannot ${req.what}: the kernel sent no route`);
    return r;
  }

  neighs(o: { family?: 4 | 6 | 7; index?: number } = {}): NeighInfo[] {
    const parse = whenType(RTM_NEWNEIGH, (m) => parseNeigh(m.r, m.off, m.end));
    let all = this.sock.dump(dumpNeighsReq(o.family), parse);
    if (o.family === undefined) {
      // An AF_UNSPEC dump covers IPv4 and IPv6 only: the bridge fdb needs its own AF_BRIDGE dump.
      all = all.filter((n) => n.family !== 7).concat(this.sock.dump(dumpNeighsReq(7), parse));
    }
    return all.filter(
      (n) => (o.index === undefined || n.index === o.index) && (o.family === undefined || n.family === o.family),
    );
  }
  setNeigh(o: SetNeighOptions): void {
    this.sock.ack(setNeighReq(o));
  }
  delNeigh(o: DelNeighOptions): void {
    this.sock.ack(delNeighReq(o));
  }

  batch(fn: (b: RtnlBatch) => void): Array<NetlinkError | undefined> {
    const queue: Request[] = [];
    fn(batchFor(queue));
    return queue.length === 0 ? [] : this.sock.batch(queue);
  }
}
