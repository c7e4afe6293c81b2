// A private etcd for tests: Debian's etcd-server (installed with apt-get when missing), on a temp data dir, listening
// on loopback (free ports) or inside a test namespace; stopped by PID. restart() keeps the data dir.
import type { Subprocess } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "./cluster.ts";

export function ensureEtcdInstalled(): void {
  if (Bun.which("etcd") && Bun.which("etcdctl")) return;
  const r = Bun.spawnSync(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "etcd-server", "etcd-client"], {
    env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", DEBIAN_FRONTEND: "noninteractive" },
    stdout: "pipe",
    stderr: "pipe",
  });
  if (r.exitCode !== 0) throw new Error(`Cannot install etcd-server/etcd-client: ${r.stderr.toString().slice(-500)}`);
}

/** A port nothing listens on right now (bound then released). */
export function freePort(): number {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const p = s.port;
  s.stop(true);
  return p;
}

export class TestEtcd implements AsyncDisposable {
  readonly dataDir = mkdtempSync(join(tmpdir(), "weft-t-etcd-"));
  readonly url: string;
  #proc: Subprocess | undefined;
  readonly #peerUrl: string;

  /** `host` is 127.0.0.1 (free ports) or an address inside `netns`. */
  constructor(readonly o: { host?: string; netns?: string } = {}) {
    const host = o.host ?? "127.0.0.1";
    const [cp, pp] = o.netns ? [2379, 2380] : [freePort(), freePort()];
    this.url = `http://${host}:${cp}`;
    this.#peerUrl = `http://${host}:${pp}`;
  }

  async start(): Promise<void> {
    const argv = [
      "etcd", "--name", "weft-t", "--data-dir", this.dataDir,
      "--listen-client-urls", this.url, "--advertise-client-urls", this.url,
      "--listen-peer-urls", this.#peerUrl, "--initial-advertise-peer-urls", this.#peerUrl,
      "--initial-cluster", `weft-t=${this.#peerUrl}`, "--log-level", "error", "--logger", "zap",
    ];
    this.#proc = Bun.spawn(this.o.netns ? ["ip", "netns", "exec", this.o.netns, ...argv] : argv, {
      stdin: "ignore",
      stdout: "ignore",
      stderr: "ignore",
      env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", ETCD_UNSUPPORTED_ARCH: process.arch === "arm64" ? "arm64" : "" },
    });
    await waitFor("etcd to answer", () => this.ctl(["endpoint", "health"]).exitCode === 0 || undefined, 15_000, 100);
  }

  /** Runs etcdctl (v3) against this etcd. */
  ctl(args: string[], stdin?: string): { exitCode: number; stdout: string; stderr: string } {
    const argv = ["etcdctl", "--endpoints", this.url, "--dial-timeout", "1s", "--command-timeout", "3s", ...args];
    const r = Bun.spawnSync(this.o.netns ? ["ip", "netns", "exec", this.o.netns, ...argv] : argv, {
      stdin: stdin === undefined ? "ignore" : Buffer.from(stdin),
      stdout: "pipe",
      stderr: "pipe",
      env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", ETCDCTL_API: "3" },
    });
    return { exitCode: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
  }

  put(key: string, value: string): void {
    const r = this.ctl(["put", key], value);
    if (r.exitCode !== 0) throw new Error(`etcdctl put ${key}: ${r.stderr}`);
  }

  async stop(): Promise<void> {
    this.#proc?.kill("SIGTERM");
    await this.#proc?.exited;
    this.#proc = undefined;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#proc?.kill("SIGKILL");
    await this.#proc?.exited;
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
