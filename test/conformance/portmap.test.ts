// portmap against the reference (/usr/lib/cni/portmap, Debian v1.1.1): the same input in two throwaway host
// namespaces (iptables state is per netns), then the nat tables of both families compared with counters masked.
// Where weft deliberately differs (newer upstream behaviour, reference bugs) the difference is asserted explicitly.
import { beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { REF_BIN, WEFT_BIN, runPlugin, type PluginRun } from "../helpers/plugin.ts";
import { createTestNetns, runIn, type TestNetns } from "../helpers/netns.ts";

type Impl = "ref" | "weft";
const BIN: Record<Impl, string> = { ref: REF_BIN, weft: WEFT_BIN };
const CID = "0123456789abcdef";

function nat(ns: string, family: 4 | 6): string {
  const r = runIn(ns, [family === 6 ? "ip6tables-save" : "iptables-save", "-t", "nat"]);
  if (r.exitCode !== 0) throw new Error(`iptables-save failed in ${ns}: ${r.stderr}`);
  return r.stdout
    .split("\n")
    .filter((l) => !l.startsWith("#"))
    .map((l) => l.replace(/\[\d+:\d+\]/g, "[0:0]"))
    .join("\n");
}
const tables = (ns: string) => ({ v4: nat(ns, 4), v6: nat(ns, 6) });

function sh(ns: string, ...argv: string[]): void {
  const r = runIn(ns, argv);
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")} failed in ${ns}: ${r.stderr}`);
}

/** The pod netns (shared by both implementations: they only read its path) and one host netns per implementation. */
interface Pair extends Disposable {
  pod: TestNetns;
  host: Record<Impl, TestNetns>;
  run(impl: Impl, command: string, conf: unknown, containerId?: string): PluginRun;
}

function makePair(label: string): Pair {
  const stack = new DisposableStack();
  const pod = stack.use(createTestNetns(`${label}-pod`));
  const host = { ref: stack.use(createTestNetns(`${label}-ref`)), weft: stack.use(createTestNetns(`${label}-weft`)) };
  return {
    pod,
    host,
    run: (impl, command, conf, containerId = CID) =>
      runPlugin({ binDir: BIN[impl], plugin: "portmap", command, conf, containerId, netns: pod.path, ifname: "eth0", hostNetns: host[impl].name }),
    [Symbol.dispose]: () => stack.dispose(),
  };
}

/** A result with Debian v1.1.1's `"dns": {}` removed (skel behaviour, not portmap's). */
function result(r: PluginRun): unknown {
  const j = { ...r.json };
  if (j.dns && Object.keys(j.dns as object).length === 0) delete j.dns;
  return j;
}

const dual = {
  cniVersion: "1.0.0",
  interfaces: [{ name: "cni0", mac: "aa:bb:cc:dd:ee:ff" }, { name: "veth1", mac: "aa:bb:cc:dd:ee:00" }, { name: "eth0", mac: "aa:bb:cc:dd:ee:01", sandbox: "/run/netns/pod" }],
  ips: [
    { address: "10.244.1.1/24", interface: 0 }, // the bridge's own address: not the pod's
    { address: "10.244.1.5/24", interface: 2, gateway: "10.244.1.1" },
    { address: "10.244.1.6/24", interface: 2 }, // only the first address of a family counts
    { address: "fd00:244::5/64", interface: 2, gateway: "fd00:244::1" },
  ],
  routes: [{ dst: "0.0.0.0/0", gw: "10.244.1.1" }],
};
const v4only = { cniVersion: "1.0.0", interfaces: [{ name: "eth0", sandbox: "/run/netns/pod" }], ips: [{ address: "10.244.1.5/24", interface: 0 }] };
const v6only = { cniVersion: "1.0.0", interfaces: [{ name: "eth0", sandbox: "/run/netns/pod" }], ips: [{ address: "fd00:244::5/64", interface: 0 }] };
const conf = (portMappings: unknown[], prevResult: unknown, extra: Record<string, unknown> = {}) => ({
  cniVersion: "1.0.0",
  name: "cbr0",
  type: "portmap",
  runtimeConfig: { portMappings },
  prevResult,
  ...extra,
});
const many = Array.from({ length: 20 }, (_, i) => ({ hostPort: 30000 + i, containerPort: 80, protocol: "tcp" }));

const CASES: { name: string; conf: unknown; setup?: string[][] }[] = [
  {
    name: "dual stack, hostIP of either family, tcp and udp",
    conf: conf(
      [
        { hostPort: 8080, containerPort: 80, protocol: "tcp" },
        { hostPort: 5353, containerPort: 53, protocol: "udp", hostIP: "10.0.0.1" },
        { hostPort: 9090, containerPort: 90, protocol: "tcp", hostIP: "fd00::1" },
      ],
      dual,
    ),
  },
  { name: "unspecified hostIPs 0.0.0.0 and ::", conf: conf([{ hostPort: 80, containerPort: 8080, protocol: "tcp", hostIP: "0.0.0.0" }, { hostPort: 81, containerPort: 8081, protocol: "tcp", hostIP: "::" }], dual) },
  { name: "snat off", conf: conf([{ hostPort: 8080, containerPort: 80, protocol: "tcp" }], dual, { snat: false }) },
  {
    name: "externalSetMarkChain",
    conf: conf([{ hostPort: 8080, containerPort: 80, protocol: "tcp" }], v4only, { externalSetMarkChain: "KUBE-MARK-MASQ" }),
    setup: [["iptables", "-w", "-t", "nat", "-N", "KUBE-MARK-MASQ"]],
  },
  {
    name: "markMasqBit and conditions",
    conf: conf([{ hostPort: 8080, containerPort: 80, protocol: "udp" }], dual, { markMasqBit: 5, conditionsV4: ["!", "-s", "192.168.0.0/16"], conditionsV6: ["-s", "fd00:1::/64"] }),
  },
  { name: "20 tcp ports, udp and sctp (multiport split)", conf: conf([...many, { hostPort: 40000, containerPort: 53, protocol: "udp" }, { hostPort: 40001, containerPort: 99, protocol: "sctp" }], v4only) },
  { name: "IPv6 only", conf: conf([{ hostPort: 8080, containerPort: 80, protocol: "tcp" }], v6only) },
  {
    name: "containerd's capitalised keys",
    conf: conf([{ HostPort: 8080, ContainerPort: 80, Protocol: "tcp", HostIP: "10.0.0.1" }], v4only, { SNAT: true }),
  },
  {
    name: "a 0.3.1 prevResult under a 0.3.1 config",
    conf: {
      ...conf([{ hostPort: 8080, containerPort: 80, protocol: "tcp" }], { cniVersion: "0.3.1", interfaces: [{ name: "eth0", sandbox: "/x" }], ips: [{ version: "4", address: "10.244.1.5/24", interface: 0 }], dns: {} }),
      cniVersion: "0.3.1",
    },
  },
];

beforeAll(() => {
  if (!Bun.file(join(WEFT_BIN, "portmap")).size) throw new Error("build/bin/portmap is missing: run `make build` first");
});

describe("portmap vs the reference", () => {
  test.each(CASES)("ADD then DEL gives the reference's nat tables: $name", ({ conf, setup }) => {
    using p = makePair("pmc");
    for (const impl of ["ref", "weft"] as const) for (const argv of setup ?? []) sh(p.host[impl].name, ...argv);
    const add = { ref: p.run("ref", "ADD", conf), weft: p.run("weft", "ADD", conf) };
    expect([add.weft.exitCode, add.weft.stderr]).toEqual([0, ""]);
    expect(add.ref.exitCode).toBe(0);
    expect(result(add.weft)).toEqual(result(add.ref) as Record<string, unknown>);
    const afterAdd = { ref: tables(p.host.ref.name), weft: tables(p.host.weft.name) };
    expect(afterAdd.weft).toEqual(afterAdd.ref);
    expect(afterAdd.weft.v4 + afterAdd.weft.v6).toContain("-j CNI-DN-8cbe06c6d4b297670ecbf");
    expect(p.run("ref", "DEL", conf).exitCode).toBe(0);
    expect(p.run("weft", "DEL", conf).exitCode).toBe(0);
    const afterDel = { ref: tables(p.host.ref.name), weft: tables(p.host.weft.name) };
    expect(afterDel.weft).toEqual(afterDel.ref);
    expect(afterDel.weft.v4 + afterDel.weft.v6).not.toContain("CNI-DN-");
  });

  test("each removes what the other added (same chain names and hashes)", () => {
    using p = makePair("pmx");
    const c = CASES[0]!.conf;
    expect(p.run("ref", "ADD", c).exitCode).toBe(0);
    expect(p.run("weft", "ADD", c).exitCode).toBe(0);
    // cross over: weft's DEL in the reference's netns and the reference's DEL in weft's
    const crossDel = (impl: Impl, ns: TestNetns) =>
      runPlugin({ binDir: BIN[impl], plugin: "portmap", command: "DEL", conf: c, containerId: CID, netns: p.pod.path, ifname: "eth0", hostNetns: ns.name });
    expect(crossDel("weft", p.host.ref).exitCode).toBe(0);
    expect(crossDel("ref", p.host.weft).exitCode).toBe(0);
    const t = { ref: tables(p.host.ref.name), weft: tables(p.host.weft.name) };
    expect(t.ref.v4 + t.ref.v6 + t.weft.v4 + t.weft.v6).not.toContain("CNI-DN-");
    expect(t.weft).toEqual(t.ref);
  });
});

describe("portmap differences from the reference v1.1.1, asserted", () => {
  test("CHECK on a dual-stack pod: weft passes, v1.1.1 checks IPv4 rules in ip6tables and fails", () => {
    using p = makePair("pmck");
    const c = CASES[0]!.conf;
    for (const impl of ["ref", "weft"] as const) expect(p.run(impl, "ADD", c).exitCode).toBe(0);
    expect(p.run("weft", "CHECK", c).exitCode).toBe(0);
    const ref = p.run("ref", "CHECK", c);
    expect(ref.exitCode).toBe(1);
    expect(String(ref.json?.msg)).toContain("could not check ipv6 dnat");
  });

  test("ADD again with a new pod IP: weft replaces the rules, the reference keeps the stale DNAT (plugins#683)", () => {
    using p = makePair("pmre");
    const first = conf([{ hostPort: 8080, containerPort: 80, protocol: "tcp" }], v4only);
    const second = conf([{ hostPort: 8080, containerPort: 80, protocol: "tcp" }], { ...v4only, ips: [{ address: "10.244.1.77/24", interface: 0 }] });
    for (const impl of ["ref", "weft"] as const) {
      expect(p.run(impl, "ADD", first).exitCode).toBe(0);
      expect(p.run(impl, "ADD", second).exitCode).toBe(0);
    }
    expect(nat(p.host.ref.name, 4)).toContain("--to-destination 10.244.1.5:80");
    expect(nat(p.host.weft.name, 4)).not.toContain("--to-destination 10.244.1.5:80");
    expect(nat(p.host.weft.name, 4)).toContain("--to-destination 10.244.1.77:80");
  });

  test("DEL without portMappings: weft finds the chain by its hash, the reference leaves it behind", () => {
    using p = makePair("pmdel");
    const c = CASES[0]!.conf;
    const bare = { cniVersion: "1.0.0", name: "cbr0", type: "portmap" };
    for (const impl of ["ref", "weft"] as const) {
      expect(p.run(impl, "ADD", c).exitCode).toBe(0);
      expect(p.run(impl, "DEL", bare).exitCode).toBe(0);
    }
    expect(nat(p.host.ref.name, 4)).toContain("CNI-DN-8cbe06c6d4b297670ecbf");
    expect(nat(p.host.weft.name, 4) + nat(p.host.weft.name, 6)).not.toContain("CNI-DN-");
  });

  test("masqAll (v1.9.1): weft marks every source, v1.1.1 does not know the key", () => {
    using p = makePair("pmma");
    const c = conf([{ hostPort: 8080, containerPort: 80, protocol: "tcp" }], v4only, { masqAll: true });
    for (const impl of ["ref", "weft"] as const) expect(p.run(impl, "ADD", c).exitCode).toBe(0);
    expect(nat(p.host.weft.name, 4)).toContain("-A CNI-DN-8cbe06c6d4b297670ecbf -p tcp -m tcp --dport 8080 -j CNI-HOSTPORT-SETMARK");
    expect(nat(p.host.weft.name, 4)).not.toContain("-s 127.0.0.1/32");
    expect(nat(p.host.ref.name, 4)).toContain("-s 10.244.1.0/24 -p tcp -m tcp --dport 8080 -j CNI-HOSTPORT-SETMARK");
  });

  test("host port 65536: weft rejects the config (code 7), the reference hands it to iptables", () => {
    using p = makePair("pmbig");
    const c = conf([{ hostPort: 65536, containerPort: 80, protocol: "tcp" }], v4only);
    const weft = p.run("weft", "ADD", c);
    expect([weft.exitCode, weft.json?.code]).toEqual([1, 7]);
    expect(nat(p.host.weft.name, 4)).not.toContain("CNI-");
    const ref = p.run("ref", "ADD", c);
    expect(ref.exitCode).toBe(1);
    expect(ref.json?.code).toBe(999);
  });
});
