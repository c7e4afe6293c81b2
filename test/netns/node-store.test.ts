// One test suite for both lease stores of `weft node` (file directory and etcd v3 through its JSON gateway): config,
// atomic create-if-absent, put, delete, reservations, watch, and many processes acquiring leases at once.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { formatCidr4, tryParseCidr4 } from "../../plugins/node/ip4.ts";
import { leaseKey, tryParseCidr6 } from "../../plugins/node/ip6.ts";
import { FileStore } from "../../plugins/node/store/file-store.ts";
import { EtcdStore } from "../../plugins/node/store/etcd-store.ts";
import type { Lease, Store } from "../../plugins/node/store/store.ts";
import { tempDir } from "../helpers/plugin.ts";
import { BUN, waitFor } from "../node/cluster.ts";
import { TestEtcd, ensureEtcdInstalled } from "../node/etcd.ts";
import { ROOT } from "../helpers/plugin.ts";

const cidr = (s: string) => ({ subnet: tryParseCidr4(s)! });
const attrs = (ip: string) => ({ PublicIP: ip, PublicIPv6: null, BackendType: "vxlan", BackendData: { VNI: 1, VtepMAC: "02:00:00:00:00:01" } });
const CONFIG = JSON.stringify({ Network: "10.7.0.0/16", SubnetLen: 24, Backend: { Type: "vxlan" } });

interface Harness {
  store: Store;
  storeArg: string;
  endpoint: string;
  prefix: string;
  setConfig(text: string): void;
  /** A key without TTL (a reservation), written behind the store's back. */
  reserve(subnet: string, ip: string): void;
}

let etcd: TestEtcd;
const dir = tempDir("nodestore");
let prefixN = 0;

beforeAll(async () => {
  ensureEtcdInstalled();
  etcd = new TestEtcd();
  await etcd.start();
});
afterAll(async () => {
  await etcd?.[Symbol.asyncDispose]();
  dir[Symbol.dispose]();
});

const harnesses: Record<string, () => Harness> = {
  file: () => {
    const d = join(dir.path, `s${prefixN++}`);
    mkdirSync(d);
    return {
      store: new FileStore(d),
      storeArg: `file:${d}`,
      endpoint: "",
      prefix: "",
      setConfig: (t) => writeFileSync(join(d, "config"), t),
      reserve: (s, ip) => {
        mkdirSync(join(d, "subnets"), { recursive: true });
        writeFileSync(join(d, "subnets", s.replace("/", "-")), JSON.stringify({ Subnet: s, Attrs: attrs(ip) }));
      },
    };
  },
  etcd: () => {
    const prefix = `/weft-test-${prefixN++}/network`;
    return {
      store: new EtcdStore({ endpoints: [etcd.url], prefix }),
      storeArg: "etcd",
      endpoint: etcd.url,
      prefix,
      setConfig: (t) => etcd.put(`${prefix}/config`, t),
      reserve: (s, ip) => etcd.put(`${prefix}/subnets/${s.replace("/", "-")}`, JSON.stringify(attrs(ip))),
    };
  },
};

describe.each(Object.keys(harnesses))("%s store", (kind) => {
  const make = () => harnesses[kind]!();

  test("getConfig() is undefined until the config is written, then returns its text", async () => {
    const h = make();
    expect(await h.store.getConfig()).toBeUndefined();
    h.setConfig(CONFIG);
    expect(await h.store.getConfig()).toBe(CONFIG);
  });

  test("createLease() takes a free subnet once; a second create of it fails; put, list and delete", async () => {
    const { store } = make();
    const exp = await store.createLease(cidr("10.7.3.0/24"), attrs("192.0.2.1"), 86400);
    expect(exp).toBeGreaterThan(Date.now() + 86_000_000);
    expect(await store.createLease(cidr("10.7.3.0/24"), attrs("192.0.2.2"), 86400)).toBeUndefined();
    let leases = await store.listLeases();
    expect(leases.map((l) => [formatCidr4(l.subnet), l.attrs.PublicIP])).toEqual([["10.7.3.0/24", "192.0.2.1"]]);
    expect(leases[0]!.attrs).toEqual(attrs("192.0.2.1"));
    await store.putLease(cidr("10.7.3.0/24"), attrs("192.0.2.9"), 86400);
    leases = await store.listLeases();
    expect(leases.map((l) => l.attrs.PublicIP)).toEqual(["192.0.2.9"]);
    await store.deleteLease(cidr("10.7.3.0/24"));
    await store.deleteLease(cidr("10.7.3.0/24")); // absent is fine
    expect(await store.listLeases()).toEqual([]);
  });

  test("dual stack: the key carries the IPv6 subnet (flannel's `<v4>-<len>&<v6>-<len>`); a lease holding the IPv4 subnet blocks a create with or without an IPv6 part", async () => {
    const { store } = make();
    const dual = { subnet: tryParseCidr4("10.7.6.0/24")!, ipv6Subnet: tryParseCidr6("fd00:7:0:6::/64")! };
    const a6 = { ...attrs("192.0.2.6"), PublicIPv6: "fd00:192::6", BackendV6Data: { VNI: 1, VtepMAC: "02:00:00:00:00:06" } };
    expect(await store.createLease(dual, a6, 86400)).toBeNumber();
    expect(await store.createLease({ subnet: dual.subnet }, attrs("192.0.2.7"), 86400)).toBeUndefined();
    expect(await store.createLease({ subnet: dual.subnet, ipv6Subnet: tryParseCidr6("fd00:7:0:7::/64")! }, a6, 86400)).toBeUndefined();
    const [l, ...rest] = await store.listLeases();
    expect(rest).toEqual([]);
    expect(l && leaseKey(l)).toBe("10.7.6.0-24&fd00:7:0:6::-64");
    expect(l!.attrs).toEqual(a6);
    await store.putLease(dual, { ...a6, PublicIP: "192.0.2.8" }, 86400);
    expect((await store.listLeases()).map((x) => [leaseKey(x), x.attrs.PublicIP])).toEqual([["10.7.6.0-24&fd00:7:0:6::-64", "192.0.2.8"]]);
    await store.deleteLease(dual);
    expect(await store.listLeases()).toEqual([]);
    // an IPv4-only lease blocks a dual-stack create of its IPv4 subnet too
    expect(await store.createLease({ subnet: dual.subnet }, attrs("192.0.2.7"), 86400)).toBeNumber();
    expect(await store.createLease(dual, a6, 86400)).toBeUndefined();
  });

  test("a key without a TTL is a reservation: listed without expiry and never taken by createLease()", async () => {
    const h = make();
    h.reserve("10.7.9.0/24", "192.0.2.77");
    const [l] = await h.store.listLeases();
    expect(l && formatCidr4(l.subnet)).toBe("10.7.9.0/24");
    expect(l!.expiresAt).toBeUndefined();
    expect(await h.store.createLease(cidr("10.7.9.0/24"), attrs("192.0.2.1"), 86400)).toBeUndefined();
  });

  test("watchLeases() reports a new lease and a deleted one", async () => {
    const { store } = make();
    const ac = new AbortController();
    let last: Lease[] | undefined;
    const done = store.watchLeases((l) => (last = l), () => undefined, ac.signal);
    try {
      await waitFor("first snapshot", () => last);
      await store.createLease(cidr("10.7.4.0/24"), attrs("192.0.2.4"), 86400);
      await waitFor("the new lease", () => last?.some((l) => formatCidr4(l.subnet) === "10.7.4.0/24"), 3000);
      await store.deleteLease(cidr("10.7.4.0/24"));
      await waitFor("the deletion", () => last?.length === 0, 3000);
    } finally {
      ac.abort();
      await done;
    }
    expect(last).toEqual([]);
  });

  test("16 processes acquiring at once get 16 distinct subnets", async () => {
    const h = make();
    h.setConfig(JSON.stringify({ Network: "10.7.0.0/22", SubnetLen: 27, Backend: { Type: "vxlan" } })); // 31 subnets
    const procs = Array.from({ length: 16 }, (_, i) =>
      Bun.spawn([BUN, join(ROOT, "test/node/acquire-worker.ts"), h.storeArg, h.endpoint, h.prefix, `192.0.2.${i + 1}`], { stdout: "pipe", stderr: "pipe" }),
    );
    const outs = await Promise.all(procs.map(async (p) => ({ code: await p.exited, out: (await new Response(p.stdout).text()).trim(), err: await new Response(p.stderr).text() })));
    for (const o of outs) expect(o.err).toBe("");
    const subnets = outs.map((o) => o.out);
    expect(new Set(subnets).size).toBe(16);
    const leases = await h.store.listLeases();
    expect(leases.length).toBe(16);
    expect(new Set(leases.map((l) => l.attrs.PublicIP)).size).toBe(16);
  }, 30_000);
});

test("file store: an expired lease is not listed and its subnet can be taken again", async () => {
  const d = join(dir.path, "expired");
  const store = new FileStore(d);
  await store.createLease(cidr("10.7.5.0/24"), attrs("192.0.2.5"), 86400);
  writeFileSync(join(d, "subnets", "10.7.5.0-24"), JSON.stringify({ Subnet: "10.7.5.0/24", Attrs: attrs("192.0.2.5"), Expiration: new Date(Date.now() - 1000).toISOString() }));
  expect(await store.listLeases()).toEqual([]);
  expect(await store.createLease(cidr("10.7.5.0/24"), attrs("192.0.2.6"), 86400)).toBeNumber();
});

test("etcd store: an unreachable endpoint is skipped for a reachable one; none reachable is StoreUnavailableError naming both", async () => {
  const dead = "http://127.0.0.1:1";
  const ok = new EtcdStore({ endpoints: [dead, etcd.url], prefix: "/weft-test-failover/network" });
  expect(await ok.listLeases()).toEqual([]);
  const bad = new EtcdStore({ endpoints: [dead, "http://127.0.0.1:2"], prefix: "/x" });
  const err = await bad.listLeases().then(() => undefined, (e: Error) => e);
  expect(err?.name).toBe("StoreUnavailableError");
  expect(err?.message).toContain("127.0.0.1:1");
  expect(err?.message).toContain("127.0.0.1:2");
});
