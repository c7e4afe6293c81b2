// A private containerd for integration tests: its own root, state, socket and config under a temp dir, running in a
// test "node" netns and in a private mount namespace (containerd-node.sh) where ctr's fixed CNI paths are the
// test's dirs. ctr runs inside the same namespaces (nsenter into containerd's), so ctr, containerd, the shims and
// the CNI plugins all see one private /run. Everything started is stopped by PID on dispose, even on failure.
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";

export const ROOT = resolve(import.meta.dir, "../..");
const DRIVER = join(import.meta.dir, "containerd-node.sh");
export const IMAGE = "docker.io/weft-test/busybox:latest";
export const NAMESPACE = "weft-test";

/** flannel's stock 10-flannel.conflist (kube-flannel.yml), unchanged, and a subnet.env for it. */
export const STOCK_FLANNEL = {
  name: "cbr0",
  cniVersion: "0.3.1",
  plugins: [
    { type: "flannel", delegate: { hairpinMode: true, isDefaultGateway: true } },
    { type: "portmap", capabilities: { portMappings: true } },
  ],
};
export const SUBNET_ENV = "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.7.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n";

export interface Cmd {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Installs containerd, runc and busybox-static when missing (scripts/ensure-containerd.sh). */
export function ensureContainerd(): void {
  const r = Bun.spawnSync(["bash", join(ROOT, "scripts/ensure-containerd.sh")], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`Cannot install containerd/runc/busybox-static: ${r.stderr.toString().trim()}`);
}

/**
 * A docker-archive image (manifest.json + config + one layer) whose rootfs is /bin/busybox from busybox-static
 * with a few applet links and a page for httpd. Imported with `ctr images import`; no registry involved.
 */
export function buildImageTar(dir: string): string {
  const rootfs = join(dir, "rootfs");
  for (const d of ["bin", "proc", "sys", "dev", "tmp", "etc", "www"]) mkdirSync(join(rootfs, d), { recursive: true });
  copyFileSync("/bin/busybox", join(rootfs, "bin/busybox"));
  for (const a of ["sh", "sleep", "httpd", "ip", "ping", "cat"]) symlinkSync("busybox", join(rootfs, "bin", a));
  writeFileSync(join(rootfs, "www/index.html"), "weft-ok\n");
  writeFileSync(join(rootfs, "etc/passwd"), "root:x:0:0:root:/:/bin/sh\n");
  const img = join(dir, "image");
  mkdirSync(img);
  const layer = join(img, "layer.tar");
  const t = Bun.spawnSync(["tar", "--numeric-owner", "--owner=0", "--group=0", "-C", rootfs, "-cf", layer, "."], { stderr: "pipe" });
  if (t.exitCode !== 0) throw new Error(`tar failed: ${t.stderr.toString()}`);
  const diffId = `sha256:${createHash("sha256").update(readFileSync(layer)).digest("hex")}`;
  const config = JSON.stringify({
    architecture: process.arch === "arm64" ? "arm64" : "amd64",
    os: "linux",
    config: { Cmd: ["/bin/sh"], Env: ["PATH=/bin"] },
    rootfs: { type: "layers", diff_ids: [diffId] },
  });
  const configName = `${createHash("sha256").update(config).digest("hex")}.json`;
  writeFileSync(join(img, configName), config);
  writeFileSync(join(img, "manifest.json"), JSON.stringify([{ Config: configName, RepoTags: ["weft-test/busybox:latest"], Layers: ["layer.tar"] }]));
  const out = join(dir, "image.tar");
  const t2 = Bun.spawnSync(["tar", "-C", img, "-cf", out, "manifest.json", configName, "layer.tar"], { stderr: "pipe" });
  if (t2.exitCode !== 0) throw new Error(`tar failed: ${t2.stderr.toString()}`);
  return out;
}

export interface NodeDirs {
  /** Test dir: holds root/, state/, the socket, conf/, run-flannel/, var-lib-cni/. */
  root: string;
  /** Directory bind-mounted on /opt/cni/bin. */
  cniBin: string;
}

export class ContainerdNode implements Disposable {
  readonly socket: string;
  private readonly daemon: Subprocess;
  private readonly runs: Subprocess[] = [];

  /**
   * @param opts.mountNs a mount namespace file (/proc/<pid>/ns/mnt) to start from instead of the caller's: `ip netns
   * exec` (make bench) remounts /sys, hiding the cgroup mounts runc needs, so the bench starts from an ancestor's.
   */
  constructor(
    readonly dirs: NodeDirs,
    readonly netnsName: string,
    opts: { mountNs?: string } = {},
  ) {
    const T = dirs.root;
    for (const d of ["root", "state", "conf", "run-flannel", "var-lib-cni", "opt"]) mkdirSync(join(T, d), { recursive: true });
    this.socket = join(T, "containerd.sock");
    writeFileSync(
      join(T, "config.toml"),
      [
        "version = 2",
        `root = "${T}/root"`,
        `state = "${T}/state"`,
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
        "[grpc]",
        `  address = "${this.socket}"`,
        "[ttrpc]",
        `  address = "${this.socket}.ttrpc"`,
        '[debug]\n  address = ""',
        '[metrics]\n  address = ""',
        '[plugins."io.containerd.internal.v1.opt"]',
        `  path = "${T}/opt"`,
        "",
      ].join("\n"),
    );
    // nsenter, not `ip netns exec`: the latter remounts /sys, which hides the cgroup mounts runc needs.
    this.daemon = Bun.spawn(["nsenter", ...(opts.mountNs ? [`--mount=${opts.mountNs}`] : []), `--net=/run/netns/${netnsName}`, "unshare", "-m", "--propagation", "private", "sh", DRIVER, T, dirs.cniBin, "containerd", "--config", join(T, "config.toml")], {
      stdout: "ignore",
      stderr: Bun.file(join(T, "containerd.log")),
      env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
    });
  }

  get pid(): number {
    return this.daemon.pid;
  }

  /** argv run inside containerd's mount and net namespaces. */
  private inside(argv: string[]): string[] {
    return ["nsenter", "-t", String(this.daemon.pid), "-m", "-n", ...argv];
  }

  ctrArgv(args: string[]): string[] {
    return this.inside(["ctr", "--address", this.socket, "--namespace", NAMESPACE, ...args]);
  }

  run(argv: string[], inside = true): Cmd {
    const r = Bun.spawnSync(inside ? this.inside(argv) : argv, { stdout: "pipe", stderr: "pipe", env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" } });
    return { exitCode: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
  }

  ctr(args: string[]): Cmd {
    return this.run(this.ctrArgv(args), false);
  }

  /** Waits until containerd answers (`ctr version`), polling. @throws with its log when it never does */
  async ready(timeoutMs = 20_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (this.daemon.exitCode !== null) break;
      if (this.ctr(["version"]).exitCode === 0) return;
      await Bun.sleep(50);
    }
    throw new Error(`containerd did not start: ${readFileSync(join(this.dirs.root, "containerd.log"), "utf8").slice(-2000)}`);
  }

  /** `ctr run --rm --cni` in the foreground, as a background process: ctr DELs the network when the task exits. */
  startContainer(id: string, argv: string[]): Subprocess {
    const p = Bun.spawn(this.ctrArgv(["run", "--rm", "--cni", "--snapshotter", "native", IMAGE, id, ...argv]), {
      stdout: "pipe",
      stderr: "pipe",
      env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
    });
    this.runs.push(p);
    return p;
  }

  /** PID of a running task (from `ctr task ls`), polling until it is RUNNING. */
  async taskPid(id: string, timeoutMs = 20_000): Promise<number> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      const line = this.ctr(["task", "ls"]).stdout.split("\n").find((l) => l.startsWith(`${id} `));
      const m = line?.match(/^\S+\s+(\d+)\s+RUNNING/);
      if (m) return Number(m[1]);
      await Bun.sleep(50);
    }
    throw new Error(`task ${id} did not start: ${this.ctr(["task", "ls"]).stdout}`);
  }

  /** Kills a task and waits for its foreground `ctr run` to finish (network removed, container deleted). */
  async stopContainer(id: string, p: Subprocess, timeoutMs = 20_000): Promise<Cmd> {
    this.ctr(["task", "kill", "-s", "SIGKILL", id]);
    const exited = await Promise.race([p.exited, Bun.sleep(timeoutMs).then(() => "timeout" as const)]);
    if (exited === "timeout") throw new Error(`ctr run for ${id} did not exit after its task was killed`);
    return { exitCode: p.exitCode ?? -1, stdout: await new Response(p.stdout as ReadableStream).text(), stderr: await new Response(p.stderr as ReadableStream).text() };
  }

  /** PIDs of processes whose command line names this node's test dir (shims left behind by a failure). */
  private strays(): number[] {
    const out: number[] = [];
    for (const d of readdirSync("/proc")) {
      if (!/^\d+$/.test(d)) continue;
      try {
        if (readFileSync(`/proc/${d}/cmdline`, "utf8").includes(this.dirs.root)) out.push(Number(d));
      } catch {
        // gone
      }
    }
    return out.filter((p) => p !== process.pid);
  }

  [Symbol.dispose](): void {
    for (const c of this.ctr(["task", "ls", "-q"]).stdout.split("\n").filter(Boolean)) this.ctr(["task", "kill", "-s", "SIGKILL", c]);
    for (const p of this.runs) if (p.exitCode === null) p.kill("SIGKILL");
    for (const c of this.ctr(["task", "ls", "-q"]).stdout.split("\n").filter(Boolean)) this.ctr(["task", "delete", "-f", c]);
    for (const c of this.ctr(["container", "ls", "-q"]).stdout.split("\n").filter(Boolean)) this.ctr(["container", "delete", c]);
    this.daemon.kill("SIGTERM");
    const until = Date.now() + 10_000;
    while (this.daemon.exitCode === null && Date.now() < until) Bun.sleepSync(20);
    if (this.daemon.exitCode === null) this.daemon.kill("SIGKILL");
    for (const pid of this.strays()) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
}
