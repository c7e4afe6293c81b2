// Result types per family (SPEC §5 "Success"; Go pkg/types/{020,040,100}) and conversion between them.
// The canonical in-memory form is 1.x. Input results (prevResult, a delegate's output) are parsed into it
// with parseResult(); output is produced with formatResult(result, cniVersion), nowhere else.
import { CniCode, CniError } from "./errors.ts";
import { resultFamily } from "./version.ts";

export interface Interface {
  name: string;
  mac?: string;
  mtu?: number;
  sandbox?: string;
  socketPath?: string;
  pciID?: string;
}
export interface IPConfig {
  /** Index into `interfaces`; IPAM results carry none. */
  interface?: number;
  /** CIDR: the address with its prefix length, e.g. `10.244.1.5/24`. */
  address: string;
  gateway?: string;
}
export interface Route {
  dst: string;
  gw?: string;
  mtu?: number;
  advmss?: number;
  priority?: number;
  table?: number;
  scope?: number;
}
export interface DNS {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}
/** The canonical (1.x) result. */
export interface Result {
  cniVersion: string;
  interfaces?: Interface[];
  ips?: IPConfig[];
  routes?: Route[];
  dns?: DNS;
}

type Json = Record<string, unknown>;

function isObject(x: unknown): x is Json {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function decodeError(what: string): CniError {
  return new CniError(CniCode.DecodingFailure, `Cannot parse result: ${what}`);
}

function str(x: unknown, what: string): string {
  if (typeof x !== "string") throw decodeError(`${what} must be a string`);
  return x;
}
function optStr(x: unknown, what: string): string | undefined {
  return x === undefined || x === null || x === "" ? undefined : str(x, what);
}
function optNum(x: unknown, what: string): number | undefined {
  if (x === undefined || x === null) return undefined;
  if (typeof x !== "number" || !Number.isInteger(x)) throw decodeError(`${what} must be an integer`);
  return x;
}
function list(x: unknown, what: string): unknown[] {
  if (x === undefined || x === null) return [];
  if (!Array.isArray(x)) throw decodeError(`${what} must be a list`);
  return x;
}
function strList(x: unknown, what: string): string[] | undefined {
  if (x === undefined || x === null) return undefined;
  return list(x, what).map((s, i) => str(s, `${what}[${i}]`));
}

/** Family of a textual IP (or CIDR): 4 or 6. */
export function ipFamily(addr: string): 4 | 6 {
  return addr.includes(":") ? 6 : 4;
}

function parseRoute(x: unknown, what: string): Route {
  if (!isObject(x)) throw decodeError(`${what} must be an object`);
  const r: Route = { dst: str(x.dst, `${what}.dst`) };
  const gw = optStr(x.gw, `${what}.gw`);
  if (gw !== undefined) r.gw = gw;
  for (const k of ["mtu", "advmss", "priority", "table", "scope"] as const) {
    const v = optNum(x[k], `${what}.${k}`);
    if (v !== undefined) r[k] = v;
  }
  return r;
}

function parseDns(x: unknown): DNS | undefined {
  if (x === undefined || x === null) return undefined;
  if (!isObject(x)) throw decodeError("dns must be an object");
  const d: DNS = {};
  const ns = strList(x.nameservers, "dns.nameservers");
  if (ns?.length) d.nameservers = ns;
  const domain = optStr(x.domain, "dns.domain");
  if (domain) d.domain = domain;
  const search = strList(x.search, "dns.search");
  if (search?.length) d.search = search;
  const options = strList(x.options, "dns.options");
  if (options?.length) d.options = options;
  return Object.keys(d).length ? d : undefined;
}

function parse020(x: Json, version: string): Result {
  const r: Result = { cniVersion: version, ips: [], routes: [] };
  for (const key of ["ip4", "ip6"] as const) {
    const c = x[key];
    if (c === undefined || c === null) continue;
    if (!isObject(c)) throw decodeError(`${key} must be an object`);
    const ip: IPConfig = { address: str(c.ip, `${key}.ip`) };
    const gw = optStr(c.gateway, `${key}.gateway`);
    if (gw !== undefined) ip.gateway = gw;
    r.ips!.push(ip);
    list(c.routes, `${key}.routes`).forEach((rt, i) => r.routes!.push(parseRoute(rt, `${key}.routes[${i}]`)));
  }
  const dns = parseDns(x.dns);
  if (dns) r.dns = dns;
  return r;
}

function parseCurrent(x: Json, version: string): Result {
  const r: Result = { cniVersion: version };
  const ifs = list(x.interfaces, "interfaces").map((it, i): Interface => {
    const w = `interfaces[${i}]`;
    if (!isObject(it)) throw decodeError(`${w} must be an object`);
    const out: Interface = { name: str(it.name, `${w}.name`) };
    const mac = optStr(it.mac, `${w}.mac`);
    if (mac !== undefined) out.mac = mac;
    const mtu = optNum(it.mtu, `${w}.mtu`);
    if (mtu) out.mtu = mtu;
    const sandbox = optStr(it.sandbox, `${w}.sandbox`);
    if (sandbox !== undefined) out.sandbox = sandbox;
    const sp = optStr(it.socketPath, `${w}.socketPath`);
    if (sp !== undefined) out.socketPath = sp;
    const pci = optStr(it.pciID, `${w}.pciID`);
    if (pci !== undefined) out.pciID = pci;
    return out;
  });
  if (ifs.length) r.interfaces = ifs;
  const ips = list(x.ips, "ips").map((it, i): IPConfig => {
    const w = `ips[${i}]`;
    if (!isObject(it)) throw decodeError(`${w} must be an object`);
    const out: IPConfig = { address: str(it.address, `${w}.address`) };
    const idx = optNum(it.interface, `${w}.interface`);
    if (idx !== undefined) out.interface = idx;
    const gw = optStr(it.gateway, `${w}.gateway`);
    if (gw !== undefined) out.gateway = gw;
    return out;
  });
  if (ips.length) r.ips = ips;
  const routes = list(x.routes, "routes").map((rt, i) => parseRoute(rt, `routes[${i}]`));
  if (routes.length) r.routes = routes;
  const dns = parseDns(x.dns);
  if (dns) r.dns = dns;
  return r;
}

/**
 * Parses a result of any family into the canonical form. A result without `cniVersion` is taken to be
 * `fallbackVersion` (as Go's invoke package assumes the config's version).
 * @throws {CniError} code 6 when the value is not a result
 */
export function parseResult(x: unknown, fallbackVersion: string): Result {
  if (!isObject(x)) throw decodeError("a result must be a JSON object");
  const version = typeof x.cniVersion === "string" && x.cniVersion !== "" ? x.cniVersion : fallbackVersion;
  const r = resultFamily(version) === "020" ? parse020(x, version) : parseCurrent(x, version);
  if (r.ips && r.ips.length === 0) delete r.ips;
  if (r.routes && r.routes.length === 0) delete r.routes;
  return r;
}

function routeOut(r: Route, full: boolean): Json {
  const o: Json = { dst: r.dst };
  if (r.gw) o.gw = r.gw;
  if (full) for (const k of ["mtu", "advmss", "priority", "table", "scope"] as const) if (r[k]) o[k] = r[k];
  return o;
}

function dnsOut(d: DNS | undefined): Json {
  const o: Json = {};
  if (!d) return o;
  if (d.nameservers?.length) o.nameservers = d.nameservers;
  if (d.domain) o.domain = d.domain;
  if (d.search?.length) o.search = d.search;
  if (d.options?.length) o.options = d.options;
  return o;
}

function ifaceOut(i: Interface, full: boolean): Json {
  const o: Json = { name: i.name };
  if (i.mac) o.mac = i.mac;
  if (full && i.mtu) o.mtu = i.mtu;
  if (i.sandbox) o.sandbox = i.sandbox;
  if (full && i.socketPath) o.socketPath = i.socketPath;
  if (full && i.pciID) o.pciID = i.pciID;
  return o;
}

function format020(r: Result, version: string): Json {
  const out: Json = { cniVersion: version };
  const ips = r.ips ?? [];
  const v4 = ips.find((ip) => ipFamily(ip.address) === 4);
  const v6 = ips.find((ip) => ipFamily(ip.address) === 6);
  if (!v4 && !v6) throw new CniError(CniCode.Internal, "cannot convert: no valid IP addresses");
  for (const [key, ip, fam] of [["ip4", v4, 4], ["ip6", v6, 6]] as const) {
    if (!ip) continue;
    const c: Json = { ip: ip.address };
    if (ip.gateway) c.gateway = ip.gateway;
    const routes = (r.routes ?? []).filter((rt) => ipFamily(rt.dst) === fam).map((rt) => routeOut(rt, false));
    if (routes.length) c.routes = routes;
    out[key] = c;
  }
  out.dns = dnsOut(r.dns);
  return out;
}

function formatCurrent(r: Result, version: string): Json {
  const full = resultFamily(version) === "1x";
  const out: Json = { cniVersion: version };
  if (r.interfaces?.length) out.interfaces = r.interfaces.map((i) => ifaceOut(i, full));
  if (r.ips?.length) {
    out.ips = r.ips.map((ip) => {
      const o: Json = {};
      if (!full) o.version = ipFamily(ip.address) === 4 ? "4" : "6";
      if (ip.interface !== undefined) o.interface = ip.interface;
      o.address = ip.address;
      if (ip.gateway) o.gateway = ip.gateway;
      return o;
    });
  }
  if (r.routes?.length) out.routes = r.routes.map((rt) => routeOut(rt, true));
  const dns = dnsOut(r.dns);
  // 0.3.x/0.4.0 always carry `dns` (Go's struct field has no omitempty effect); 1.x omits it when empty.
  if (!full || Object.keys(dns).length) out.dns = dns;
  return out;
}

/**
 * The result as the JSON object of `version`'s family.
 * @throws {CniError} when the result cannot be expressed in that version (0.x without any IP)
 */
export function formatResult(r: Result, version: string): Json {
  return resultFamily(version) === "020" ? format020(r, version) : formatCurrent(r, version);
}
