// Private: the public data shapes of shared/netlink (re-exported by index.ts). Field meanings follow the kernel
// objects they are decoded from: struct ifinfomsg + IFLA_*, ifaddrmsg + IFA_*, rtmsg + RTA_*, ndmsg + NDA_*.

/** A network interface (RTM_NEWLINK). */
export interface LinkInfo {
  index: number;
  name: string;
  /** IFLA_INFO_KIND: "bridge", "veth", "vxlan", ...; absent for loopback and physical devices. */
  kind?: string;
  mtu: number;
  /** Lowercase "aa:bb:cc:dd:ee:ff"; "" when the device has no link-layer address. */
  mac: string;
  /** IFF_UP (administratively up). */
  up: boolean;
  /** IFLA_OPERSTATE as RFC 2863 text: "unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up". */
  operState: string;
  /** IFLA_MASTER: index of the bridge (or other master) this device is enslaved to. */
  master?: number;
  /** IFLA_LINK: the lower/peer device's index (a veth's peer; may live in another netns, see linkNetnsId). */
  link?: number;
  /** IFLA_LINK_NETNSID: the netns id of `link` when it lives in another namespace. */
  linkNetnsId?: number;
  /** IFF_PROMISC. */
  promisc: boolean;
  /** Raw ifi_flags (IFF_*). */
  flags: number;
  /** IFLA_INFO_SLAVE_KIND: "bridge" for a bridge port. */
  slaveKind?: string;
  /** Bridge settings from IFLA_INFO_DATA, for kind "bridge". */
  bridge?: { vlanFiltering: boolean };
  /** VXLAN settings from IFLA_INFO_DATA, for kind "vxlan". */
  vxlan?: VxlanInfo;
  /** Bridge port settings from IFLA_INFO_SLAVE_DATA, for a bridge port. */
  bridgePort?: BridgePortInfo;
}

/** A VXLAN device's settings. */
export interface VxlanInfo {
  vni: number;
  port: number;
  localIp?: string;
  dev?: number;
  learning: boolean;
  gbp: boolean;
}

/** A bridge port's settings. */
export interface BridgePortInfo {
  hairpin: boolean;
  isolated: boolean;
  learning: boolean;
}

/** An interface address (RTM_NEWADDR). */
export interface AddrInfo {
  index: number;
  family: 4 | 6;
  /** "10.1.2.3/24", "fd00::1/64". */
  address: string;
  scope: number;
  /** IFA_FLAGS (or ifa_flags): IFA_F_*. */
  flags: number;
  /** IFA_F_TENTATIVE: IPv6 duplicate address detection still running. */
  tentative: boolean;
  /** IFA_F_DADFAILED. */
  dadFailed: boolean;
}

/** A route (RTM_NEWROUTE). */
export interface RouteInfo {
  family: 4 | 6;
  /** "0.0.0.0/0" / "::/0" for a default route, else "10.0.0.0/8". */
  dst: string;
  gw?: string;
  oif?: number;
  table: number;
  scope: number;
  protocol: number;
  priority?: number;
  /** RTN_*: 1 unicast, 2 local, 3 broadcast, ... */
  type: number;
  /** RTNH_F_ONLINK. */
  onlink: boolean;
  mtu?: number;
  advmss?: number;
  prefsrc?: string;
}

/** What addRoute/replaceRoute/delRoute take. */
export interface RouteSpec {
  /** CIDR; "0.0.0.0/0" or "::/0" for a default route. A bare address is a host route. */
  dst: string;
  gw?: string;
  oif?: number;
  /** Default for add/replace: universe with a gateway, link without one. Not matched on delete unless given. */
  scope?: number;
  /** Default 254 (main). */
  table?: number;
  priority?: number;
  onlink?: boolean;
  /** Route metrics (RTA_METRICS); ignored by delRoute. */
  mtu?: number;
  advmss?: number;
  /** Preferred source address (RTA_PREFSRC). */
  src?: string;
  /** Default RTPROT_BOOT (3) for add/replace, as `ip route`; not matched on delete unless given. */
  protocol?: number;
  /** RTN_*; default unicast (1) for add/replace; not matched on delete unless given. */
  type?: number;
}

/** A neighbour (ARP/NDP entry) or, with family 7, a bridge/VXLAN forwarding-database entry. */
export interface NeighInfo {
  index: number;
  /** 7 = AF_BRIDGE (fdb). */
  family: 4 | 6 | 7;
  /** NDA_DST: the neighbour's IP; for a VXLAN fdb entry, the remote VTEP. */
  dst?: string;
  /** NDA_LLADDR, lowercase. */
  lladdr?: string;
  /** NUD_* */
  state: number;
  /** NTF_* */
  flags: number;
  /** NDA_MASTER (fdb entries of bridge ports). */
  master?: number;
  /** NDA_VLAN. */
  vlan?: number;
  /** NDA_VNI. */
  vni?: number;
}

/** One bridge VLAN membership of a port (or of the bridge itself). */
export interface BridgeVlan {
  vid: number;
  pvid: boolean;
  untagged: boolean;
}

export interface CreateBridgeOptions {
  name: string;
  mtu?: number;
  vlanFiltering?: boolean;
  mac?: string;
}

export interface CreateVethOptions {
  name: string;
  peerName: string;
  /** The peer is born in the netns this fd refers to (IFLA_NET_NS_FD inside VETH_INFO_PEER). */
  peerNetnsFd?: number;
  /** Applied to both ends. */
  mtu?: number;
  mac?: string;
  peerMac?: string;
}

export interface CreateVxlanOptions {
  name: string;
  vni: number;
  /** UDP destination port, e.g. 8472 (flannel) or 4789 (IANA). */
  port: number;
  localIp?: string;
  /** Index of the underlay device (IFLA_VXLAN_LINK). */
  dev?: number;
  learning: boolean;
  gbp?: boolean;
  mtu?: number;
  mac?: string;
}

export interface AddAddrOptions {
  index: number;
  /** CIDR; a bare address gets /32 or /128. IPv4 gets the broadcast address for prefixes up to /30, as Go netlink. */
  address: string;
  /** IFA_F_NODAD: usable at once (no tentative phase); IPv6 only. */
  nodad?: boolean;
  /** IFA_F_NOPREFIXROUTE: no route for the prefix is added. */
  noprefixroute?: boolean;
}

export interface SetNeighOptions {
  index: number;
  family: 4 | 6 | 7;
  /** IP for family 4/6 (required); remote VTEP for a VXLAN fdb entry. */
  dst?: string;
  lladdr: string;
  /** NUD_PERMANENT (default true); false means NUD_REACHABLE (4/6) or NUD_NOARP (fdb). */
  permanent?: boolean;
  /** NTF_SELF: the entry goes to the device's own table (a VXLAN device's fdb) rather than its master bridge's. */
  self?: boolean;
  /** NDA_VLAN for fdb entries. */
  vlan?: number;
}

export interface DelNeighOptions {
  index: number;
  family: 4 | 6 | 7;
  dst?: string;
  lladdr?: string;
  self?: boolean;
  vlan?: number;
}

export interface BridgeVlanAddOptions {
  vid: number;
  /** Adds the range vid..vidEnd. */
  vidEnd?: number;
  pvid?: boolean;
  untagged?: boolean;
  /** BRIDGE_FLAGS_SELF: configure the bridge device itself (required when `index` is the bridge). */
  self?: boolean;
}
