// A throwaway flannel "node" for the reliability suite: a host netns, a CNI_PATH whose plugins are weft's links,
// subnet.env, and the stock kube-flannel conflist (flannel with delegate {hairpinMode, isDefaultGateway}, then
// portmap with the portMappings capability) run the way libcni runs a list; only the state paths (subnetFile,
// flannel's dataDir, host-local's dataDir) are moved into the node's temp dir. probePod() reads back everything a
// pod can leave: saved delegate config, reservation, veths on both sides, iptables chains and rules.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runIn, type TestNetns } from "../helpers/netns.ts";
import { WEFT_BIN } from "../helpers/plugin.ts";
import { spawnPlugin, type Proc, type Trial } from "./harness.ts";

export const NETWORK = "cbr0";
export const SUBNET_ENV = "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n";
/** kube-flannel.yml's cni-conf.json, verbatim. */
export const STOCK_CONFLIST = {
  name: "cbr0",
  cniVersion: "0.3.1",
  plugins: [
    { type: "flannel", delegate: { hairpinMode: true, isDefaultGateway: true } },
    { type: "portmap", capabilities: { portMappings: true } },
  ],
};
export const PLUGINS = ["flannel", "bridge", "host-local", "portmap", "loopback"] as const;

export interface Node {
  host: TestNetns;
  root: string;
  /** CNI_PATH: links to build/bin/weft under every plugin name. */
  bin: string;
  subnetFile: string;
  /** flannel's dataDir (saved delegate configs). */
  dataDir: string;
  /** host-local's dataDir. */
  ipamDir: string;
  /** The per-plugin stdin libcni would build for `plugin` (index in the list). */
  conf(index: 0 | 1, extra?: { prevResult?: unknown; portMappings?: unknown[] }): Record<string, unknown>;
}

export function makeNode(trial: Trial, label: string, o: { binDir?: string } = {}): Node {
  const host = trial.netns(`${label}-node`);
  runIn(host.name, ["ip", "link", "set", "lo", "up"]);
  const root = trial.dir(label);
  const bin = join(root, "bin");
  mkdirSync(bin);
  for (const p of PLUGINS) symlinkSync(join(o.binDir ?? WEFT_BIN, "weft"), join(bin, p));
  const subnetFile = join(root, "subnet.env");
  writeFileSync(subnetFile, SUBNET_ENV);
  const dataDir = join(root, "flannel");
  const ipamDir = join(root, "networks");
  const conf: Node["conf"] = (index, extra = {}) => {
    const plugin: Record<string, unknown> = { ...STOCK_CONFLIST.plugins[index] };
    if (index === 0) Object.assign(plugin, { subnetFile, dataDir, ipam: { dataDir: ipamDir } });
    // libcni: the list's name and version, prevResult, and runtimeConfig for the declared capabilities only.
    const c: Record<string, unknown> = { ...plugin, name: STOCK_CONFLIST.name, cniVersion: STOCK_CONFLIST.cniVersion };
    if (extra.prevResult) c.prevResult = extra.prevResult;
    if (index === 1 && extra.portMappings) c.runtimeConfig = { portMappings: extra.portMappings };
    return c;
  };
  return { host, root, bin, subnetFile, dataDir, ipamDir, conf };
}

export interface Pod {
  cid: string;
  netns: TestNetns;
  hostPort: number;
}

export const portMappings = (pod: Pod) => [{ hostPort: pod.hostPort, containerPort: 7777, protocol: "tcp" }];

function runOne(node: Node, pod: Pod, plugin: "flannel" | "portmap", command: string, stdin: unknown, killAfterMs?: number): Promise<Proc> {
  return spawnPlugin({
    binDir: node.bin,
    plugin,
    command,
    stdin: JSON.stringify(stdin),
    cni: { containerId: pod.cid, netns: pod.netns.path, ifname: "eth0", args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${pod.cid}`, path: node.bin },
    hostNetns: node.host.name,
    ...(killAfterMs !== undefined ? { killAfterMs } : {}),
  });
}

export interface ListRun {
  /** Every plugin process that ran, in order. */
  procs: Array<{ plugin: "flannel" | "portmap"; proc: Proc }>;
  /** The list's final result (portmap's) when every plugin succeeded. */
  result?: Record<string, unknown>;
  /** Where a kill landed: the plugin killed, "between" (after one finished, before the next), or none. */
  killed?: "flannel" | "portmap" | "between";
  ms: number;
}

/**
 * ADD of the whole list, as libcni does it: flannel, then portmap with flannel's result as prevResult. With
 * `killAtMs` the runtime "dies" that long after the list started: the running plugin gets SIGKILL and nothing
 * after it runs.
 */
export async function addPod(node: Node, pod: Pod, killAtMs?: number): Promise<ListRun> {
  const t0 = performance.now();
  const left = () => (killAtMs === undefined ? undefined : killAtMs - (performance.now() - t0));
  const run: ListRun = { procs: [], ms: 0 };
  const fl = await runOne(node, pod, "flannel", "ADD", node.conf(0), left());
  run.procs.push({ plugin: "flannel", proc: fl });
  if (fl.signal) return { ...run, killed: "flannel", ms: performance.now() - t0 };
  if (fl.exitCode !== 0) return { ...run, ms: performance.now() - t0 };
  const rest = left();
  if (rest !== undefined && rest <= 0) return { ...run, killed: "between", ms: performance.now() - t0 };
  const pm = await runOne(node, pod, "portmap", "ADD", node.conf(1, { prevResult: fl.json, portMappings: portMappings(pod) }), rest);
  run.procs.push({ plugin: "portmap", proc: pm });
  if (pm.signal) return { ...run, killed: "portmap", ms: performance.now() - t0 };
  return { ...run, ...(pm.exitCode === 0 && pm.json ? { result: pm.json } : {}), ms: performance.now() - t0 };
}

/** DEL of the list, as libcni does it for 0.3.1: reverse order, no prevResult, stop at the first error. */
export async function delPod(node: Node, pod: Pod, killAtMs?: number): Promise<ListRun> {
  const t0 = performance.now();
  const left = () => (killAtMs === undefined ? undefined : killAtMs - (performance.now() - t0));
  const run: ListRun = { procs: [], ms: 0 };
  const pm = await runOne(node, pod, "portmap", "DEL", node.conf(1, { portMappings: portMappings(pod) }), left());
  run.procs.push({ plugin: "portmap", proc: pm });
  if (pm.signal) return { ...run, killed: "portmap", ms: performance.now() - t0 };
  if (pm.exitCode !== 0) return { ...run, ms: performance.now() - t0 };
  const rest = left();
  if (rest !== undefined && rest <= 0) return { ...run, killed: "between", ms: performance.now() - t0 };
  const fl = await runOne(node, pod, "flannel", "DEL", node.conf(0), rest);
  run.procs.push({ plugin: "flannel", proc: fl });
  return { ...run, ...(fl.signal ? { killed: "flannel" as const } : {}), ms: performance.now() - t0 };
}

export const listOk = (r: ListRun) => !r.killed && r.procs.every((p) => p.proc.exitCode === 0);

export function describeRun(r: ListRun): string {
  return r.procs.map((p) => `${p.plugin}: exit ${p.proc.exitCode ?? p.proc.signal} ${p.proc.stdout.trim()} ${p.proc.stderr.trim()}`).join(" | ");
}

// ---- reading state back ------------------------------------------------------------------------------------

/** `CNI-DN-` + 21 hex of SHA-512(network + container ID): the reference's per-container DNAT chain. */
export function dnatChain(cid: string, network = NETWORK): string {
  return `CNI-DN-${createHash("sha512").update(network + cid).digest("hex")}`.slice(0, 28);
}

interface IpLink {
  ifname: string;
  linkinfo?: { info_kind?: string };
}

export function linksOf(ns: string): IpLink[] {
  const r = runIn(ns, ["ip", "-j", "-d", "link", "show"]);
  return r.exitCode === 0 && r.stdout.trim() ? (JSON.parse(r.stdout) as IpLink[]) : [];
}

export const vethsOf = (ns: string) => linksOf(ns).filter((l) => l.linkinfo?.info_kind === "veth").map((l) => l.ifname);

export function natSave(ns: string): string {
  const r = runIn(ns, ["iptables-save", "-t", "nat"]);
  return r.stdout
    .split("\n")
    .filter((l) => !l.startsWith("#"))
    .join("\n");
}

/** host-local reservation files of the network (not lock/last_reserved_ip), with their owners. */
export function reservations(node: Node): Array<{ ip: string; owner: string }> {
  const dir = join(node.ipamDir, NETWORK);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f !== "lock" && !f.startsWith("last_reserved_ip"))
    .map((f) => ({ ip: f, owner: ownerOf(join(dir, f)) }));
}

/** The container ID on a reservation's first line ("" for an empty file). */
function ownerOf(path: string): string {
  try {
    return readFileSync(path, "utf8").split(/\r?\n/)[0] ?? "";
  } catch {
    return "<unreadable>";
  }
}

/** Files in flannel's dataDir (saved configs and any temporaries). */
export function savedFiles(node: Node): string[] {
  return existsSync(node.dataDir) ? readdirSync(node.dataDir) : [];
}

export interface PodState {
  saved: boolean;
  /** Files in flannel's dataDir that are not a saved config (temporaries). */
  strayFlannelFiles: string[];
  reservation: string | undefined;
  /** Reservation files that are not an address owned by a container (empty, temporaries). */
  strayIpamFiles: string[];
  hostVeths: string[];
  podIf: boolean;
  dnatChain: boolean;
  /** iptables-save nat lines naming the container. */
  rules: string[];
}

/** Everything of `pod` visible on the node. `hostVeths` are all veths in the node (trials run one pod at a time). */
export function probePod(node: Node, pod: Pod, nat = natSave(node.host.name)): PodState {
  const files = savedFiles(node);
  const res = reservations(node);
  const chain = dnatChain(pod.cid);
  return {
    saved: files.includes(pod.cid),
    strayFlannelFiles: files.filter((f) => f.startsWith(`.${pod.cid}.`)),
    reservation: res.find((r) => r.owner === pod.cid)?.ip,
    strayIpamFiles: res.filter((r) => !/^\d+\.\d+\.\d+\.\d+$/.test(r.ip) || r.owner === "").map((r) => r.ip),
    hostVeths: vethsOf(node.host.name),
    podIf: linksOf(pod.netns.name).some((l) => l.ifname === "eth0"),
    dnatChain: nat.split("\n").some((l) => l.startsWith(`:${chain} `)),
    // iptables-save prints the comment's quotes escaped: `--comment "name: \"cbr0\" id: \"<cid>\""`.
    rules: nat.split("\n").filter((l) => l.includes(`id: \\"${pod.cid}\\"`) || l.includes(`id: "${pod.cid}"`) || l.includes(chain)),
  };
}

/**
 * Known leaks the suite found whose fix has not landed are tolerated here (reported, not failed). None is open:
 * F1 (flannel killed between writing `<dataDir>/.<cid>.tmp-…` and renaming it left the temporary) was fixed in
 * 4966632, so the switch is off and such a temporary fails the trial.
 */
export const KNOWN = { flannelTemporaries: false };

/** What is left of a pod that should be gone (empty when nothing is); known leaks go to `known` when given. */
export function leftOf(s: PodState, known?: string[]): string[] {
  const out: string[] = [];
  if (s.saved) out.push("saved delegate config");
  if (s.strayFlannelFiles.length) (KNOWN.flannelTemporaries && known ? known : out).push(`F1: flannel temporaries ${s.strayFlannelFiles.join(",")}`);
  if (s.reservation) out.push(`reservation ${s.reservation}`);
  if (s.strayIpamFiles.length) out.push(`stray reservation files ${s.strayIpamFiles.join(",")}`);
  if (s.hostVeths.length) out.push(`host veths ${s.hostVeths.join(",")}`);
  if (s.podIf) out.push("eth0 in the pod");
  if (s.dnatChain) out.push("DNAT chain");
  if (s.rules.length) out.push(`iptables rules: ${s.rules.join(" / ")}`);
  return out;
}

/**
 * Files a killed ADD may have left, checked for completeness: the saved delegate config parses and names its
 * delegate; every reservation is `<cid>\r\n<ifname>` (host-local writes it whole, then links it into place).
 */
export function truncatedFiles(node: Node, pod: Pod): string[] {
  const out: string[] = [];
  const saved = join(node.dataDir, pod.cid);
  if (existsSync(saved)) {
    try {
      const c = JSON.parse(readFileSync(saved, "utf8")) as Record<string, unknown>;
      if (c.type !== "bridge" || c.name !== NETWORK) out.push(`saved config incomplete: ${JSON.stringify(c).slice(0, 80)}`);
    } catch (e) {
      out.push(`saved config truncated: ${(e as Error).message}`);
    }
  }
  const dir = join(node.ipamDir, NETWORK);
  // Only address-named files: host-local's own temporaries (`.weft-reserve-<pid>`) are never read as reservations
  // and are removed by its next run (leftOf reports them if they stay).
  for (const r of reservations(node).filter((x) => /^\d+\.\d+\.\d+\.\d+$/.test(x.ip))) {
    const text = readFileSync(join(dir, r.ip), "utf8");
    if (text !== `${r.owner}\r\neth0`) out.push(`reservation ${r.ip} incomplete: ${JSON.stringify(text)}`);
  }
  return out;
}

/** The step a kill reached, inferred from the state it left (the ADD's order: save → veth → IPAM → portmap). */
export function stepOf(s: PodState, run: ListRun): string {
  const flannelDone = run.procs.some((p) => p.plugin === "flannel" && p.proc.exitCode === 0);
  if (flannelDone) {
    if (run.killed === "between") return "flannel done, portmap not started";
    if (s.dnatChain || s.rules.length) return "portmap: rules partly/fully installed";
    return listOk(run) ? "complete" : "portmap: started, no rule yet";
  }
  if (!s.saved && !s.hostVeths.length && !s.podIf && !s.reservation) return "flannel: before saving the delegate config";
  if (s.saved && !s.hostVeths.length && !s.podIf && !s.reservation) return "flannel: config saved, no veth yet";
  if (!s.reservation) return "bridge: veth made, no reservation yet";
  return "host-local/bridge: address reserved, flannel not finished";
}
