// What portmap must install, as pure data: the rules of the nat table per address family and the
// iptables-restore transactions that add, remove and check them against a snapshot (iptables-save) of the table.
// Chains, rules, comments and hash inputs are the reference's (plugins/meta/portmap/portmap_iptables.go v1.9.1).
import { hashedChainName, ruleLine, splitRuleArgs, type Family, type SavedTable } from "../../../shared/iptables/index.ts";
import type { Config, Protocol } from "./config.ts";

export const TOP_DNAT_CHAIN = "CNI-HOSTPORT-DNAT";
export const SETMARK_CHAIN = "CNI-HOSTPORT-SETMARK";
export const MASQ_CHAIN = "CNI-HOSTPORT-MASQ";
/** Top chain of the per-container SNAT chains of plugin versions before 0.7; DEL still removes those. */
export const OLD_TOP_SNAT_CHAIN = "CNI-HOSTPORT-SNAT";

/** The per-container DNAT chain: `CNI-DN-` + 21 hex of SHA-512(network name + container ID). */
export function dnatChainName(network: string, containerId: string): string {
  return hashedChainName("CNI-DN-", network, containerId);
}

/** The per-container SNAT chain older versions made (`CNI-SN-<hash>`). */
export function oldSnatChainName(network: string, containerId: string): string {
  return hashedChainName("CNI-SN-", network, containerId);
}

/** The pod's address of one family, from prevResult: `ip` without prefix, `cidr` as given ("10.1.2.3/24"). */
export interface PodAddress {
  family: Family;
  ip: string;
  cidr: string;
}

/** A rule: the chain it lives in and its arguments (without `-A CHAIN`). */
export interface Rule {
  chain: string;
  args: string[];
}

/** Everything portmap wants in one family's nat table for one container. */
export interface FamilyPlan {
  family: Family;
  /** Shared rules, written in the exact form iptables-save prints them so a snapshot shows whether they exist. */
  shared: { chains: string[]; rules: Rule[]; postrouting?: Rule };
  chain: string;
  /** Rules of the per-container chain, in order. */
  rules: Rule[];
  /** Entry rules in CNI-HOSTPORT-DNAT that jump to `chain`. */
  entries: Rule[];
}

const MULTIPORT_MAX = 15;

/** The 255-byte limit of the comment match (reference trimComment). */
function trimComment(s: string): string {
  return s.length <= 255 ? s : `${s.slice(0, 253)}...`;
}

function markDef(bit: number): string {
  const v = (2 ** bit).toString(16);
  return `0x${v}/0x${v}`;
}

/** Protocols in sorted order, each with its host ports in mapping order (every mapping, whatever its hostIP). */
function portsByProtocol(c: Config): [Protocol, number[]][] {
  const by = new Map<Protocol, number[]>();
  for (const m of c.mappings) by.set(m.protocol, [...(by.get(m.protocol) ?? []), m.hostPort]);
  return [...by.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The shared chains and rules, in iptables-save's canonical spelling. */
function sharedPlan(c: Config): FamilyPlan["shared"] {
  const chains: string[] = [];
  const rules: Rule[] = [];
  let postrouting: Rule | undefined;
  if (c.snat && !c.externalSetMark) {
    // Traffic marked in SETMARK (hairpin, localhost) is masqueraded on the way out, so replies come back
    // through this host and get un-DNATed.
    chains.push(SETMARK_CHAIN, MASQ_CHAIN);
    rules.push({ chain: SETMARK_CHAIN, args: ["-m", "comment", "--comment", "CNI portfwd masquerade mark", "-j", "MARK", "--set-xmark", markDef(c.markBit)] });
    rules.push({ chain: MASQ_CHAIN, args: ["-m", "mark", "--mark", markDef(c.markBit), "-j", "MASQUERADE"] });
    // Inserted first so bridge/ptp ipMasq rules further down cannot shadow it.
    postrouting = { chain: "POSTROUTING", args: ["-m", "comment", "--comment", "CNI portfwd requiring masquerade", "-j", MASQ_CHAIN] };
  }
  chains.push(TOP_DNAT_CHAIN);
  for (const chain of ["PREROUTING", "OUTPUT"]) {
    rules.push({ chain, args: ["-m", "addrtype", "--dst-type", "LOCAL", "-j", TOP_DNAT_CHAIN] });
  }
  return postrouting ? { chains, rules, postrouting } : { chains, rules };
}

/** The plan for one family: shared rules, the container's chain with its rules, and its entry rules. */
export function planFamily(c: Config, containerId: string, pod: PodAddress): FamilyPlan {
  const v6 = pod.family === 6;
  const chain = dnatChainName(c.network, containerId);
  const comment = trimComment(`dnat name: "${c.network}" id: "${containerId}"`);
  const conditions = v6 ? c.conditionsV6 : c.conditionsV4;
  const entries: Rule[] = [];
  for (const [proto, ports] of portsByProtocol(c)) {
    for (let i = 0; i < ports.length; i += MULTIPORT_MAX) {
      const list = ports.slice(i, i + MULTIPORT_MAX).join(",");
      const args = ["-m", "comment", "--comment", comment, "-m", "multiport", "-p", proto, "--destination-ports", list];
      entries.push({ chain: TOP_DNAT_CHAIN, args: [...args, ...conditions, "-j", chain] });
    }
  }
  const rules: Rule[] = [];
  const to = v6 ? `[${pod.ip}]` : pod.ip;
  for (const m of c.mappings) {
    // A hostIP of the other family means the mapping does not exist in this family; an unspecified one
    // (0.0.0.0, ::) means "every address" of its family.
    if (m.hostIP && m.hostIP.family !== pod.family) continue;
    const base = ["-p", m.protocol, "--dport", String(m.hostPort)];
    if (m.hostIP && !m.hostIP.unspecified) base.push("-d", m.hostIP.address);
    if (c.snat) {
      // Mark hairpin traffic (the pod, or with masqAll anyone, reaching itself via the host) and, for IPv4,
      // localhost traffic (needs route_localnet) for masquerade: the reply must come back through the DNAT.
      const source = c.masqAll ? (v6 ? "::/0" : "0.0.0.0/0") : pod.cidr;
      rules.push({ chain, args: [...base, "-s", source, "-j", c.setMarkChain] });
      if (!v6 && !c.masqAll) rules.push({ chain, args: [...base, "-s", "127.0.0.1", "-j", c.setMarkChain] });
    }
    rules.push({ chain, args: [...base, "-j", "DNAT", "--to-destination", `${to}:${m.containerPort}`] });
  }
  return { family: pod.family, shared: sharedPlan(c), chain, rules, entries };
}

function sameArgs(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function hasRule(saved: SavedTable, r: Rule): boolean {
  return saved.rules.some((s) => s.chain === r.chain && sameArgs(splitRuleArgs(s.spec), r.args));
}

function wrap(lines: string[]): string {
  return `*nat\n${lines.join("\n")}\nCOMMIT\n`;
}

/** `-D` lines for every rule of the snapshot that jumps to `chain`, then its flush and removal. */
function removeChainLines(saved: SavedTable, chain: string): string[] {
  if (!saved.chains.has(chain)) return [];
  const lines = saved.rules.filter((r) => r.target === chain).map((r) => `-D ${r.chain} ${r.spec}`);
  return [...lines, `-F ${chain}`, `-X ${chain}`];
}

/**
 * The ADD transaction for one family given a snapshot of its nat table: create what is missing of the shared
 * chains and rules (`-N`, never a `:CHAIN` line, which would flush a chain other containers use), then replace
 * the container's chain and entry rules whole, so rules left by an earlier ADD never survive (plugins#683).
 */
export function addTransaction(plan: FamilyPlan, saved: SavedTable): string {
  const lines: string[] = [];
  for (const ch of [...plan.shared.chains, plan.chain]) {
    if (!saved.chains.has(ch)) lines.push(`-N ${ch}`);
  }
  for (const r of plan.shared.rules) if (!hasRule(saved, r)) lines.push(ruleLine("-A", r.chain, r.args));
  const post = plan.shared.postrouting;
  if (post && !hasRule(saved, post)) lines.push(ruleLine("-I", post.chain, post.args, 1));
  for (const r of saved.rules) if (r.target === plan.chain) lines.push(`-D ${r.chain} ${r.spec}`);
  if (saved.chains.has(plan.chain)) lines.push(`-F ${plan.chain}`);
  for (const r of [...plan.rules, ...plan.entries]) lines.push(ruleLine("-A", r.chain, r.args));
  return wrap(lines);
}

/**
 * The ADD transaction for the common case, needing no snapshot: the shared rules already exist (`-C` asserts
 * it) and the container's chain does not (`-N` asserts it). If either assumption is wrong the whole
 * transaction fails and changes nothing; the caller then takes the snapshot path (addTransaction).
 */
export function fastAddTransaction(plan: FamilyPlan): string {
  const post = plan.shared.postrouting;
  const lines = [
    `-N ${plan.chain}`,
    ...[...plan.shared.rules, ...(post ? [post] : [])].map((r) => ruleLine("-C", r.chain, r.args)),
    ...[...plan.rules, ...plan.entries].map((r) => ruleLine("-A", r.chain, r.args)),
  ];
  return wrap(lines);
}

/**
 * The DEL transaction for one family: every rule jumping to the container's chains (CNI-DN-, and the legacy
 * CNI-SN-), then the chains themselves. Undefined when the snapshot holds none of them.
 */
export function delTransaction(network: string, containerId: string, saved: SavedTable): string | undefined {
  const lines = [dnatChainName(network, containerId), oldSnatChainName(network, containerId)].flatMap((ch) => removeChainLines(saved, ch));
  return lines.length ? wrap(lines) : undefined;
}

/** The CHECK transaction: one `-C` per rule, shared ones included; `rules[i]` is on line i + 2 of the text. */
export function checkTransaction(plan: FamilyPlan): { text: string; rules: Rule[] } {
  const post = plan.shared.postrouting;
  const rules = [...plan.shared.rules, ...(post ? [post] : []), ...plan.rules, ...plan.entries];
  return { text: wrap(rules.map((r) => ruleLine("-C", r.chain, r.args))), rules };
}

/** The container ID named by a portmap entry rule's comment in `network`, when the rule has one. */
function commentedContainer(spec: string, network: string): string | undefined {
  const args = splitRuleArgs(spec);
  const i = args.indexOf("--comment");
  const m = i >= 0 ? /^dnat name: "(.*)" id: "(.*)"$/.exec(args[i + 1] ?? "") : null;
  return m && m[1] === network ? m[2] : undefined;
}

/**
 * The GC transaction for one family: the chains of `network`'s containers that are not in `valid`, found
 * through the comments of their entry rules (and only when the chain name matches the comment's hash, so a
 * truncated comment never removes someone else's chain). Undefined when nothing is stale.
 */
export function gcTransaction(network: string, valid: ReadonlySet<string>, saved: SavedTable): string | undefined {
  const stale = new Set<string>();
  for (const r of saved.rules) {
    if (r.chain !== TOP_DNAT_CHAIN || !r.target?.startsWith("CNI-DN-")) continue;
    const cid = commentedContainer(r.spec, network);
    if (cid !== undefined && !valid.has(cid) && dnatChainName(network, cid) === r.target) stale.add(r.target);
  }
  const lines = [...stale].flatMap((ch) => removeChainLines(saved, ch));
  return lines.length ? wrap(lines) : undefined;
}
