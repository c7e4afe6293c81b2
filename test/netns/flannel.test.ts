// End to end in throwaway namespaces: the stock kube-flannel entry (`delegate: {hairpinMode, isDefaultGateway}`)
// through weft's flannel to bridge and host-local, both weft's and the reference's (/usr/lib/cni, which also
// proves drop-in compatibility): ADD/CHECK/DEL, DEL twice, DEL after the netns or the saved file is gone, a
// delegate that fails, and in-process delegation giving what exec gives. State lives in a per-test temp dir.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createTestNetns, runIn, type TestNetns } from "../helpers/netns.ts";
import { REF_BIN, runPlugin, tempDir, WEFT_BIN } from "../helpers/plugin.ts";

const SUBNET_ENV = "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n";
type Chain = "weft" | "reference";
const CHAINS: Chain[] = ["weft", "reference"];
/** Liveness bound for one test (several process starts on a loaded 2-core machine), not a speed target. */
const TIMEOUT_MS = 60_000;

/** A node: a host netns, a CNI_PATH whose flannel is weft's and whose bridge/host-local come from `chain`. */
function node(t: { path: string }, chain: Chain) {
  const bin = join(t.path, "bin");
  mkdirSync(bin);
  symlinkSync(join(WEFT_BIN, "weft"), join(bin, "flannel"));
  for (const p of ["bridge", "host-local"]) symlinkSync(chain === "weft" ? join(WEFT_BIN, "weft") : join(REF_BIN, p), join(bin, p));
  const subnetFile = join(t.path, "subnet.env");
  writeFileSync(subnetFile, SUBNET_ENV);
  const dataDir = join(t.path, "flannel");
  const ipamDir = join(t.path, "networks");
  // The stock conflist's flannel entry; the test only moves its state files into the temp dir.
  const conf = (cniVersion = "0.3.1") => ({
    name: "cbr0", cniVersion, type: "flannel", subnetFile, dataDir, ipam: { dataDir: ipamDir }, delegate: { hairpinMode: true, isDefaultGateway: true },
  });
  const reservations = () => (existsSync(join(ipamDir, "cbr0")) ? readdirSync(join(ipamDir, "cbr0")).filter((f) => /^\d/.test(f)) : []);
  return { bin, subnetFile, dataDir, ipamDir, conf, reservations };
}

function flannel(n: ReturnType<typeof node>, host: TestNetns, command: string, conf: unknown, o: { netns?: string; cid?: string; env?: Record<string, string> } = {}) {
  return runPlugin({ binDir: n.bin, plugin: "flannel", command, conf, containerId: o.cid ?? "pod1", netns: o.netns ?? "", ifname: "eth0", path: n.bin, hostNetns: host.name, ...(o.env ? { env: o.env } : {}) });
}

function ipJson(ns: string, args: string[]): Array<Record<string, unknown>> {
  const r = runIn(ns, ["ip", "-j", ...args]);
  return r.exitCode === 0 && r.stdout.trim() ? (JSON.parse(r.stdout) as Array<Record<string, unknown>>) : [];
}
function addrsOf(ns: string, dev: string): string[] {
  return ipJson(ns, ["addr", "show", "dev", dev]).flatMap((l) => (l.addr_info as Array<{ local: string; prefixlen: number; scope: string }>).filter((a) => a.scope === "global").map((a) => `${a.local}/${a.prefixlen}`));
}
/** `ping` from iputils when installed, else busybox's (a fresh machine has only the latter). */
const PING = Bun.which("ping") ? ["ping"] : ["busybox", "ping"];

function linkExists(ns: string, dev: string): boolean {
  return runIn(ns, ["ip", "link", "show", "dev", dev]).exitCode === 0;
}

/** The result with what differs per run masked: MACs, the host veth's name, the sandbox path. */
function masked(r: Record<string, unknown> | undefined): unknown {
  const x = structuredClone(r ?? {}) as { interfaces?: Array<Record<string, unknown>> };
  for (const i of x.interfaces ?? []) {
    if (i.mac) i.mac = "<mac>";
    if (typeof i.name === "string" && i.name.startsWith("veth")) i.name = "<veth>";
    if (i.sandbox) i.sandbox = "<netns>";
  }
  return x;
}

const SAVED = (ipamDir: string, version = "0.3.1") =>
  `{"cniVersion":"${version}","hairpinMode":true,"ipMasq":false,"ipam":{"dataDir":"${ipamDir}","ranges":[[{"subnet":"10.244.1.0/24"}]],"routes":[{"dst":"10.244.0.0/16"}],"type":"host-local"},"isDefaultGateway":true,"isGateway":true,"mtu":1450,"name":"cbr0","type":"bridge"}`;

describe.each(CHAINS)("flannel → %s bridge → host-local", (chain) => {
  test("ADD sets up the pod as the stock conflist describes, DEL removes it, a second DEL succeeds", () => {
    using t = tempDir("fl-e2e");
    using host = createTestNetns("host");
    using pod = createTestNetns("pod");
    const n = node(t, chain);
    const add = flannel(n, host, "ADD", n.conf(), { netns: pod.path });
    expect(add.exitCode).toBe(0);
    expect(add.json?.cniVersion).toBe("0.3.1");
    expect(add.json?.ips).toEqual([{ version: "4", interface: 2, address: "10.244.1.2/24", gateway: "10.244.1.1" }]);
    expect(add.json?.routes).toEqual([{ dst: "10.244.0.0/16" }, { dst: "0.0.0.0/0", gw: "10.244.1.1" }]);
    expect(readFileSync(join(n.dataDir, "pod1"), "utf8")).toBe(SAVED(n.ipamDir));
    expect(addrsOf(pod.name, "eth0")).toEqual(["10.244.1.2/24"]);
    expect(addrsOf(host.name, "cni0")).toEqual(["10.244.1.1/24"]);
    const routes = ipJson(pod.name, ["route", "show"]).map((r) => `${r.dst} ${r.gateway ?? ""}`.trim());
    expect(routes).toEqual(expect.arrayContaining(["default 10.244.1.1", "10.244.0.0/16 10.244.1.1"]));
    expect(ipJson(pod.name, ["link", "show", "dev", "eth0"])[0]?.mtu).toBe(1450);
    expect(runIn(pod.name, [...PING, "-c1", "-W2", "10.244.1.1"]).exitCode).toBe(0);
    expect(n.reservations()).toEqual(["10.244.1.2"]);

    const del = flannel(n, host, "DEL", n.conf(), { netns: pod.path });
    expect([del.exitCode, del.stdout]).toEqual([0, ""]);
    expect(linkExists(pod.name, "eth0")).toBe(false);
    expect(n.reservations()).toEqual([]);
    expect(existsSync(join(n.dataDir, "pod1"))).toBe(false);
    const again = flannel(n, host, "DEL", n.conf(), { netns: pod.path });
    expect([again.exitCode, again.stdout]).toEqual([0, ""]);
  }, TIMEOUT_MS);

  test("DEL after the pod's netns was removed releases the address and the saved config", () => {
    using t = tempDir("fl-e2e-gone");
    using host = createTestNetns("host");
    const n = node(t, chain);
    const pod = createTestNetns("pod");
    const podPath = pod.path;
    try {
      expect(flannel(n, host, "ADD", n.conf(), { netns: podPath }).exitCode).toBe(0);
    } finally {
      pod[Symbol.dispose]();
    }
    expect(existsSync(podPath)).toBe(false);
    const del = flannel(n, host, "DEL", n.conf(), { netns: podPath });
    expect([del.exitCode, del.stdout]).toEqual([0, ""]);
    expect(n.reservations()).toEqual([]);
    expect(existsSync(join(n.dataDir, "pod1"))).toBe(false);
  }, TIMEOUT_MS);

  test("DEL after the saved config was lost succeeds without calling the delegate (the address stays reserved, as with the reference)", () => {
    using t = tempDir("fl-e2e-lost");
    using host = createTestNetns("host");
    using pod = createTestNetns("pod");
    const n = node(t, chain);
    expect(flannel(n, host, "ADD", n.conf(), { netns: pod.path }).exitCode).toBe(0);
    rmSync(join(n.dataDir, "pod1"));
    const del = flannel(n, host, "DEL", n.conf(), { netns: pod.path });
    expect([del.exitCode, del.stdout]).toEqual([0, ""]);
    expect(linkExists(pod.name, "eth0")).toBe(true);
    expect(n.reservations()).toEqual(["10.244.1.2"]);
  }, TIMEOUT_MS);

  test("a failing bridge: flannel passes its error through unchanged and leaves no saved config", () => {
    using t = tempDir("fl-e2e-fail");
    using host = createTestNetns("host");
    using pod = createTestNetns("pod");
    const n = node(t, chain);
    // cni0 exists but is not a bridge, so the bridge plugin refuses it.
    expect(runIn(host.name, ["ip", "link", "add", "cni0", "type", "veth", "peer", "name", "cni0p"]).exitCode).toBe(0);
    const viaFlannel = flannel(n, host, "ADD", n.conf(), { netns: pod.path });
    expect(viaFlannel.exitCode).toBe(1);
    const direct = runPlugin({ binDir: n.bin, plugin: "bridge", command: "ADD", stdin: SAVED(n.ipamDir), containerId: "pod2", netns: pod.path, ifname: "eth0", path: n.bin, hostNetns: host.name });
    expect(direct.exitCode).toBe(1);
    // The same error; weft always labels it with cniVersion, the reference never does (decisions.md).
    expect(viaFlannel.json).toEqual({ ...direct.json, cniVersion: "0.3.1" });
    expect(String(viaFlannel.json?.msg)).toContain("cni0");
    expect(existsSync(join(n.dataDir, "pod1"))).toBe(false);
    expect(n.reservations()).toEqual([]);
  }, TIMEOUT_MS);
});

describe("flannel → weft bridge → host-local, more", () => {
  test("CHECK passes for a healthy pod, fails once its interface is gone, and DEL still cleans up", () => {
    using t = tempDir("fl-e2e-check");
    using host = createTestNetns("host");
    using pod = createTestNetns("pod");
    const n = node(t, "weft");
    const conf = n.conf("1.0.0");
    const add = flannel(n, host, "ADD", conf, { netns: pod.path });
    expect(add.exitCode).toBe(0);
    const ok = flannel(n, host, "CHECK", { ...conf, prevResult: add.json }, { netns: pod.path });
    expect([ok.exitCode, ok.stdout]).toEqual([0, ""]);
    expect(runIn(pod.name, ["ip", "link", "del", "eth0"]).exitCode).toBe(0);
    const bad = flannel(n, host, "CHECK", { ...conf, prevResult: add.json }, { netns: pod.path });
    expect(bad.exitCode).toBe(1);
    expect(String(bad.json?.msg)).toContain("eth0");
    expect(flannel(n, host, "DEL", conf, { netns: pod.path }).exitCode).toBe(0);
    expect(n.reservations()).toEqual([]);
  }, TIMEOUT_MS);

  test("in-process delegation (weft's own binary) gives the same result, files and kernel state as exec", () => {
    const runs = [undefined, "1"].map((noInproc) => {
      using t = tempDir("fl-e2e-inproc");
      using host = createTestNetns("host");
      using pod = createTestNetns("pod");
      const n = node(t, "weft");
      const env = noInproc ? { WEFT_NO_INPROC: noInproc } : undefined;
      const add = flannel(n, host, "ADD", n.conf(), { netns: pod.path, ...(env ? { env } : {}) });
      const state = {
        exitCode: add.exitCode,
        result: masked(add.json),
        saved: readFileSync(join(n.dataDir, "pod1"), "utf8").replace(n.ipamDir, "<ipam>"),
        reservations: n.reservations(),
        eth0: addrsOf(pod.name, "eth0"),
        cni0: addrsOf(host.name, "cni0"),
      };
      const del = flannel(n, host, "DEL", n.conf(), { netns: pod.path, ...(env ? { env } : {}) });
      return { ...state, del: [del.exitCode, del.stdout], after: [n.reservations(), linkExists(pod.name, "eth0")], addMs: add.ms, delMs: del.ms };
    });
    const [inproc, exec] = runs as [NonNullable<(typeof runs)[0]>, NonNullable<(typeof runs)[0]>];
    expect(inproc.exitCode).toBe(0);
    expect(inproc.reservations).toEqual(["10.244.1.2"]);
    const { addMs: a1, delMs: d1, ...same1 } = inproc;
    const { addMs: a2, delMs: d2, ...same2 } = exec;
    expect(same1).toEqual(same2);
    console.log(`flannel ADD+DEL in-process ${Math.round(a1 + d1)} ms, exec ${Math.round(a2 + d2)} ms`);
  }, TIMEOUT_MS);

  test("16 pods added at once get distinct addresses and saved configs; deleting them at once leaves nothing", async () => {
    using t = tempDir("fl-e2e-many");
    using host = createTestNetns("host");
    const n = node(t, "weft");
    const pods = Array.from({ length: 16 }, (_, i) => createTestNetns(`p${i}`));
    try {
      const run = (command: string, i: number) => {
        const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", CNI_COMMAND: command, CNI_CONTAINERID: `pod${i}`, CNI_NETNS: pods[i]!.path, CNI_IFNAME: "eth0", CNI_PATH: n.bin };
        const p = Bun.spawn(["ip", "netns", "exec", host.name, join(n.bin, "flannel")], { env, stdin: Buffer.from(JSON.stringify(n.conf())), stdout: "pipe", stderr: "pipe" });
        return Promise.all([p.exited, new Response(p.stdout).text()]);
      };
      const adds = await Promise.all(pods.map((_, i) => run("ADD", i)));
      expect(adds.map(([code]) => code)).toEqual(pods.map(() => 0));
      const ips = adds.map(([, out]) => (JSON.parse(out) as { ips: Array<{ address: string }> }).ips[0]!.address);
      expect(new Set(ips).size).toBe(16);
      expect(readdirSync(n.dataDir).sort()).toEqual(pods.map((_, i) => `pod${i}`).sort());
      expect(n.reservations()).toHaveLength(16);
      const dels = await Promise.all(pods.map((_, i) => run("DEL", i)));
      expect(dels.map(([code, out]) => [code, out])).toEqual(pods.map(() => [0, ""]));
      expect(readdirSync(n.dataDir)).toEqual([]);
      expect(n.reservations()).toEqual([]);
    } finally {
      for (const p of pods) p[Symbol.dispose]();
    }
  }, TIMEOUT_MS);
});
