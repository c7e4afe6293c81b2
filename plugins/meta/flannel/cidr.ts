// The IP and CIDR text forms flannel reads and writes, with the messages flannel's errors carry. Parsing and
// printing are shared/ip's (strict like Go's ParseIP/ParseCIDR; canonical text is what Go's IP.String and
// IPNet.String print), so the delegate config matches the reference's byte for byte.
// IPv4-mapped IPv6 and zones are refused: Go prints them in forms no delegate accepts.
import { type ParsedCidr, type ParsedIp, tryIpToBytes, tryParseCidr, tryParseIp } from "../../../shared/ip/index.ts";

export type Ip = ParsedIp;
export type Cidr = ParsedCidr;

/** Why `s` is not an IP address, or undefined when it is one. */
function ipProblem(s: string): string | undefined {
  if (s.includes("%")) return "zones are not allowed";
  if (tryParseIp(s)) return undefined;
  if (s.includes(":") && tryIpToBytes(s, { allowMapped: true })) return "IPv4-mapped IPv6 addresses are not supported: write the IPv4 form";
  return "not an IP address";
}

/** @throws {Error} naming the text and what is wrong with it */
export function parseIp(s: string): Ip {
  const ip = tryParseIp(s);
  if (!ip) throw new Error(`invalid IP address "${s}": ${ipProblem(s)}`);
  return ip;
}

/** @throws {Error} naming the text and what is wrong with it; host bits are kept */
export function parseCidr(s: string): Cidr {
  const slash = s.indexOf("/");
  if (slash < 0) throw new Error(`invalid CIDR address "${s}": no "/prefix"`);
  const problem = ipProblem(s.slice(0, slash));
  if (problem) throw new Error(`invalid CIDR address "${s}": ${problem}`);
  const c = tryParseCidr(s);
  if (!c) throw new Error(`invalid CIDR address "${s}": the prefix length must be 0 to ${s.includes(":") ? 128 : 32}`);
  return c;
}

/** The network of `c`: host bits cleared. */
export function networkOf(c: Cidr): Cidr {
  return parseCidr(c.network);
}

/** Go's IP.String(). */
export function formatIp(ip: Ip): string {
  return ip.address;
}

/** Go's IPNet.String() for an address with its host bits kept. */
export function formatCidr(c: Cidr): string {
  return `${c.ip}/${c.prefix}`;
}

export function sameCidr(a: Cidr, b: Cidr): boolean {
  return a.ip === b.ip && a.prefix === b.prefix;
}
