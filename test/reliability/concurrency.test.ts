// Concurrency (issue 9): 64 pods ADDed at once through the stock flannel conflist (flannel → bridge → host-local,
// then portmap with a distinct hostPort each) in a throwaway node, then all DELeted at once. Checked: 64 distinct
// addresses, every pod reaches its neighbour over TCP (busybox nc: an echo server per pod), the node reaches every
// pod through its hostPort, and nothing is left afterwards. (32 weft + 32 reference host-local processes on one data
// directory is test/conformance/host-local.test.ts, not repeated here.)
import { beforeAll, describe, expect, test } from "bun:test";
import { count, refuseLeftovers, Trial } from "./harness.ts";
import { addPod, delPod, describeRun, listOk, makeNode, natSave, probePod, reservations, savedFiles, vethsOf, type Pod } from "./node.ts";

beforeAll(refuseLeftovers);

const PODS = count(64, 128);
const ECHO_PORT = 7777;

/** One TCP round trip from `ns` to ip:port with busybox nc, retried while the server is not listening yet. */
async function echo(ns: string, ip: string, port: number, msg: string): Promise<string> {
  const deadline = performance.now() + 5000;
  for (;;) {
    const p = Bun.spawn(["ip", "netns", "exec", ns, "busybox", "nc", "-w", "2", ip, String(port)], { stdin: Buffer.from(`${msg}\n`), stdout: "pipe", stderr: "ignore" });
    const out = (await new Response(p.stdout).text()).trim();
    await p.exited;
    if (out === msg || performance.now() > deadline) return out;
    await Bun.sleep(50);
  }
}

describe("concurrency", () => {
  test(`${PODS} pods ADDed at once through the stock flannel conflist, then DELeted at once: distinct addresses, reachable, nothing left`, async () => {
    using trial = new Trial("conc");
    const node = makeNode(trial, "conc");
    const pods: Pod[] = Array.from({ length: PODS }, (_, i) => ({ cid: `conc${process.pid}x${i}`, netns: trial.netns(`cp${i}`), hostPort: 32000 + i }));

    const t0 = performance.now();
    const adds = await Promise.all(pods.map((p) => addPod(node, p)));
    const addWall = performance.now() - t0;
    const failed = adds.map((r, i) => (listOk(r) ? "" : `${pods[i]!.cid}: ${describeRun(r)}`)).filter(Boolean);
    expect(failed).toEqual([]);
    const ips = adds.map((r) => String((r.result?.ips as Array<{ address: string }> | undefined)?.[0]?.address ?? "").split("/")[0] ?? "");
    expect(new Set(ips).size).toBe(PODS);
    expect(ips.every((ip) => ip.startsWith("10.244.1."))).toBe(true);
    expect(reservations(node).map((r) => r.ip).sort()).toEqual([...ips].sort());
    const nat = natSave(node.host.name);
    expect(pods.filter((p) => !probePod(node, p, nat).dnatChain).map((p) => p.cid)).toEqual([]);

    // An echo server in every pod; each pod talks to its neighbour, and the node to each pod through its hostPort.
    const servers = pods.map((p) => Bun.spawn(["ip", "netns", "exec", p.netns.name, "busybox", "nc", "-ll", "-p", String(ECHO_PORT), "-e", "cat"], { stdout: "ignore", stderr: "ignore" }));
    try {
      const unreachable: string[] = [];
      await Promise.all(
        pods.map(async (p, i) => {
          const j = (i + 1) % PODS;
          const got = await echo(p.netns.name, ips[j]!, ECHO_PORT, `weft-${i}`);
          if (got !== `weft-${i}`) unreachable.push(`pod ${i} → pod ${j} (${ips[j]}): got ${JSON.stringify(got)}`);
          const viaPort = await echo(node.host.name, "10.244.1.1", p.hostPort, `port-${i}`);
          if (viaPort !== `port-${i}`) unreachable.push(`node → hostPort ${p.hostPort} (pod ${i}): got ${JSON.stringify(viaPort)}`);
        }),
      );
      expect(unreachable).toEqual([]);
    } finally {
      for (const s of servers) s.kill("SIGKILL");
      await Promise.all(servers.map((s) => s.exited));
    }

    const t1 = performance.now();
    const dels = await Promise.all(pods.map((p) => delPod(node, p)));
    const delWall = performance.now() - t1;
    const pct = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!.toFixed(0);
    console.log(`${PODS} pods at once: ADD wall ${addWall.toFixed(0)} ms (per pod p50 ${pct(adds.map((r) => r.ms), 0.5)} / p95 ${pct(adds.map((r) => r.ms), 0.95)} ms), DEL wall ${delWall.toFixed(0)} ms (p50 ${pct(dels.map((r) => r.ms), 0.5)} / p95 ${pct(dels.map((r) => r.ms), 0.95)} ms)`);
    expect(dels.map((r, i) => (listOk(r) ? "" : `${pods[i]!.cid}: ${describeRun(r)}`)).filter(Boolean)).toEqual([]);
    const after = natSave(node.host.name);
    expect({
      veths: vethsOf(node.host.name),
      reservations: reservations(node),
      saved: savedFiles(node),
      chains: after.split("\n").filter((l) => /^:CNI-DN-/.test(l) || /id: "conc/.test(l)),
      podLinks: pods.filter((p) => probePod(node, p, after).podIf).map((p) => p.cid),
    }).toEqual({ veths: [], reservations: [], saved: [], chains: [], podLinks: [] });
  }, 600_000);
});
