// Public surface of shared/netlink: a synchronous rtnetlink client (links, veth/bridge/vxlan, addresses, routes,
// neighbours/fdb, bridge VLANs) over our own NETLINK_ROUTE transport. Kernel headers: include/uapi/linux/rtnetlink.h,
// if_link.h, if_addr.h, if_bridge.h, neighbour.h. The socket lives in the netns current at openRtnl(): inside
// withNetns() open it with `using rtnl = openRtnl()` so it is closed before switching back.
import { RtnlSession, type Rtnl } from "./_rtnl.ts";

export { LinkNotFoundError, NetlinkError, isNotFound } from "./_errors.ts";
export { formatMac, parseMac } from "./_ip.ts";
export { checkIfname } from "./_requests.ts";
export type { Rtnl, RtnlBatch } from "./_rtnl.ts";
export type {
  AddAddrOptions,
  AddrInfo,
  BridgePortInfo,
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
  VxlanInfo,
} from "./_types.ts";

/** rtm_scope values (RT_SCOPE_*). */
export const RouteScope = { universe: 0, site: 200, link: 253, host: 254, nowhere: 255 } as const;
/** rtm_protocol values (RTPROT_*). */
export const RouteProtocol = { unspec: 0, redirect: 1, kernel: 2, boot: 3, static: 4 } as const;
/** Routing table ids (RT_TABLE_*). */
export const RouteTable = { unspec: 0, default: 253, main: 254, local: 255 } as const;
/** rtm_type values (RTN_*). */
export const RouteType = { unicast: 1, local: 2, broadcast: 3, anycast: 4, multicast: 5, blackhole: 6, unreachable: 7, prohibit: 8 } as const;
/** Neighbour states (NUD_*). */
export const NeighState = { incomplete: 0x01, reachable: 0x02, stale: 0x04, delay: 0x08, probe: 0x10, failed: 0x20, noarp: 0x40, permanent: 0x80 } as const;

/**
 * Opens an rtnetlink socket in the calling thread's CURRENT netns. Close it (`using`) in that same netns.
 * @throws {SysError} when the socket cannot be created (EMFILE, ...)
 */
export function openRtnl(): Rtnl {
  return new RtnlSession();
}
