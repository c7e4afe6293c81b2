// The scenarios of `make bench`. Each builds the same input for weft (build/bin) and the reference
// (/usr/lib/cni) and times one step. Runs inside the bench host netns (scripts/bench.sh), so every bridge and
// iptables rule lives there; pods are namespaces made here and removed at the end of each scenario.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { compare, median, runParallel, runSeq, spawnMeasured, type Proc, type Row, type StepOutcome } from "./harness.ts";

const ROOT = resolve(import.meta.dir, "../..");
export const WEFT = join(ROOT, "build/bin");
export const REF = "/usr/lib/cni";
const PATH_ENV = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export interface Scenario {
  name: string;
  run(quick: boolean): Promise<Row>;
}

let seq = 0;
/** A pod netns for the duration of a scenario. */
function netns(label: string): { name: string; path: string; drop(): void } {
  const name = `weft-b-${process.pid}-${seq++}-${label}`;
  const r = Bun.spawnSync(["ip", "netns", "add", name]);
  if (r.exitCode !== 0) throw new Error(`ip netns add ${name}: ${r.stderr}`);
  return { name, path: `/run/netns/${name}`, drop: () => void Bun.spawnSync(["ip", "netns", "del", name]) };
}
function pods(n: number, label: string) {
  const list = Array.from({ length: n }, (_, i) => netns(`${label}${i}`));
  return { list, drop: () => list.forEach((p) => p.drop()) };
}
function tmp(label: string): { path: string; drop(): void } {
  const path = mkdtempSync(join(tmpdir(), `weft-b-${label}-`));
  return { path, drop: () => rmSync(path, { recursive: true, force: true }) };
}

export function proc(bin: string, plugin: string, o: { command: string; conf?: unknown; cid?: string; netns?: string; ifname?: string; env?: Record<string, string> }): Proc {
  return {
    argv: [join(bin, plugin)],
    env: {
      PATH: PATH_ENV,
      CNI_COMMAND: o.command,
      CNI_CONTAINERID: o.cid ?? "bench",
      CNI_NETNS: o.netns ?? "",
      CNI_IFNAME: o.ifname ?? "eth0",
      CNI_PATH: bin,
      ...o.env,
    },
    stdin: o.conf === undefined ? "" : JSON.stringify(o.conf),
  };
}

const samples = (quick: boolean, n: number) => (quick ? Math.max(3, Math.ceil(n / 5)) : n);

/** ADD then DEL of one attachment, for weft and the reference; `conf(bin)` builds the config for a side. */
function addDel(name: string, plugin: string, conf: (side: "weft" | "ref", dir: string) => unknown, n: number, note?: string): Scenario {
  return {
    name,
    async run(quick) {
      const pod = netns("pod");
      const dirs = { weft: tmp("w"), ref: tmp("r") };
      const step = (side: "weft" | "ref") => (): StepOutcome => {
        const bin = side === "weft" ? WEFT : REF;
        const c = conf(side, dirs[side].path);
        return runSeq([proc(bin, plugin, { command: "ADD", conf: c, netns: pod.path }), proc(bin, plugin, { command: "DEL", conf: c, netns: pod.path })]);
      };
      try {
        return await compare({ scenario: name, samples: samples(quick, n), weft: step("weft"), ref: step("ref"), ...(note ? { note } : {}) });
      } finally {
        pod.drop();
        dirs.weft.drop();
        dirs.ref.drop();
      }
    },
  };
}

/** k concurrent ADDs (timed, first start to last exit), then their DELs (not timed). */
async function concurrentAdds(o: { k: number; plugin: string; conf: (side: "weft" | "ref", dir: string, i: number) => unknown; label: string }, side: "weft" | "ref", podList: Array<{ path: string }>): Promise<StepOutcome & { perProcMs: number[] }> {
  const bin = side === "weft" ? WEFT : REF;
  const dir = tmp(o.label);
  try {
    const adds = podList.slice(0, o.k).map((p, i) => proc(bin, o.plugin, { command: "ADD", conf: o.conf(side, dir.path, i), netns: p.path, cid: `bench${i}` }));
    const res = await runParallel(adds);
    const dels = podList.slice(0, o.k).map((p, i) => proc(bin, o.plugin, { command: "DEL", conf: o.conf(side, dir.path, i), netns: p.path, cid: `bench${i}` }));
    await runParallel(dels);
    return res;
  } finally {
    dir.drop();
  }
}

function concurrent(name: string, k: number, plugin: string, conf: (side: "weft" | "ref", dir: string, i: number) => unknown, n: number, note?: string): Scenario {
  return {
    name,
    async run(quick) {
      const ps = pods(k, "c");
      try {
        return await compare({
          scenario: name,
          samples: samples(quick, n),
          warmup: 1,
          weft: () => concurrentAdds({ k, plugin, conf, label: "cw" }, "weft", ps.list),
          ref: () => concurrentAdds({ k, plugin, conf, label: "cr" }, "ref", ps.list),
          ...(note ? { note } : {}),
        });
      } finally {
        ps.drop();
      }
    },
  };
}

const hostLocal = (dataDir: string) => ({ cniVersion: "1.0.0", name: "bench-hl", ipam: { type: "host-local", dataDir, ranges: [[{ subnet: "10.250.0.0/24" }]] } });
const bridgeConf = (br: string, subnet: string) => (side: "weft" | "ref", dataDir: string) => ({
  cniVersion: "1.0.0",
  name: `bench-${br}`,
  type: "bridge",
  bridge: `${br}${side === "weft" ? "w" : "r"}`,
  isGateway: true,
  ipMasq: true,
  ipam: { type: "host-local", dataDir, ranges: [[{ subnet: side === "weft" ? subnet : subnet.replace(/^10\.(\d+)\./, (_m, a) => `10.${Number(a) + 1}.`) }]] },
});
/** The delegate config flannel builds for the stock conflist (cni-notes §3.3), fed to the reference bridge. */
const flannelDelegate = (dataDir: string, subnet: string, br: string) => ({
  cniVersion: "0.3.1",
  name: `bench-${br}`,
  type: "bridge",
  bridge: br,
  hairpinMode: true,
  ipMasq: false,
  isDefaultGateway: true,
  isGateway: true,
  mtu: 1450,
  ipam: { type: "host-local", dataDir, ranges: [[{ subnet }]], routes: [{ dst: "10.240.0.0/13" }] },
});

/**
 * A chain as a runtime runs it: ADDs in order, each given the previous result as prevResult, then DELs in
 * reverse with the final result. `entries` are the per-plugin configs (without prevResult).
 */
function runChain(bin: string, entries: Array<{ plugin: string; conf: Record<string, unknown> }>, o: { netns: string; cid: string; env?: Record<string, string> }): StepOutcome {
  let maxRss = 0;
  const t0 = performance.now();
  let prev: unknown;
  const exec = (p: Proc) => {
    const r = spawnMeasured(p);
    maxRss = Math.max(maxRss, r.peakBytes);
    if (r.exitCode !== 0) throw new Error(`${p.argv.join(" ")} ${p.env.CNI_COMMAND} exited ${r.exitCode}: ${r.stdout} ${r.stderr}`);
    return r.stdout;
  };
  for (const e of entries) {
    const conf = prev === undefined ? e.conf : { ...e.conf, prevResult: prev };
    prev = JSON.parse(exec(proc(bin, e.plugin, { command: "ADD", conf, netns: o.netns, cid: o.cid, env: o.env ?? {} })));
  }
  for (const e of [...entries].reverse()) exec(proc(bin, e.plugin, { command: "DEL", conf: { ...e.conf, prevResult: prev }, netns: o.netns, cid: o.cid, env: o.env ?? {} }));
  return { ms: performance.now() - t0, maxRssBytes: maxRss };
}

const PORTMAPS = [
  { hostPort: 18080, containerPort: 80, protocol: "tcp" },
  { hostPort: 18053, containerPort: 53, protocol: "udp" },
];

/** The stock flannel conflist for weft (flannel → bridge → host-local, then portmap) against the reference chain fed flannel's delegate config. */
function flannelChain(dir: string, side: "weft" | "ref", withPorts: boolean, bridge = "cni"): Array<{ plugin: string; conf: Record<string, unknown> }> {
  const portmap = { cniVersion: "0.3.1", name: "cbr0", type: "portmap", capabilities: { portMappings: true }, ...(withPorts ? { runtimeConfig: { portMappings: PORTMAPS } } : {}) };
  if (side === "weft") {
    return [
      {
        plugin: "flannel",
        conf: {
          cniVersion: "0.3.1",
          name: "cbr0",
          type: "flannel",
          subnetFile: join(dir, "subnet.env"),
          dataDir: join(dir, "flannel"),
          delegate: { hairpinMode: true, isDefaultGateway: true, bridge: `${bridge}w` },
          ipam: { dataDir: join(dir, "networks") },
        },
      },
      { plugin: "portmap", conf: portmap },
    ];
  }
  return [
    { plugin: "bridge", conf: { ...flannelDelegate(join(dir, "networks"), `10.242.${bridge.length}.0/24`, `${bridge}r`), name: "cbr0" } },
    { plugin: "portmap", conf: portmap },
  ];
}

function flannelScenario(name: string, o: { env?: Record<string, string>; n: number; note?: string }): Scenario {
  return {
    name,
    async run(quick) {
      const pod = netns("fl");
      const dirs = { weft: tmp("fw"), ref: tmp("fr") };
      writeFileSync(join(dirs.weft.path, "subnet.env"), "FLANNEL_NETWORK=10.240.0.0/13\nFLANNEL_SUBNET=10.241.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n");
      try {
        return await compare({
          scenario: name,
          samples: samples(quick, o.n),
          weft: () => runChain(WEFT, flannelChain(dirs.weft.path, "weft", true), { netns: pod.path, cid: "fl1", env: o.env ?? {} }),
          ref: () => runChain(REF, flannelChain(dirs.ref.path, "ref", true), { netns: pod.path, cid: "fl1" }),
          ...(o.note ? { note: o.note } : {}),
        });
      } finally {
        pod.drop();
        dirs.weft.drop();
        dirs.ref.drop();
      }
    },
  };
}

export const SCENARIOS: Scenario[] = [
  {
    name: "VERSION (bridge)",
    run: (quick) =>
      compare({
        scenario: "VERSION (bridge)",
        samples: samples(quick, 30),
        weft: () => runSeq([proc(WEFT, "bridge", { command: "VERSION" })]),
        ref: () => runSeq([proc(REF, "bridge", { command: "VERSION" })]),
      }),
  },
  {
    name: "loopback ADD",
    async run(quick) {
      const pod = netns("lo");
      const conf = { cniVersion: "1.0.0", name: "bench-lo", type: "loopback" };
      try {
        return await compare({
          scenario: "loopback ADD",
          samples: samples(quick, 30),
          weft: () => runSeq([proc(WEFT, "loopback", { command: "ADD", conf, netns: pod.path })]),
          ref: () => runSeq([proc(REF, "loopback", { command: "ADD", conf, netns: pod.path })]),
        });
      } finally {
        pod.drop();
      }
    },
  },
  addDel("host-local ADD+DEL", "host-local", (_s, dir) => hostLocal(dir), 30),
  concurrent("host-local 64 concurrent ADDs", 64, "host-local", (_s, dir) => hostLocal(dir), 8),
  addDel("bridge + host-local ADD+DEL (ipMasq)", "bridge", bridgeConf("bb", "10.251.0.0/24"), 20),
  concurrent("bridge + host-local 32 concurrent ADDs", 32, "bridge", bridgeConf("bc", "10.253.0.0/24"), 5),
  flannelScenario("flannel conflist ADD+DEL (flannel+bridge+host-local, portmap 2 mappings)", { n: 15, note: "in-process delegation" }),
  flannelScenario("flannel conflist ADD+DEL, delegation by exec", { n: 10, env: { WEFT_NO_INPROC: "1" }, note: "WEFT_NO_INPROC=1" }),
  {
    name: "flannel conflist 32 concurrent ADDs",
    async run(quick) {
      const ps = pods(32, "fc");
      const dirs = { weft: tmp("fcw"), ref: tmp("fcr") };
      writeFileSync(join(dirs.weft.path, "subnet.env"), "FLANNEL_NETWORK=10.240.0.0/13\nFLANNEL_SUBNET=10.241.2.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n");
      const chain = (side: "weft" | "ref") => async (): Promise<StepOutcome> => {
        const bin = side === "weft" ? WEFT : REF;
        const first = flannelChain(dirs[side].path, side, false, "cnic")[0]!;
        const t0 = performance.now();
        const res = await runParallel(ps.list.map((p, i) => proc(bin, first.plugin, { command: "ADD", conf: first.conf, netns: p.path, cid: `fc${i}` })));
        const ms = performance.now() - t0;
        await runParallel(ps.list.map((p, i) => proc(bin, first.plugin, { command: "DEL", conf: first.conf, netns: p.path, cid: `fc${i}` })));
        return { ms, maxRssBytes: res.maxRssBytes };
      };
      try {
        return await compare({ scenario: "flannel conflist 32 concurrent ADDs", samples: samples(quick, 5), warmup: 1, weft: chain("weft"), ref: chain("ref") });
      } finally {
        ps.drop();
        dirs.weft.drop();
        dirs.ref.drop();
      }
    },
  },
  {
    name: "portmap ADD+DEL, 2 mappings",
    async run(quick) {
      const pod = netns("pm");
      const conf = (side: string) => ({
        cniVersion: "1.0.0",
        name: `bench-pm-${side}`,
        type: "portmap",
        runtimeConfig: { portMappings: PORTMAPS },
        prevResult: { cniVersion: "1.0.0", interfaces: [{ name: "eth0", sandbox: pod.path }], ips: [{ interface: 0, address: side === "weft" ? "10.239.0.5/24" : "10.239.1.5/24" }] },
      });
      const step = (side: "weft" | "ref") => () => {
        const bin = side === "weft" ? WEFT : REF;
        return runSeq([proc(bin, "portmap", { command: "ADD", conf: conf(side), netns: pod.path, cid: `pm-${side}` }), proc(bin, "portmap", { command: "DEL", conf: conf(side), netns: pod.path, cid: `pm-${side}` })]);
      };
      try {
        return await compare({ scenario: "portmap ADD+DEL, 2 mappings", samples: samples(quick, 20), weft: step("weft"), ref: step("ref") });
      } finally {
        pod.drop();
      }
    },
  },
  {
    name: "weft add + weft del of a conflist (bridge+host-local+portmap)",
    async run(quick) {
      const pod = netns("cli");
      const dirs = { weft: tmp("cw"), ref: tmp("cr") };
      const list = (side: "weft" | "ref", dir: string) => ({
        cniVersion: "1.0.0",
        name: `bench-cli-${side}`,
        plugins: [
          { type: "bridge", bridge: `cli${side[0]}`, isGateway: true, ipMasq: true, ipam: { type: "host-local", dataDir: join(dir, "networks"), ranges: [[{ subnet: side === "weft" ? "10.238.0.0/24" : "10.238.1.0/24" }]] } },
          { type: "portmap", capabilities: { portMappings: true } },
        ],
      });
      for (const side of ["weft", "ref"] as const) writeFileSync(join(dirs[side].path, "net.conflist"), JSON.stringify(list(side, dirs[side].path)));
      const step = (side: "weft" | "ref") => () => {
        const dir = dirs[side].path;
        const env = { PATH: PATH_ENV, CNI_PATH: side === "weft" ? WEFT : REF, WEFT_CACHE_DIR: join(dir, "cache") };
        const cap = JSON.stringify({ portMappings: PORTMAPS });
        const file = join(dir, "net.conflist");
        return runSeq([
          { argv: [join(WEFT, "weft"), "add", file, pod.path, "--container-id", `cli-${side}`, "--cap", cap], env },
          { argv: [join(WEFT, "weft"), "del", file, pod.path, "--container-id", `cli-${side}`, "--cap", cap], env },
        ]);
      };
      try {
        return await compare({ scenario: "weft add + weft del of a conflist (bridge+host-local+portmap)", samples: samples(quick, 10), weft: step("weft"), ref: step("ref"), note: "weft CLI driving weft's plugins vs the reference plugins" });
      } finally {
        pod.drop();
        dirs.weft.drop();
        dirs.ref.drop();
      }
    },
  },
];

/** Median per-ADD latency (bridge + host-local) as concurrency grows 1 → 64, for the plot. */
export async function concurrencyCurve(quick: boolean): Promise<{ xs: number[]; weft: number[]; ref: number[] }> {
  const xs = [1, 2, 4, 8, 16, 32, 64];
  const ps = pods(64, "k");
  const conf = bridgeConf("bk", "10.247.0.0/24");
  const out = { xs, weft: [] as number[], ref: [] as number[] };
  try {
    for (const k of xs) {
      const w: number[] = [];
      const r: number[] = [];
      for (let i = 0; i < (quick ? 1 : 3); i++) {
        w.push(...(await concurrentAdds({ k, plugin: "bridge", conf, label: "kw" }, "weft", ps.list)).perProcMs);
        r.push(...(await concurrentAdds({ k, plugin: "bridge", conf, label: "kr" }, "ref", ps.list)).perProcMs);
      }
      out.weft.push(median(w));
      out.ref.push(median(r));
      console.log(`curve k=${k}: weft ${median(w).toFixed(1)} ms, reference ${median(r).toFixed(1)} ms`);
    }
  } finally {
    ps.drop();
  }
  return out;
}

