import { describe, expect, test } from "bun:test";
import { parseNetConf } from "./config.ts";
import { formatCidr4, tryParseCidr4 } from "./ip4.ts";
import { tryParseCidr6 } from "./ip6.ts";
import { NoFreeIpv6SubnetError, freeSubnets, holdsLease, leaseName, planLease } from "./lease.ts";
import type { Lease } from "./store/store.ts";

const conf = parseNetConf(JSON.stringify({ Network: "10.5.0.0/22", Backend: { Type: "vxlan" } })); // subnets .1, .2, .3
const lease = (s: string, ip: string): Lease => ({ subnet: tryParseCidr4(s)!, attrs: { PublicIP: ip, BackendType: "vxlan" } });

test("planLease() reuses the lease carrying our public IP", () => {
  const step = planLease({ conf, leases: [lease("10.5.2.0/24", "192.0.2.1"), lease("10.5.1.0/24", "192.0.2.2")], publicIp: "192.0.2.1" });
  expect(step.kind === "reuse" && formatCidr4(step.lease.subnet)).toBe("10.5.2.0/24");
});

test("planLease() deletes our lease that no longer fits, then takes the previous subnet if free", () => {
  const step = planLease({
    conf,
    leases: [lease("10.5.0.0/24", "192.0.2.1")], // the first subnet is below SubnetMin
    publicIp: "192.0.2.1",
    previous: { subnet: tryParseCidr4("10.5.3.0/24")! },
  });
  expect(step.kind).toBe("create");
  expect(step.stale.map((l) => formatCidr4(l.subnet))).toEqual(["10.5.0.0/24"]);
  expect(step.kind === "create" && [formatCidr4(step.key.subnet), step.from]).toEqual(["10.5.3.0/24", "previous"]);
});

test("planLease() skips a previous subnet held by another node and picks a free one", () => {
  const step = planLease({
    conf,
    leases: [lease("10.5.3.0/24", "192.0.2.9")],
    publicIp: "192.0.2.1",
    previous: { subnet: tryParseCidr4("10.5.3.0/24")! },
    random: () => 1,
  });
  expect(step.kind === "create" && [formatCidr4(step.key.subnet), step.from]).toEqual(["10.5.2.0/24", "free"]);
});

test("planLease() says full when every subnet is taken", () => {
  const leases = ["10.5.1.0/24", "10.5.2.0/24", "10.5.3.0/24"].map((s, i) => lease(s, `192.0.2.${i + 10}`));
  expect(planLease({ conf, leases, publicIp: "192.0.2.1" }).kind).toBe("full");
});

test("freeSubnets() stops at the limit and skips overlapping leases", () => {
  const big = parseNetConf(JSON.stringify({ Network: "10.0.0.0/8", Backend: { Type: "vxlan" } }));
  const free = freeSubnets(big, [lease("10.0.1.0/24", "x")], 100);
  expect(free.length).toBe(100);
  expect(formatCidr4(free[0]!)).toBe("10.0.2.0/24");
});

describe("dual stack", () => {
  // IPv4 subnets .1-.3, IPv6 subnets fd00:5:0:1:: to fd00:5:0:3::
  const dual = parseNetConf(JSON.stringify({ Network: "10.5.0.0/22", EnableIPv6: true, IPv6Network: "fd00:5::/62", Backend: { Type: "vxlan" } }));
  const lease6 = (s: string, s6: string | undefined, ip: string): Lease => ({
    ...lease(s, ip),
    ...(s6 ? { ipv6Subnet: tryParseCidr6(s6)! } : {}),
  });
  const name = (step: ReturnType<typeof planLease>) => (step.kind === "create" ? leaseName(step.key) : step.kind === "reuse" ? leaseName(step.lease) : step.kind);

  test("planLease() picks a free IPv4 and a free IPv6 subnet, each skipping the other leases' halves", () => {
    const step = planLease({ conf: dual, leases: [lease6("10.5.1.0/24", "fd00:5:0:2::/64", "192.0.2.9")], publicIp: "192.0.2.1", random: () => 0 });
    expect(name(step)).toBe("10.5.2.0/24 + fd00:5:0:1::/64");
  });

  test("planLease() reuses our dual-stack lease; an IPv4-only lease of ours no longer fits and is stale", () => {
    const ours = lease6("10.5.2.0/24", "fd00:5:0:3::/64", "192.0.2.1");
    expect(name(planLease({ conf: dual, leases: [ours], publicIp: "192.0.2.1" }))).toBe("10.5.2.0/24 + fd00:5:0:3::/64");
    const step = planLease({ conf: dual, leases: [lease("10.5.2.0/24", "192.0.2.1")], publicIp: "192.0.2.1", previous: { subnet: tryParseCidr4("10.5.2.0/24")! }, random: () => 1 });
    expect(step.stale.map(leaseName)).toEqual(["10.5.2.0/24"]);
    // the IPv4 subnet is kept from subnet.env (flanneld would drop it), the IPv6 one is new
    expect(name(step)).toBe("10.5.2.0/24 + fd00:5:0:2::/64");
    expect(step.kind === "create" && step.from).toBe("previous");
  });

  test("planLease() on an IPv4-only network finds our dual-stack lease stale (isIPv6SubnetConfigCompat)", () => {
    const step = planLease({ conf, leases: [lease6("10.5.2.0/24", "fd00:5:0:3::/64", "192.0.2.1")], publicIp: "192.0.2.1", random: () => 0 });
    expect(step.stale.length).toBe(1);
    expect(name(step)).toBe("10.5.1.0/24");
  });

  test("planLease() takes both previous subnets when free, and a free IPv6 one when the previous is taken", () => {
    const previous = { subnet: tryParseCidr4("10.5.3.0/24")!, ipv6Subnet: tryParseCidr6("fd00:5:0:3::/64")! };
    expect(name(planLease({ conf: dual, leases: [], publicIp: "192.0.2.1", previous }))).toBe("10.5.3.0/24 + fd00:5:0:3::/64");
    const other = lease6("10.5.1.0/24", "fd00:5:0:3::/64", "192.0.2.9");
    expect(name(planLease({ conf: dual, leases: [other], publicIp: "192.0.2.1", previous, random: () => 0 }))).toBe("10.5.3.0/24 + fd00:5:0:1::/64");
  });

  test("planLease() is full with family 6 when IPv6 subnets run out first", () => {
    const small = parseNetConf(JSON.stringify({ Network: "10.5.0.0/16", EnableIPv6: true, IPv6Network: "fd00:5::/62", Backend: { Type: "vxlan" } }));
    const leases = [1, 2, 3].map((i) => lease6(`10.5.${i}.0/24`, `fd00:5:0:${i}::/64`, `192.0.2.${i + 10}`));
    const step = planLease({ conf: small, leases, publicIp: "192.0.2.1" });
    expect(step.kind === "full" && step.family).toBe(6);
    expect(new NoFreeIpv6SubnetError(small.ipv6!, 3).message).toContain('No free IPv6 subnet in network fd00:5::/62: all /64 subnets from fd00:5:0:1:: to fd00:5:0:3:: are taken');
  });

  test("holdsLease() compares both halves", () => {
    const own = { subnet: tryParseCidr4("10.5.2.0/24")!, ipv6Subnet: tryParseCidr6("fd00:5:0:3::/64")! };
    expect(holdsLease([lease6("10.5.2.0/24", "fd00:5:0:3::/64", "192.0.2.1")], own, "192.0.2.1")).toBe(true);
    expect(holdsLease([lease6("10.5.2.0/24", undefined, "192.0.2.1")], own, "192.0.2.1")).toBe(false);
    expect(holdsLease([lease6("10.5.2.0/24", "fd00:5:0:3::/64", "192.0.2.2")], own, "192.0.2.1")).toBe(false);
  });
});
