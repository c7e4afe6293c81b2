// Faults (issue 9): flannel's saved delegate config on a tiny tmpfs that fills up in the middle of the write, and
// on a read-only one (host-local's own ENOSPC/EROFS cases are test/process/host-local-faults.test.ts); iptables
// failing (a stub that exits non-zero) or absent, for bridge's ipMasq and for portmap in the stock conflist. Each:
// a clear error, the ADD rolled back, nothing half-made, and the pod works once the fault is gone. The tmpfs lives
// in a private mount namespace (unshare -m) of one shell, so the machine's mounts never change.
import { beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runIn } from "../helpers/netns.ts";
import { REF_BIN } from "../helpers/plugin.ts";
import { BASE_PATH, refuseLeftovers, spawnPlugin, Trial } from "./harness.ts";
import { addPod, delPod, describeRun, leftOf, listOk, makeNode, portMappings, probePod, reservations, type Node, type Pod } from "./node.ts";

beforeAll(refuseLeftovers);

/** The flannel ADD of `pod` as a shell line (for use inside the private mount namespace). */
function flannelAddLine(node: Node, pod: Pod, conf: unknown, out: string): string {
  const env = `CNI_COMMAND=ADD CNI_CONTAINERID=${pod.cid} CNI_IFNAME=eth0 CNI_NETNS=${pod.netns.path} CNI_PATH=${node.bin} PATH=${BASE_PATH}`;
  return `printf '%s' '${JSON.stringify(conf)}' | ip netns exec ${node.host.name} env -i ${env} ${node.bin}/flannel > ${out}; echo $? > ${out}.rc; ls -A ${node.dataDir} > ${out}.ls`;
}

function readStep(out: string): { rc: number; json: Record<string, unknown> | undefined; ls: string[] } {
  const text = readFileSync(out, "utf8");
  return {
    rc: Number(readFileSync(`${out}.rc`, "utf8").trim()),
    json: text.trim() ? (JSON.parse(text) as Record<string, unknown>) : undefined,
    ls: readFileSync(`${out}.ls`, "utf8").split("\n").filter(Boolean).sort(),
  };
}

/** Runs `lines` in a private mount namespace in which flannel's dataDir is an 8 KiB tmpfs prepared by `setup`. */
function withTinyDataDir(node: Node, setup: string, lines: string[]): void {
  mkdirSync(node.dataDir, { recursive: true });
  const script = ["set -u", `mount -t tmpfs -o size=8k,mode=0700 weft-t-rel ${node.dataDir} || exit 90`, setup, ...lines].join("\n");
  const p = Bun.spawnSync(["unshare", "-m", "--propagation", "private", "sh", "-c", script], { env: { PATH: BASE_PATH }, stdout: "pipe", stderr: "pipe" });
  if (p.exitCode === 90) throw new Error(`cannot mount the tmpfs: ${p.stderr.toString()}`);
}

describe("flannel's saved delegate config on a failing file system", () => {
  // A delegate config bigger than the one free page: the write stops half-way with ENOSPC.
  const bigConf = (node: Node) => ({ ...node.conf(0), delegate: { hairpinMode: true, isDefaultGateway: true, padding: "p".repeat(6000) } });

  test("ENOSPC in the middle of the write: code 5 naming the file, no file or temporary, no veth, no address; works once space is freed", () => {
    using trial = new Trial("fault-nospc");
    const node = makeNode(trial, "fnospc");
    const pod: Pod = { cid: "nospc1", netns: trial.netns("fpod"), hostPort: 34000 };
    const out = join(node.root, "out");
    withTinyDataDir(node, `head -c 4096 /dev/zero > ${node.dataDir}/.fill`, [
      flannelAddLine(node, pod, bigConf(node), `${out}1`),
      `ip netns exec ${pod.netns.name} ip link show eth0 > /dev/null 2>&1; echo $? > ${out}1.podif`,
      `rm -f ${node.dataDir}/.fill`,
      flannelAddLine(node, pod, bigConf(node), `${out}2`),
    ]);
    const full = readStep(`${out}1`);
    expect(full.rc).toBe(1);
    expect(full.json?.code).toBe(5);
    expect(full.json?.msg).toBe(`Cannot save the delegate config to "${join(node.dataDir, pod.cid)}"`);
    expect(String(full.json?.details)).toContain("ENOSPC");
    expect(full.ls).toEqual([".fill"]); // neither the file nor a temporary
    expect(readFileSync(`${out}1.podif`, "utf8").trim()).not.toBe("0"); // no eth0 in the pod
    const later = readStep(`${out}2`);
    expect(later.rc).toBe(0);
    expect(later.ls).toEqual([pod.cid]);
    // The second ADD completed (its saved file went with the tmpfs; the trial removes the rest).
    expect(reservations(node).map((r) => r.owner)).toEqual([pod.cid]);
  });

  test("read-only data directory: code 5, nothing half-made (no veth, no address, no file)", () => {
    using trial = new Trial("fault-rofs");
    const node = makeNode(trial, "frofs");
    const pod: Pod = { cid: "rofs1", netns: trial.netns("fpod"), hostPort: 34001 };
    const out = join(node.root, "out");
    withTinyDataDir(node, `mount -o remount,ro ${node.dataDir}`, [flannelAddLine(node, pod, node.conf(0), `${out}1`)]);
    const ro = readStep(`${out}1`);
    expect(ro.rc).toBe(1);
    expect(ro.json?.code).toBe(5);
    expect(String(ro.json?.details)).toContain("EROFS");
    expect(ro.ls).toEqual([]);
    expect(leftOf(probePod(node, pod))).toEqual([]);
  });
});

/** A directory with iptables, iptables-save, iptables-restore (and ip6tables-*) that fail, to put first in PATH. */
function failingIptables(dir: string): string {
  mkdirSync(dir, { recursive: true });
  for (const fam of ["iptables", "ip6tables"]) {
    for (const suffix of ["", "-save", "-restore"]) {
      const f = join(dir, `${fam}${suffix}`);
      writeFileSync(f, `#!/bin/sh\necho "${fam}${suffix}: stub failure (simulated)" >&2\nexit 4\n`);
      chmodSync(f, 0o755);
    }
  }
  return dir;
}

describe("iptables failing or absent", () => {
  const bridgeConf = (node: Node) => ({
    cniVersion: "1.0.0", name: "fmasq", type: "bridge", bridge: "fmbr0", isGateway: true, ipMasq: true,
    ipam: { type: "host-local", subnet: "10.96.0.0/24", dataDir: node.ipamDir },
  });

  test.each([
    { why: "iptables exits 4", path: (root: string) => `${failingIptables(join(root, "stub"))}:${BASE_PATH}`, msg: /stub failure/ },
    { why: "no iptables in PATH", path: (root: string) => join(root, "empty"), msg: /not found in PATH/ },
  ])("bridge ipMasq, $why: a clear error, the veth, address and rules rolled back; the ADD works with iptables back", async ({ path, msg }) => {
    using trial = new Trial("fault-ipt-br");
    const node = makeNode(trial, "fiptbr");
    mkdirSync(join(node.root, "empty"));
    const pod: Pod = { cid: "masq1", netns: trial.netns("fpod"), hostPort: 0 };
    const run = (command: string, PATH: string) =>
      spawnPlugin({ binDir: node.bin, plugin: "bridge", command, stdin: JSON.stringify(bridgeConf(node)), cni: { containerId: pod.cid, netns: pod.netns.path, ifname: "eth0", path: node.bin }, hostNetns: node.host.name, env: { PATH } });
    const bad = await run("ADD", path(node.root));
    expect(bad.exitCode).toBe(1);
    expect(bad.json?.code).toBe(999);
    expect(String(bad.json?.msg)).toBe("failed to set up IP masquerade");
    expect(String(bad.json?.details)).toMatch(msg);
    expect(leftOf(probePod(node, pod))).toEqual([]);
    expect(reservations(node)).toEqual([]);
    const good = await run("ADD", BASE_PATH);
    expect(good.exitCode).toBe(0);
    expect(probePod(node, pod).rules.length).toBeGreaterThan(0); // the masquerade rules, this time
    const del = await run("DEL", BASE_PATH);
    expect(del.exitCode).toBe(0);
    expect(leftOf(probePod(node, pod))).toEqual([]);
  });

  test("portmap in the stock conflist with iptables failing: a clear error, no rule; the runtime's DEL leaves nothing; the retry works", async () => {
    using trial = new Trial("fault-ipt-pm");
    const node = makeNode(trial, "fiptpm");
    const pod: Pod = { cid: "pm1", netns: trial.netns("fpod"), hostPort: 34100 };
    const stubPath = `${failingIptables(join(node.root, "stub"))}:${BASE_PATH}`;
    const fl = await spawnPlugin({ binDir: node.bin, plugin: "flannel", command: "ADD", stdin: JSON.stringify(node.conf(0)), cni: { containerId: pod.cid, netns: pod.netns.path, ifname: "eth0", path: node.bin }, hostNetns: node.host.name });
    expect(fl.exitCode).toBe(0);
    const pm = await spawnPlugin({
      binDir: node.bin, plugin: "portmap", command: "ADD", stdin: JSON.stringify(node.conf(1, { prevResult: fl.json, portMappings: portMappings(pod) })),
      cni: { containerId: pod.cid, netns: pod.netns.path, ifname: "eth0", path: node.bin }, hostNetns: node.host.name, env: { PATH: stubPath },
    });
    expect(pm.exitCode).toBe(1);
    expect(String(pm.json?.msg)).toMatch(/port mappings|iptables/i);
    expect(`${String(pm.json?.msg)} ${String(pm.json?.details)}`).toContain("stub failure");
    const s = probePod(node, pod);
    expect([s.dnatChain, s.rules]).toEqual([false, []]);
    const del = await delPod(node, pod);
    expect(listOk(del)).toBe(true);
    expect(leftOf(probePod(node, pod))).toEqual([]);
    const retry = await addPod(node, pod);
    expect(listOk(retry)).toBe(true);
    expect(probePod(node, pod).dnatChain).toBe(true);
    const del2 = await delPod(node, pod);
    expect([listOk(del2), leftOf(probePod(node, pod))]).toEqual([true, []]);
    expect(describeRun(del2)).not.toContain("exit 1");
  });

  test("the reference bridge with failing iptables leaves its veth behind and then cannot DEL; weft's rolls back (asserted difference)", async () => {
    using trial = new Trial("fault-ipt-ref");
    const node = makeNode(trial, "fiptref");
    const pod: Pod = { cid: "refmasq1", netns: trial.netns("fpod"), hostPort: 0 };
    const stubPath = `${failingIptables(join(node.root, "stub"))}:${BASE_PATH}`;
    const r = await spawnPlugin({ binDir: REF_BIN, plugin: "bridge", command: "ADD", stdin: JSON.stringify(bridgeConf(node)), cni: { containerId: pod.cid, netns: pod.netns.path, ifname: "eth0", path: REF_BIN }, hostNetns: node.host.name, env: { PATH: stubPath } });
    expect(r.exitCode).toBe(1);
    const s = probePod(node, pod);
    // What Debian's v1.1.1 leaves after its failed ADD (weft's test above leaves nothing):
    const leftByRef = { veth: s.hostVeths.length > 0, podIf: s.podIf, reservation: s.reservation !== undefined };
    console.log(`reference bridge ADD with failing iptables: ${r.stdout.trim().replace(/\s+/g, " ")}; left: ${JSON.stringify(leftByRef)}`);
    expect(Object.values(leftByRef).some(Boolean)).toBe(true);
    const del = await spawnPlugin({ binDir: REF_BIN, plugin: "bridge", command: "DEL", stdin: JSON.stringify(bridgeConf(node)), cni: { containerId: pod.cid, netns: pod.netns.path, ifname: "eth0", path: REF_BIN }, hostNetns: node.host.name });
    // ...and its DEL then fails on the masquerade chain it never made, so the runtime cannot delete the pod.
    expect([del.exitCode, String(del.json?.msg)]).toEqual([1, expect.stringContaining("does not exist")]);
    runIn(node.host.name, ["ip", "link", "del", s.hostVeths[0] ?? "none"]);
  });
});
