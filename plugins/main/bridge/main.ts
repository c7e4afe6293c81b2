// bridge: a Linux bridge on the host, a veth pair per pod, addresses from IPAM, routes, the gateway, masquerade.
// Drop-in for containernetworking/plugins plugins/main/bridge (v1.9.1 behaviour; Debian's v1.1.1 is the oracle):
// config → plan (plan.ts, pure) → apply (apply.ts, the kernel). A failed ADD undoes everything it made.
import { CniCode, CniError, toCniError } from "../../../shared/cni/errors.ts";
import { formatResult, type Result } from "../../../shared/cni/result.ts";
import { prevResultOf, type CmdArgs, type Plugin } from "../../../shared/cni/skel.ts";
import { delegateAdd, delegateCheck, delegateDel, delegateGc, delegateStatus, type DelegateOptions } from "../../../shared/delegate/index.ts";
import { gcIpMasq, setupIpMasq, teardownIpMasq } from "../../../shared/iptables/ipmasq.ts";
import type { LinkInfo } from "../../../shared/netlink/index.ts";
import * as apply from "./apply.ts";
import { checkAddable, loadConfig, type Config } from "./config.ts";
import { addressProblems, buildResult, linkProblems, planL3, POD_INTERFACE_INDEX, routeProblems, type L3Plan } from "./plan.ts";
import { setupSpoofCheck, teardownSpoofCheck } from "./spoofcheck.ts";

function ipam(a: CmdArgs, type: string): DelegateOptions {
  return { type, stdin: a.stdin, args: a };
}

/** Runs an undo step; its failure is logged, so the error that caused the rollback is the one reported. */
function quietly(a: CmdArgs, what: string, fn: () => unknown): () => Promise<void> {
  return async () => {
    try {
      await fn();
    } catch (e) {
      a.stderr(`bridge: rollback: ${what} failed: ${toCniError(e).message}`);
    }
  };
}

async function add(a: CmdArgs): Promise<Result> {
  const conf = loadConfig(a.conf, a.args, a.command);
  checkAddable(conf);
  await using undo = new AsyncDisposableStack();
  const bridge = apply.withHost((rtnl) => apply.ensureBridge(rtnl, conf));
  const veth = apply.createVeth(a.netns, a.ifname, conf);
  undo.defer(quietly(a, `deleting ${veth.hostName}`, () => apply.deleteHostLink(veth.hostName)));
  apply.withHost((rtnl) => apply.attachHostVeth(rtnl, { hostName: veth.hostName, bridge, conf }));
  if (conf.macSpoofCheck) {
    const spoof = { containerId: a.containerId, ifname: a.ifname };
    setupSpoofCheck(spoof, veth.hostName, veth.pod.mac);
    undo.defer(quietly(a, "removing the spoof check", () => teardownSpoofCheck(spoof)));
  }
  const l3 = conf.ipamType ? await addL3(a, conf, { bridge, undo, ipamType: conf.ipamType }) : undefined;
  if (!l3 && !conf.disableContainerInterface) apply.setPodUp(a.netns, a.ifname);
  const { hostMac, bridgeMac } = apply.finalHostState({ hostName: veth.hostName, bridge: conf.bridge, waitUp: !conf.disableContainerInterface });
  await l3?.masq;
  const result = buildResult({
    cniVersion: a.cniVersion,
    bridge: { name: conf.bridge, mac: bridgeMac },
    hostVeth: { name: veth.hostName, mac: hostMac },
    pod: { name: a.ifname, mac: veth.pod.mac, sandbox: a.netns },
    ...(l3?.vlanGateway ? { vlanGateway: l3.vlanGateway } : {}),
    ...(l3 ? { l3: l3.plan } : {}),
    ...(l3?.dns ? { ipamDns: l3.dns } : {}),
    ...(conf.dns ? { confDns: conf.dns } : {}),
  });
  // A result the config's version cannot express (0.1.0/0.2.0 without an IP) fails here, while undo still holds.
  formatResult(result, a.cniVersion);
  undo.move();
  return result;
}

/**
 * The layer-3 part of ADD: IPAM, the pod's addresses and routes, the gateway, forwarding, and the masquerade
 * rules, whose iptables-restore runs as a child process meanwhile (the caller awaits `masq`).
 */
async function addL3(a: CmdArgs, conf: Config, o: { bridge: LinkInfo; undo: AsyncDisposableStack; ipamType: string }) {
  const ipamResult = await delegateAdd(ipam(a, o.ipamType));
  o.undo.defer(quietly(a, "releasing the IPAM reservation", () => delegateDel(ipam(a, o.ipamType))));
  if (!ipamResult.ips?.length) throw new CniError(CniCode.Internal, "IPAM plugin returned missing IP config", `"${o.ipamType}" returned no IP addresses`);
  const plan = planL3(conf, ipamResult);
  let masq: Promise<void> | undefined;
  if (conf.ipMasq) {
    const owner = { network: conf.network, containerId: a.containerId };
    const installing = setupIpMasq(owner, plan.masq).catch((e: unknown) => {
      throw new CniError(CniCode.Internal, "failed to set up IP masquerade", toCniError(e).message);
    });
    installing.catch(() => undefined); // awaited by the caller; never an unhandled rejection
    o.undo.defer(quietly(a, "removing the masquerade rules", async () => {
      await installing.catch(() => undefined); // let the install finish before removing what it made
      await teardownIpMasq(owner, plan.masq);
    }));
    masq = installing;
  }
  apply.configurePod(a.netns, a.ifname, plan, conf.enableDad);
  const vlanGateway = addGateways(conf, o.bridge, plan);
  apply.ensureForwarding(plan.forwardFamilies);
  return { plan, masq, vlanGateway, dns: ipamResult.dns };
}

/** Gateway addresses on the bridge (or on `<bridge>.<vlan>` with a VLAN); returns the VLAN interface if used. */
function addGateways(conf: Config, bridge: LinkInfo, l3: L3Plan): { name: string; mac: string } | undefined {
  if (!conf.isGateway || l3.gatewayAddrs.length === 0) return undefined;
  return apply.withHost((rtnl) => {
    const br = rtnl.getLink(bridge.name);
    const dev = conf.vlan !== 0 ? apply.ensureVlanGateway(rtnl, br, conf) : br;
    // Pin the bridge to the MAC it had before this ADD's port joined, as the reference does. A bridge whose
    // ports all left has MAC 00:00:00:00:00:00, which cannot be set: pin the one it has now instead.
    const mac = conf.vlan !== 0 ? "" : bridge.mac && bridge.mac !== "00:00:00:00:00:00" ? bridge.mac : br.mac;
    for (const g of l3.gatewayAddrs) apply.ensureGatewayAddr(rtnl, { dev, family: g.family, cidr: g.cidr, force: conf.forceAddress, mac });
    return conf.vlan !== 0 ? { name: dev.name, mac: dev.mac } : undefined;
  });
}

async function del(a: CmdArgs): Promise<void> {
  const conf = loadConfig(a.conf, a.args, a.command);
  // The pod's addresses (for the masquerade teardown) from its interface, else prevResult, else none: the chain
  // is then found by its name. Removal of the rules runs as a child process while the rest of DEL goes on.
  const podAddrs = a.netns ? apply.podAddresses(a.netns, a.ifname) : undefined;
  let masq: Promise<void> | undefined;
  if (conf.ipMasq && conf.ipamType) {
    const cidrs = podAddrs?.length ? podAddrs : prevIps(a);
    masq = teardownIpMasq({ network: conf.network, containerId: a.containerId }, cidrs);
    masq.catch(() => undefined); // observed below
  }
  if (podAddrs) apply.deletePodInterface(a.netns, a.ifname);
  if (conf.ipamType) await delegateDel(ipam(a, conf.ipamType));
  if (conf.macSpoofCheck) {
    try {
      teardownSpoofCheck({ containerId: a.containerId, ifname: a.ifname });
    } catch (e) {
      a.stderr(`bridge: ${toCniError(e).message}`); // as the reference: logged, DEL goes on
    }
  }
  try {
    await masq;
  } catch (e) {
    throw new CniError(CniCode.Internal, "failed to remove IP masquerade rules", toCniError(e).message);
  }
}

/** The pod's addresses according to prevResult (DEL gets it from 0.4.0 on); undefined when it has none. */
function prevIps(a: CmdArgs): string[] | undefined {
  try {
    const prev = prevResultOf(a.conf);
    const ips = (prev?.ips ?? []).filter((ip) => ip.interface === undefined || ip.interface === POD_INTERFACE_INDEX).map((ip) => ip.address);
    return ips.length ? ips : undefined;
  } catch {
    return undefined; // an unusable prevResult must not block DEL
  }
}

async function check(a: CmdArgs): Promise<void> {
  const conf = loadConfig(a.conf, a.args, a.command);
  if (conf.ipamType) await delegateCheck(ipam(a, conf.ipamType));
  const prev = prevResultOf(a.conf);
  if (!prev) throw new CniError(CniCode.InvalidConfig, "Required prevResult missing", "CHECK needs the result of the ADD in prevResult");
  const ifaces = prev.interfaces ?? [];
  const brIf = ifaces.find((i) => i.name === conf.bridge && !i.sandbox);
  const podIf = ifaces.find((i) => i.name === a.ifname && i.sandbox === a.netns);
  if (!podIf) throw new CniError(CniCode.Internal, `Sandbox in prevResult doesn't match configured netns: no interface "${a.ifname}" with sandbox ${a.netns}`);
  const pod = apply.readPod(a.netns, a.ifname);
  if (!pod.link) throw new CniError(CniCode.Internal, `CNI created interface in container ${a.ifname} not found`, `no "${a.ifname}" in ${a.netns}`);
  const others = ifaces.filter((i) => i !== brIf && i !== podIf && !i.sandbox);
  const host = apply.readHost(conf.bridge, others.map((i) => i.name));
  const problems = [
    ...linkProblems(conf, { ...(brIf ? { bridge: brIf } : {}), pod: podIf, others }, { pod: pod.link, hostLinks: host.links, ...(host.bridge ? { bridge: host.bridge } : {}) }),
    ...addressProblems((prev.ips ?? []).filter((ip) => ip.interface === undefined || ifaces[ip.interface] === podIf), pod.addrs, a.ifname),
    ...routeProblems(prev.routes ?? [], pod.routes),
  ];
  if (problems.length) throw new CniError(CniCode.Internal, `bridge CHECK failed: ${problems[0]}`, problems.slice(1).join("; "));
}

async function status(a: CmdArgs): Promise<void> {
  const conf = loadConfig(a.conf, a.args, a.command);
  if (conf.ipamType) await delegateStatus(ipam(a, conf.ipamType));
}

/**
 * GC: forwarded to IPAM, then (better than the reference, which has no GC) the masquerade rules of this network's
 * containers that are not in `cni.dev/valid-attachments` are removed. Both run; every failure is reported.
 */
async function gc(a: CmdArgs): Promise<void> {
  const conf = loadConfig(a.conf, a.args, a.command);
  const errors: string[] = [];
  let code: number = CniCode.Internal;
  if (conf.ipamType) {
    await delegateGc(ipam(a, conf.ipamType)).catch((e: unknown) => {
      const err = toCniError(e);
      code = err.code; // IPAM's code, as for the other commands
      errors.push(err.message);
    });
  }
  await gcIpMasq(conf.network, validContainerIds(a.conf)).catch((e: unknown) => errors.push(`failed to remove stale IP masquerade rules: ${toCniError(e).message}`));
  if (errors.length) throw new CniError(code, errors[0]!, errors.slice(1).join("; "));
}

/** Container IDs of `cni.dev/valid-attachments` (or the legacy `cni.dev/attachments` libcni also sends). */
function validContainerIds(conf: Record<string, unknown>): Set<string> {
  const list = conf["cni.dev/valid-attachments"] ?? conf["cni.dev/attachments"];
  const ids = new Set<string>();
  if (Array.isArray(list)) {
    for (const x of list) {
      const id = (x as { containerID?: unknown } | null)?.containerID;
      if (typeof id === "string") ids.add(id);
    }
  }
  return ids;
}

export const plugin: Plugin = { name: "bridge", add, del, check, status, gc };
