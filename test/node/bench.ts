// Measures `weft node` (issue 10 "Measure"): convergence from a new lease written to the store until every running
// node's kernel has its route (median of 20, file store and etcd), and the time to program 250 peer leases at start.
// Run: node_modules/.bin/bun test/node/bench.ts   (root; uses test namespaces only, removes everything)
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runIn } from "../helpers/netns.ts";
import { Cluster, waitFor } from "./cluster.ts";
import { TestEtcd, ensureEtcdInstalled } from "./etcd.ts";

const PREFIX = "/coreos.com/network";
const lease = (i: number) => JSON.stringify({ PublicIP: `192.0.2.${100 + (i % 100)}`, PublicIPv6: null, BackendType: "vxlan", BackendData: { VNI: 1, VtepMAC: `02:42:00:00:${((i >> 8) & 255).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")}` } });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function convergence(kind: "file" | "etcd"): Promise<number[]> {
  await using c = new Cluster(3);
  let write: (key: string, value: string) => void;
  let flags: string[];
  let etcd: TestEtcd | undefined;
  const conf = JSON.stringify({ Network: "10.0.0.0/8", Backend: { Type: "vxlan" } });
  if (kind === "file") {
    const dir = join(c.tmp.path, "store");
    mkdirSync(join(dir, "subnets"), { recursive: true });
    writeFileSync(join(dir, "config"), conf);
    write = (k, v) => {
      writeFileSync(join(dir, "subnets", `.${k}`), JSON.stringify({ Subnet: k, Attrs: JSON.parse(v), Expiration: new Date(Date.now() + 86400e3).toISOString() }));
      Bun.spawnSync(["mv", join(dir, "subnets", `.${k}`), join(dir, "subnets", k)]);
    };
    flags = ["--store", `file:${dir}`];
  } else {
    etcd = new TestEtcd({ host: "192.0.2.254", netns: c.underlay.name });
    await etcd.start();
    etcd.put(`${PREFIX}/config`, conf);
    write = (k, v) => etcd!.put(`${PREFIX}/subnets/${k}`, v);
    flags = ["--etcd-endpoints", etcd.url];
  }
  try {
    for (let i = 1; i <= 3; i++) c.start(i, flags, ["--reconcile-interval", "60"]);
    await Promise.all(c.nodes.map((n) => n.proc!.waitLog(/ info wrote /)));
    const out: number[] = [];
    for (let k = 0; k < 20; k++) {
      const key = `10.200.${k}.0-24`;
      const t0 = performance.now();
      write(key, lease(k));
      await waitFor("routes", () => c.nodes.every((n) => runIn(n.ns.name, ["ip", "route", "show", `10.200.${k}.0/24`]).stdout.includes("via")), 5000, 2);
      out.push(performance.now() - t0);
    }
    return out;
  } finally {
    await etcd?.[Symbol.asyncDispose]();
  }
}

async function startWith250(): Promise<string> {
  await using c = new Cluster(1);
  const dir = join(c.tmp.path, "store");
  mkdirSync(join(dir, "subnets"), { recursive: true });
  writeFileSync(join(dir, "config"), JSON.stringify({ Network: "10.0.0.0/8", Backend: { Type: "vxlan" } }));
  for (let i = 0; i < 250; i++) {
    writeFileSync(join(dir, "subnets", `10.100.${i}.0-24`), JSON.stringify({ Subnet: `10.100.${i}.0/24`, Attrs: JSON.parse(lease(i)), Expiration: new Date(Date.now() + 86400e3).toISOString() }));
  }
  const p = c.start(1, ["--store", `file:${dir}`]);
  const m = await p.waitLog(/data plane: 250 peers; added 250 routes, 250 neighbours, 250 FDB entries.*\((\S+) ms\)/, 15_000);
  return m[1]!;
}

ensureEtcdInstalled();
for (const kind of ["file", "etcd"] as const) {
  const xs = await convergence(kind);
  console.log(`convergence ${kind}: median ${median(xs).toFixed(1)} ms, min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)} (n=20, 3 nodes)`);
}
console.log(`250 peers programmed at start: ${await startWith250()} ms (read state + plan + one netlink batch of 750 requests)`);
