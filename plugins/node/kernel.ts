// The node daemon's only kernel access: the uplink, the VXLAN device and its address, and the routes/neighbours/FDB
// entries of plan.ts. Reads are `ip -j`/`bridge -j` dumps; writes go in as ONE `ip -batch`/`bridge -batch` request
// stream per kind (never one exec per entry). This stands in for shared/netlink's `batch()` until that lands
// (see the report in issue 10); the interface is what the daemon depends on.
import type { Changes, FdbEntry, KernelState, NeighEntry, RouteEntry } from "./plan.ts";

export class KernelError extends Error {
  constructor(
    readonly argv: string[],
    readonly exitCode: number,
    readonly stderr: string,
  ) {
    super(`Cannot run "${argv.join(" ")}": exit ${exitCode}: ${stderr.trim().split("\n").slice(0, 5).join(" / ")}`);
    this.name = "KernelError";
  }
}

function run(argv: string[], stdin?: string): string {
  const r = Bun.spawnSync(argv, {
    stdin: stdin === undefined ? "ignore" : Buffer.from(stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  if (r.exitCode !== 0) throw new KernelError(argv, r.exitCode ?? -1, r.stderr.toString());
  return r.stdout.toString();
}

function json<T>(argv: string[]): T {
  const out = run(argv).trim();
  return (out ? JSON.parse(out) : []) as T;
}

export interface LinkInfo {
  index: number;
  name: string;
  mtu: number;
  mac: string;
  up: boolean;
  kind?: string;
  vxlan?: { id: number; local?: string; link?: string; port: number; learning: boolean; gbp: boolean };
  addrs: string[];
}

interface IpLink {
  ifindex: number;
  ifname: string;
  mtu: number;
  address: string;
  flags: string[];
  linkinfo?: { info_kind?: string; info_data?: Record<string, unknown> };
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

function toLink(l: IpLink): LinkInfo {
  const d = l.linkinfo?.info_data;
  return {
    index: l.ifindex,
    name: l.ifname,
    mtu: l.mtu,
    mac: l.address,
    up: l.flags.includes("UP"),
    ...(l.linkinfo?.info_kind ? { kind: l.linkinfo.info_kind } : {}),
    ...(l.linkinfo?.info_kind === "vxlan" && d
      ? {
          vxlan: {
            id: Number(d.id),
            ...(typeof d.local === "string" ? { local: d.local } : {}),
            ...(typeof d.link === "string" ? { link: d.link } : {}),
            port: Number(d.port ?? 0),
            learning: d.learning === true,
            gbp: d.gbp === true,
          },
        }
      : {}),
    addrs: (l.addr_info ?? []).filter((a) => a.family === "inet").map((a) => `${a.local}/${a.prefixlen}`),
  };
}

/** The link called `name` with its IPv4 addresses, or undefined. */
export function findLink(name: string): LinkInfo | undefined {
  const r = Bun.spawnSync(["ip", "-j", "-d", "addr", "show", "dev", name], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) return undefined;
  const l = (JSON.parse(r.stdout.toString() || "[]") as IpLink[])[0];
  return l ? toLink(l) : undefined;
}

/** Every link with its IPv4 addresses. */
export function listLinks(): LinkInfo[] {
  return json<IpLink[]>(["ip", "-j", "-d", "addr", "show"]).map(toLink);
}

/** The interface of the default route, if any. */
export function defaultRouteDev(): string | undefined {
  const routes = json<{ dst: string; dev?: string }[]>(["ip", "-j", "-4", "route", "show", "default"]);
  return routes[0]?.dev;
}

/** Whether `ip route get <ip>` goes out directly (no gateway): DirectRouting's test (flannel pkg/ip DirectRouting). */
export function isDirect(ip: string): boolean {
  try {
    const r = json<{ gateway?: string }[]>(["ip", "-j", "route", "get", ip]);
    return r.length === 1 && r[0]!.gateway === undefined;
  } catch {
    return false;
  }
}

export interface VxlanSpec {
  name: string;
  vni: number;
  local: string;
  dev: string;
  /** 0 = the kernel's default, 8472. */
  port: number;
  gbp: boolean;
  mtu: number;
  /** Re-use this MAC (the one published in our lease) so peers' entries stay valid across a recreate. */
  mac?: string;
}

/** Whether an existing device matches the spec (flannel device.go ensureLink compares these). */
export function vxlanMatches(l: LinkInfo, s: VxlanSpec): boolean {
  const v = l.vxlan;
  return !!v && v.id === s.vni && v.local === s.local && v.link === s.dev && v.port === (s.port || 8472) && !v.learning && v.gbp === s.gbp;
}

export function createVxlan(s: VxlanSpec): void {
  run([
    "ip", "link", "add", s.name, ...(s.mac ? ["address", s.mac] : []), "mtu", String(s.mtu),
    "type", "vxlan", "id", String(s.vni), "local", s.local, "dev", s.dev, "dstport", String(s.port || 8472), "nolearning",
    ...(s.gbp ? ["gbp"] : []),
  ]);
}

export function deleteLink(name: string): void {
  Bun.spawnSync(["ip", "link", "del", name], { stdout: "ignore", stderr: "ignore" });
}

/** Puts exactly `address` (among addresses inside `within`) on the link, and sets it up with `mtu`. */
export function ensureAddrAndUp(o: { name: string; address: string; remove: string[]; mtu: number }): void {
  const lines = o.remove.map((a) => `addr del ${a} dev ${o.name}`);
  lines.push(`addr replace ${o.address} dev ${o.name}`, `link set ${o.name} mtu ${o.mtu} up`);
  run(["ip", "-batch", "-"], lines.join("\n") + "\n");
}

/** The routes, permanent neighbours and FDB entries now in the kernel (unfiltered; plan.ts decides ownership). */
export function readState(vxlanDev: string | undefined): KernelState {
  const routes = json<{ dst: string; gateway?: string; dev?: string; flags?: string[]; protocol?: string }[]>([
    "ip", "-j", "-4", "route", "show", "table", "main",
  ]).flatMap((r): RouteEntry[] =>
    r.gateway && r.dev ? [{ dst: r.dst, gw: r.gateway, dev: r.dev, onlink: (r.flags ?? []).includes("onlink") }] : [],
  );
  let neighs: NeighEntry[] = [];
  let fdb: FdbEntry[] = [];
  if (vxlanDev && findLink(vxlanDev)) {
    neighs = json<{ dst: string; lladdr?: string; state?: string[] }[]>(["ip", "-j", "-4", "neigh", "show", "dev", vxlanDev])
      .filter((n) => n.lladdr && (n.state ?? []).includes("PERMANENT"))
      .map((n) => ({ ip: n.dst, mac: n.lladdr!.toLowerCase() }));
    fdb = json<{ mac: string; dst?: string; state?: string; flags?: string[] }[]>(["bridge", "-j", "fdb", "show", "dev", vxlanDev])
      .filter((f) => f.dst && f.state === "permanent" && (f.flags ?? []).includes("self"))
      .map((f) => ({ mac: f.mac.toLowerCase(), dst: f.dst! }));
  }
  return { routes, neighs, fdb };
}

/**
 * Applies `c` as batched requests: route deletes, then neighbour/FDB changes, then route adds last. With -force a
 * failing line does not stop the rest; the first failure is reported after everything was tried.
 */
export function applyChanges(c: Changes, vxlanDev: string | undefined): void {
  const errors: KernelError[] = [];
  const batch = (tool: "ip" | "bridge", lines: string[]) => {
    if (lines.length === 0) return;
    try {
      run([tool, "-force", "-batch", "-"], lines.join("\n") + "\n");
    } catch (e) {
      errors.push(e as KernelError);
    }
  };
  const route = (r: RouteEntry) => `${r.dst} via ${r.gw} dev ${r.dev}${r.onlink ? " onlink" : ""}`;
  batch("ip", [
    ...c.delRoutes.map((r) => `route del ${route(r)}`),
    ...c.delNeighs.map((n) => `neigh del ${n.ip} dev ${vxlanDev}`),
    ...c.addNeighs.map((n) => `neigh replace ${n.ip} lladdr ${n.mac} dev ${vxlanDev} nud permanent`),
  ]);
  batch("bridge", [
    ...c.delFdb.map((f) => `fdb del ${f.mac} dev ${vxlanDev} dst ${f.dst} self`),
    ...c.addFdb.map((f) => `fdb replace ${f.mac} dev ${vxlanDev} dst ${f.dst} self permanent`),
  ]);
  batch("ip", c.addRoutes.map((r) => `route replace ${route(r)}`));
  if (errors.length > 0) throw errors[0]!;
}

/**
 * Follows link events (`ip -o monitor link`) and calls `onEvent` with each line, until the returned function is
 * called. Used to notice `flannel.<VNI>` being deleted or recreated at once.
 */
export function monitorLinks(onEvent: (line: string) => void): () => void {
  const p = Bun.spawn(["ip", "-o", "monitor", "link"], { stdout: "pipe", stderr: "ignore", stdin: "ignore" });
  void (async () => {
    const dec = new TextDecoder();
    let buf = "";
    try {
      for await (const chunk of p.stdout) {
        buf += dec.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          onEvent(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
        }
      }
    } catch {
      // the process was killed
    }
  })();
  return () => p.kill();
}
