import { expect, test } from "bun:test";
import { parseNetConf } from "./config.ts";
import { formatCidr4, tryParseCidr4 } from "./ip4.ts";
import { freeSubnets, planLease } from "./lease.ts";
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
    previous: tryParseCidr4("10.5.3.0/24")!,
  });
  expect(step.kind).toBe("create");
  expect(step.stale.map((l) => formatCidr4(l.subnet))).toEqual(["10.5.0.0/24"]);
  expect(step.kind === "create" && [formatCidr4(step.subnet), step.from]).toEqual(["10.5.3.0/24", "previous"]);
});

test("planLease() skips a previous subnet held by another node and picks a free one", () => {
  const step = planLease({
    conf,
    leases: [lease("10.5.3.0/24", "192.0.2.9")],
    publicIp: "192.0.2.1",
    previous: tryParseCidr4("10.5.3.0/24")!,
    random: () => 1,
  });
  expect(step.kind === "create" && [formatCidr4(step.subnet), step.from]).toEqual(["10.5.2.0/24", "free"]);
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
