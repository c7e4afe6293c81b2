// `weft node` end to end: three "node" namespaces on an underlay bridge, each running the daemon as a process, pods
// as namespaces on each node's cni0. VXLAN and host-gw × file store and etcd (etcd runs inside the underlay netns),
// and one dual-stack VXLAN cluster (IPv6 underlay fd00:192::/64, pods reach each other over IPv6).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runIn } from "../helpers/netns.ts";
import { BUN, Cluster, NODE_ENTRY, sh, waitFor } from "../node/cluster.ts";
import { TestEtcd, ensureEtcdInstalled } from "../node/etcd.ts";

const PREFIX = "/coreos.com/network";

beforeAll(() => ensureEtcdInstalled());

/** The store a test's nodes share: a directory, or an etcd inside the cluster's underlay. */
interface TestStore extends AsyncDisposable {
  flags: string[];
  setConfig(conf: unknown): void;
  deleteLease(subnetEnvValue: string): void;
  leaseCount(): number;
}

async function makeStore(kind: "file" | "etcd", c: Cluster): Promise<TestStore & { etcd?: TestEtcd }> {
  const keyOf = (sub: string) => sub.replace(/\.1\/(\d+)$/, ".0-$1");
  if (kind === "file") {
    const dir = join(c.tmp.path, "store");
    mkdirSync(dir, { recursive: true });
    return {
      flags: ["--store", `file:${dir}`],
      setConfig: (conf) => writeFileSync(join(dir, "config"), JSON.stringify(conf)),
      deleteLease: (sub) => rmSync(join(dir, "subnets", keyOf(sub))),
      leaseCount: () => readdirSync(join(dir, "subnets")).filter((n) => !n.startsWith(".")).length,
      [Symbol.asyncDispose]: async () => {},
    };
  }
  const etcd = new TestEtcd({ host: "192.0.2.254", netns: c.underlay.name });
  await etcd.start();
  return {
    etcd,
    flags: ["--etcd-endpoints", etcd.url],
    setConfig: (conf) => etcd.put(`${PREFIX}/config`, JSON.stringify(conf)),
    deleteLease: (sub) => {
      const r = etcd.ctl(["del", `${PREFIX}/subnets/${keyOf(sub)}`]);
      if (r.stdout.trim() !== "1") throw new Error(`etcdctl del: ${r.stdout}${r.stderr}`);
    },
    leaseCount: () => etcd.ctl(["get", "--prefix", "--keys-only", `${PREFIX}/subnets/`]).stdout.split("\n").filter((l) => l.trim() !== "").length,
    [Symbol.asyncDispose]: () => etcd[Symbol.asyncDispose](),
  };
}

function routes(c: Cluster, i: number): string {
  const r = runIn(c.nodes[i - 1]!.ns.name, ["ip", "route", "show"]);
  if (r.exitCode !== 0 || !r.stdout.includes("192.0.2.0/24")) throw new Error(`ip route show on node ${i}: ${r.exitCode} ${r.stderr}`);
  return r.stdout;
}

async function startAll(c: Cluster, store: TestStore, n: number, extra: string[] = []): Promise<void> {
  for (let i = 1; i <= n; i++) c.start(i, store.flags, extra);
  await Promise.all(c.nodes.slice(0, n).map((node) => node.proc!.waitLog(/ info wrote \S+subnet/)));
}

/** Waits until every node has a route to every other node's subnet. */
async function converged(c: Cluster, n: number): Promise<string[]> {
  const subs = c.nodes.slice(0, n).map((_, k) => c.subnetOf(k + 1)!.replace(/\.1\//, ".0/"));
  await waitFor("routes to every peer", () => c.nodes.slice(0, n).every((_, k) => subs.every((s, j) => j === k || routes(c, k + 1).includes(`${s} via`))), 5000);
  return subs;
}

function udp8472Counter(c: Cluster, i: number): number {
  const out = runIn(c.nodes[i - 1]!.ns.name, ["iptables", "-w", "-L", "INPUT", "-v", "-x", "-n"]).stdout;
  const line = out.split("\n").find((l) => l.includes("dpt:8472"));
  return line ? Number(line.trim().split(/\s+/)[0]) : -1;
}

describe.each([
  { backend: "vxlan", kind: "file" },
  { backend: "vxlan", kind: "etcd" },
  { backend: "host-gw", kind: "file" },
  { backend: "host-gw", kind: "etcd" },
] as const)("$backend with the $kind store", ({ backend, kind }) => {
  test("three nodes get distinct subnets, pods reach each other, and a deleted lease's routes go within 2 s", async () => {
    await using c = new Cluster(3);
    await using store = await makeStore(kind, c);
    store.setConfig({ Network: "10.9.0.0/16", Backend: { Type: backend } });
    await startAll(c, store, 3);
    const subs = await converged(c, 3);
    expect(new Set(subs).size).toBe(3);
    expect(store.leaseCount()).toBe(3);

    for (let i = 1; i <= 3; i++) sh(c.nodes[i - 1]!.ns.name, ["iptables", "-w", "-I", "INPUT", "-p", "udp", "--dport", "8472", "-j", "ACCEPT"]);
    const pods = [1, 2, 3].map((i) => c.addPod(i));
    await Promise.all(pods.map((p) => c.serve(p)));
    for (const [a, b] of [[0, 1], [1, 2], [2, 0], [0, 2]] as const) {
      expect(c.tcp(pods[a]!, pods[b]!)).toBe(`pong from ${pods[b]!.ip}`);
    }
    const udp = [1, 2, 3].map((i) => udp8472Counter(c, i));
    if (backend === "vxlan") for (const n of udp) expect(n).toBeGreaterThan(0);
    else for (const n of udp) expect(n).toBe(0);

    // node 3 stops and its lease is deleted: nodes 1 and 2 drop its route (and neighbour/FDB) within 2 s
    await c.nodes[2]!.proc!.stop();
    store.deleteLease(c.subnetOf(3)!);
    const gone = subs[2]!;
    await waitFor("route removal", () => !routes(c, 1).includes(gone) && !routes(c, 2).includes(gone), 2000);
    if (backend === "vxlan") {
      const neigh = runIn(c.nodes[0]!.ns.name, ["ip", "neigh", "show", "dev", "flannel.1"]).stdout;
      expect(neigh).not.toContain(gone.replace("/24", ""));
    }
    expect(c.tcp(pods[0]!, pods[1]!)).toBe(`pong from ${pods[1]!.ip}`);
    expect((await c.nodes[0]!.proc!.waitLog(/lease removed: \S+/))[0]).toBe(`lease removed: ${gone}`);
  }, 40_000);
});

describe("vxlan, file store", () => {
  test("SIGKILL and restart: same subnet, same VtepMAC, no duplicate leases or entries", async () => {
    await using c = new Cluster(2);
    await using store = await makeStore("file", c);
    store.setConfig({ Network: "10.9.0.0/16", Backend: { Type: "vxlan" } });
    await startAll(c, store, 2);
    await converged(c, 2);
    const before = c.subnetOf(1);
    const neighOn2 = () => runIn(c.nodes[1]!.ns.name, ["ip", "neigh", "show", "dev", "flannel.1", "nud", "permanent"]).stdout.trim();
    const neighBefore = neighOn2();
    await c.nodes[0]!.proc!.stop("SIGKILL");
    const p = c.start(1, store.flags);
    await p.waitLog(/lease acquired: .* \(reused\)/);
    expect(c.subnetOf(1)).toBe(before);
    expect(store.leaseCount()).toBe(2);
    await Bun.sleep(300);
    expect(neighOn2()).toBe(neighBefore);
    expect(neighOn2().split("\n").length).toBe(1);
    const r1 = routes(c, 1).split("\n").filter((l) => l.includes("flannel.1"));
    expect(r1.length).toBe(1);
  }, 30_000);

  test("flannel.1 deleted by hand is recreated and every peer programmed again; a stale route is removed at start", async () => {
    await using c = new Cluster(2);
    await using store = await makeStore("file", c);
    store.setConfig({ Network: "10.9.0.0/16", Backend: { Type: "vxlan" } });
    // left from an old lease: a flannel-style route on the uplink to a subnet nobody holds
    sh(c.nodes[0]!.ns.name, ["ip", "route", "add", "10.9.200.0/24", "via", "192.0.2.77", "dev", "eth0", "onlink"]);
    await startAll(c, store, 2);
    await converged(c, 2);
    expect(routes(c, 1)).not.toContain("10.9.200.0/24");
    sh(c.nodes[0]!.ns.name, ["ip", "link", "del", "flannel.1"]);
    const sub2 = c.subnetOf(2)!.replace(/\.1\//, ".0/");
    await waitFor("route back on the recreated flannel.1", () => routes(c, 1).includes(`${sub2} via`), 3000);
    await c.nodes[0]!.proc!.waitLog(/flannel\.1 was missing/);
    const pods = [c.addPod(1), c.addPod(2)];
    await c.serve(pods[1]!);
    expect(c.tcp(pods[0]!, pods[1]!)).toBe(`pong from ${pods[1]!.ip}`);
    // the status command agrees with the kernel
    const st = runIn(c.nodes[0]!.ns.name, [BUN, NODE_ENTRY, "status", "--iface", "eth0", ...store.flags]);
    expect(st.stdout).toContain("in sync");
    expect(st.exitCode).toBe(0);
  }, 30_000);
});

describe("etcd", () => {
  test("etcd restart: the nodes keep their leases and data plane", async () => {
    await using c = new Cluster(2);
    await using store = await makeStore("etcd", c);
    store.setConfig({ Network: "10.9.0.0/16", Backend: { Type: "vxlan" } });
    await startAll(c, store, 2);
    const subs = await converged(c, 2);
    await store.etcd!.restart();
    await Bun.sleep(1500);
    expect(c.nodes.every((n) => n.proc!.alive)).toBe(true);
    expect(routes(c, 1)).toContain(`${subs[1]} via`);
    expect(store.leaseCount()).toBe(2);
    // the watch is back: node 2's lease deleted after the restart reaches node 1
    await c.nodes[1]!.proc!.stop();
    store.deleteLease(c.subnetOf(2)!);
    await waitFor("route removal after the etcd restart", () => !routes(c, 1).includes(subs[1]!), 7000);
  }, 30_000);
});

describe("bad input", () => {
  test("no config, SubnetLen out of range, no free subnet, unreachable etcd: a clear log line, retries, no crash", async () => {
    await using c = new Cluster(3);
    await using store = await makeStore("file", c);
    const p1 = c.start(1, store.flags);
    await p1.waitLog(/No network config in the file store .*; retrying in/);
    store.setConfig({ Network: "10.9.0.0/16", SubnetLen: 31, Backend: { Type: "vxlan" } });
    await p1.waitLog(/"SubnetLen" 31 is out of range/);
    // a /28 holds 3 usable /30 subnets from SubnetMin; shrink with SubnetMax to just one
    store.setConfig({ Network: "10.9.0.0/28", SubnetMax: "10.9.0.4", Backend: { Type: "vxlan" } });
    await p1.waitLog(/lease acquired: 10\.9\.0\.4\/30/, 15_000);
    const p2 = c.start(2, store.flags);
    await p2.waitLog(/No free subnet in network 10\.9\.0\.0\/28/);
    const p3 = c.start(3, ["--etcd-endpoints", "http://192.0.2.254:1"]);
    await p3.waitLog(/Cannot reach etcd .*192\.0\.2\.254:1.*retrying in/);
    expect([p1.alive, p2.alive, p3.alive]).toEqual([true, true, true]);
  }, 40_000);
});

describe("lease loss, health and rules", () => {
  test("our deleted lease is taken again and reprogrammed; /healthz and /readyz on loopback; flanneld's masq and forward rules, restored when flushed", async () => {
    await using c = new Cluster(2);
    await using store = await makeStore("file", c);
    store.setConfig({ Network: "10.9.0.0/16", Backend: { Type: "vxlan" } });
    await startAll(c, store, 2, ["--ip-masq", "--healthz-port", "8471", "--iptables-resync", "1"]);
    await converged(c, 2);
    const n1 = c.nodes[0]!;
    const sub1 = c.subnetOf(1)!;
    const net = sub1.replace(/\.1\/24$/, ".0/24");

    const get = (path: string) =>
      runIn(n1.ns.name, [BUN, "-e", `const r=await fetch("http://127.0.0.1:8471${path}");console.log(r.status)`]).stdout.trim();
    expect(get("/healthz")).toBe("200");
    expect(get("/readyz")).toBe("200");
    const listen = runIn(n1.ns.name, ["ss", "-Hltn", "sport = :8471"]).stdout;
    expect(listen).toContain("127.0.0.1:8471");

    const nat = runIn(n1.ns.name, ["iptables", "-w", "-t", "nat", "-S", "FLANNEL-POSTRTG"]).stdout;
    expect(nat).toContain(`-A FLANNEL-POSTRTG -s ${net} -d 10.9.0.0/16 -m comment --comment "flanneld masq" -j RETURN`);
    expect(nat).toContain('-A FLANNEL-POSTRTG -s 10.9.0.0/16 ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully');
    expect(nat.split("\n").filter((l) => l.startsWith("-A")).length).toBe(6);
    expect(runIn(n1.ns.name, ["iptables", "-w", "-t", "nat", "-S", "POSTROUTING"]).stdout).toContain("-j FLANNEL-POSTRTG");
    expect(runIn(n1.ns.name, ["iptables", "-w", "-S", "FLANNEL-FWD"]).stdout).toContain("-A FLANNEL-FWD -s 10.9.0.0/16");
    sh(n1.ns.name, ["iptables", "-w", "-t", "nat", "-F", "FLANNEL-POSTRTG"]);
    await waitFor("FLANNEL-POSTRTG restored", () => runIn(n1.ns.name, ["iptables", "-w", "-t", "nat", "-S", "FLANNEL-POSTRTG"]).stdout.split("\n").filter((l) => l.startsWith("-A")).length === 6, 4000);

    store.deleteLease(sub1);
    await n1.proc!.waitLog(/our lease \S+ is gone from the store: acquiring one again/);
    await n1.proc!.waitLog(/lease acquired: \S+ \(previous\)/);
    expect(c.subnetOf(1)).toBe(sub1);
    expect(store.leaseCount()).toBe(2);
    // node 2 sees the lease come back and still routes to it
    await waitFor("node 2 route to node 1", () => routes(c, 2).includes(`${net} via`), 3000);
  }, 30_000);
});

describe("dual stack, vxlan, file store", () => {
  test("three nodes lease an IPv4 and an IPv6 subnet each; pods reach each other over IPv6 TCP through flannel-v6.1 on the IPv6 underlay", async () => {
    await using c = new Cluster(3, { ipv6: true });
    await using store = await makeStore("file", c);
    store.setConfig({ Network: "10.9.0.0/16", EnableIPv6: true, IPv6Network: "fd00:10::/48", Backend: { Type: "vxlan" } });
    await startAll(c, store, 3);
    await converged(c, 3);
    const env = (i: number) => readFileSync(c.nodes[i - 1]!.subnetFile, "utf8");
    const subs6 = [1, 2, 3].map((i) => /FLANNEL_IPV6_SUBNET=(fd00:10:0:[0-9a-f]+::)1\/64\n/.exec(env(i))?.[1]);
    expect(subs6.every((s) => s !== undefined)).toBe(true);
    expect(new Set(subs6).size).toBe(3);
    // flanneld's line order; MTU = uplink 1500 - 70 (flannel-v6.1 on the IPv6 underlay), the smaller of the two devices
    expect(env(1)).toMatch(/^FLANNEL_NETWORK=10\.9\.0\.0\/16\nFLANNEL_SUBNET=\S+\nFLANNEL_IPV6_NETWORK=fd00:10::\/48\nFLANNEL_IPV6_SUBNET=\S+\nFLANNEL_MTU=1430\nFLANNEL_IPMASQ=false\n$/);
    // the lease key carries the IPv6 part, and the value PublicIPv6 and BackendV6Data (flanneld's layout)
    const dir = join(c.tmp.path, "store", "subnets");
    const names = readdirSync(dir).filter((n) => !n.startsWith("."));
    expect(names.length).toBe(3);
    for (const n of names) expect(n).toMatch(/^10\.9\.\d+\.0-24&fd00:10:0:[0-9a-f]+::-64$/);
    const lease1 = JSON.parse(readFileSync(join(dir, names.find((n) => n.startsWith(c.subnetOf(1)!.replace(/\.1\/24$/, ".0-24&")))!), "utf8")).Attrs;
    expect(Object.keys(lease1)).toEqual(["PublicIP", "PublicIPv6", "BackendType", "BackendData", "BackendV6Data"]);
    expect(lease1.PublicIPv6).toBe("fd00:192::1");
    const link6 = runIn(c.nodes[0]!.ns.name, ["ip", "-d", "link", "show", "flannel-v6.1"]).stdout;
    expect(link6).toContain("mtu 1430");
    expect(link6).toContain("local fd00:192::1");
    expect(link6.toLowerCase()).toContain(lease1.BackendV6Data.VtepMAC.toLowerCase());

    // every node routes to the others' IPv6 subnets on flannel-v6.1 (neighbour + FDB first, route last)
    const routes6 = (i: number) => runIn(c.nodes[i - 1]!.ns.name, ["ip", "-6", "route", "show"]).stdout;
    await waitFor("IPv6 routes to every peer", () =>
      [1, 2, 3].every((i) => subs6.every((s, j) => j === i - 1 || routes6(i).includes(`${s}/64 via ${s} dev flannel-v6.1`))),
    );
    await c.nodes[0]!.proc!.waitLog(/data plane \(IPv6\): 2 peers; added \d+ routes/);
    for (let i = 1; i <= 3; i++) sh(c.nodes[i - 1]!.ns.name, ["ip6tables", "-w", "-I", "INPUT", "-p", "udp", "--dport", "8472", "-j", "ACCEPT"]);
    const pods = [1, 2, 3].map((i) => c.addPod(i));
    await Promise.all(pods.map((p) => c.serve(p)));
    for (const [a, b] of [[0, 1], [1, 2], [2, 0]] as const) {
      expect(c.tcp(pods[a]!, pods[b]!, 2000, pods[b]!.ip6!)).toBe(`pong from ${pods[b]!.ip}`);
    }
    expect(c.tcp(pods[0]!, pods[1]!)).toBe(`pong from ${pods[1]!.ip}`); // IPv4 still works beside it
    // the IPv6 traffic crossed the underlay as VXLAN over IPv6
    for (let i = 1; i <= 3; i++) {
      const line = runIn(c.nodes[i - 1]!.ns.name, ["ip6tables", "-w", "-L", "INPUT", "-v", "-x", "-n"]).stdout.split("\n").find((l) => l.includes("dpt:8472"));
      expect(Number(line?.trim().split(/\s+/)[0] ?? -1)).toBeGreaterThan(0);
    }
    // ip6tables FLANNEL-FWD for IPv6Network, and status in sync for both families
    expect(runIn(c.nodes[0]!.ns.name, ["ip6tables", "-w", "-S", "FLANNEL-FWD"]).stdout).toContain("-A FLANNEL-FWD -s fd00:10::/48");
    const st = runIn(c.nodes[0]!.ns.name, [BUN, NODE_ENTRY, "status", "--iface", "eth0", ...store.flags]);
    expect(st.stdout).toContain("ipv6:     2 peers");
    expect(st.stdout).toContain("in sync");
    expect(st.exitCode).toBe(0);

    // node 3's lease goes: its IPv6 route, neighbour and FDB entry go from the others within 2 s
    await c.nodes[2]!.proc!.stop();
    rmSync(join(dir, names.find((n) => n.includes(`&${subs6[2]}-64`))!));
    await waitFor("IPv6 route removal", () => !routes6(1).includes(`${subs6[2]}/64`) && !routes6(2).includes(`${subs6[2]}/64`), 2000);
    expect(runIn(c.nodes[0]!.ns.name, ["ip", "-6", "neigh", "show", "dev", "flannel-v6.1"]).stdout).not.toContain(subs6[2]!);
    expect(runIn(c.nodes[0]!.ns.name, ["bridge", "fdb", "show", "dev", "flannel-v6.1"]).stdout).not.toContain("fd00:192::3");
    expect(c.tcp(pods[0]!, pods[1]!, 2000, pods[1]!.ip6!)).toBe(`pong from ${pods[1]!.ip}`);
  }, 40_000);
});
