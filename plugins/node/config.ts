// The network config flanneld reads from `<prefix>/config` (pkg/subnet/config.go ParseConfig + CheckNetworkConfig,
// pkg/backend/vxlan VXLANConfig): parse (keys case-insensitive, as Go's encoding/json), default, validate. IPv4, or
// dual stack with EnableIPv6; IPv6-only needs flanneld's kube subnet manager (flannel#1539), which weft does not have.
import gen from "../../shared/config/gen/node-netconf.js";
import { parseConfig } from "../../shared/config/index.ts";
import { type Cidr4, containsIp, formatIp4, mask, size, tryParseCidr4, tryParseIp4 } from "./ip4.ts";
import { type Cidr6, containsIp6, formatIp6, mask6, size6, tryParseCidr6, tryParseIp6 } from "./ip6.ts";

/** The config as JSON gives it (after key normalisation). */
export interface NetConfRaw {
  Network?: string;
  SubnetLen?: number;
  SubnetMin?: string;
  SubnetMax?: string;
  /** @default true */
  EnableIPv4?: boolean;
  /** @default false */
  EnableIPv6?: boolean;
  IPv6Network?: string;
  /** @default 64 when IPv6Network is /62 or larger, else its prefix + 2 */
  IPv6SubnetLen?: number;
  IPv6SubnetMin?: string;
  IPv6SubnetMax?: string;
  EnableNFTables?: boolean;
  Backend?: BackendRaw;
}

export interface BackendRaw {
  /** @default "vxlan" (flanneld falls back to "udp", which weft does not implement; decisions.md) */
  Type?: string;
  /** @default 1 */
  VNI?: number;
  /** @default 0 (the kernel's 8472) */
  Port?: number;
  /** @default the external interface's MTU */
  MTU?: number;
  GBP?: boolean;
  Learning?: boolean;
  DirectRouting?: boolean;
}

export type BackendType = "vxlan" | "host-gw";

/** The resolved config: defaults applied, every value checked. */
export interface NetConf {
  network: Cidr4;
  subnetLen: number;
  /** First and last subnet addresses a lease may take (inclusive). */
  subnetMin: number;
  subnetMax: number;
  backend: { type: BackendType; vni: number; port: number; mtu?: number; directRouting: boolean; gbp: boolean };
  /** The IPv6 half of a dual-stack network (EnableIPv6); absent for IPv4 only. */
  ipv6?: NetConf6;
  /** Things worth a log line (a default weft chose differently from flanneld). */
  notes: string[];
}

export interface NetConf6 {
  network: Cidr6;
  subnetLen: number;
  /** First and last subnet addresses a lease may take (inclusive). */
  subnetMin: bigint;
  subnetMax: bigint;
}

/** The config is missing, not JSON, or fails flanneld's checks. */
export class NetConfError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = "NetConfError";
  }
}

/**
 * Parses the text stored at `<prefix>/config`.
 * @throws {NetConfError}
 */
export function parseNetConf(text: string): NetConf {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new NetConfError(`Invalid network config: not JSON (${(e as Error).message})`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new NetConfError("Invalid network config: it must be a JSON object");
  }
  let raw: NetConfRaw;
  try {
    raw = parseConfig<NetConfRaw>(gen, json);
  } catch (e) {
    throw new NetConfError((e as Error).message);
  }
  return resolveNetConf(raw);
}

function cidr(key: string, v: string): Cidr4 {
  const c = tryParseCidr4(v);
  if (!c) throw new NetConfError(`Invalid network config: "${key}" must be an IPv4 CIDR such as "10.244.0.0/16", got "${v}"`);
  return c;
}

function ip(key: string, v: string): number {
  const n = tryParseIp4(v);
  if (n === undefined) throw new NetConfError(`Invalid network config: "${key}" must be an IPv4 address, got "${v}"`);
  return n;
}

/** Defaults and flanneld's CheckNetworkConfig, in one place. @throws {NetConfError} */
export function resolveNetConf(raw: NetConfRaw): NetConf {
  const notes: string[] = [];
  if (raw.EnableIPv4 === false) {
    throw new NetConfError(
      raw.EnableIPv6
        ? 'Invalid network config: "EnableIPv4" is false, but an IPv6-only network needs a Kubernetes subnet manager (as in flanneld, flannel#1539): ' +
            'the etcd and file stores key every lease by its IPv4 subnet. Keep "EnableIPv4" and set "Network" for a dual-stack network'
        : 'Invalid network config: both "EnableIPv4" and "EnableIPv6" are off: enable at least IPv4',
    );
  }
  if (!raw.Network) throw new NetConfError('Invalid network config: "Network" is required (e.g. "10.244.0.0/16")');
  const network = cidr("Network", raw.Network);
  let subnetLen: number;
  if (raw.SubnetLen !== undefined && raw.SubnetLen !== 0) {
    subnetLen = raw.SubnetLen;
    if (subnetLen > 30) throw new NetConfError(`Invalid network config: "SubnetLen" ${subnetLen} is out of range: it must be at most 30`);
    if (subnetLen < network.len + 2) {
      throw new NetConfError(
        `Invalid network config: "SubnetLen" ${subnetLen} is out of range: Network ${raw.Network} must hold at least four subnets, so SubnetLen must be at least ${network.len + 2}`,
      );
    }
  } else if (network.len > 28) {
    throw new NetConfError(`Invalid network config: Network ${raw.Network} is too small: the minimum useful prefix is /28`);
  } else {
    subnetLen = network.len <= 22 ? 24 : network.len + 2;
  }
  const step = size({ ip: 0, len: subnetLen });
  // the first subnet is skipped by default: its .0 would clash with the Network's own address (flannel's comment)
  let subnetMin = (network.ip + step) >>> 0;
  if (raw.SubnetMin) {
    subnetMin = ip("SubnetMin", raw.SubnetMin);
    if (!containsIp(network, subnetMin)) throw new NetConfError(`Invalid network config: "SubnetMin" ${raw.SubnetMin} is not inside Network ${raw.Network}`);
  }
  let subnetMax = (network.ip + size(network) - step) >>> 0;
  if (raw.SubnetMax) {
    subnetMax = ip("SubnetMax", raw.SubnetMax);
    if (!containsIp(network, subnetMax)) throw new NetConfError(`Invalid network config: "SubnetMax" ${raw.SubnetMax} is not inside Network ${raw.Network}`);
  }
  const m = mask(subnetLen);
  if ((subnetMin & m) >>> 0 !== subnetMin) throw new NetConfError(`Invalid network config: "SubnetMin" ${formatIp4(subnetMin)} is not on a /${subnetLen} boundary`);
  if ((subnetMax & m) >>> 0 !== subnetMax) throw new NetConfError(`Invalid network config: "SubnetMax" ${formatIp4(subnetMax)} is not on a /${subnetLen} boundary`);

  const b = raw.Backend ?? {};
  let type: BackendType;
  if (b.Type === undefined || b.Type === "") {
    type = "vxlan";
    notes.push('the network config has no "Backend.Type": using "vxlan" (flanneld would fall back to "udp", which weft does not implement)');
  } else if (b.Type === "vxlan" || b.Type === "host-gw") {
    type = b.Type;
  } else {
    throw new NetConfError(`Invalid network config: backend type "${b.Type}" is not supported by weft node; use "vxlan" or "host-gw"`);
  }
  const vni = b.VNI ?? 1;
  if (vni < 0 || vni > 0xffffff) throw new NetConfError(`Invalid network config: "Backend.VNI" ${vni} is out of range 0-16777215`);
  const port = b.Port ?? 0;
  if (port < 0 || port > 65535) throw new NetConfError(`Invalid network config: "Backend.Port" ${port} is out of range 0-65535`);
  if (b.MTU !== undefined && (b.MTU < 68 || b.MTU > 65535)) throw new NetConfError(`Invalid network config: "Backend.MTU" ${b.MTU} is out of range 68-65535`);
  if (b.Learning) notes.push('"Backend.Learning" is ignored: weft programs FDB entries itself (nolearning)');
  return {
    network,
    subnetLen,
    subnetMin,
    subnetMax,
    backend: { type, vni, port, ...(b.MTU ? { mtu: b.MTU } : {}), directRouting: b.DirectRouting ?? false, gbp: b.GBP ?? false },
    ...(raw.EnableIPv6 ? { ipv6: resolveIpv6(raw) } : {}),
    notes,
  };
}

/** The IPv6 half of CheckNetworkConfig: IPv6SubnetLen (limit /126), Min/Max defaults, containment and alignment. */
function resolveIpv6(raw: NetConfRaw): NetConf6 {
  if (!raw.IPv6Network) throw new NetConfError('Invalid network config: "EnableIPv6" is set, so "IPv6Network" is required (e.g. "fd00:10::/48")');
  const network = tryParseCidr6(raw.IPv6Network);
  if (!network) throw new NetConfError(`Invalid network config: "IPv6Network" must be an IPv6 CIDR such as "fd00:10::/48", got "${raw.IPv6Network}"`);
  let subnetLen: number;
  if (raw.IPv6SubnetLen !== undefined && raw.IPv6SubnetLen !== 0) {
    subnetLen = raw.IPv6SubnetLen;
    if (subnetLen > 126) throw new NetConfError(`Invalid network config: "IPv6SubnetLen" ${subnetLen} is out of range: it must be at most 126`);
    if (subnetLen < network.len + 2) {
      throw new NetConfError(
        `Invalid network config: "IPv6SubnetLen" ${subnetLen} is out of range: IPv6Network ${raw.IPv6Network} must hold at least four subnets, so IPv6SubnetLen must be at least ${network.len + 2}`,
      );
    }
  } else if (network.len > 124) {
    throw new NetConfError(`Invalid network config: IPv6Network ${raw.IPv6Network} is too small: the minimum useful prefix is /124`);
  } else {
    subnetLen = network.len <= 62 ? 64 : network.len + 2;
  }
  const step = size6(subnetLen);
  const addr = (key: "IPv6SubnetMin" | "IPv6SubnetMax", fallback: bigint): bigint => {
    const v = raw[key];
    if (!v) return fallback;
    const n = tryParseIp6(v);
    if (n === undefined) throw new NetConfError(`Invalid network config: "${key}" must be an IPv6 address, got "${v}"`);
    if (!containsIp6(network, n)) throw new NetConfError(`Invalid network config: "${key}" ${v} is not inside IPv6Network ${raw.IPv6Network}`);
    if ((n & mask6(subnetLen)) !== n) throw new NetConfError(`Invalid network config: "${key}" ${formatIp6(n)} is not on a /${subnetLen} boundary`);
    return n;
  };
  // as for IPv4, the first subnet is skipped: its ::0 would be the IPv6Network's own address
  const subnetMin = addr("IPv6SubnetMin", network.ip + step);
  const subnetMax = addr("IPv6SubnetMax", network.ip + size6(network.len) - step);
  return { network, subnetLen, subnetMin, subnetMax };
}
