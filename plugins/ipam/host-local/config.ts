// host-local's config: the raw JSON types, then one function that validates, defaults and resolves them into
// range sets of integers. Matches plugins/ipam/host-local/backend/allocator/{config,range,range_set}.go
// (same order of range sets, same messages), and rejects what the reference lets through: a gateway outside
// its subnet or of the other family, rangeEnd before rangeStart, a relative or escaping dataDir.
import { CniCode, CniError } from "../../../shared/cni/errors.ts";
import { loadCniArgs } from "../../../shared/cni/args.ts";
import type { Route } from "../../../shared/cni/result.ts";
import { compareVersions } from "../../../shared/cni/version.ts";
import { parseConfig } from "../../../shared/config/index.ts";
import gen from "../../../shared/config/gen/host-local.js";
import { InvalidIpError, bigIntToIp, familyBits, ipToBigInt, parseCidr, parseIp, prefixMask, type IpFamily } from "../../../shared/ip/index.ts";

export interface RawRange {
  subnet: string;
  /** @default the subnet's network address + 1 */
  rangeStart?: string;
  /** @default IPv4: broadcast − 1; IPv6: the subnet's last address */
  rangeEnd?: string;
  /** @default the subnet's network address + 1 */
  gateway?: string;
}
/** A route as the config gives it: the result's Route type. */
export type { Route as RawRoute } from "../../../shared/cni/result.ts";
import type { Route as RawRoute } from "../../../shared/cni/result.ts";
export interface RawIpam {
  type?: string;
  /** Legacy single range: prepended to `ranges` as range set 0. */
  subnet?: string;
  rangeStart?: string;
  rangeEnd?: string;
  gateway?: string;
  ranges?: RawRange[][];
  routes?: RawRoute[];
  /** @default "/var/lib/cni/networks" */
  dataDir?: string;
  resolvConf?: string;
}
export interface RawNetConf {
  name: string;
  cniVersion?: string;
  ipam: RawIpam;
  runtimeConfig?: { ips?: string[]; ipRanges?: RawRange[][] };
  args?: { cni?: { ips?: string[] } };
}

/** One range: addresses `start`..`end` (inclusive) of `subnet`, as integers of `family`. */
export interface Range {
  family: IpFamily;
  /** "10.244.1.0/24" */
  subnet: string;
  prefix: number;
  network: bigint;
  /** Last address of the subnet (the IPv4 broadcast address). */
  last: bigint;
  start: bigint;
  end: bigint;
  gateway: bigint;
}
/** Ranges of one family; one address is allocated per range set. */
export interface RangeSet {
  index: number;
  family: IpFamily;
  ranges: Range[];
}
export interface RequestedIp {
  value: bigint;
  family: IpFamily;
  text: string;
}
export interface HostLocalConfig {
  network: string;
  cniVersion: string;
  /** `<dataDir>/<network>`: the store's directory. */
  dir: string;
  rangeSets: RangeSet[];
  routes: Route[];
  resolvConf?: string;
  /** In order: CNI_ARGS IP, args.cni.ips, runtimeConfig.ips (merged, as the reference does), duplicates dropped. */
  requested: RequestedIp[];
}

export const DEFAULT_DATA_DIR = "/var/lib/cni/networks";

const invalid = (msg: string, details = "") => new CniError(CniCode.InvalidConfig, msg, details);

/** "10.244.1.1-10.244.1.254": how the reference names a range. */
export function rangeText(r: Range): string {
  return `${bigIntToIp(r.start, r.family)}-${bigIntToIp(r.end, r.family)}`;
}

/** "a-b,c-d": how the reference names a range set. */
export function rangeSetText(s: RangeSet): string {
  return s.ranges.map(rangeText).join(",");
}

export function contains(r: Range, value: bigint, family: IpFamily): boolean {
  return family === r.family && value >= r.start && value <= r.end;
}

/** The range of `s` holding the address, or undefined. */
export function rangeFor(s: RangeSet, value: bigint, family: IpFamily): Range | undefined {
  return s.ranges.find((r) => contains(r, value, family));
}

/** Parses an address field; `where` is the key path for the message. */
function addr(text: string, where: string): { value: bigint; family: IpFamily; text: string } {
  try {
    const p = parseIp(text);
    return { value: ipToBigInt(p.address), family: p.family, text: p.address };
  } catch (e) {
    if (e instanceof InvalidIpError) throw invalid(`Invalid network config: "${where}" ${e.message}`);
    throw e;
  }
}

/** Resolves one raw range: defaults, then the reference's checks and weft's stricter ones. */
function resolveRange(raw: RawRange, where: string, setIndex: number): Range {
  const fail = (msg: string) => invalid(`invalid range set ${setIndex}: ${msg}`, `at ${where}`);
  let cidr;
  try {
    cidr = parseCidr(raw.subnet);
  } catch (e) {
    if (e instanceof InvalidIpError) throw fail(`"subnet" ${e.message}`);
    throw e;
  }
  const { family, prefix } = cidr;
  const subnet = `${cidr.network}`;
  if (prefix > familyBits(family) - 2) throw fail(`Network ${cidr.ip}/${prefix} too small to allocate from`);
  const value = ipToBigInt(cidr.ip);
  const network = value & prefixMask(family, prefix);
  if (value !== network) {
    throw fail(`Network has host bits set. For a subnet mask of length ${prefix} the network address is ${bigIntToIp(network, family)}`);
  }
  const last = network | ((1n << BigInt(familyBits(family) - prefix)) - 1n);
  const inSubnet = (key: string, text: string | undefined | null): bigint | undefined => {
    if (text === undefined || text === null) return undefined;
    const a = addr(text, `${where}.${key}`);
    const label = key === "rangeStart" ? "RangeStart" : key === "rangeEnd" ? "RangeEnd" : "Gateway";
    if (a.family !== family) throw fail(`${label} ${a.text} is IPv${a.family} but network ${subnet} is IPv${family}`);
    if (a.value < network || a.value > last) throw fail(`${label} ${a.text} not in network ${subnet}`);
    return a.value;
  };
  const gateway = inSubnet("gateway", raw.gateway) ?? network + 1n;
  const start = inSubnet("rangeStart", raw.rangeStart) ?? network + 1n;
  const end = inSubnet("rangeEnd", raw.rangeEnd) ?? (family === 4 ? last - 1n : last);
  if (end < start) {
    throw fail(`RangeEnd ${bigIntToIp(end, family)} is before RangeStart ${bigIntToIp(start, family)}`);
  }
  return { family, subnet, prefix, network, last, start, end, gateway };
}

function overlaps(a: Range, b: Range): boolean {
  return a.family === b.family && a.start <= b.end && b.start <= a.end;
}

function resolveRangeSet(raw: RawRange[], where: string, index: number): RangeSet {
  if (raw.length === 0) throw invalid(`invalid range set ${index}: empty range set`, `at ${where}`);
  const ranges = raw.map((r, i) => resolveRange(r, `${where}[${i}]`, index));
  const family = ranges[0]!.family;
  if (ranges.some((r) => r.family !== family)) throw invalid(`invalid range set ${index}: mixed address families`, `at ${where}`);
  for (let i = 0; i < ranges.length; i++) {
    for (let j = i + 1; j < ranges.length; j++) {
      if (overlaps(ranges[i]!, ranges[j]!)) {
        throw invalid(`invalid range set ${index}: subnets ${rangeText(ranges[i]!)} and ${rangeText(ranges[j]!)} overlap`, `at ${where}`);
      }
    }
  }
  return { index, family, ranges };
}

/**
 * Checks the network name and dataDir can only name a directory inside dataDir (decisions.md "host-local").
 * @throws {CniError} code 7
 */
export function storeDir(network: string, dataDir: string | undefined | null): string {
  const base = dataDir === undefined || dataDir === null || dataDir === "" ? DEFAULT_DATA_DIR : dataDir;
  if (base.includes("\0")) throw invalid(`Invalid network config: "ipam.dataDir" contains a NUL byte`);
  if (!base.startsWith("/")) throw invalid(`Invalid network config: "ipam.dataDir" must be an absolute path`, `got ${JSON.stringify(base)}`);
  if (base.split("/").includes("..")) throw invalid(`Invalid network config: "ipam.dataDir" must not contain ".." segments`, `got ${JSON.stringify(base)}`);
  if (network === "" || network === "." || network === ".." || /[/\0]/.test(network)) {
    throw invalid(`Invalid network config: network name ${JSON.stringify(network)} cannot name a directory inside ${base}`);
  }
  return `${base.replace(/\/+$/, "")}/${network}`;
}

function resolveRoutes(raw: RawRoute[] | undefined | null): Route[] {
  return (raw ?? []).map((r, i) => {
    const where = `ipam.routes[${i}]`;
    let dst: string;
    try {
      dst = parseCidr(r.dst).network;
    } catch (e) {
      if (e instanceof InvalidIpError) throw invalid(`Invalid network config: "${where}.dst" ${e.message}`);
      throw e;
    }
    const out: Route = { dst };
    if (r.gw !== undefined && r.gw !== null && r.gw !== "") out.gw = addr(r.gw, `${where}.gw`).text;
    for (const k of ["mtu", "advmss", "priority", "table", "scope"] as const) {
      const v = r[k];
      if (v !== undefined && v !== null) out[k] = v;
    }
    return out;
  });
}

/** The requested addresses, merged in the reference's order; a malformed one is an error (code 7). */
function resolveRequested(raw: RawNetConf, cniArgs: string): RequestedIp[] {
  const out: RequestedIp[] = [];
  const add = (text: string, where: string) => {
    // Requests may carry a prefix ("10.1.2.3/24"); the range decides the prefix, as in the reference.
    const bare = text.includes("/") ? text.slice(0, text.indexOf("/")) : text;
    if (text.includes("/")) {
      try {
        parseCidr(text);
      } catch (e) {
        if (e instanceof InvalidIpError) throw new CniError(CniCode.InvalidConfig, `${where}: ${e.message}`);
        throw e;
      }
    }
    let a;
    try {
      a = parseIp(bare);
    } catch (e) {
      if (e instanceof InvalidIpError) throw new CniError(CniCode.InvalidConfig, `${where}: ${e.message}`);
      throw e;
    }
    const value = ipToBigInt(a.address);
    if (!out.some((r) => r.value === value && r.family === a.family)) out.push({ value, family: a.family, text: a.address });
  };
  const env = loadCniArgs(cniArgs, ["IP"]);
  if (env.IP) {
    try {
      add(env.IP, "CNI_ARGS IP");
    } catch (e) {
      throw e instanceof CniError ? new CniError(CniCode.InvalidEnv, e.msg, e.details) : e;
    }
  }
  (raw.args?.cni?.ips ?? []).forEach((s, i) => add(s, `args.cni.ips[${i}]`));
  (raw.runtimeConfig?.ips ?? []).forEach((s, i) => add(s, `runtimeConfig.ips[${i}]`));
  return out;
}

/**
 * Validates and resolves the config for ADD, CHECK and STATUS.
 * @throws {CniError} code 7 for an invalid config, code 4 for malformed CNI_ARGS
 */
export function loadConfig(conf: unknown, cniArgs: string, cniVersion: string): HostLocalConfig {
  const raw = parseConfig<RawNetConf>(gen, conf);
  const ipam = raw.ipam;
  const dir = storeDir(raw.name, ipam.dataDir);
  const requested = resolveRequested(raw, cniArgs);

  // Order as the reference builds it: runtimeConfig.ipRanges, then the legacy range, then ipam.ranges.
  const sources: Array<[RawRange[], string]> = [];
  (raw.runtimeConfig?.ipRanges ?? []).forEach((s, i) => sources.push([s, `runtimeConfig.ipRanges[${i}]`]));
  if (ipam.subnet !== undefined && ipam.subnet !== null && ipam.subnet !== "") {
    sources.push([[{ subnet: ipam.subnet, rangeStart: ipam.rangeStart, rangeEnd: ipam.rangeEnd, gateway: ipam.gateway }], "ipam"]);
  }
  (ipam.ranges ?? []).forEach((s, i) => sources.push([s, `ipam.ranges[${i}]`]));
  if (sources.length === 0) throw invalid("no IP ranges specified", 'set "ipam.ranges" (a list of range sets, each a list of {"subnet": ...})');
  const rangeSets = sources.map(([s, where], i) => resolveRangeSet(s, where, i));

  if (compareVersions(cniVersion, "0.3.0") < 0) {
    const v4 = rangeSets.filter((s) => s.family === 4).length;
    const v6 = rangeSets.length - v4;
    if (v4 > 1 || v6 > 1) throw invalid(`CNI version ${cniVersion} does not support more than 1 address per family`);
  }
  for (let i = 0; i < rangeSets.length; i++) {
    for (let j = i + 1; j < rangeSets.length; j++) {
      if (rangeSets[i]!.ranges.some((a) => rangeSets[j]!.ranges.some((b) => overlaps(a, b)))) {
        throw invalid(`range set ${i} overlaps with ${j}`);
      }
    }
  }
  return {
    network: raw.name,
    cniVersion,
    dir,
    rangeSets,
    routes: resolveRoutes(ipam.routes),
    ...(ipam.resolvConf ? { resolvConf: ipam.resolvConf } : {}),
    requested,
  };
}

/**
 * What DEL and GC need: the store directory only. They do not validate ranges or requests, so a config that
 * became invalid (or a malformed CNI_ARGS) never blocks releasing addresses (the reference fails DEL then).
 * @throws {CniError} code 7 when the config has the wrong types or the store path is unsafe
 */
export function loadStoreConfig(conf: unknown): { network: string; dir: string } {
  const raw = parseConfig<RawNetConf>(gen, conf);
  return { network: raw.name, dir: storeDir(raw.name, raw.ipam.dataDir) };
}
