// Integration under a real containerd (issue 8): a private containerd in a throwaway "node" netns runs busybox
// containers with `ctr run --cni` against weft's binaries and the stock flannel conflist (with a subnet.env the test
// writes). Checks: address from the flannel subnet, default route via the gateway, lo up, pod-to-pod and
// pod-to-gateway ping, host-to-pod TCP, weft reading containerd's cache, and nothing left after removal.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createTestNetns, runIn, type TestNetns } from "../helpers/netns.ts";
import { WEFT_BIN, tempDir } from "../helpers/plugin.ts";
import { ContainerdNode, STOCK_FLANNEL, SUBNET_ENV, buildImageTar, ensureContainerd } from "./containerd-harness.ts";

const SLOW = { timeout: 120_000 };

let tmp: ReturnType<typeof tempDir>;
let nodeNs: TestNetns;
let node: ContainerdNode;

beforeAll(async () => {
  ensureContainerd();
  tmp = tempDir("ctrd");
  nodeNs = createTestNetns("node");
  runIn(nodeNs.name, ["ip", "link", "set", "lo", "up"]);
  node = new ContainerdNode({ root: tmp.path, cniBin: WEFT_BIN }, nodeNs.name);
  writeFileSync(join(tmp.path, "conf", "10-flannel.conflist"), JSON.stringify(STOCK_FLANNEL, null, 2));
  writeFileSync(join(tmp.path, "run-flannel", "subnet.env"), SUBNET_ENV);
  await node.ready();
  const imp = node.ctr(["images", "import", "--snapshotter", "native", buildImageTar(tmp.path)]);
  if (imp.exitCode !== 0) throw new Error(`ctr images import failed: ${imp.stderr}`);
}, 120_000);

afterAll(() => {
  // Each step runs even when an earlier one throws.
  try {
    node?.[Symbol.dispose]();
  } finally {
    try {
      nodeNs?.[Symbol.dispose]();
    } finally {
      tmp?.[Symbol.dispose]();
    }
  }
}, 60_000);

function inNetns(pid: number, argv: string[]) {
  const r = Bun.spawnSync(["nsenter", "-t", String(pid), "-n", ...argv], { stdout: "pipe", stderr: "pipe" });
  return { exitCode: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

function reservations(): string[] {
  try {
    return readdirSync(join(tmp.path, "var-lib-cni/networks/cbr0")).filter((f) => f.startsWith("10."));
  } catch {
    return [];
  }
}

describe("containerd + ctr run --cni + weft + stock flannel conflist", () => {
  test("two containers get flannel addresses, reach each other, the gateway and the host; removal leaves nothing", async () => {
    const a = node.startContainer("weft-a", ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]);
    const b = node.startContainer("weft-b", ["/bin/busybox", "sleep", "3600"]);
    const pidA = await node.taskPid("weft-a");
    const pidB = await node.taskPid("weft-b");
    // ctr attaches the network after the task starts: wait for eth0's address.
    const addrOf = async (pid: number): Promise<string> => {
      const until = Date.now() + 20_000;
      while (Date.now() < until) {
        const m = inNetns(pid, ["/bin/busybox", "ip", "-4", "-o", "addr", "show", "eth0"]).stdout.match(/inet (10\.244\.7\.\d+)\/24/);
        if (m) return m[1]!;
        await Bun.sleep(50);
      }
      throw new Error(`no flannel address in pid ${pid}'s netns`);
    };
    const ipA = await addrOf(pidA);
    const ipB = await addrOf(pidB);
    expect(ipA).not.toBe(ipB);
    expect(["10.244.7.1", "10.244.7.0", "10.244.7.255"]).not.toContain(ipA);

    for (const pid of [pidA, pidB]) {
      expect(inNetns(pid, ["/bin/busybox", "ip", "route"]).stdout).toContain("default via 10.244.7.1 dev eth0");
      expect(inNetns(pid, ["/bin/busybox", "ip", "route"]).stdout).toContain("10.244.0.0/16 via 10.244.7.1 dev eth0");
      expect(inNetns(pid, ["/bin/busybox", "ip", "link", "show", "lo"]).stdout).toMatch(/<LOOPBACK,UP,LOWER_UP>/);
      expect(inNetns(pid, ["/bin/busybox", "ip", "link", "show", "eth0"]).stdout).toContain("mtu 1450");
    }
    // pod → pod, pod → gateway (cni0 on the node)
    expect(inNetns(pidA, ["/bin/busybox", "ping", "-c", "1", "-W", "2", ipB]).exitCode).toBe(0);
    expect(inNetns(pidB, ["/bin/busybox", "ping", "-c", "1", "-W", "2", "10.244.7.1"]).exitCode).toBe(0);
    // node (host side) → TCP server in container A
    // (busybox-static's wget segfaults on this Debian build, so the client is nc speaking HTTP/1.0.)
    const get = runIn(nodeNs.name, ["/bin/busybox", "nc", "-w", "5", ipA, "8080"], { stdin: "GET / HTTP/1.0\r\n\r\n" });
    expect(get.stdout).toMatch(/^HTTP\/1\.[01] 200 OK\r\n/);
    expect(get.stdout).toEndWith("\r\n\r\nweft-ok\n");
    expect(runIn(nodeNs.name, ["ip", "-o", "addr", "show", "cni0"]).stdout).toContain("10.244.7.1/24");

    // weft reads the cache containerd (go-cni/libcni) wrote: both attachments alive, with their IPs.
    const ls = Bun.spawnSync([join(WEFT_BIN, "weft"), "--cache-dir", join(tmp.path, "var-lib-cni"), "ls", "--json"], { stdout: "pipe", stderr: "pipe" });
    const attachments = (JSON.parse(ls.stdout.toString()) as { attachments: { network: string; ips: string[]; state: string; netns: string | null }[] }).attachments;
    const cbr0 = attachments.filter((x) => x.network === "cbr0");
    expect(cbr0.map((x) => x.ips[0]).sort()).toEqual([`${ipA}/24`, `${ipB}/24`].sort());
    // containerd 1.6 vendors libcni 1.1, which records no netns in the cache: weft cannot judge liveness.
    expect(cbr0.map((x): [string, string | null] => [x.state, x.netns])).toEqual([["unknown", null], ["unknown", null]]);
    const cacheFiles = readdirSync(join(tmp.path, "var-lib-cni/results")).filter((f) => f.startsWith("cbr0-"));
    const entry = JSON.parse(readFileSync(join(tmp.path, "var-lib-cni/results", cacheFiles[0]!), "utf8")) as Record<string, unknown>;
    // libcni 1.1's cachedInfo: no netns; no cniArgs/capabilityArgs from ctr (omitempty). weft writes the same fields.
    expect(Object.keys(entry)).toEqual(["kind", "containerId", "config", "ifName", "networkName", "result"]);
    expect(entry.kind).toBe("cniCacheV1");
    expect(JSON.parse(Buffer.from(entry.config as string, "base64").toString())).toEqual(STOCK_FLANNEL);
    expect(reservations().sort()).toEqual([ipA, ipB].sort());
    expect(readdirSync(join(tmp.path, "var-lib-cni/flannel")).length).toBe(2);
    // The node's mounts live only in its private mount namespace: the machine sees none of them.
    expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(tmp.path);
    expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(" /etc/cni/net.d ");

    const stopA = await node.stopContainer("weft-a", a);
    const stopB = await node.stopContainer("weft-b", b);
    expect({ a: stopA.stderr.includes("failed"), b: stopB.stderr.includes("failed") }).toEqual({ a: false, b: false });

    // Nothing left: no veth, reservation, saved delegate config, cache entry or CNI iptables chain.
    expect(runIn(nodeNs.name, ["ip", "-o", "link", "show", "type", "veth"]).stdout).toBe("");
    expect(reservations()).toEqual([]);
    expect(readdirSync(join(tmp.path, "var-lib-cni/flannel"))).toEqual([]);
    expect(readdirSync(join(tmp.path, "var-lib-cni/results")).filter((f) => f.startsWith("cbr0-"))).toEqual([]);
    expect(runIn(nodeNs.name, ["iptables-save"]).stdout).not.toContain("CNI-");
    expect(node.ctr(["container", "ls", "-q"]).stdout.trim()).toBe("");
  }, SLOW);
});
