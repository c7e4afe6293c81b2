// Acquiring this node's subnet lease (flannel pkg/subnet/etcd/local_manager.go tryAcquireLease/allocateSubnet):
// reuse the lease that carries our public IP, else the subnet from the previous subnet.env, else a random free one
// among the first 100; create-if-absent with a 24 h TTL. Unlike flanneld, a lost race is retried. On a dual-stack
// network every lease also holds an IPv6 subnet, chosen the same way on its own (a lease fits only with both halves).
import type { NetConf, NetConf6 } from "./config.ts";
import { type Cidr4, formatCidr4, formatIp4, mask, overlaps, size } from "./ip4.ts";
import { type Cidr6, type LeaseKey, formatCidr6, formatIp6, mask6, overlaps6, sameKey, size6 } from "./ip6.ts";
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

/** Every IPv6 subnet of a dual-stack network is leased. */
export class NoFreeIpv6SubnetError extends Error {
  constructor(conf: NetConf6, leased: number) {
    super(
      `No free IPv6 subnet in network ${formatCidr6(conf.network)}: all /${conf.subnetLen} subnets from ${formatIp6(conf.subnetMin)} to ` +
        `${formatIp6(conf.subnetMax)} are taken (${leased} leases); enlarge "IPv6Network" or shrink "IPv6SubnetLen" in the network config`,
    );
    this.name = "NoFreeSubnetError";
  }
}

/** Whether a subnet may be leased under `conf` (right length, between SubnetMin and SubnetMax). */
export function fitsConfig(conf: NetConf, s: Cidr4): boolean {
  return s.len === conf.subnetLen && s.ip >= conf.subnetMin && s.ip <= conf.subnetMax && (s.ip & mask(s.len)) >>> 0 === s.ip;
}

/** Whether the IPv6 half fits: present and in range on a dual-stack network, absent otherwise (isIPv6SubnetConfigCompat). */
export function fitsConfig6(conf: NetConf, s: Cidr6 | undefined): boolean {
  const c = conf.ipv6;
  if (!c || !s) return !c && !s;
  return s.len === c.subnetLen && s.ip >= c.subnetMin && s.ip <= c.subnetMax && (s.ip & mask6(s.len)) === s.ip;
}

/** Up to `limit` IPv6 subnets, in order from IPv6SubnetMin, that overlap no lease's IPv6 subnet. */
export function freeSubnets6(conf: NetConf6, leases: readonly Lease[], limit = 100): Cidr6[] {
  const step = size6(conf.subnetLen);
  const out: Cidr6[] = [];
  for (let ip = conf.subnetMin; ip <= conf.subnetMax && out.length < limit; ip += step) {
    const s = { ip, len: conf.subnetLen };
    if (!leases.some((l) => l.ipv6Subnet && overlaps6(l.ipv6Subnet, s))) out.push(s);
  }
  return out;
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
  | { kind: "create"; key: LeaseKey; stale: Lease[]; from: "previous" | "free" }
  | { kind: "full"; stale: Lease[]; family: 4 | 6 };

/**
 * What to do next, from the current leases (pure; `random` picks among free subnets).
 * `stale` are leases with our public IP that no longer fit the config: flanneld deletes them.
 */
export function planLease(o: {
  conf: NetConf;
  leases: readonly Lease[];
  publicIp: string;
  /** The subnets of the previous subnet.env (FLANNEL_SUBNET, FLANNEL_IPV6_SUBNET). */
  previous?: Partial<LeaseKey>;
  random?: (n: number) => number;
}): LeaseStep {
  const fits = (l: LeaseKey) => fitsConfig(o.conf, l.subnet) && fitsConfig6(o.conf, l.ipv6Subnet);
  const ours = o.leases.filter((l) => l.attrs.PublicIP === o.publicIp);
  const stale = ours.filter((l) => !fits(l));
  const reusable = ours.find(fits);
  if (reusable) return { kind: "reuse", lease: reusable, stale };
  const others = o.leases.filter((l) => !stale.includes(l));
  const random = o.random ?? ((n) => Math.floor(Math.random() * n));
  // each half: the previous subnet.env's if it fits and is free, else a random free one. Unlike flanneld, a node
  // keeps its IPv4 subnet when the network becomes dual-stack (flanneld drops the previous subnet without an IPv6 one)
  const prev4 = o.previous?.subnet;
  const usePrev4 = !!prev4 && fitsConfig(o.conf, prev4) && !others.some((l) => overlaps(l.subnet, prev4));
  const free = usePrev4 ? [prev4] : freeSubnets(o.conf, others);
  if (free.length === 0) return { kind: "full", stale, family: 4 };
  const subnet = free[usePrev4 ? 0 : random(free.length)]!;
  const from = usePrev4 ? "previous" : "free";
  const c6 = o.conf.ipv6;
  if (!c6) return { kind: "create", key: { subnet }, stale, from };
  const prev6 = o.previous?.ipv6Subnet;
  const usePrev6 = !!prev6 && fitsConfig6(o.conf, prev6) && !others.some((l) => l.ipv6Subnet && overlaps6(l.ipv6Subnet, prev6));
  const free6 = usePrev6 ? [prev6] : freeSubnets6(c6, others);
  if (free6.length === 0) return { kind: "full", stale, family: 6 };
  return { kind: "create", key: { subnet, ipv6Subnet: free6[usePrev6 ? 0 : random(free6.length)]! }, stale, from };
}

export interface AcquiredLease {
  subnet: Cidr4;
  ipv6Subnet?: Cidr6;
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
  previous?: Partial<LeaseKey>;
  log?: (msg: string) => void;
  maxRaces?: number;
}): Promise<AcquiredLease> {
  const maxRaces = o.maxRaces ?? 50;
  for (let race = 0; ; race++) {
    const leases = await o.store.listLeases();
    const step = planLease({ conf: o.conf, leases, publicIp: o.attrs.PublicIP, ...(o.previous ? { previous: o.previous } : {}) });
    for (const l of step.stale) {
      o.log?.(`deleting lease ${leaseName(l)} of ${o.attrs.PublicIP}: it does not fit the network config`);
      await o.store.deleteLease(l);
    }
    if (step.kind === "full") throw step.family === 6 ? new NoFreeIpv6SubnetError(o.conf.ipv6!, leases.length) : new NoFreeSubnetError(o.conf, leases.length);
    if (step.kind === "reuse") {
      // re-put with our current attrs (a new VtepMAC is published this way) and a fresh TTL
      const expiresAt = await o.store.putLease(step.lease, o.attrs, SUBNET_TTL_SEC);
      return { ...keyOf(step.lease), expiresAt, how: "reused" };
    }
    const expiresAt = await o.store.createLease(step.key, o.attrs, SUBNET_TTL_SEC);
    if (expiresAt !== undefined) return { ...keyOf(step.key), expiresAt, how: step.from === "previous" ? "previous" : "new" };
    if (race >= maxRaces) throw new Error(`Cannot acquire a lease: lost the race for a subnet ${race + 1} times in a row`);
    o.log?.(`subnet ${leaseName(step.key)} was taken by another node meanwhile; trying another`);
  }
}

function keyOf(k: LeaseKey): LeaseKey {
  return k.ipv6Subnet ? { subnet: k.subnet, ipv6Subnet: k.ipv6Subnet } : { subnet: k.subnet };
}

/** For log lines: `10.5.1.0/24`, or `10.5.1.0/24 + fd00:10:0:1::/64`. */
export function leaseName(k: LeaseKey): string {
  return k.ipv6Subnet ? `${formatCidr4(k.subnet)} + ${formatCidr6(k.ipv6Subnet)}` : formatCidr4(k.subnet);
}

/** Whether `leases` still hold our lease (same subnets, our public IP). */
export function holdsLease(leases: readonly Lease[], own: LeaseKey, publicIp: string): boolean {
  return leases.some((l) => sameKey(l, own) && l.attrs.PublicIP === publicIp);
}
