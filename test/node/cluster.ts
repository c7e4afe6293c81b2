// Test harness for `weft node`: an "underlay" namespace holding a bridge, N "node" namespaces attached to it by veth
// (192.0.2.<i>/24 on eth0, addresses only inside the test's namespaces), `weft node` run in each as a process
// (`ip netns exec`), and pods as namespaces + veth on a per-node cni0 built from that node's subnet.env. With
// `{ ipv6: true }` the underlay also carries fd00:192::<i>/64 and pods get an IPv6 address from FLANNEL_IPV6_SUBNET.
// Everything is stopped by PID and deleted on dispose.
import type { Subprocess } from "bun";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type TestNetns, createTestNetns, runIn, uniqueIfname } from "../helpers/netns.ts";
import { ROOT, tempDir } from "../helpers/plugin.ts";

export const BUN = join(ROOT, "node_modules/.bin/bun");
export const NODE_ENTRY = join(ROOT, "plugins/node/dev.ts");

export function sh(ns: string, ...cmds: string[][]): void {
  for (const c of cmds) {
    const r = runIn(ns, c);
    if (r.exitCode !== 0) throw new Error(`${c.join(" ")} in ${ns} failed (${r.exitCode}): ${r.stderr.trim()}`);
  }
}

export async function waitFor<T>(what: string | (() => string), fn: () => T | undefined | false, timeoutMs = 5000, stepMs = 25): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === "string" ? what : what()}`);
    await Bun.sleep(stepMs);
  }
}

/** A running `weft node`; its stderr is collected in `log`. */
export class NodeProc {
  log = "";
  readonly proc: Subprocess<"ignore", "ignore", "pipe">;
  readonly exited: Promise<number>;
  constructor(ns: string, args: string[]) {
    const proc = Bun.spawn(["ip", "netns", "exec", ns, BUN, NODE_ENTRY, ...args], {
      stdin: "ignore",
      stdout: "ignore",
      stderr: "pipe",
      env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" },
    });
    this.proc = proc;
    const dec = new TextDecoder();
    const reader = (async () => {
      for await (const c of proc.stderr) this.log += dec.decode(c, { stream: true });
    })();
    this.exited = proc.exited.then(async (c) => {
      await reader.catch(() => undefined);
      return c;
    });
  }
  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<number> {
    if (this.alive) this.proc.kill(signal);
    return this.exited;
  }
  waitLog(re: RegExp, timeoutMs = 8000): Promise<RegExpMatchArray> {
    return waitFor(() => `log ${re} (log so far:\n${this.log})`, () => this.log.match(re) ?? undefined, timeoutMs);
  }
}

export interface Node {
  i: number;
  ns: TestNetns;
  ip: string;
  subnetFile: string;
  proc?: NodeProc;
}

export interface Pod {
  ns: TestNetns;
  ip: string;
  /** The pod's IPv6 address (a dual-stack cluster). */
  ip6?: string;
  server?: Subprocess;
}

/** The cluster of one test. `await using c = new Cluster(3)`. */
export class Cluster implements AsyncDisposable {
  readonly underlay: TestNetns;
  readonly nodes: Node[] = [];
  readonly pods: Pod[] = [];
  readonly tmp = tempDir("node");
  #disposables = new DisposableStack();

  readonly ipv6: boolean;

  constructor(n: number, o: { ipv6?: boolean } = {}) {
    this.ipv6 = o.ipv6 ?? false;
    const d = this.#disposables;
    this.underlay = d.use(createTestNetns("ul"));
    // br0 carries 192.0.2.254: the address of the test's etcd, which runs inside the underlay namespace
    sh(
      this.underlay.name,
      ["ip", "link", "add", "br0", "type", "bridge"],
      ["ip", "addr", "add", "192.0.2.254/24", "dev", "br0"],
      ["ip", "link", "set", "br0", "up"],
      ["ip", "link", "set", "lo", "up"],
    );
    for (let i = 1; i <= n; i++) this.#addNode(i);
  }

  #addNode(i: number): void {
    const ns = this.#disposables.use(createTestNetns(`n${i}`));
    const port = uniqueIfname("ul");
    sh(
      this.underlay.name,
      ["ip", "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns.name],
      ["ip", "link", "set", port, "master", "br0", "up"],
    );
    const ip = `192.0.2.${i}`;
    sh(
      ns.name,
      ["ip", "addr", "add", `${ip}/24`, "dev", "eth0"],
      ["ip", "link", "set", "eth0", "up"],
      ["ip", "link", "set", "lo", "up"],
      ["sysctl", "-qw", "net.ipv4.ip_forward=1"],
    );
    if (this.ipv6) {
      // nodad: the address is usable at once (a tentative address cannot be a VXLAN source yet)
      sh(ns.name, ["ip", "-6", "addr", "add", `fd00:192::${i}/64`, "dev", "eth0", "nodad"], ["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"]);
      this.#noDad(ns.name);
    }
    this.nodes.push({ i, ns, ip, subnetFile: join(this.tmp.path, `subnet-${i}.env`) });
  }

  /**
   * No DAD on links made from now on in `ns` (cni0, veths): a link-local address still tentative on a fresh veth
   * delayed the first IPv6 packets by a second or more (a lost SYN), which is not what the test is about.
   */
  #noDad(ns: string): void {
    sh(ns, ["sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0"], ["sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0"]);
  }

  /** Starts `weft node` on node `i` (1-based) with the given store and extra flags. */
  start(i: number, store: string[], extra: string[] = []): NodeProc {
    const node = this.nodes[i - 1]!;
    node.proc = new NodeProc(node.ns.name, ["--iface", "eth0", "--subnet-file", node.subnetFile, ...store, "--reconcile-interval", "1", ...extra]);
    return node.proc;
  }

  /** FLANNEL_SUBNET of node `i`, e.g. "10.5.3.1/24", once written. */
  subnetOf(i: number): string | undefined {
    try {
      return /FLANNEL_SUBNET=(\S+)/.exec(readFileSync(this.nodes[i - 1]!.subnetFile, "utf8"))?.[1];
    } catch {
      return undefined;
    }
  }

  /** A pod on node `i`: cni0 (the subnet's .1) on the node, the pod at .2 (or `host`), default route via .1. */
  addPod(i: number, host = 2): Pod {
    const node = this.nodes[i - 1]!;
    const sub = this.subnetOf(i);
    if (!sub) throw new Error(`node ${i} has no subnet.env yet`);
    const env = readFileSync(node.subnetFile, "utf8");
    const mtu = /FLANNEL_MTU=(\d+)/.exec(env)![1]!;
    const [gw, len] = sub.split("/") as [string, string];
    const base = gw.split(".").slice(0, 3).join(".");
    const ip = `${base}.${host}`;
    const ns = this.#disposables.use(createTestNetns(`p${i}`));
    if (this.ipv6) this.#noDad(ns.name);
    if (runIn(node.ns.name, ["ip", "link", "show", "cni0"]).exitCode !== 0) {
      sh(node.ns.name, ["ip", "link", "add", "cni0", "mtu", mtu, "type", "bridge"], ["ip", "addr", "add", `${gw}/${len}`, "dev", "cni0"], ["ip", "link", "set", "cni0", "up"]);
    }
    const veth = uniqueIfname("veth");
    sh(
      node.ns.name,
      ["ip", "link", "add", veth, "mtu", mtu, "type", "veth", "peer", "name", "eth0", "mtu", mtu, "netns", ns.name],
      ["ip", "link", "set", veth, "master", "cni0", "up"],
    );
    sh(ns.name, ["ip", "addr", "add", `${ip}/${len}`, "dev", "eth0"], ["ip", "link", "set", "eth0", "up"], ["ip", "link", "set", "lo", "up"], ["ip", "route", "add", "default", "via", gw]);
    const pod: Pod = { ns, ip };
    const sub6 = /FLANNEL_IPV6_SUBNET=(\S+)/.exec(env)?.[1];
    if (this.ipv6 && sub6) {
      // cni0 is the subnet's ::1 (FLANNEL_IPV6_SUBNET), the pod ::<host>, default route via ::1
      const [gw6, len6] = sub6.split("/") as [string, string];
      pod.ip6 = gw6.replace(/::1$/, `::${host}`);
      if (!runIn(node.ns.name, ["ip", "-6", "addr", "show", "dev", "cni0"]).stdout.includes(gw6)) {
        sh(node.ns.name, ["ip", "-6", "addr", "add", `${gw6}/${len6}`, "dev", "cni0", "nodad"]);
      }
      sh(ns.name, ["ip", "-6", "addr", "add", `${pod.ip6}/${len6}`, "dev", "eth0", "nodad"], ["ip", "-6", "route", "add", "default", "via", gw6]);
    }
    this.pods.push(pod);
    return pod;
  }

  /** Starts a TCP echo-ish server on port 8080 in the pod ("pong from <ip>"), on IPv6 too in a dual-stack cluster. */
  async serve(pod: Pod): Promise<void> {
    const code = `Bun.listen({hostname:"${pod.ip6 ? "::" : "0.0.0.0"}",port:8080,socket:{open(s){s.end("pong from ${pod.ip}\\n")},data(){}}});console.log("up")`;
    pod.server = Bun.spawn(["ip", "netns", "exec", pod.ns.name, BUN, "-e", code], { stdout: "pipe", stderr: "ignore", stdin: "ignore" });
    const reader = pod.server.stdout as ReadableStream<Uint8Array>;
    const { value } = await reader.getReader().read();
    if (!value || !new TextDecoder().decode(value).includes("up")) throw new Error("pod server did not start");
  }

  /** A TCP request from `from` to `to:8080` (at `to.ip`, or `host`); the answer or the error. */
  tcp(from: Pod, to: Pod, timeoutMs = 2000, host = to.ip): string {
    const code = `const t=setTimeout(()=>{console.log("timeout");process.exit(1)},${timeoutMs});let b="";await Bun.connect({hostname:"${host}",port:8080,socket:{data(s,d){b+=d.toString()},close(){clearTimeout(t);console.log(b.trim()||"closed");process.exit(0)},connectError(s,e){clearTimeout(t);console.log("error "+e.message);process.exit(1)}}});`;
    const r = runIn(from.ns.name, [BUN, "-e", code]);
    return r.stdout.trim() || r.stderr.trim();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const p of this.pods) {
      p.server?.kill("SIGKILL");
      await p.server?.exited;
    }
    for (const n of this.nodes) await n.proc?.stop("SIGKILL");
    this.#disposables.dispose();
    this.tmp[Symbol.dispose]();
  }
}
