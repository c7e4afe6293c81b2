// The IP and CIDR text forms flannel reads and writes, parsed and printed as Go's net package does (ParseIP,
// ParseCIDR, IP.String, IPNet.String), so the delegate config matches the reference's byte for byte.
// IPv4-mapped IPv6 and zones are refused: Go prints them in forms no delegate accepts.

export interface Ip {
  family: 4 | 6;
  /** 4 bytes for IPv4, 16 for IPv6. */
  bytes: Uint8Array;
}
export interface Cidr {
  ip: Ip;
  prefix: number;
}

function parseV4(s: string): Uint8Array | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p) || (p.length > 1 && p.startsWith("0"))) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

function parseV6(s: string): Uint8Array | undefined {
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const groups = (h: string): number[] | undefined => {
    if (h === "") return [];
    const out: number[] = [];
    const parts = h.split(":");
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (i === parts.length - 1 && p.includes(".")) {
        const v4 = parseV4(p);
        if (!v4) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined;
        out.push(Number.parseInt(p, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  const fill = 8 - head.length - tail.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return undefined;
  const all = [...head, ...new Array<number>(fill).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

function isV4Mapped(b: Uint8Array): boolean {
  return b.length === 16 && b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
}

/** Why `s` is not an IP address, or undefined when it is one. */
function ipProblem(s: string): string | undefined {
  if (s.includes("%")) return "zones are not allowed";
  if (s.includes(":")) {
    const b = parseV6(s);
    if (!b) return "not an IP address";
    if (isV4Mapped(b)) return "IPv4-mapped IPv6 addresses are not supported: write the IPv4 form";
    return undefined;
  }
  return parseV4(s) ? undefined : "not an IP address";
}

/** @throws {Error} naming the text and what is wrong with it */
export function parseIp(s: string): Ip {
  const problem = ipProblem(s);
  if (problem) throw new Error(`invalid IP address "${s}": ${problem}`);
  return s.includes(":") ? { family: 6, bytes: parseV6(s)! } : { family: 4, bytes: parseV4(s)! };
}

/** @throws {Error} naming the text and what is wrong with it */
export function parseCidr(s: string): Cidr {
  const slash = s.indexOf("/");
  if (slash < 0) throw new Error(`invalid CIDR address "${s}": no "/prefix"`);
  const addr = s.slice(0, slash);
  const pfx = s.slice(slash + 1);
  const problem = ipProblem(addr);
  if (problem) throw new Error(`invalid CIDR address "${s}": ${problem}`);
  const ip = parseIp(addr);
  const max = ip.family === 4 ? 32 : 128;
  if (!/^(0|[1-9]\d{0,2})$/.test(pfx) || Number(pfx) > max) throw new Error(`invalid CIDR address "${s}": the prefix length must be 0 to ${max}`);
  return { ip, prefix: Number(pfx) };
}

/** The network of `c`: host bits cleared. */
export function networkOf(c: Cidr): Cidr {
  const bytes = new Uint8Array(c.ip.bytes);
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, c.prefix - 8 * i));
    bytes[i]! &= (0xff << (8 - keep)) & 0xff;
  }
  return { ip: { family: c.ip.family, bytes }, prefix: c.prefix };
}

/** Go's IP.String(): dotted quad; IPv6 lower-case with the first longest run of two or more zero groups as "::". */
export function formatIp(ip: Ip): string {
  const b = ip.bytes;
  if (ip.family === 4) return Array.from(b).join(".");
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[2 * i]! << 8) | b[2 * i + 1]!);
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(":");
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.ip)}/${c.prefix}`;
}

export function sameCidr(a: Cidr, b: Cidr): boolean {
  return a.prefix === b.prefix && a.ip.family === b.ip.family && a.ip.bytes.every((x, i) => x === b.ip.bytes[i]);
}
