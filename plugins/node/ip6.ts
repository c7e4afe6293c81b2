// IPv6 arithmetic for the node daemon (bigint, on top of shared/ip's parser and RFC 5952 text), and flannel's lease
// keys with their optional IPv6 part: `10.5.52.0-24&fd00:10:0:34::-64` (pkg/subnet/subnet.go MakeSubnetKey and the
// parser regex). Kept private to plugins/node: shared/ip works on text, the allocator wants integers.
import { bigIntToIp, ipToBigInt, prefixMask, tryParseCidr } from "../../shared/ip/index.ts";
import { type Cidr4, subnetKey, tryParseSubnetKey } from "./ip4.ts";

/** An IPv6 network: `ip` is the address as a 128-bit integer, masked to `len` bits. */
export interface Cidr6 {
  readonly ip: bigint;
  readonly len: number;
}

/** `"fd00::/48"` → Cidr6 masked to its prefix, or undefined (IPv4, zones, IPv4-mapped and malformed text refused). */
export function tryParseCidr6(s: string): Cidr6 | undefined {
  const c = tryParseCidr(s);
  if (!c || c.family !== 6) return undefined;
  return { ip: ipToBigInt(c.ip) & prefixMask(6, c.prefix), len: c.prefix };
}

/** `"fd00::1"` → bigint, or undefined when it is not an IPv6 address. */
export function tryParseIp6(s: string): bigint | undefined {
  const c = tryParseCidr6(`${s}/128`);
  return c?.ip;
}

export function formatIp6(n: bigint): string {
  return bigIntToIp(n, 6);
}

export function formatCidr6(c: Cidr6): string {
  return `${formatIp6(c.ip)}/${c.len}`;
}

export function mask6(len: number): bigint {
  return prefixMask(6, len);
}

/** The number of addresses in a /len. */
export function size6(len: number): bigint {
  return 1n << BigInt(128 - len);
}

export function containsIp6(c: Cidr6, ip: bigint): boolean {
  return (ip & mask6(c.len)) === c.ip;
}

export function containsCidr6(outer: Cidr6, inner: Cidr6): boolean {
  return inner.len >= outer.len && containsIp6(outer, inner.ip);
}

export function overlaps6(a: Cidr6, b: Cidr6): boolean {
  return containsIp6(a, b.ip) || containsIp6(b, a.ip);
}

export function sameCidr6(a: Cidr6 | undefined, b: Cidr6 | undefined): boolean {
  return a === undefined || b === undefined ? a === b : a.ip === b.ip && a.len === b.len;
}

/** What names a lease in the store: its IPv4 subnet and, on a dual-stack network, its IPv6 subnet. */
export interface LeaseKey {
  subnet: Cidr4;
  ipv6Subnet?: Cidr6;
}

/** flannel's key suffix: `10.5.52.0-24`, or `10.5.52.0-24&fd00:10:0:34::-64` with an IPv6 subnet. */
export function leaseKey(k: LeaseKey): string {
  return k.ipv6Subnet ? `${subnetKey(k.subnet)}&${formatIp6(k.ipv6Subnet.ip)}-${k.ipv6Subnet.len}` : subnetKey(k.subnet);
}

/** The inverse of {@link leaseKey}; undefined when malformed or not in the canonical form flannel writes. */
export function tryParseLeaseKey(key: string): LeaseKey | undefined {
  const amp = key.indexOf("&");
  const subnet = tryParseSubnetKey(amp < 0 ? key : key.slice(0, amp));
  if (!subnet) return undefined;
  if (amp < 0) return { subnet };
  const m = /^([a-f\d:]+)-(\d{1,3})$/.exec(key.slice(amp + 1));
  const c = m && tryParseCidr6(`${m[1]}/${m[2]}`);
  // host bits set or a non-canonical spelling would give two keys for one subnet
  if (!c || formatIp6(c.ip) !== m[1] || String(c.len) !== m[2]) return undefined;
  return { subnet, ipv6Subnet: c };
}

/** Whether two keys name the same lease. */
export function sameKey(a: LeaseKey, b: LeaseKey): boolean {
  return a.subnet.ip === b.subnet.ip && a.subnet.len === b.subnet.len && sameCidr6(a.ipv6Subnet, b.ipv6Subnet);
}
