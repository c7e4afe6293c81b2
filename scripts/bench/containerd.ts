// `make bench` scenario of issues 8/9: container start time under a real containerd, `ctr run --rm` of a container
// that exits at once, timed from outside as one process. Without --cni (baseline), and with --cni: the stock
// flannel conflist on weft's binaries against the reference bridge + portmap fed flannel's delegate config (Debian
// ships no reference flannel). Reuses the private-containerd harness of test/integration (one node per side).
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ContainerdNode, IMAGE, STOCK_FLANNEL, SUBNET_ENV, buildImageTar, ensureContainerd } from "../../test/integration/containerd-harness.ts";
import { compare, median, type Row, type StepOutcome } from "./harness.ts";
import { REF, WEFT } from "./scenarios.ts";

const PATH_ENV = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const RUN_TIMEOUT_MS = 60_000;

/** What flannel delegates for that subnet.env (cni-notes §3.3; scripts/bench/scenarios.ts flannelDelegate), as a list the reference runs. */
const REF_CONFLIST = {
  name: "cbr0",
  cniVersion: "0.3.1",
  plugins: [
    {
      type: "bridge",
      bridge: "cni0",
      isGateway: true,
      isDefaultGateway: true,
      hairpinMode: true,
      ipMasq: false,
      mtu: 1450,
      ipam: { type: "host-local", ranges: [[{ subnet: "10.244.7.0/24" }]], routes: [{ dst: "10.244.0.0/16" }] },
    },
    { type: "portmap", capabilities: { portMappings: true } },
  ],
};

/**
 * The mount namespace to start containerd from: ours when it has cgroup mounts, else the nearest ancestor's that
 * does (`ip netns exec`, which runs `make bench`, remounts /sys and so hides /sys/fs/cgroup from runc).
 */
function cgroupMountNs(): string | undefined {
  const hasCgroups = (pid: string) => / - cgroup2? /.test(readFileSync(`/proc/${pid}/mountinfo`, "utf8"));
  if (hasCgroups("self")) return undefined;
  let pid = String(process.ppid);
  while (pid !== "0") {
    if (hasCgroups(pid)) return `/proc/${pid}/ns/mnt`;
    pid = readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /s, "").split(" ")[1]!;
  }
  throw new Error("no cgroup mounts in this mount namespace or any ancestor's: runc cannot start containers");
}

interface Side {
  label: "weft" | "ref";
  nsName: string;
  node: ContainerdNode;
  root: string;
}

let runSeq = 0;
/** One `ctr run --rm` of `/bin/busybox <args>`, timed as a whole process; throws with ctr's output when it fails. */
function ctrRun(side: Side, cni: boolean, args: string[] = ["true"]): StepOutcome & { stdout: string } {
  const id = `bench-${side.label}-${runSeq++}`;
  const argv = side.node.ctrArgv(["run", "--rm", ...(cni ? ["--cni"] : []), "--snapshotter", "native", IMAGE, id, "/bin/busybox", ...args]);
  const t0 = performance.now();
  const r = Bun.spawnSync(argv, { env: { PATH: PATH_ENV }, stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: RUN_TIMEOUT_MS });
  const ms = performance.now() - t0;
  const stderr = r.stderr.toString();
  if (r.exitCode !== 0 || /failed/i.test(stderr)) throw new Error(`ctr run${cni ? " --cni" : ""} on the ${side.label} node exited ${r.exitCode}: ${stderr.trim()}`);
  // The plugins are containerd's children, not ctr's: their memory is not seen from here (reported as n/a).
  return { ms, maxRssBytes: 0, stdout: r.stdout.toString() };
}

/** Both sides must configure the same pod network, or the comparison means nothing: checked once, outside the timing. */
function preflight(sides: Side[]): void {
  const seen = sides.map((s) => {
    const out = ctrRun(s, true, ["sh", "-c", "ip -4 -o addr show eth0; ip -o link show eth0; ip route; ip -o link show lo"]).stdout;
    if (!/inet 10\.244\.7\.\d+\/24/.test(out) || !/eth0\S*: .* mtu 1450 /.test(out)) throw new Error(`${s.label} node: no flannel address or mtu 1450 on eth0: ${out}`);
    return out.split("\n").filter((l) => / via /.test(l) || /LOOPBACK,UP/.test(l)).map((l) => l.replace(/^\d+: /, "").replace(/\s+/g, " ").trim());
  });
  if (JSON.stringify(seen[0]) !== JSON.stringify(seen[1]) || seen[0]!.length !== 3) throw new Error(`weft and reference pods differ: ${JSON.stringify(seen)}`);
}

/** Nothing may survive `ctr run --rm --cni`: no veth on the node, no host-local reservation. */
function assertClean(s: Side): void {
  const veths = Bun.spawnSync(["ip", "-n", s.nsName, "-o", "link", "show", "type", "veth"]).stdout.toString().trim();
  let reserved: string[] = [];
  try {
    reserved = readdirSync(join(s.root, "var-lib-cni/networks/cbr0")).filter((f) => /^\d+\./.test(f));
  } catch {
    // never reserved anything
  }
  if (veths || reserved.length) throw new Error(`${s.label} node left ${veths ? `veths (${veths})` : ""} ${reserved.length ? `reservations ${reserved.join(",")}` : ""}`);
}

export async function containerdStartBench(quick: boolean): Promise<Row[]> {
  ensureContainerd();
  const samples = quick ? 3 : 10;
  const mountNs = cgroupMountNs();
  const tmp = mkdtempSync(join(tmpdir(), "weft-b-ctrd-"));
  const sides: Side[] = [];
  try {
    const image = buildImageTar(tmp);
    for (const [label, bin, conf] of [["weft", WEFT, STOCK_FLANNEL], ["ref", REF, REF_CONFLIST]] as const) {
      const nsName = `weft-b-${process.pid}-ctrd-${label}`;
      const add = Bun.spawnSync(["ip", "netns", "add", nsName], { stderr: "pipe" });
      if (add.exitCode !== 0) throw new Error(`ip netns add ${nsName}: ${add.stderr.toString().trim()}`);
      const root = join(tmp, label);
      // Registered before the node exists, so a failing constructor still has its netns removed.
      const side = { label, nsName, root } as Side;
      sides.push(side);
      Bun.spawnSync(["ip", "-n", nsName, "link", "set", "lo", "up"]);
      side.node = new ContainerdNode({ root, cniBin: bin }, nsName, mountNs ? { mountNs } : {});
      writeFileSync(join(root, "conf", "10-flannel.conflist"), JSON.stringify(conf, null, 2));
      writeFileSync(join(root, "run-flannel", "subnet.env"), SUBNET_ENV);
    }
    for (const s of sides) {
      await s.node.ready();
      const imp = s.node.ctr(["images", "import", "--snapshotter", "native", image]);
      if (imp.exitCode !== 0) throw new Error(`ctr images import on the ${s.label} node: ${imp.stderr}`);
    }
    preflight(sides);
    const [w, r] = sides as [Side, Side];
    const base = await compare({
      scenario: "containerd ctr run (no CNI, baseline)",
      samples,
      weft: () => ctrRun(w, false),
      ref: () => ctrRun(r, false),
      note: "no plugin runs: both columns are the same containerd setup, so the ratio shows the noise floor",
    });
    const cni = await compare({
      scenario: "containerd ctr run --cni (stock flannel conflist)",
      samples,
      weft: () => ctrRun(w, true),
      ref: () => ctrRun(r, true),
    });
    for (const s of sides) assertClean(s);
    const over = (row: Row, side: "weft" | "ref") => (median(row[side].ms) - median(base[side].ms)).toFixed(0);
    cni.note = `reference: bridge+portmap with flannel's delegate config; --cni adds ${over(cni, "weft")} ms (weft) vs ${over(cni, "ref")} ms (reference) over no CNI; plugin memory not visible from ctr`;
    return [base, cni];
  } finally {
    // Each step runs even when an earlier one throws: containerd (by PID) first, then its netns, then the files.
    for (const s of sides) {
      try {
        s.node?.[Symbol.dispose]();
      } catch (e) {
        console.error(`bench: stopping the ${s.label} containerd: ${(e as Error).message}`);
      }
      Bun.spawnSync(["ip", "netns", "del", s.nsName], { stderr: "ignore" });
    }
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const { markdownTable } = await import("./harness.ts");
  console.log(markdownTable(await containerdStartBench(process.argv.includes("--quick"))));
}
