// portmap: forwards host ports to a pod with iptables DNAT, chained after the plugin that gave the pod its
// addresses (flannel/bridge). Matches containernetworking/plugins plugins/meta/portmap (v1.9.1, iptables backend):
// same chains, rules, comments and chain hashes, so either implementation can DEL what the other added.
// Differs on purpose: one iptables-restore transaction per family, the container chain is flushed on ADD
// (plugins#683), DEL works without portMappings, CHECK also checks the shared rules, GC removes the chains of
// containers that are no longer valid, STATUS checks that iptables works. See README.
import { CniCode, CniError, toCniError } from "../../../shared/cni/errors.ts";
import type { Result } from "../../../shared/cni/result.ts";
import { prevResultOf, type CmdArgs, type Plugin } from "../../../shared/cni/skel.ts";
import { tryParseCidr } from "../../../shared/ip/index.ts";
import { IptablesError, save, type Family } from "../../../shared/iptables/index.ts";
import { collectGarbage, enableRouteLocalnet, findMissingRule, flushUdpConntrack, installRules, removeFamilyRules, removeRules } from "./apply.ts";
import { resolveConfig, type Config } from "./config.ts";
import { planFamily, type PodAddress } from "./plan.ts";

/**
 * The pod's first IPv4 and first IPv6 address in prevResult. An address whose interface index names an
 * interface that is not CNI_IFNAME, or that has no sandbox, belongs to the host side and is skipped; addresses
 * without an index (or with one out of range, as Go does) are taken.
 */
export function podAddresses(prev: Result, ifname: string): PodAddress[] {
  const found = new Map<Family, PodAddress>();
  for (const ip of prev.ips ?? []) {
    const cidr = tryParseCidr(ip.address);
    if (!cidr || found.has(cidr.family)) continue;
    const iface = ip.interface === undefined ? undefined : prev.interfaces?.[ip.interface];
    if (iface && (iface.name !== ifname || !iface.sandbox)) continue;
    found.set(cidr.family, { family: cidr.family, ip: cidr.ip, cidr: ip.address });
  }
  return [found.get(4), found.get(6)].filter((p): p is PodAddress => p !== undefined);
}

function parse(a: CmdArgs): Config {
  try {
    return resolveConfig(a.conf);
  } catch (e) {
    throw toCniError(e).wrap("failed to parse config");
  }
}

function iptablesFailure(e: unknown, what: string): CniError {
  const err = toCniError(e);
  return new CniError(err.code, `${what}: ${err.msg}`, err.details || "nothing was changed by this call");
}

function add(a: CmdArgs): Result {
  const cfg = parse(a);
  const prev = prevResultOf(a.conf);
  if (!prev) {
    throw new CniError(CniCode.InvalidConfig, "must be called as chained plugin", "portmap needs the prevResult of the plugin that gave the pod its addresses");
  }
  if (cfg.mappings.length === 0) return prev;
  const plans = podAddresses(prev, a.ifname).map((pod) => ({ pod, plan: planFamily(cfg, a.containerId, pod) }));

  using undo = new DisposableStack();
  for (const { plan } of plans) {
    try {
      installRules(plan);
    } catch (e) {
      throw iptablesFailure(e, `Cannot install the IPv${plan.family} port mappings`);
    }
    undo.defer(() => removeFamilyRules(plan.family, cfg.network, a.containerId));
  }
  const v4 = plans.find((p) => p.pod.family === 4);
  if (v4 && cfg.snat) {
    try {
      enableRouteLocalnet(v4.pod.ip);
    } catch (e) {
      throw new CniError(CniCode.Internal, "unable to enable route_localnet", toCniError(e).message);
    }
  }
  undo.move();

  // After the rules are in place, so new packets of a stale UDP flow go through the DNAT.
  const udp = cfg.mappings.filter((m) => m.protocol === "udp");
  for (const { pod } of plans) {
    const ports = udp.filter((m) => !m.hostIP || m.hostIP.family === pod.family).map((m) => m.hostPort);
    if (ports.length) flushUdpConntrack(pod.family, ports, a.stderr);
  }
  return prev;
}

/**
 * Removes the container's chains in both families, found by their hashed names: no prevResult or
 * portMappings needed, and config errors do not block it (the name and container ID are all it uses).
 */
async function del(a: CmdArgs): Promise<void> {
  let unreadable: Map<Family, IptablesError>;
  try {
    unreadable = await removeRules(a.conf.name, a.containerId);
  } catch (e) {
    throw iptablesFailure(e, "Cannot remove the port mappings");
  }
  // A family whose nat table cannot even be read holds nothing of ours (the reference skips it too).
  const why = [...unreadable].map(([f, e]) => `IPv${f}: ${e.message}`);
  if (unreadable.size === 2) throw new CniError(CniCode.Internal, "neither iptables nor ip6tables is usable", why.join("; "));
  for (const w of why) a.stderr(`portmap: skipped ${w}`);
}

function check(a: CmdArgs): void {
  const cfg = resolveConfig(a.conf);
  const prev = prevResultOf(a.conf);
  if (!prev) throw new CniError(CniCode.InvalidConfig, "Required prevResult missing", "CHECK needs the cached result of the ADD");
  if (cfg.mappings.length === 0) return;
  for (const pod of podAddresses(prev, a.ifname)) {
    const missing = findMissingRule(planFamily(cfg, a.containerId, pod));
    if (!missing) continue;
    const what = missing.rule ? `rule "-A ${missing.chain} ${missing.rule.args.join(" ")}"` : `chain ${missing.chain}`;
    throw new CniError(CniCode.Internal, `could not check ipv${pod.family} dnat: ${what} not found in table nat`, "run ADD again (DEL then ADD) to restore the port mappings");
  }
}

/** Container IDs of `cni.dev/valid-attachments` (or the legacy `cni.dev/attachments` older runtimes send). */
function validContainers(a: CmdArgs): Set<string> {
  const list = a.conf["cni.dev/valid-attachments"] ?? a.conf["cni.dev/attachments"] ?? [];
  if (!Array.isArray(list)) throw new CniError(CniCode.InvalidConfig, `"cni.dev/valid-attachments" must be a list`);
  const ids = new Set<string>();
  for (const [i, x] of list.entries()) {
    const id = typeof x === "object" && x !== null ? (x as Record<string, unknown>).containerID : undefined;
    if (typeof id !== "string") throw new CniError(CniCode.InvalidConfig, `"cni.dev/valid-attachments[${i}].containerID" must be a string`);
    ids.add(id);
  }
  return ids;
}

/**
 * Removes the chains of this network's containers that are no longer valid (found through the comments of
 * their entry rules). Both families are tried and every error is reported, as GC must continue on errors.
 */
function gc(a: CmdArgs): void {
  const valid = validContainers(a);
  const errors: string[] = [];
  for (const f of [4, 6] as const) {
    try {
      collectGarbage(f, a.conf.name, valid);
    } catch (e) {
      if (e instanceof IptablesError && e.argv[0]?.endsWith("-save")) continue; // nothing of ours can be there
      errors.push(`IPv${f}: ${toCniError(e).message}`);
    }
  }
  if (errors.length) throw new CniError(CniCode.Internal, "Cannot remove stale port mappings", errors.join("; "));
}

/** Ready when at least one family's nat table can be read. */
function status(_a: CmdArgs): void {
  const problems: string[] = [];
  for (const f of [4, 6] as const) {
    try {
      save(f, "nat");
      return;
    } catch (e) {
      problems.push(toCniError(e).message);
    }
  }
  throw new CniError(CniCode.NotAvailable, "neither iptables nor ip6tables is usable", problems.join("; "));
}

export const plugin: Plugin = { name: "portmap", add, del, check, gc, status };
