// The network config flanneld reads from `<prefix>/config` (pkg/subnet/config.go ParseConfig + CheckNetworkConfig,
// pkg/backend/vxlan VXLANConfig): parse (keys case-insensitive, as Go's encoding/json), default, validate. IPv4 only.
import gen from "../../shared/config/gen/node-netconf.js";
import { parseConfig } from "../../shared/config/index.ts";
import { type Cidr4, containsIp, formatIp4, mask, size, tryParseCidr4, tryParseIp4 } from "./ip4.ts";

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
  IPv6SubnetLen?: number;
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
  /** Things worth a log line (a default weft chose differently from flanneld). */
  notes: string[];
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
  if (raw.EnableIPv6) throw new NetConfError('Invalid network config: "EnableIPv6" is not supported by weft node yet (IPv4 only)');
  if (raw.EnableIPv4 === false) throw new NetConfError('Invalid network config: "EnableIPv4" is false, but weft node supports only IPv4');
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
    notes,
  };
}
