// IPv4 arithmetic for the node daemon: CIDRs as (u32 network, prefix length), flannel's subnet keys
// (`10.5.52.0-24`, pkg/subnet/subnet.go MakeSubnetKey / the parser regex) and subnet containment.

/** An IPv4 network: `ip` is the address as an unsigned 32-bit integer, masked to `len` bits. */
export interface Cidr4 {
  readonly ip: number;
  readonly len: number;
}

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** `"10.1.2.3"` → u32, or undefined when it is not a dotted quad (no leading zeros, no spaces, no hex). */
export function tryParseIp4(s: string): number | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!OCTET.test(p)) return undefined;
    n = n * 256 + Number(p);
  }
  return n >>> 0;
}

export function formatIp4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

export function mask(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}

/** `"10.1.0.0/16"` → Cidr4 masked to its prefix (host bits dropped, as Go's ParseCIDR does), or undefined. */
export function tryParseCidr4(s: string): Cidr4 | undefined {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(s);
  if (!m) return undefined;
  const ip = tryParseIp4(m[1]!);
  const len = Number(m[2]);
  if (ip === undefined || len > 32 || String(len) !== m[2]) return undefined;
  return { ip: (ip & mask(len)) >>> 0, len };
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
