// The bridge plugin's per-container masquerade rules, identical to the reference's
// (containernetworking/plugins pkg/ip/ipmasq_iptables_linux.go, cni-notes §2.5): in the nat table a chain
// `CNI-<24 hex of sha512(net+cid)>` holding `-d <subnet> -j ACCEPT` and `! -d <multicast> -j MASQUERADE`, reached
// from `POSTROUTING -s <podIP> -j <chain>`, each rule commented `name: "<net>" id: "<cid>"`. The same chain name
// serves iptables and ip6tables. Install and removal are one iptables-restore transaction per family; only when
// that quick form fails (leftovers of an earlier run, a DEL without addresses) is iptables-save read first.
// The functions are async so the plugin can overlap the iptables-restore process with its netlink work.
import { parseCidr, type IpFamily } from "../ip/index.ts";
import { EXIT_NOT_FOUND, IptablesError, binaryName, save, type Family } from "./exec.ts";
import { hashedChainName } from "./hash.ts";
import { parseSave, ruleLine, splitRuleArgs } from "./rules.ts";

/** Whose rules: the network name and the container ID (the reference ignores the interface name). */
export interface MasqOwner {
  network: string;
  containerId: string;
}

/** Runs the iptables binaries; injectable for unit tests. */
export interface MasqRunner {
  restore(family: Family, text: string): void | Promise<void>;
  save(family: Family, table: string): string | Promise<string>;
}

/** `iptables-restore -w --noflush` (or ip6tables-) as a child process the caller can await later. */
async function restoreAsync(family: Family, text: string): Promise<void> {
  const name = binaryName(family, "-restore");
  const args = ["-w", "--noflush"];
  const exe = Bun.which(name, { PATH: process.env.PATH || "/usr/sbin:/usr/bin:/sbin:/bin" });
  if (!exe) throw new IptablesError([name, ...args], EXIT_NOT_FOUND, "", `Cannot run ${name}: not found in PATH; install the iptables package`);
  const p = Bun.spawn([exe, ...args], { stdin: Buffer.from(text), stdout: "ignore", stderr: "pipe" });
  const [code, stderr] = await Promise.all([p.exited, new Response(p.stderr).text()]);
  if (code !== 0) throw new IptablesError([name, ...args], code, stderr);
}
const SYSTEM: MasqRunner = { restore: restoreAsync, save };

const MULTICAST: Record<IpFamily, string> = { 4: "224.0.0.0/4", 6: "ff00::/8" };

/** `CNI-` + 24 hex digits, e.g. `CNI-8cbe06c6d4b297670ecbfdbd` for ("cbr0", "0123456789abcdef"). */
export function masqChainName(o: MasqOwner): string {
  return hashedChainName("CNI-", o.network, o.containerId);
}

/** `name: "<net>" id: "<cid>"` (Go's %q; both names are restricted to characters %q leaves alone). */
export function masqComment(o: MasqOwner): string {
  return `name: "${o.network}" id: "${o.containerId}"`;
}

function byFamily(cidrs: readonly string[]): Map<IpFamily, Array<{ ip: string; network: string }>> {
  const out = new Map<IpFamily, Array<{ ip: string; network: string }>>();
  for (const c of cidrs) {
    const p = parseCidr(c);
    const list = out.get(p.family) ?? [];
    list.push({ ip: p.ip, network: p.network });
    out.set(p.family, list);
  }
  return out;
}

/**
 * The iptables-restore text installing the rules for `addrs` (one family). `fresh`: the chain is created with
 * `-N`, which fails the whole transaction when it already exists; otherwise `:chain` creates or empties it and
 * only the POSTROUTING jumps not in `existingSources` are added.
 */
export function masqSetupScript(o: MasqOwner, addrs: ReadonlyArray<{ ip: string; network: string }>, family: IpFamily, existingSources?: ReadonlySet<string>): string {
  const chain = masqChainName(o);
  const comment = ["-m", "comment", "--comment", masqComment(o)];
  const lines = ["*nat", existingSources ? `:${chain} - [0:0]` : `-N ${chain}`];
  // ACCEPTs first, then the one MASQUERADE: with two subnets of a family the reference appends the second
  // ACCEPT after the MASQUERADE, where it never matches.
  for (const network of new Set(addrs.map((a) => a.network))) lines.push(ruleLine("-A", chain, ["-d", network, "-j", "ACCEPT", ...comment]));
  lines.push(ruleLine("-A", chain, ["!", "-d", MULTICAST[family], "-j", "MASQUERADE", ...comment]));
  for (const a of addrs) {
    if (!existingSources?.has(a.ip)) lines.push(ruleLine("-A", "POSTROUTING", ["-s", a.ip, "-j", chain, ...comment]));
  }
  lines.push("COMMIT", "");
  return lines.join("\n");
}

/** The iptables-restore text removing the jumps from pod `ips` and the chain (fails if any is missing). */
export function masqTeardownScript(o: MasqOwner, ips: readonly string[]): string {
  const chain = masqChainName(o);
  const comment = ["-m", "comment", "--comment", masqComment(o)];
  const lines = ["*nat", ...ips.map((ip) => ruleLine("-D", "POSTROUTING", ["-s", ip, "-j", chain, ...comment])), `-F ${chain}`, `-X ${chain}`, "COMMIT", ""];
  return lines.join("\n");
}

/** What an iptables-save dump holds of `chain`: whether it exists, and the POSTROUTING rules jumping to it. */
export function findMasqState(dump: string, chain: string): { exists: boolean; jumps: string[]; sources: Set<string> } {
  const t = parseSave(dump, "nat");
  const jumps = t.rules.filter((r) => r.chain === "POSTROUTING" && r.target === chain).map((r) => r.spec);
  const sources = new Set<string>();
  for (const spec of jumps) {
    const args = splitRuleArgs(spec);
    const i = args.indexOf("-s");
    const src = i >= 0 ? args[i + 1] : undefined;
    if (src) sources.add(src.replace(/\/(32|128)$/, ""));
  }
  return { exists: t.chains.has(chain), jumps, sources };
}

/**
 * Installs the masquerade rules for the pod's addresses (CIDRs such as "10.244.1.5/24"): one iptables-restore
 * per family; when the chain already exists (an ADD repeated after a crash), reads the table and completes it.
 * @throws {IptablesError}
 */
export async function setupIpMasq(o: MasqOwner, cidrs: readonly string[], run: MasqRunner = SYSTEM): Promise<void> {
  const one = async (family: IpFamily, addrs: Array<{ ip: string; network: string }>) => {
    try {
      await run.restore(family, masqSetupScript(o, addrs, family));
    } catch (e) {
      if (!(e instanceof IptablesError) || e.notFound) throw e;
      const state = findMasqState(await run.save(family, "nat"), masqChainName(o));
      await run.restore(family, masqSetupScript(o, addrs, family, state.sources));
    }
  };
  await Promise.all([...byFamily(cidrs)].map(([family, addrs]) => one(family, addrs)));
}

/**
 * Removes the pod's masquerade rules. With the pod's addresses: one iptables-restore per family of them. Without
 * (the netns is gone and no prevResult says them): both families are searched for jumps to the chain. Absent
 * rules, and a family whose iptables binary is not installed, are not errors.
 * @throws {IptablesError}
 */
export async function teardownIpMasq(o: MasqOwner, cidrs: readonly string[] | undefined, run: MasqRunner = SYSTEM): Promise<void> {
  const known = byFamily(cidrs ?? []);
  const one = async (family: IpFamily) => {
    const addrs = known.get(family);
    if (cidrs !== undefined && !addrs) return;
    try {
      if (addrs) {
        try {
          await run.restore(family, masqTeardownScript(o, addrs.map((a) => a.ip)));
          return;
        } catch (e) {
          if (!(e instanceof IptablesError) || e.notFound) throw e;
        }
      }
      await removeByScan(o, family, run);
    } catch (e) {
      if (e instanceof IptablesError && e.notFound) return;
      throw e;
    }
  };
  await Promise.all([one(4), one(6)]);
}

async function removeByScan(o: MasqOwner, family: Family, run: MasqRunner): Promise<void> {
  const chain = masqChainName(o);
  const state = findMasqState(await run.save(family, "nat"), chain);
  if (!state.exists && state.jumps.length === 0) return;
  const lines = ["*nat", ...state.jumps.map((spec) => `-D POSTROUTING ${spec}`)];
  if (state.exists) lines.push(`-F ${chain}`, `-X ${chain}`);
  lines.push("COMMIT", "");
  await run.restore(family, lines.join("\n"));
}

/** The container ID in a masquerade comment of `network`, or undefined when the comment is not one of ours. */
export function masqCommentOwner(comment: string, network: string): string | undefined {
  const m = /^name: "(.*)" id: "(.*)"$/.exec(comment);
  return m && m[1] === network ? m[2] : undefined;
}

/**
 * GC (SPEC "GC"): removes the masquerade jumps and chains of `network` whose container is not in `validIds`,
 * found through the comment every jump carries. One iptables-save and at most one iptables-restore per family.
 * @returns the container IDs whose rules were removed
 * @throws {IptablesError}
 */
export async function gcIpMasq(network: string, validIds: ReadonlySet<string>, run: MasqRunner = SYSTEM): Promise<string[]> {
  const removed = new Set<string>();
  const one = async (family: Family) => {
    let dump: string;
    try {
      dump = await run.save(family, "nat");
    } catch (e) {
      if (e instanceof IptablesError && e.notFound) return;
      throw e;
    }
    const t = parseSave(dump, "nat");
    const lines: string[] = [];
    const chains = new Set<string>();
    for (const r of t.rules) {
      if (r.chain !== "POSTROUTING" || !r.target?.startsWith("CNI-")) continue;
      const args = splitRuleArgs(r.spec);
      const i = args.indexOf("--comment");
      const cid = i >= 0 ? masqCommentOwner(args[i + 1] ?? "", network) : undefined;
      if (cid === undefined || validIds.has(cid) || r.target !== masqChainName({ network, containerId: cid })) continue;
      lines.push(`-D POSTROUTING ${r.spec}`);
      chains.add(r.target);
      removed.add(cid);
    }
    for (const c of chains) if (t.chains.has(c)) lines.push(`-F ${c}`, `-X ${c}`);
    if (lines.length) await run.restore(family, ["*nat", ...lines, "COMMIT", ""].join("\n"));
  };
  await Promise.all([one(4), one(6)]);
  return [...removed];
}
