// Acquiring this node's subnet lease (flannel pkg/subnet/etcd/local_manager.go tryAcquireLease/allocateSubnet):
// reuse the lease that carries our public IP, else the subnet from the previous subnet.env, else a random free one
// among the first 100; create-if-absent with a 24 h TTL. Unlike flanneld, a lost race is retried.
import type { NetConf } from "./config.ts";
import { type Cidr4, formatCidr4, formatIp4, mask, overlaps, sameCidr, size } from "./ip4.ts";
import { type Lease, type LeaseAttrs, type Store, SUBNET_TTL_SEC } from "./store/store.ts";

/** Every subnet of the network is leased (or reserved). */
export class NoFreeSubnetError extends Error {
  constructor(conf: NetConf, leased: number) {
    super(
      `No free subnet in network ${formatCidr4(conf.network)}: all /${conf.subnetLen} subnets from ${formatIp4(conf.subnetMin)} to ` +
        `${formatIp4(conf.subnetMax)} are taken (${leased} leases); enlarge "Network" or shrink "SubnetLen" in the network config`,
    );
    this.name = "NoFreeSubnetError";
  }
}

/** Whether a subnet may be leased under `conf` (right length, between SubnetMin and SubnetMax). */
export function fitsConfig(conf: NetConf, s: Cidr4): boolean {
  return s.len === conf.subnetLen && s.ip >= conf.subnetMin && s.ip <= conf.subnetMax && (s.ip & mask(s.len)) >>> 0 === s.ip;
}

/** Up to `limit` subnets, in order from SubnetMin, that overlap no lease (flanneld collects 100 and picks one at random). */
export function freeSubnets(conf: NetConf, leases: readonly Lease[], limit = 100): Cidr4[] {
  const step = size({ ip: 0, len: conf.subnetLen });
  const out: Cidr4[] = [];
  for (let ip = conf.subnetMin; ip <= conf.subnetMax && out.length < limit; ip += step) {
    const s = { ip, len: conf.subnetLen };
    if (!leases.some((l) => overlaps(l.subnet, s))) out.push(s);
  }
  return out;
}

export type LeaseStep =
  | { kind: "reuse"; lease: Lease; stale: Lease[] }
  | { kind: "create"; subnet: Cidr4; stale: Lease[]; from: "previous" | "free" }
  | { kind: "full"; stale: Lease[] };

/**
 * What to do next, from the current leases (pure; `random` picks among free subnets).
 * `stale` are leases with our public IP that no longer fit the config: flanneld deletes them.
 */
export function planLease(o: {
  conf: NetConf;
  leases: readonly Lease[];
  publicIp: string;
  previous?: Cidr4;
  random?: (n: number) => number;
}): LeaseStep {
  const ours = o.leases.filter((l) => l.attrs.PublicIP === o.publicIp);
  const stale = ours.filter((l) => !fitsConfig(o.conf, l.subnet));
  const reusable = ours.find((l) => fitsConfig(o.conf, l.subnet));
  if (reusable) return { kind: "reuse", lease: reusable, stale };
  const others = o.leases.filter((l) => !stale.includes(l));
  const prev = o.previous;
  if (prev && fitsConfig(o.conf, prev) && !others.some((l) => overlaps(l.subnet, prev))) {
    return { kind: "create", subnet: prev, stale, from: "previous" };
  }
  const free = freeSubnets(o.conf, others);
  if (free.length === 0) return { kind: "full", stale };
  const pick = (o.random ?? ((n) => Math.floor(Math.random() * n)))(free.length);
  return { kind: "create", subnet: free[pick]!, stale, from: "free" };
}

export interface AcquiredLease {
  subnet: Cidr4;
  expiresAt: number;
  how: "reused" | "previous" | "new";
}

/**
 * Acquires a lease for `attrs.PublicIP`, retrying lost create races (up to `maxRaces`).
 * @throws {NoFreeSubnetError} every subnet is taken
 * @throws {StoreUnavailableError} the store failed
 */
export async function acquireLease(o: {
  store: Store;
  conf: NetConf;
  attrs: LeaseAttrs;
  previous?: Cidr4;
  log?: (msg: string) => void;
  maxRaces?: number;
}): Promise<AcquiredLease> {
  const maxRaces = o.maxRaces ?? 50;
  for (let race = 0; ; race++) {
    const leases = await o.store.listLeases();
    const step = planLease({ conf: o.conf, leases, publicIp: o.attrs.PublicIP, ...(o.previous ? { previous: o.previous } : {}) });
    for (const l of step.stale) {
      o.log?.(`deleting lease ${formatCidr4(l.subnet)} of ${o.attrs.PublicIP}: it does not fit the network config`);
      await o.store.deleteLease(l.subnet);
    }
    if (step.kind === "full") throw new NoFreeSubnetError(o.conf, leases.length);
    if (step.kind === "reuse") {
      // re-put with our current attrs (a new VtepMAC is published this way) and a fresh TTL
      const expiresAt = await o.store.putLease(step.lease.subnet, o.attrs, SUBNET_TTL_SEC);
      return { subnet: step.lease.subnet, expiresAt, how: "reused" };
    }
    const expiresAt = await o.store.createLease(step.subnet, o.attrs, SUBNET_TTL_SEC);
    if (expiresAt !== undefined) return { subnet: step.subnet, expiresAt, how: step.from === "previous" ? "previous" : "new" };
    if (race >= maxRaces) throw new Error(`Cannot acquire a lease: lost the race for a subnet ${race + 1} times in a row`);
    o.log?.(`subnet ${formatCidr4(step.subnet)} was taken by another node meanwhile; trying another`);
  }
}

/** Whether `leases` still hold our lease (same subnet, our public IP). */
export function holdsLease(leases: readonly Lease[], subnet: Cidr4, publicIp: string): boolean {
  return leases.some((l) => sameCidr(l.subnet, subnet) && l.attrs.PublicIP === publicIp);
}
