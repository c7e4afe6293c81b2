// Private: the textual forms netlink messages carry as bytes: IPv4/IPv6 addresses, CIDRs and MAC addresses.
// Addresses go through shared/ip's byte codec (strict like Go's net.ParseIP since 1.17; RFC 5952 printing);
// this file adds netlink's conventions: RangeError, IPv4-mapped IPv6 accepted, a bare address as a /32 or /128.

import { bytesToIp, type IpBytes, tryIpToBytes } from "../ip/index.ts";

export type { IpBytes };

/** An address with a prefix length (the host bits are kept: "10.1.2.3/24"). */
export interface CidrBytes extends IpBytes {
  prefixLen: number;
}

/** Parses an IPv4 or IPv6 address (IPv4-mapped IPv6 included), or returns `undefined`. */
export function tryParseIp(s: string): IpBytes | undefined {
  return tryIpToBytes(s, { allowMapped: true });
}

/**
 * Parses an IPv4 or IPv6 address.
 * @throws {RangeError} not an address
 */
export function parseIp(s: string): IpBytes {
  const r = tryParseIp(s);
  if (r === undefined) throw new RangeError(`Invalid IP address "${s}"`);
  return r;
}

/**
 * Parses "addr/len"; a bare address gets the full length (/32, /128).
 * @throws {RangeError} malformed address or prefix length
 */
export function parseCidr(s: string): CidrBytes {
  const slash = s.indexOf("/");
  const ip = tryParseIp(slash === -1 ? s : s.slice(0, slash));
  if (ip === undefined) throw new RangeError(`Invalid CIDR "${s}": bad address`);
  const max = ip.family === 4 ? 32 : 128;
  if (slash === -1) return { ...ip, prefixLen: max };
  const p = s.slice(slash + 1);
  if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > max) {
    throw new RangeError(`Invalid CIDR "${s}": prefix length must be 0..${max}`);
  }
  return { ...ip, prefixLen: Number(p) };
}

/** Formats 4 or 16 bytes as an address (RFC 5952 for IPv6, IPv4-mapped as ::ffff:a.b.c.d). Other lengths become hex. */
export function formatIp(b: Uint8Array): string {
  return b.length === 4 || b.length === 16 ? bytesToIp(b) : Buffer.from(b).toString("hex");
}

/** Formats an address and prefix length: "10.1.2.3/24". */
export function formatCidr(b: Uint8Array, prefixLen: number): string {
  return `${formatIp(b)}/${prefixLen}`;
}

const MAC_RE = /^[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(?:\1[0-9a-fA-F]{2}){4}$/;

/**
 * Parses a 6-byte MAC address written with ":" or "-" separators ("aa:bb:cc:dd:ee:ff").
 * @throws {RangeError} any other form
 */
export function parseMac(s: string): Uint8Array {
  if (!MAC_RE.test(s)) throw new RangeError(`Invalid MAC address "${s}": expected six hex pairs separated by ":"`);
  return Uint8Array.from(s.split(/[:-]/), (x) => parseInt(x, 16));
}

/** Formats link-layer address bytes as lowercase hex pairs joined by ":" ("" for no bytes). */
export function formatMac(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) {
    const x = b[i] as number;
    s += (i === 0 ? "" : ":") + (x < 16 ? "0" : "") + x.toString(16);
  }
  return s;
}
