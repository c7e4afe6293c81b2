// `weft node status`: this node's lease (found by its public IP), its peers, and every difference between what the
// leases say the kernel should hold and what it holds (the same plan.ts diff the daemon applies). Exit 0 when in
// sync, 1 when the kernel differs or there is no lease, 2 when the store or the config cannot be read. On a
// dual-stack network the IPv6 half (flannel-v6.<VNI>, plan6.ts) is checked too.
import { parseNetConf } from "./config.ts";
import { pickExternal } from "./daemon.ts";
import type { NodeFlags } from "./flags.ts";
import { formatCidr4 } from "./ip4.ts";
import { formatCidr6 } from "./ip6.ts";
import * as kernel from "./kernel.ts";
import { leaseName } from "./lease.ts";
import { type Changes, type PlanContext, changeCount, desiredState, diffState, ownedRoute, peerLeases } from "./plan.ts";
import { type PlanContext6, desiredState6, ownedRoute6, peerLeases6 } from "./plan6.ts";
import { openStore } from "./store/store.ts";

export async function printStatus(flags: NodeFlags): Promise<number> {
  const out: string[] = [];
  const print = () => process.stdout.write(out.join("\n") + "\n");
  let leases, conf, store;
  try {
    store = await openStore({ ...(flags.store ? { store: flags.store } : {}), endpoints: flags.etcdEndpoints, prefix: flags.etcdPrefix });
    const text = await store.getConfig();
    if (text === undefined) throw new Error(`No network config in the ${store.description}`);
    conf = parseNetConf(text);
    leases = await store.listLeases();
  } catch (e) {
    process.stderr.write(`weft node status: ${(e as Error).message}\n`);
    return 2;
  }
  const ext = pickExternal(flags.iface);
  const publicIp = flags.publicIp ?? ext.ip;
  out.push(`store:    ${store.description}`);
  out.push(`network:  ${formatCidr4(conf.network)} (/${conf.subnetLen} subnets, backend ${conf.backend.type})`);
  const mine = leases.find((l) => l.attrs.PublicIP === publicIp);
  if (!mine) {
    out.push(`lease:    none for public IP ${publicIp}`);
    print();
    return 1;
  }
  const exp = mine.expiresAt === undefined ? "reservation" : Number.isFinite(mine.expiresAt) ? `expires ${new Date(mine.expiresAt).toISOString()}` : "leased";
  out.push(`lease:    ${leaseName(mine)} for ${publicIp}${mine.attrs.PublicIPv6 ? ` and ${mine.attrs.PublicIPv6}` : ""} via ${ext.name} (${exp})`);
  const ctx: PlanContext = {
    conf,
    own: mine.subnet,
    publicIp,
    extDev: ext.name,
    ...(conf.backend.type === "vxlan" ? { vxlanDev: `flannel.${conf.backend.vni}` } : {}),
    direct: (ip) => conf.backend.directRouting && kernel.isDirect(ip),
  };
  const { peers, ignored } = peerLeases(ctx, leases);
  out.push(`peers:    ${peers.length}`);
  for (const p of peers) {
    const v6 = p.ipv6Subnet ? ` ${formatCidr6(p.ipv6Subnet)} ${p.attrs.PublicIPv6 ?? ""} ${p.attrs.BackendV6Data?.VtepMAC ?? ""}` : "";
    out.push(`  ${formatCidr4(p.subnet).padEnd(18)} ${p.attrs.PublicIP.padEnd(15)} ${p.attrs.BackendData?.VtepMAC ?? ""}${v6.trimEnd()}`);
  }
  for (const p of ignored) out.push(`  ${formatCidr4(p.subnet).padEnd(18)} ${p.attrs.PublicIP.padEnd(15)} ignored (backend ${p.attrs.BackendType})`);
  if (ctx.vxlanDev && !kernel.findLink(ctx.vxlanDev)) out.push(`kernel:   ${ctx.vxlanDev} is missing`);
  const have = kernel.readState(ctx.vxlanDev);
  const c = diffState(desiredState(ctx, peers), { ...have, routes: have.routes.filter((r) => ownedRoute(ctx, r)) });
  const c6 = conf.ipv6;
  if (c6 && mine.ipv6Subnet && mine.attrs.PublicIPv6) {
    const ctx6: PlanContext6 = {
      conf: c6,
      backend: conf.backend,
      own: mine.ipv6Subnet,
      publicIp,
      publicIpv6: mine.attrs.PublicIPv6,
      extDev: ext.name,
      ...(conf.backend.type === "vxlan" ? { vxlanDev: `flannel-v6.${conf.backend.vni}` } : {}),
      direct: (ip) => conf.backend.directRouting && kernel.isDirect(ip),
    };
    const peers6 = peerLeases6(ctx6, leases).peers;
    out.push(`ipv6:     ${peers6.length} peers`);
    if (ctx6.vxlanDev && !kernel.findLink(ctx6.vxlanDev)) out.push(`kernel:   ${ctx6.vxlanDev} is missing`);
    const have6 = kernel.readState(ctx6.vxlanDev, 6);
    const d6 = diffState(desiredState6(ctx6, peers6), { ...have6, routes: have6.routes.filter((r) => ownedRoute6(ctx6, r)) });
    for (const k of Object.keys(c) as (keyof Changes)[]) (c[k] as unknown[]).push(...d6[k]);
  }
  if (changeCount(c) === 0) {
    out.push("kernel:   in sync with the leases");
    print();
    return 0;
  }
  out.push("kernel:   differs from the leases");
  for (const r of c.addRoutes) out.push(`  missing route ${r.dst} via ${r.gw} dev ${r.dev}${r.onlink ? " onlink" : ""}`);
  for (const n of c.addNeighs) out.push(`  missing neighbour ${n.ip} lladdr ${n.mac}`);
  for (const f of c.addFdb) out.push(`  missing fdb ${f.mac} dst ${f.dst}`);
  for (const r of c.delRoutes) out.push(`  stale route ${r.dst} via ${r.gw} dev ${r.dev}`);
  for (const n of c.delNeighs) out.push(`  stale neighbour ${n.ip} lladdr ${n.mac}`);
  for (const f of c.delFdb) out.push(`  stale fdb ${f.mac} dst ${f.dst}`);
  print();
  return 1;
}
