// `weft ls`, `weft ipam ls`, `weft ipam release`: what this node's cache and host-local stores say, checked
// against the kernel. A reservation is stale when nothing alive owns it: no cache entry and no live netns, or a
// cache entry whose netns is gone (the leaked-address problem, cni-notes §4 #1-#3). Release takes host-local's
// flock on <dataDir>/<network>/lock, as the plugin does, so it never races an ADD.
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import { type CacheEntry, listCache, scanConfDir } from "../../shared/libcni/index.ts";
import { LOCK_EX, LOCK_UN, flock } from "../../shared/sys/libc.ts";
import { CliError, type Ctx, DEFAULT_IPAM_DIR, printJson } from "./context.ts";
import { cnitoolIdsOfNamedNetns, liveness, type Liveness } from "./liveness.ts";

function resultIps(result: Record<string, unknown> | undefined): string[] {
  if (!result) return [];
  const out: string[] = [];
  if (Array.isArray(result.ips)) for (const ip of result.ips as { address?: unknown }[]) if (typeof ip.address === "string") out.push(ip.address);
  for (const k of ["ip4", "ip6"]) {
    const v = result[k] as { ip?: unknown } | undefined;
    if (typeof v?.ip === "string") out.push(v.ip);
  }
  return out;
}

export function cmdLs(ctx: Ctx, o: { json?: boolean }): void {
  const rows: Record<string, unknown>[] = [];
  const corrupt: { file: string; error: string }[] = [];
  for (const c of listCache(ctx.cacheDir)) {
    if (c.status === "corrupt") {
      ctx.warn(`ignoring the corrupt cache file ${c.file}: ${c.reason}`);
      corrupt.push({ file: c.file, error: c.reason });
      continue;
    }
    if (c.status !== "ok") continue;
    const e = c.entry;
    rows.push({ network: e.networkName, containerId: e.containerId, ifname: e.ifName, netns: e.netns ?? null, ips: resultIps(e.result), state: liveness(e.netns, e.ifName), cacheFile: c.file });
  }
  if (o.json) {
    printJson(ctx, { attachments: rows, corrupt });
    return;
  }
  if (rows.length === 0) {
    ctx.out(`no attachments in ${join(ctx.cacheDir, "results")}`);
    return;
  }
  table(ctx, ["NETWORK", "CONTAINER", "IFNAME", "STATE", "IPS", "NETNS"], rows.map((r) => [r.network, r.containerId, r.ifname, r.state, (r.ips as string[]).join(",") || "-", r.netns ?? "-"].map(String)));
}

function table(ctx: Ctx, head: string[], rows: string[][]): void {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(w[i] ?? 0))).join("  ");
  ctx.out([line(head), ...rows.map(line)].join("\n"));
}

export interface Reservation {
  network: string;
  ip: string;
  file: string;
  containerId: string;
  ifname: string;
  /** "live" or "stale"; the reason says why. */
  state: "live" | "stale";
  reason: string;
  netns?: string;
}

/** host-local data dirs to look in: --data-dir (default /var/lib/cni/networks) plus any ipam.dataDir in the configs. */
export function ipamDirs(ctx: Ctx, dataDir: string | undefined): string[] {
  const dirs = new Set<string>([dataDir ?? DEFAULT_IPAM_DIR]);
  if (dataDir === undefined) {
    for (const f of scanConfDir(ctx.confDir)) {
      for (const p of f.list?.plugins ?? []) {
        const ipam = p.raw.ipam as { dataDir?: unknown } | undefined;
        if (typeof ipam?.dataDir === "string") dirs.add(ipam.dataDir);
      }
    }
  }
  return [...dirs];
}

function owner(text: string): { containerId: string; ifname: string } {
  const [cid = "", ifname = ""] = text.trim().split(/\r?\n/);
  return { containerId: cid.trim(), ifname: ifname.trim() };
}

/** Every host-local reservation of `network` (or of all networks) with its owner and whether it is stale. */
export function reservations(ctx: Ctx, dirs: string[], network?: string): Reservation[] {
  const cache = new Map<string, CacheEntry>();
  for (const c of listCache(ctx.cacheDir)) {
    if (c.status === "ok") cache.set(`${c.entry.networkName}\0${c.entry.containerId}\0${c.entry.ifName}`, c.entry);
    if (c.status === "corrupt") ctx.warn(`ignoring the corrupt cache file ${c.file}: ${c.reason}`);
  }
  const byCnitoolId = cnitoolIdsOfNamedNetns();
  const out: Reservation[] = [];
  for (const dir of dirs) {
    let nets: string[];
    try {
      nets = network ? [network] : readdirSync(dir).filter((n) => statSync(join(dir, n)).isDirectory());
    } catch {
      continue;
    }
    for (const net of nets) {
      let files: string[];
      try {
        files = readdirSync(join(dir, net));
      } catch {
        continue;
      }
      for (const f of files.sort()) {
        if (!isIP(f)) continue;
        const file = join(dir, net, f);
        const who = owner(readFileSync(file, "utf8"));
        out.push({ network: net, ip: f, file, ...who, ...judge(net, who, cache, byCnitoolId) });
      }
    }
  }
  return out;
}

function judge(net: string, who: { containerId: string; ifname: string }, cache: Map<string, CacheEntry>, byCnitoolId: Map<string, string>): { state: "live" | "stale"; reason: string; netns?: string } {
  if (!who.containerId) return { state: "stale", reason: "empty reservation file (owned by nobody)" };
  const entry = cache.get(`${net}\0${who.containerId}\0${who.ifname || "eth0"}`) ?? [...cache.values()].find((e) => e.containerId === who.containerId && (!who.ifname || e.ifName === who.ifname));
  if (entry) {
    const l: Liveness = liveness(entry.netns, entry.ifName);
    if (l === "netns-gone" || l === "not-a-netns") return { state: "stale", reason: `cached attachment's netns ${entry.netns} is gone`, netns: entry.netns };
    return { state: "live", reason: l === "alive" ? "attachment alive" : `cached attachment (${l})`, ...(entry.netns ? { netns: entry.netns } : {}) };
  }
  const netns = byCnitoolId.get(who.containerId);
  if (netns) return { state: "live", reason: "no cache entry, but its cnitool netns exists", netns };
  return { state: "stale", reason: "no cache entry and no live netns" };
}

export function cmdIpamLs(ctx: Ctx, network: string | undefined, o: { json?: boolean; dataDir?: string; stale?: boolean }): void {
  let rows = reservations(ctx, ipamDirs(ctx, o.dataDir), network);
  if (o.stale) rows = rows.filter((r) => r.state === "stale");
  if (o.json) {
    printJson(ctx, { reservations: rows });
    return;
  }
  if (rows.length === 0) {
    ctx.out(`no ${o.stale ? "stale " : ""}reservations${network ? ` for network "${network}"` : ""} in ${ipamDirs(ctx, o.dataDir).join(", ")}`);
    return;
  }
  table(ctx, ["NETWORK", "IP", "CONTAINER", "IFNAME", "STATE", "WHY"], rows.map((r) => [r.network, r.ip, r.containerId || "-", r.ifname || "-", r.state, r.reason]));
}

export function cmdIpamRelease(ctx: Ctx, network: string, ip: string, o: { force?: boolean; dataDir?: string }): void {
  if (!isIP(ip)) throw new CliError(`"${ip}" is not an IP address (give it as host-local names the file, e.g. 10.244.1.5)`);
  const dirs = ipamDirs(ctx, o.dataDir);
  const r = reservations(ctx, dirs, network).find((x) => x.ip === ip || x.ip === normalizeIp(ip));
  if (!r) throw new CliError(`No reservation of ${ip} in network "${network}" (looked in ${dirs.map((d) => join(d, network)).join(", ")}); see "weft ipam ls ${network}"`);
  if (r.state === "live" && !o.force) {
    throw new CliError(`${r.ip} is in use by container ${r.containerId} ${r.ifname} (${r.reason}); pass --force to release it anyway`);
  }
  const lockPath = join(r.file, "..", "lock");
  const fd = openSync(lockPath, existsSync(lockPath) ? "r" : "a");
  try {
    flock(fd, LOCK_EX);
    rmSync(r.file, { force: true });
    flock(fd, LOCK_UN);
  } finally {
    closeSync(fd);
  }
  ctx.out(`released ${r.ip} of network "${network}" (was ${r.containerId || "nobody"}${r.ifname ? ` ${r.ifname}` : ""}, ${r.state}: ${r.reason})`);
}

/** host-local names files with Go's net.IP.String(): compressed lower-case IPv6. */
function normalizeIp(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip;
  }
}
