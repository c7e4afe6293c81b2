// IPv4 arithmetic for the node daemon: CIDRs as (u32 network, prefix length), flannel's subnet keys
// (`10.5.52.0-24`, pkg/subnet/subnet.go MakeSubnetKey / the parser regex) and subnet containment.
// Parsing and printing are shared/ip's; this file keeps the u32 representation the daemon computes with.

import { bigIntToIp, ipToBigInt, prefixMask, tryParseCidr, tryParseIp } from "../../shared/ip/index.ts";

/** An IPv4 network: `ip` is the address as an unsigned 32-bit integer, masked to `len` bits. */
export interface Cidr4 {
  readonly ip: number;
  readonly len: number;
}

/** `"10.1.2.3"` → u32, or undefined when it is not a dotted quad (no leading zeros, no spaces, no hex). */
export function tryParseIp4(s: string): number | undefined {
  if (s.includes(":")) return undefined; // IPv6: not ours (and shared/ip would load its IPv6 parser)
  const ip = tryParseIp(s);
  return ip ? Number(ipToBigInt(ip.address)) : undefined;
}

export function formatIp4(n: number): string {
  return bigIntToIp(BigInt(n >>> 0), 4);
}

export function mask(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}

/** `"10.1.0.0/16"` → Cidr4 masked to its prefix (host bits dropped, as Go's ParseCIDR does), or undefined. */
export function tryParseCidr4(s: string): Cidr4 | undefined {
  if (s.includes(":")) return undefined;
  const c = tryParseCidr(s);
  return c ? { ip: Number(ipToBigInt(c.ip) & prefixMask(4, c.prefix)), len: c.prefix } : undefined;
}

export function formatCidr4(c: Cidr4): string {
  return `${formatIp4(c.ip)}/${c.len}`;
}

/** The number of addresses in `c`. */
export function size(c: Cidr4): number {
  return 2 ** (32 - c.len);
}

export function containsIp(c: Cidr4, ip: number): boolean {
  return ((ip & mask(c.len)) >>> 0) === c.ip;
}

/** Whether `inner` lies entirely inside `outer`. */
export function containsCidr(outer: Cidr4, inner: Cidr4): boolean {
  return inner.len >= outer.len && containsIp(outer, inner.ip);
}

export function overlaps(a: Cidr4, b: Cidr4): boolean {
  return containsIp(a, b.ip) || containsIp(b, a.ip);
}

export function sameCidr(a: Cidr4, b: Cidr4): boolean {
  return a.ip === b.ip && a.len === b.len;
}

/** flannel's etcd key suffix for a subnet: `10.5.52.0-24`. */
export function subnetKey(c: Cidr4): string {
  return `${formatIp4(c.ip)}-${c.len}`;
}

/** The inverse of {@link subnetKey}; a dual-stack key (`…&fd00::-64`) yields its IPv4 part. Undefined if malformed. */
export function tryParseSubnetKey(key: string): Cidr4 | undefined {
  const m = /^(\d+\.\d+\.\d+\.\d+)-(\d+)(?:&([a-f\d:]+)-(\d+))?$/.exec(key);
  if (!m) return undefined;
  const c = tryParseCidr4(`${m[1]}/${m[2]}`);
  // a key whose address has host bits set is not one flannel writes
  return c && formatIp4(c.ip) === m[1] ? c : undefined;
}
