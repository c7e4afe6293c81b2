// The machinery of the hostile-input properties (hostile.test.ts): a sandbox per plugin (host and pod netns,
// data directories under one root, an empty cwd), one plugin run under strace with before/after snapshots, and
// the checks: one JSON document on stdout (a result, or an error object when the exit code is not 0), nothing
// left after a failure (or after ADD + DEL), and no file written, created, renamed or removed outside the root.
// A case is plain data with placeholders (@ROOT@, @POD@, @BIN@) so a failing one can be kept in regressions.json.
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runIn, type TestNetns } from "../helpers/netns.ts";
import { WEFT_BIN } from "../helpers/plugin.ts";
import { BASE_PATH, spawnPlugin, type Proc, type Trial } from "./harness.ts";
import { PLUGINS, SUBNET_ENV } from "./node.ts";

export type PluginName = (typeof PLUGINS)[number];

/** One generated (or recorded) input. Strings may hold @ROOT@, @POD@ and @BIN@. */
export interface Case {
  plugin: PluginName;
  /** stdin, verbatim. */
  stdin: string;
  /** CNI_* variables; absent ones are not set. */
  env: Record<string, string>;
  note?: string;
}

export interface Sandbox {
  host: TestNetns;
  pod: TestNetns;
  root: string;
  bin: string;
  cwd: string;
  /** Where the plugins keep state: everything under it belongs to the run. */
  data: string;
  baseline: Snapshot;
}

export function makeSandbox(trial: Trial, label: string): Sandbox {
  const host = trial.netns(`${label}-h`);
  const pod = trial.netns(`${label}-p`);
  runIn(host.name, ["ip", "link", "set", "lo", "up"]);
  const root = trial.dir(`hostile-${label}`);
  const bin = join(root, "bin");
  const cwd = join(root, "cwd");
  const data = join(root, "data");
  for (const d of [bin, cwd, data, join(root, "mnt", "netns")]) mkdirSync(d, { recursive: true });
  ensureDefaults(data);
  for (const p of PLUGINS) symlinkSync(join(WEFT_BIN, "weft"), join(bin, p));
  writeFileSync(join(root, "subnet.env"), SUBNET_ENV);
  const sb = { host, pod, root, bin, cwd, data } as Sandbox;
  sb.baseline = snapshot(sb);
  return sb;
}

/** The plugins' default state directories, bind-mounted over /var/lib/cni and /run/flannel (see runTraced). */
function ensureDefaults(data: string): void {
  for (const d of ["default-var-lib-cni", "default-run-flannel"]) mkdirSync(join(data, d), { recursive: true });
}

export function expand(s: string, sb: Sandbox): string {
  return s.replaceAll("@ROOT@", sb.root).replaceAll("@POD@", sb.pod.path).replaceAll("@BIN@", sb.bin);
}

// ---- snapshots ---------------------------------------------------------------------------------------------

export interface Snapshot {
  hostLinks: string[];
  hostAddrs: string[];
  podLinks: string[];
  podAddrs: string[];
  iptables: string[];
  files: string[];
}

/** One process per namespace: `ip -j -d addr` gives links (kind, flags) and addresses at once; iptables only on the host. */
const SNAP_HOST = `ip -j -d addr show; echo @@; iptables-save 2>/dev/null; ip6tables-save 2>/dev/null`;
const SNAP_POD = `ip -j -d addr show`;

interface JLink {
  ifname: string;
  flags?: string[];
  linkinfo?: { info_kind?: string };
  addr_info?: Array<{ local: string; prefixlen: number }>;
}

function netnsState(ns: string, withIptables: boolean): { links: string[]; addrs: string[]; iptables: string[] } {
  const out = runIn(ns, ["sh", "-c", withIptables ? SNAP_HOST : SNAP_POD]).stdout.split("@@\n");
  const parsed = JSON.parse(out[0]?.trim() || "[]") as JLink[];
  const links = parsed.map((l) => `${l.ifname}:${l.linkinfo?.info_kind ?? "-"}:${l.flags?.includes("UP") ? "up" : "down"}`);
  const addrs = parsed.flatMap((l) => (l.addr_info ?? []).map((a) => `${l.ifname}:${a.local}/${a.prefixlen}`));
  const iptables = (out[1] ?? "")
    .split("\n")
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => l.replace(/\[\d+:\d+\]/, ""));
  return { links: links.sort(), addrs: addrs.sort(), iptables };
}

function listTree(dir: string, prefix = ""): string[] {
  let out: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const n of names.sort()) {
    const p = join(dir, n);
    const rel = `${prefix}${n}`;
    let isDir = false;
    try {
      isDir = statSync(p).isDirectory();
    } catch {}
    out.push(isDir ? `${rel}/` : rel);
    if (isDir) out = out.concat(listTree(p, `${rel}/`));
  }
  return out;
}

export function snapshot(sb: Sandbox): Snapshot {
  const h = netnsState(sb.host.name, true);
  const p = netnsState(sb.pod.name, false);
  return { hostLinks: h.links, hostAddrs: h.addrs, podLinks: p.links, podAddrs: p.addrs, iptables: h.iptables, files: [...listTree(sb.data).map((f) => `data/${f}`), ...listTree(sb.cwd).map((f) => `cwd/${f}`)] };
}

/**
 * What `after` has that the baseline does not, minus what the reference also keeps on purpose: bridges and their
 * addresses (shared by every pod), portmap's shared chains, host-local's `lock` and `last_reserved_ip.N`, and
 * directories.
 */
export function unexpected(base: Snapshot, after: Snapshot): string[] {
  const bridges = new Set(after.hostLinks.filter((l) => l.split(":")[1] === "bridge").map((l) => l.split(":")[0]));
  const linkName = (l: string) => l.split(":")[0]!;
  const baseHostNames = new Set(base.hostLinks.map(linkName));
  const basePodLinks = new Set(base.podLinks);
  const out: string[] = [];
  for (const l of after.hostLinks) if (!baseHostNames.has(linkName(l)) && !bridges.has(linkName(l))) out.push(`host link ${l}`);
  for (const a of after.hostAddrs) if (!base.hostAddrs.includes(a) && !bridges.has(a.split(":")[0]!)) out.push(`host address ${a}`);
  for (const l of after.podLinks) if (!basePodLinks.has(l)) out.push(`pod link ${l}`);
  // lo keeps 127.0.0.1/::1 once it has been up (loopback DEL only sets it down, as the reference does).
  for (const a of after.podAddrs) if (!base.podAddrs.includes(a) && !a.startsWith("lo:")) out.push(`pod address ${a}`);
  const sharedChain = /CNI-HOSTPORT-(DNAT|SETMARK|MASQ)\b/;
  for (const r of after.iptables) if (!base.iptables.includes(r) && !sharedChain.test(r) && !/^\*|^COMMIT$|^:(PREROUTING|INPUT|OUTPUT|POSTROUTING|FORWARD) /.test(r)) out.push(`iptables ${r}`);
  for (const f of after.files) if (!base.files.includes(f) && !f.endsWith("/") && !/(^|\/)(lock|last_reserved_ip\.\d+)$/.test(f)) out.push(`file ${f}`);
  return out;
}

/** Removes everything a run left: non-lo links on both sides, iptables, data and cwd contents. */
export function reset(sb: Sandbox): void {
  const script = `for l in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1); do [ "$l" = lo ] || ip link del "$l" 2>/dev/null; done
for t in iptables ip6tables; do for tb in nat filter mangle; do $t -t $tb -F 2>/dev/null; $t -t $tb -X 2>/dev/null; done; done; ip link set lo down`;
  runIn(sb.host.name, ["sh", "-c", script]);
  runIn(sb.host.name, ["ip", "link", "set", "lo", "up"]);
  runIn(sb.pod.name, ["sh", "-c", script]);
  for (const d of [sb.data, sb.cwd]) for (const f of readdirSync(d)) rmSync(join(d, f), { recursive: true, force: true });
  ensureDefaults(sb.data);
}

// ---- one run -----------------------------------------------------------------------------------------------

const TRACED = "openat,open,creat,mkdir,mkdirat,rename,renameat,renameat2,link,linkat,unlink,unlinkat,symlink,symlinkat,rmdir,truncate,chmod,fchmodat,chown,fchownat,mknod,mknodat";
/**
 * Paths a plugin may write besides the run's root: the default state directories (/var/lib/cni, /run/flannel: in
 * the run's private mount namespace these are the run's own directories), procfs/sysfs of its netns, /dev/null,
 * iptables' lock and weft's own iptables lock (/run/weft/iptables.lock, shared/iptables/lock.ts).
 */
const ALLOWED_OUTSIDE = [/^\/var\/lib\/cni(\/|$)/, /^\/run\/flannel(\/|$)/, /^\/run\/weft(\/iptables\.lock)?$/, /^\/proc\//, /^\/sys\//, /^\/dev\/null$/, /^\/run\/xtables\.lock$/];

/**
 * The run's private mount namespace: /run and /var/lib are fresh tmpfs there (the test namespaces in /run/netns are
 * bound back in), /var/lib/cni and /run/flannel are bind mounts of the run's own directories. So a config that
 * falls back to a default path (no dataDir, no subnetFile) writes into the sandbox, never into the machine.
 */
const PRIVATE_MOUNTS = `set -e
R="$1"
mount --rbind /run/netns "$R/mnt/netns"
mount -t tmpfs -o mode=0755 weft-rel /run
mkdir -p /run/netns /run/flannel /run/weft
mount --rbind "$R/mnt/netns" /run/netns
mount -t tmpfs -o mode=0755 weft-rel /var/lib
mkdir -p /var/lib/cni
mount --bind "$R/data/default-var-lib-cni" /var/lib/cni
mount --bind "$R/data/default-run-flannel" /run/flannel
shift
exec ip netns exec "$@"`;

/** Writing syscalls outside `root` found in an strace -f log. */
export function writesOutside(trace: string, root: string): string[] {
  const out: string[] = [];
  for (const line of trace.split("\n")) {
    const m = /^(?:\d+\s+)?(\w+)\((.*)\)\s+=\s+(-?\d+)/.exec(line);
    if (!m) continue;
    const [, call, args] = m as unknown as [string, string, string];
    if ((call === "openat" || call === "open") && !/O_WRONLY|O_RDWR|O_CREAT|O_TRUNC/.test(args)) continue;
    for (const p of args.matchAll(/"((?:[^"\\]|\\.)*)"/g)) {
      const path = p[1]!;
      if (!path.startsWith("/")) {
        if (call.endsWith("at") && /^AT_FDCWD/.test(args)) out.push(`${call} relative "${path}" (cwd is the run's)`);
        continue;
      }
      if (path === root || path.startsWith(`${root}/`) || ALLOWED_OUTSIDE.some((r) => r.test(path))) continue;
      out.push(`${call}(${args.slice(0, 160)})`);
    }
  }
  // Relative writes land in the run's own cwd (under root): only report those if they escape with "..".
  return out.filter((o) => !o.includes("relative") || o.includes('".."') || o.includes("../"));
}

export interface RunOutcome {
  proc: Proc;
  command: string;
  problems: string[];
  /** Violations explained by a known, reported issue (README "Findings"): logged, not failed. */
  known: string[];
}

/**
 * F3 (reported): flannel's delegate refuses the ADD for its input (CNI_ARGS it does not accept, an invalid MAC),
 * the rollback DEL is refused for the same reason, so the saved delegate config stays (the runtime's DEL is
 * refused too). The upstream flannel keeps the file on any failed ADD (plugins#426).
 */
function knownIssue(c: Case, proc: Proc, left: string[]): string | undefined {
  const cid = c.env.CNI_CONTAINERID ?? "";
  if (c.plugin === "flannel" && proc.exitCode !== 0 && left.length === 1 && left[0] === `file data/flannel/${cid}` && /keeping .* for the runtime's DEL/.test(proc.stderr)) return "F3";
  return undefined;
}

async function runTraced(sb: Sandbox, c: Case, command: string | undefined, tag: string): Promise<{ proc: Proc; trace: string }> {
  const traceFile = join(sb.root, `strace-${tag}`);
  const env: Record<string, string> = { PATH: BASE_PATH };
  for (const [k, v] of Object.entries(c.env)) env[k] = expand(v, sb);
  if (command !== undefined) env.CNI_COMMAND = command;
  const proc = await spawnPlugin({
    binDir: sb.bin,
    plugin: c.plugin,
    command: env.CNI_COMMAND ?? "",
    stdin: expand(c.stdin, sb),
    env,
    cni: {},
    cwd: sb.cwd,
    wrap: ["unshare", "-m", "--propagation", "private", "sh", "-c", PRIVATE_MOUNTS, "weft-rel", sb.root, sb.host.name, "strace", "-f", "-qq", "--seccomp-bpf", "-e", `trace=${TRACED}`, "-o", traceFile],
    timeoutMs: 30_000,
  });
  let trace = "";
  try {
    trace = readFileSync(traceFile, "utf8");
  } catch {}
  rmSync(traceFile, { force: true });
  return { proc, trace };
}

/** The output rules: one JSON document; an error object exactly when the exit code is not 0. */
export function outputProblems(command: string, proc: Proc): string[] {
  const p: string[] = [];
  const text = proc.stdout;
  if (proc.signal) return [`killed by ${proc.signal}`];
  if (proc.exitCode !== 0 && proc.exitCode !== 1) p.push(`exit code ${proc.exitCode}`);
  if (text.trim() === "") {
    if (proc.exitCode !== 0) p.push("failed without printing an error object");
    else if (command === "ADD" || command === "VERSION") p.push(`${command} succeeded without printing a result`);
    return p;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return [...p, `stdout is not one JSON document: ${JSON.stringify(text.slice(0, 200))}`];
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return [...p, `stdout is JSON but not an object: ${text.slice(0, 100)}`];
  const o = doc as Record<string, unknown>;
  const isError = "code" in o || "msg" in o;
  if (proc.exitCode === 0 && isError) p.push(`exit 0 with an error object: ${text.slice(0, 200)}`);
  if (proc.exitCode !== 0) {
    if (typeof o.code !== "number" || typeof o.msg !== "string" || o.msg === "") p.push(`error object without numeric code and msg: ${text.slice(0, 200)}`);
    if (typeof o.cniVersion !== "string") p.push("error object without cniVersion (decisions.md)");
    if (/\n\s+at |\.ts:\d+/.test(String(o.msg) + String(o.details ?? ""))) p.push(`stack trace in the error: ${text.slice(0, 200)}`);
  } else if (command !== "ADD" && command !== "VERSION") {
    p.push(`${command} printed output on success: ${text.slice(0, 100)}`);
  } else if (typeof o.cniVersion !== "string") {
    p.push(`result without cniVersion: ${text.slice(0, 200)}`);
  }
  return p;
}

/**
 * Runs a case and checks every property. After a successful ADD, the same input with DEL (what a runtime does
 * next) must succeed and leave nothing. The sandbox is reset afterwards whenever something is left.
 */
export async function check(sb: Sandbox, c: Case): Promise<RunOutcome> {
  const command = c.env.CNI_COMMAND ?? "";
  const { proc, trace } = await runTraced(sb, c, undefined, "run");
  const problems = outputProblems(command, proc).map((p) => `${command || "(no command)"}: ${p}`);
  problems.push(...writesOutside(trace, sb.root).map((w) => `writes outside its directories: ${w}`));
  if (proc.exitCode === 0 && command === "ADD") {
    const del = await runTraced(sb, c, "DEL", "del");
    problems.push(...outputProblems("DEL", del.proc).map((p) => `DEL after the successful ADD: ${p}`));
    problems.push(...writesOutside(del.trace, sb.root).map((w) => `DEL writes outside its directories: ${w}`));
  }
  const after = snapshot(sb);
  const left = unexpected(sb.baseline, after);
  const known = knownIssue(c, proc, left);
  if (left.length && !known) {
    const when = proc.exitCode === 0 ? (command === "ADD" ? "after ADD then DEL" : `after a successful ${command}`) : `after a failed ${command}`;
    problems.push(`state left ${when}: ${left.join("; ")}`);
  }
  if (left.length || after.files.length !== sb.baseline.files.length || after.hostLinks.length !== sb.baseline.hostLinks.length || after.iptables.length !== sb.baseline.iptables.length) reset(sb);
  return { proc, command, problems, known: known ? [known] : [] };
}
