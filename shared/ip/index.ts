// IP address and CIDR math for every plugin: strict parsing, canonical text (what Go's net.IP.String() prints,
// RFC 5952 for IPv6) and bigint arithmetic. IPv4 is parsed here by hand (dotted decimal only); IPv6 groups are
// parsed by the `ip-address` package, loaded lazily so IPv4-only plugins never pay for its import.
//
// Conventions: every function takes and returns textual addresses (or bigints with an explicit family);
// `parseX` throws InvalidIpError, `tryParseX` returns undefined. Rejected on purpose, although some parsers take
// them: surrounding or inner whitespace, a trailing dot, hex/octal octets and leading zeros ("0x1.2.3.4",
// "01.2.3.4"), fewer than four IPv4 parts, IPv6 zones ("fe80::1%eth0"), and IPv4-mapped IPv6 ("::ffff:1.2.3.4",
// which Go silently turns into the IPv4 address: write the IPv4 address instead; only the byte codec for netlink
// takes it, on request). The byte codec (ipToBytes/bytesToIp) serves netlink and flannel; the node daemon's
// u32 helpers build on tryParseIp/tryParseCidr.
import type { Address6 as Address6Type } from "ip-address";

export type IpFamily = 4 | 6;

export interface ParsedIp {
  /** Canonical text: "10.1.2.3", "fd00::1". */
  address: string;
  family: IpFamily;
}

export interface ParsedCidr {
  /** The address as written, canonical (host bits kept): "10.1.2.3" in "10.1.2.3/16". */
  ip: string;
  prefix: number;
  family: IpFamily;
  /** The network in canonical CIDR form: "10.1.0.0/16". */
  network: string;
}

/** A string that is not an IP address (or CIDR) weft accepts; `reason` says why, for a person. */
export class InvalidIpError extends Error {
  readonly input: string;
  readonly reason: string;
  readonly kind: "ip" | "cidr";
  constructor(input: string, reason: string, kind: "ip" | "cidr" = "ip") {
    super(`invalid ${kind === "ip" ? "IP address" : "CIDR"} ${JSON.stringify(input)}: ${reason}`);
    this.name = "InvalidIpError";
    this.input = input;
    this.reason = reason;
    this.kind = kind;
  }
}

const BITS: Record<IpFamily, number> = { 4: 32, 6: 128 };
const MAX: Record<IpFamily, bigint> = { 4: (1n << 32n) - 1n, 6: (1n << 128n) - 1n };
const MAPPED_PREFIX = 0xffffn << 32n; // ::ffff:0:0/96
const MAX_INPUT = 64;

let address6: typeof Address6Type | undefined;
function Address6(): typeof Address6Type {
  // Lazy: only IPv6 input loads the package (~3 ms of start-up when imported eagerly).
  address6 ??= (require("ip-address") as { Address6: typeof Address6Type }).Address6;
  return address6;
}

/** Parses a bare address into [value, family]; returns a reason string when it is not one. */
function parseValue(s: string, allowMapped = false): [bigint, IpFamily] | string {
  if (typeof s !== "string") return "not a string";
  if (s === "") return "empty";
  if (s.length > MAX_INPUT) return "too long";
  if (/\s/.test(s)) return "contains whitespace";
  if (s.includes("/")) return "has a prefix length (a single address is expected)";
  if (s.includes(":")) return parseV6(s, allowMapped);
  return parseV4(s);
}

function parseV4(s: string): [bigint, IpFamily] | string {
  const parts = s.split(".");
  if (parts.length !== 4) return "an IPv4 address has four dot-separated decimal parts";
  let n = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return p === "" ? "an empty part" : `part "${p}" is not a decimal number from 0 to 255`;
    if (p.length > 1 && p.startsWith("0")) return `part "${p}" has a leading zero`;
    const v = Number(p);
    if (v > 255) return `part "${p}" is greater than 255`;
    n = (n << 8n) | BigInt(v);
  }
  return [n, 4];
}

function parseV6(s: string, allowMapped: boolean): [bigint, IpFamily] | string {
  if (s.includes("%")) return "IPv6 zones are not allowed";
  if (!/^[0-9A-Fa-f:.]+$/.test(s)) return "contains characters an IPv6 address cannot have";
  let n: bigint;
  try {
    n = new (Address6())(s).bigInt();
  } catch (e) {
    return (e as Error).message.replace(/\.$/, "");
  }
  if (n >> 32n === 0xffffn && !allowMapped) return `IPv4-mapped IPv6 addresses are not accepted; write the IPv4 address ${v4Text(n & MAX[4])}`;
  // The embedded IPv4 form must itself be strict ("::1.2.3.04" is not accepted).
  const dotted = s.lastIndexOf(":");
  if (s.includes(".")) {
    const v4 = parseV4(s.slice(dotted + 1));
    if (typeof v4 === "string") return `embedded IPv4 address: ${v4}`;
  }
  return [n, 6];
}

function v4Text(n: bigint): string {
  return [24n, 16n, 8n, 0n].map((sh) => String((n >> sh) & 0xffn)).join(".");
}

/** RFC 5952 text, as Go prints it: lower case, the longest run (≥ 2) of zero groups compressed, leftmost on ties. */
function v6Text(n: bigint): string {
  const g: number[] = [];
  for (let i = 7; i >= 0; i--) g.push(Number((n >> BigInt(i * 16)) & 0xffffn));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(":");
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/**
 * Parses a single address (no prefix) into its canonical text and family.
 * @throws {InvalidIpError} when `s` is not an address weft accepts (see the file header)
 */
export function parseIp(s: string): ParsedIp {
  const v = parseValue(s);
  if (typeof v === "string") throw new InvalidIpError(String(s), v);
  return { address: bigIntToIp(v[0], v[1]), family: v[1] };
}

/** parseIp(), or undefined when `s` is not an address. */
export function tryParseIp(s: string): ParsedIp | undefined {
  const v = parseValue(s);
  return typeof v === "string" ? undefined : { address: bigIntToIp(v[0], v[1]), family: v[1] };
}

function parseCidrValue(s: string): { n: bigint; family: IpFamily; prefix: number } | string {
  if (typeof s !== "string") return "not a string";
  const slash = s.indexOf("/");
  if (slash < 0) return "missing the prefix length (\"/24\")";
  const addr = parseValue(s.slice(0, slash));
  if (typeof addr === "string") return addr;
  const p = s.slice(slash + 1);
  const [n, family] = addr;
  if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > BITS[family]) {
    return `prefix length "${p}" is not a number from 0 to ${BITS[family]}`;
  }
  return { n, family, prefix: Number(p) };
}

/**
 * Parses "address/prefix". Host bits may be set; `network` has them cleared.
 * @throws {InvalidIpError}
 */
export function parseCidr(s: string): ParsedCidr {
  const v = parseCidrValue(s);
  if (typeof v === "string") throw new InvalidIpError(String(s), v, "cidr");
  return cidrOf(v);
}

/** parseCidr(), or undefined. */
export function tryParseCidr(s: string): ParsedCidr | undefined {
  const v = parseCidrValue(s);
  return typeof v === "string" ? undefined : cidrOf(v);
}

function cidrOf(v: { n: bigint; family: IpFamily; prefix: number }): ParsedCidr {
  const net = v.n & maskOf(v.family, v.prefix);
  return {
    ip: bigIntToIp(v.n, v.family),
    prefix: v.prefix,
    family: v.family,
    network: `${bigIntToIp(net, v.family)}/${v.prefix}`,
  };
}

function maskOf(family: IpFamily, prefix: number): bigint {
  const host = BigInt(BITS[family] - prefix);
  return MAX[family] ^ ((1n << host) - 1n);
}

/** The family of a textual address or CIDR. @throws {InvalidIpError} */
export function ipFamily(s: string): IpFamily {
  return s.includes("/") ? parseCidr(s).family : parseIp(s).family;
}

/** The address as an unsigned integer. @throws {InvalidIpError} */
export function ipToBigInt(ip: string): bigint {
  const v = parseValue(ip);
  if (typeof v === "string") throw new InvalidIpError(String(ip), v);
  return v[0];
}

/**
 * Canonical text of `n` in `family`.
 * @throws {RangeError} when `n` does not fit the family
 */
export function bigIntToIp(n: bigint, family: IpFamily): string {
  if (n < 0n || n > MAX[family]) throw new RangeError(`${n} is not an IPv${family} address`);
  return family === 4 ? v4Text(n) : v6Text(n);
}

/** True when both are addresses of one family with the same value ("fd00::1" = "FD00:0::1"). */
export function isSameIp(a: string, b: string): boolean {
  const x = parseValue(a);
  const y = parseValue(b);
  return typeof x !== "string" && typeof y !== "string" && x[0] === y[0] && x[1] === y[1];
}

/**
 * Orders two addresses of one family.
 * @throws {InvalidIpError} @throws {RangeError} for addresses of different families
 */
export function compareIps(a: string, b: string): -1 | 0 | 1 {
  const x = parseIp(a);
  const y = parseIp(b);
  if (x.family !== y.family) throw new RangeError(`cannot compare ${a} with ${b}: different address families`);
  const d = ipToBigInt(x.address) - ipToBigInt(y.address);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

/** [first, last] addresses of a CIDR as integers. */
function bounds(cidr: string): { first: bigint; last: bigint; family: IpFamily; prefix: number } {
  const c = parseCidr(cidr);
  const mask = maskOf(c.family, c.prefix);
  const first = ipToBigInt(c.ip) & mask;
  return { first, last: first | (MAX[c.family] ^ mask), family: c.family, prefix: c.prefix };
}

/** True when `ip` lies inside `cidr` (same family only). @throws {InvalidIpError} */
export function containsIp(cidr: string, ip: string): boolean {
  const b = bounds(cidr);
  const v = parseIp(ip);
  if (v.family !== b.family) return false;
  const n = ipToBigInt(v.address);
  return n >= b.first && n <= b.last;
}

/** True when the two networks share an address (different families never overlap). @throws {InvalidIpError} */
export function cidrsOverlap(a: string, b: string): boolean {
  const x = bounds(a);
  const y = bounds(b);
  return x.family === y.family && x.first <= y.last && y.first <= x.last;
}

/**
 * The address after `ip`.
 * @throws {InvalidIpError} @throws {RangeError} after the family's last address
 */
export function nextIp(ip: string): string {
  const { address, family } = parseIp(ip);
  return bigIntToIp(ipToBigInt(address) + 1n, family);
}

/**
 * The address before `ip`.
 * @throws {InvalidIpError} @throws {RangeError} before 0.0.0.0 / ::
 */
export function prevIp(ip: string): string {
  const { address, family } = parseIp(ip);
  return bigIntToIp(ipToBigInt(address) - 1n, family);
}

/** The network address of a CIDR ("10.1.2.3/16" → "10.1.0.0"). @throws {InvalidIpError} */
export function networkAddress(cidr: string): string {
  const b = bounds(cidr);
  return bigIntToIp(b.first, b.family);
}

/** The last address of a CIDR: the IPv4 broadcast address, or IPv6's all-ones host. @throws {InvalidIpError} */
export function broadcastAddress(cidr: string): string {
  const b = bounds(cidr);
  return bigIntToIp(b.last, b.family);
}

/**
 * The first address a host may use: network + 1, except in IPv4 /31 and /32 and IPv6 /127 and /128, where
 * every address is usable (RFC 3021). @throws {InvalidIpError}
 */
export function firstHost(cidr: string): string {
  const b = bounds(cidr);
  return bigIntToIp(b.last - b.first < 2n ? b.first : b.first + 1n, b.family);
}

/**
 * The last address a host may use: broadcast − 1 for IPv4, the last address for IPv6 (no broadcast; what
 * host-local uses as its default rangeEnd); every address in /31, /32, /127, /128. @throws {InvalidIpError}
 */
export function lastHost(cidr: string): string {
  const b = bounds(cidr);
  return bigIntToIp(b.family === 4 && b.last - b.first >= 2n ? b.last - 1n : b.last, b.family);
}

/** "10.1.2.3/16" → "10.1.0.0/16" (network form, canonical text). @throws {InvalidIpError} */
export function canonicalCidr(cidr: string): string {
  return parseCidr(cidr).network;
}

/** Number of addresses in the CIDR. @throws {InvalidIpError} */
export function cidrSize(cidr: string): bigint {
  const b = bounds(cidr);
  return b.last - b.first + 1n;
}

/** Mask as an integer of the family's width (prefix 24 → 0xffffff00). */
export function prefixMask(family: IpFamily, prefix: number): bigint {
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > BITS[family]) throw new RangeError(`prefix ${prefix} is out of range for IPv${family}`);
  return maskOf(family, prefix);
}

/** Width of a family's addresses in bits. */
export function familyBits(family: IpFamily): number {
  return BITS[family];
}

/** An address as network-order bytes: 4 for IPv4, 16 for IPv6. */
export interface IpBytes {
  family: IpFamily;
  bytes: Uint8Array;
}

export interface IpBytesOptions {
  /** Accept IPv4-mapped IPv6 ("::ffff:1.2.3.4") as its 16 bytes instead of refusing it (netlink hands text to the kernel as written). */
  allowMapped?: boolean;
}

function toBytes(n: bigint, family: IpFamily): Uint8Array {
  const out = new Uint8Array(BITS[family] / 8);
  for (let i = out.length - 1; i >= 0; i--, n >>= 8n) out[i] = Number(n & 0xffn);
  return out;
}

/** ipToBytes(), or undefined when `s` is not an address. */
export function tryIpToBytes(s: string, opts: IpBytesOptions = {}): IpBytes | undefined {
  const v = parseValue(s, opts.allowMapped);
  return typeof v === "string" ? undefined : { family: v[1], bytes: toBytes(v[0], v[1]) };
}

/**
 * Parses a single address (the same strict rules as parseIp) into its network-order bytes.
 * @throws {InvalidIpError}
 */
export function ipToBytes(s: string, opts: IpBytesOptions = {}): IpBytes {
  const v = parseValue(s, opts.allowMapped);
  if (typeof v === "string") throw new InvalidIpError(String(s), v);
  return { family: v[1], bytes: toBytes(v[0], v[1]) };
}

/**
 * Canonical text of 4 or 16 network-order bytes. Never refuses what the kernel reports: IPv4-mapped IPv6 prints
 * as "::ffff:1.2.3.4" (RFC 5952 section 5), unlike bigIntToIp, which prints every IPv6 value in hex groups.
 * @throws {RangeError} for any other length
 */
export function bytesToIp(b: Uint8Array): string {
  if (b.length !== 4 && b.length !== 16) throw new RangeError(`${b.length} bytes are not an IP address (4 or 16 are)`);
  let n = 0n;
  for (const x of b) n = (n << 8n) | BigInt(x);
  if (b.length === 4) return v4Text(n);
  return n >> 32n === 0xffffn ? `::ffff:${v4Text(n & MAX[4])}` : v6Text(n);
}
