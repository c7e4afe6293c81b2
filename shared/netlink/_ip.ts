// Private: the textual forms netlink messages carry as bytes: IPv4/IPv6 addresses, CIDRs and MAC addresses.
// Parsing is strict like Go's net.ParseIP since 1.17 (no leading zeros, no hex octets, no zones); IPv6 is
// printed in RFC 5952 form (lowercase, longest zero run compressed, IPv4-mapped as ::ffff:a.b.c.d).

/** An IP address as bytes: 4 for IPv4, 16 for IPv6. */
export interface IpBytes {
  family: 4 | 6;
  bytes: Uint8Array;
}

/** An address with a prefix length (the host bits are kept: "10.1.2.3/24"). */
export interface CidrBytes extends IpBytes {
  prefixLen: number;
}

const V4_RE = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/;
const HEX_GROUP_RE = /^[0-9a-fA-F]{1,4}$/;

function parseV4(s: string): Uint8Array | undefined {
  const m = V4_RE.exec(s);
  if (m === null) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const n = Number(m[i + 1]);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

function parseV6Groups(s: string, out: Uint8Array, at: number): number | undefined {
  // Writes the groups of `s` (no "::" inside) at byte offset `at`; returns the end offset.
  if (s === "") return at;
  const parts = s.split(":");
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i] as string;
    if (i === parts.length - 1 && p.includes(".")) {
      const v4 = parseV4(p);
      if (v4 === undefined || at + 4 > 16) return undefined;
      out.set(v4, at);
      at += 4;
    } else {
      if (!HEX_GROUP_RE.test(p) || at + 2 > 16) return undefined;
      const n = parseInt(p, 16);
      out[at] = n >> 8;
      out[at + 1] = n & 0xff;
      at += 2;
    }
  }
  return at;
}

function parseV6(s: string): Uint8Array | undefined {
  if (!s.includes(":")) return undefined;
  const out = new Uint8Array(16);
  const dbl = s.indexOf("::");
  if (dbl === -1) {
    return parseV6Groups(s, out, 0) === 16 ? out : undefined;
  }
  if (s.indexOf("::", dbl + 1) !== -1) return undefined;
  const head = s.slice(0, dbl);
  const tail = s.slice(dbl + 2);
  const headEnd = parseV6Groups(head, out, 0);
  if (headEnd === undefined) return undefined;
  const tmp = new Uint8Array(16);
  const tailLen = parseV6Groups(tail, tmp, 0);
  if (tailLen === undefined || headEnd + tailLen > 14) return undefined; // "::" stands for at least one group
  out.set(tmp.subarray(0, tailLen), 16 - tailLen);
  return out;
}

/** Parses an IPv4 or IPv6 address, or returns `undefined`. */
export function tryParseIp(s: string): IpBytes | undefined {
  const v4 = parseV4(s);
  if (v4 !== undefined) return { family: 4, bytes: v4 };
  const v6 = parseV6(s);
  if (v6 !== undefined) return { family: 6, bytes: v6 };
  return undefined;
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

/** Formats 4 or 16 bytes as an address (RFC 5952 for IPv6). Other lengths become hex. */
export function formatIp(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length !== 16) return Buffer.from(b).toString("hex");
  let mapped = true;
  for (let i = 0; i < 10; i++) if (b[i] !== 0) mapped = false;
  if (mapped && b[10] === 0xff && b[11] === 0xff) return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push(((b[i] as number) << 8) | (b[i + 1] as number));
  // longest run of zero groups, at least two long, first one on a tie
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
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(":");
  if (best === -1) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
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
