// The only portmap code that touches the kernel: iptables through shared/iptables (one committed
// iptables-restore transaction per family per call, when needed decided from an iptables-save snapshot),
// route_localnet through netlink + sysctl, and stale UDP conntrack entries through the conntrack binary.
import {
  IptablesError,
  parseSave,
  restore,
  save,
  saveAsync,
  withIptablesLock,
  type Family,
} from "../../../shared/iptables/index.ts";
import { LinkNotFoundError, NetlinkError, openRtnl } from "../../../shared/netlink/index.ts";
import { writeSysctl } from "../../../shared/sysctl/index.ts";
import { addTransaction, checkTransaction, delTransaction, fastAddTransaction, gcTransaction, type FamilyPlan, type Rule } from "./plan.ts";

/**
 * Installs one family's plan in one transaction. First without a snapshot (fastAddTransaction: one exec, no
 * lock, as it fails whole when its assumptions do not hold), else from a snapshot taken under weft's iptables
 * lock. When that fails too and the table changed meanwhile (a writer that does not take weft's lock, e.g. the
 * reference plugin), it is rebuilt and tried once more.
 * @throws {IptablesError}
 */
export function installRules(plan: FamilyPlan): void {
  try {
    restore(plan.family, fastAddTransaction(plan));
    return;
  } catch (e) {
    if (!(e instanceof IptablesError) || e.notFound) throw e;
  }
  // iptables-save heads its dump with a timestamp: compare without comment lines.
  const body = (dump: string) => dump.replace(/^#.*\n/gm, "");
  withIptablesLock(() => {
    const before = save(plan.family, "nat");
    try {
      restore(plan.family, addTransaction(plan, parseSave(before, "nat")));
    } catch (e) {
      const now = save(plan.family, "nat");
      if (body(now) === body(before)) throw e;
      restore(plan.family, addTransaction(plan, parseSave(now, "nat")));
    }
  });
}

/**
 * Removes the container's chains and every rule jumping to them from both families, reading both nat tables
 * at once. No lock: the transaction names only this container's rules, which no concurrent call touches.
 * Returns the families whose nat table could not be read at all (they hold nothing of ours).
 * @throws {IptablesError} when a removal fails
 */
export async function removeRules(network: string, containerId: string): Promise<Map<Family, IptablesError>> {
  const families = [4, 6] as const;
  const saved = await Promise.allSettled(families.map((f) => saveAsync(f, "nat")));
  const unreadable = new Map<Family, IptablesError>();
  families.forEach((f, i) => {
    const r = saved[i]!;
    if (r.status === "rejected") {
      if (!(r.reason instanceof IptablesError)) throw r.reason;
      unreadable.set(f, r.reason);
      return;
    }
    const text = delTransaction(network, containerId, parseSave(r.value, "nat"));
    if (text) restore(f, text);
  });
  return unreadable;
}

/** Removes the container's chains from one family (ADD's rollback). @throws {IptablesError} */
export function removeFamilyRules(family: Family, network: string, containerId: string): void {
  const text = delTransaction(network, containerId, parseSave(save(family, "nat"), "nat"));
  if (text) restore(family, text);
}

/**
 * Removes from one family the chains of `network`'s containers whose ID is not in `valid`.
 * @throws {IptablesError}
 */
export function collectGarbage(family: Family, network: string, valid: ReadonlySet<string>): void {
  withIptablesLock(() => {
    const text = gcTransaction(network, valid, parseSave(save(family, "nat"), "nat"));
    if (text) restore(family, text);
  });
}

/**
 * The first rule of the plan that is missing, or undefined when all exist. The chain is looked up in a
 * snapshot first, so a missing chain is reported as such.
 * @throws {IptablesError} when iptables cannot be run at all
 */
export function findMissingRule(plan: FamilyPlan): { chain: string; rule?: Rule } | undefined {
  const saved = parseSave(save(plan.family, "nat"), "nat");
  if (!saved.chains.has(plan.chain)) return { chain: plan.chain };
  const { text, rules } = checkTransaction(plan);
  try {
    restore(plan.family, text);
    return undefined;
  } catch (e) {
    if (!(e instanceof IptablesError)) throw e;
    const line = /line (\d+) failed/.exec(e.stderr);
    const rule = line ? rules[Number(line[1]) - 2] : undefined;
    if (!rule) throw e;
    return { chain: rule.chain, rule };
  }
}

/**
 * Sets route_localnet=1 on the interface that routes to the pod, so packets from 127.0.0.1 DNATed to the pod
 * are not dropped as martians (localhost → hostPort). The reference never resets it, nor does weft: other
 * pods behind the same interface rely on it.
 * Returns the interface's name, or undefined when no route leads to the pod.
 * @throws {SysctlError}
 */
export function enableRouteLocalnet(podIp: string): string | undefined {
  using rtnl = openRtnl();
  let name: string;
  try {
    const oif = rtnl.routeGet(podIp).oif;
    if (oif === undefined) return undefined;
    name = rtnl.getLink(oif).name;
  } catch (e) {
    // No route to the pod from here: nothing to enable (the reference ignores this too).
    if (e instanceof NetlinkError || e instanceof LinkNotFoundError) return undefined;
    throw e;
  }
  writeSysctl(`net/ipv4/conf/${name}/route_localnet`, "1");
  return name;
}

/**
 * Deletes conntrack entries for UDP traffic to `ports`, so a flow tracked before the mapping existed (and
 * answered by the host, or dropped) does not keep blackholing the new mapping (plugins#123). Failures are only
 * reported to `log`: the rules are in place and the entries time out eventually.
 */
export function flushUdpConntrack(family: Family, ports: number[], log: (line: string) => void): void {
  const exe = Bun.which("conntrack", { PATH: process.env.PATH || "/usr/sbin:/usr/bin:/sbin:/bin" });
  if (!exe) {
    if (ports.length) log(`portmap: cannot delete stale UDP conntrack entries: conntrack not found in PATH`);
    return;
  }
  for (const port of new Set(ports)) {
    const argv = [exe, "-D", "-p", "udp", "--orig-port-dst", String(port), "-f", family === 6 ? "ipv6" : "ipv4"];
    const p = Bun.spawnSync(argv, { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    const err = p.stderr.toString();
    // Exit 1 with "0 flow entries have been deleted" just means there was nothing to delete.
    if (p.exitCode !== 0 && !/\b0 flow entries/.test(err)) {
      log(`portmap: failed to delete stale UDP conntrack entries for port ${port} (IPv${family}): ${err.trim()}`);
    }
  }
}
