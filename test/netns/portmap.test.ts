// portmap against the real kernel: traffic through the hostPort rules in a throwaway "node" (host netns with a
// bridge, one pod and one client namespace), concurrency, idempotent DEL, rollback and bad input. Every namespace
// is created per test and removed even on failure; nothing runs in the machine's own netns.
import { beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ROOT, WEFT_BIN, runPlugin, type PluginRun } from "../helpers/plugin.ts";
import { createTestNetns, runIn, uniqueIfname, type TestNetns } from "../helpers/netns.ts";

const BUN = join(ROOT, "node_modules/.bin/bun");
const NODE_IP = "192.168.77.1";
const CLIENT_IP = "192.168.77.2";
const POD_IP = "10.244.1.5";

function sh(ns: string, ...argv: string[]): string {
  const r = runIn(ns, argv);
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")} in ${ns} failed (${r.exitCode}): ${r.stderr}`);
  return r.stdout;
}

function natDump(ns: string, family: 4 | 6 = 4): string {
  return sh(ns, family === 6 ? "ip6tables-save" : "iptables-save", "-t", "nat")
    .split("\n")
    .filter((l) => !l.startsWith("#"))
    .join("\n");
}

/** A node: host netns with bridge 10.244.1.1/24 and uplink 192.168.77.1/24, a pod on the bridge, a client on the uplink. */
interface Node extends Disposable {
  host: TestNetns;
  pod: TestNetns;
  client: TestNetns;
  bridge: string;
}

function makeNode(label: string): Node {
  const stack = new DisposableStack();
  try {
    const host = stack.use(createTestNetns(`${label}-host`));
    const pod = stack.use(createTestNetns(`${label}-pod`));
    const client = stack.use(createTestNetns(`${label}-cli`));
    const br = uniqueIfname("pmbr");
    const hv = uniqueIfname("pmh");
    const up = uniqueIfname("pmu");
    sh(host.name, "ip", "link", "add", br, "type", "bridge");
    sh(host.name, "ip", "addr", "add", "10.244.1.1/24", "dev", br);
    sh(host.name, "ip", "link", "set", br, "up");
    sh(host.name, "ip", "link", "set", "lo", "up");
    sh(host.name, "ip", "link", "add", hv, "type", "veth", "peer", "name", "eth0", "netns", pod.name);
    sh(host.name, "ip", "link", "set", hv, "master", br, "up");
    // hairpinMode, as the flannel conflist sets it: with br_netfilter the DNATed hairpin packet is bridged
    // straight back out of the port it came in on.
    sh(host.name, "ip", "link", "set", hv, "type", "bridge_slave", "hairpin", "on");
    sh(pod.name, "ip", "addr", "add", `${POD_IP}/24`, "dev", "eth0");
    sh(pod.name, "ip", "link", "set", "eth0", "up");
    sh(pod.name, "ip", "link", "set", "lo", "up");
    sh(pod.name, "ip", "route", "add", "default", "via", "10.244.1.1");
    sh(host.name, "ip", "link", "add", up, "type", "veth", "peer", "name", "eth0", "netns", client.name);
    sh(host.name, "ip", "addr", "add", `${NODE_IP}/24`, "dev", up);
    sh(host.name, "ip", "link", "set", up, "up");
    sh(client.name, "ip", "addr", "add", `${CLIENT_IP}/24`, "dev", "eth0");
    sh(client.name, "ip", "link", "set", "eth0", "up");
    sh(client.name, "ip", "link", "set", "lo", "up");
    sh(client.name, "ip", "route", "add", "default", "via", NODE_IP);
    sh(host.name, "sysctl", "-qw", "net.ipv4.ip_forward=1");
    const moved = stack.move();
    return { host, pod, client, bridge: br, [Symbol.dispose]: () => moved.dispose() };
  } catch (e) {
    stack.dispose();
    throw e;
  }
}

/** A TCP server answering "pod" and a UDP echo server ("pod:<msg>") inside `ns`, stopped on dispose. */
async function startServers(ns: string, tcpPort: number, udpPort: number): Promise<Disposable> {
  const code = `
    Bun.listen({ hostname: "0.0.0.0", port: ${tcpPort}, socket: { open(s) { s.write("pod from " + s.remoteAddress + "\\n"); s.end(); }, data() {} } });
    await Bun.udpSocket({ hostname: "0.0.0.0", port: ${udpPort}, socket: { data(s, buf, port, addr) { s.send("pod:" + buf.toString(), port, addr); } } });
    console.log("ready");`;
  const p = Bun.spawn(["ip", "netns", "exec", ns, BUN, "-e", code], { stdout: "pipe", stderr: "pipe" });
  const reader = p.stdout.getReader();
  const first = await reader.read();
  if (!new TextDecoder().decode(first.value).includes("ready")) {
    p.kill();
    throw new Error(`servers did not start in ${ns}: ${await new Response(p.stderr).text()}`);
  }
  return { [Symbol.dispose]: () => p.kill() };
}

/** Connects from inside `ns` and returns what the server said ("" when nothing answered within 2 s). */
function tcpGet(ns: string, host: string, port: number, source?: string): string {
  const code = `
    const t = setTimeout(() => process.exit(0), 2000);
    Bun.connect({ hostname: "${host}", port: ${port}, ${source ? `localAddress: "${source}",` : ""} socket: {
      data(s, d) { process.stdout.write(d); }, close() { clearTimeout(t); }, error() { process.exit(0); }, connectError() { process.exit(0); } } });`;
  return runIn(ns, [BUN, "-e", code]).stdout.trim();
}

/** Sends one UDP datagram from `srcPort` and returns the reply ("" when none came within 1 s). */
function udpAsk(ns: string, host: string, port: number, srcPort: number, msg: string): string {
  const code = `
    const t = setTimeout(() => process.exit(0), 1000);
    const s = await Bun.udpSocket({ port: ${srcPort}, socket: { data(_s, buf) { process.stdout.write(buf.toString()); clearTimeout(t); process.exit(0); } } });
    s.send("${msg}", ${port}, "${host}");`;
  return runIn(ns, [BUN, "-e", code]).stdout.trim();
}

const baseConf = (portMappings: unknown[], extra: Record<string, unknown> = {}) => ({
  cniVersion: "1.0.0",
  name: "pmtest",
  type: "portmap",
  runtimeConfig: { portMappings },
  prevResult: {
    cniVersion: "1.0.0",
    interfaces: [{ name: "eth0", sandbox: "/run/netns/pod" }],
    ips: [{ address: `${POD_IP}/24`, interface: 0, gateway: "10.244.1.1" }],
  },
  ...extra,
});

function pm(node: { host: TestNetns; pod: TestNetns }, command: string, conf: unknown, containerId = "pod1", env?: Record<string, string | undefined>): PluginRun {
  return runPlugin({ plugin: "portmap", command, conf, containerId, netns: node.pod.path, ifname: "eth0", hostNetns: node.host.name, ...(env ? { env } : {}) });
}

beforeAll(() => {
  if (!Bun.file(join(WEFT_BIN, "portmap")).size) throw new Error("build/bin/portmap is missing: run `make build` first");
});

describe("portmap traffic", () => {
  test("a client reaches the pod through hostPort and hostIP:hostPort; DEL removes the path", async () => {
    using node = makeNode("tr");
    using _srv = await startServers(node.pod.name, 80, 53);
    const conf = baseConf([
      { hostPort: 8080, containerPort: 80, protocol: "tcp" },
      { hostPort: 8081, containerPort: 80, protocol: "tcp", hostIP: NODE_IP },
      { hostPort: 8082, containerPort: 80, protocol: "tcp", hostIP: "10.9.9.9" },
    ]);
    expect(tcpGet(node.client.name, NODE_IP, 8080)).toBe(""); // nothing forwards yet
    const add = pm(node, "ADD", conf);
    expect(add.exitCode).toBe(0);
    expect(tcpGet(node.client.name, NODE_IP, 8080)).toBe(`pod from ${CLIENT_IP}`);
    expect(tcpGet(node.client.name, NODE_IP, 8081)).toBe(`pod from ${CLIENT_IP}`);
    // hostIP 10.9.9.9 is not ours: the mapping must not answer on the node's address
    expect(tcpGet(node.client.name, NODE_IP, 8082)).toBe("");
    expect(pm(node, "DEL", conf).exitCode).toBe(0);
    expect(tcpGet(node.client.name, NODE_IP, 8080)).toBe("");
  });

  test("hairpin: the pod reaches itself via the node's IP and hostPort, masqueraded", async () => {
    using node = makeNode("hp");
    using _srv = await startServers(node.pod.name, 80, 53);
    expect(pm(node, "ADD", baseConf([{ hostPort: 8080, containerPort: 80, protocol: "tcp" }])).exitCode).toBe(0);
    // The reply must come back through the node, so the pod sees the bridge's address, not its own.
    expect(tcpGet(node.pod.name, NODE_IP, 8080)).toBe("pod from 10.244.1.1");
  });

  test("localhost on the node reaches the hostPort (route_localnet set on the bridge)", async () => {
    using node = makeNode("lo");
    using _srv = await startServers(node.pod.name, 80, 53);
    expect(sh(node.host.name, "sysctl", "-n", `net.ipv4.conf.${node.bridge}.route_localnet`).trim()).toBe("0");
    expect(pm(node, "ADD", baseConf([{ hostPort: 8080, containerPort: 80, protocol: "tcp" }])).exitCode).toBe(0);
    expect(sh(node.host.name, "sysctl", "-n", `net.ipv4.conf.${node.bridge}.route_localnet`).trim()).toBe("1");
    expect(tcpGet(node.host.name, "127.0.0.1", 8080)).toBe("pod from 10.244.1.1");
  });

  test("UDP works after a stale conntrack entry for the host port existed before ADD", async () => {
    using node = makeNode("udp");
    using _srv = await startServers(node.pod.name, 80, 53);
    // Another pod's mapping makes the node track connections, as on any node with hostPorts.
    expect(pm(node, "ADD", baseConf([{ hostPort: 9999, containerPort: 80, protocol: "tcp" }]), "other").exitCode).toBe(0);
    expect(udpAsk(node.client.name, NODE_IP, 5353, 40000, "early")).toBe("");
    const tracked = runIn(node.host.name, ["conntrack", "-L", "-p", "udp", "--orig-port-dst", "5353"]).stdout;
    expect(tracked).toContain("sport=40000"); // the stale entry the ADD has to remove
    expect(pm(node, "ADD", baseConf([{ hostPort: 5353, containerPort: 53, protocol: "udp" }])).exitCode).toBe(0);
    expect(udpAsk(node.client.name, NODE_IP, 5353, 40000, "again")).toBe("pod:again");
  });
});

describe("portmap state", () => {
  test("32 concurrent ADDs with distinct hostPorts all land; 32 concurrent DELs remove them all", async () => {
    using host = createTestNetns("pm32-host");
    using pod = createTestNetns("pm32-pod");
    const ids = Array.from({ length: 32 }, (_, i) => `c${i}`);
    const spawn = (command: string, i: number) =>
      Bun.spawn(["ip", "netns", "exec", host.name, join(WEFT_BIN, "portmap")], {
        env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin", CNI_COMMAND: command, CNI_CONTAINERID: ids[i]!, CNI_NETNS: pod.path, CNI_IFNAME: "eth0", CNI_PATH: WEFT_BIN },
        stdin: Buffer.from(JSON.stringify({ ...baseConf([{ hostPort: 20000 + i, containerPort: 80, protocol: "tcp" }]), prevResult: { cniVersion: "1.0.0", ips: [{ address: `10.244.2.${i + 2}/24` }] } })),
        stdout: "pipe",
        stderr: "pipe",
      });
    const adds = ids.map((_, i) => spawn("ADD", i));
    expect(await Promise.all(adds.map((p) => p.exited))).toEqual(ids.map(() => 0));
    const dump = natDump(host.name);
    expect(dump.match(/^:CNI-DN-/gm)?.length).toBe(32);
    for (let i = 0; i < 32; i++) expect(dump).toContain(`--dports ${20000 + i} -j CNI-DN-`);
    expect(dump).toContain(`--to-destination 10.244.2.33:80`);
    expect(dump.match(/^-A PREROUTING .*CNI-HOSTPORT-DNAT$/gm)?.length).toBe(1);
    expect(dump.match(/^-A OUTPUT .*CNI-HOSTPORT-DNAT$/gm)?.length).toBe(1);
    expect(dump.match(/^-A POSTROUTING .*CNI-HOSTPORT-MASQ$/gm)?.length).toBe(1);
    expect(dump.match(/^-A CNI-HOSTPORT-SETMARK /gm)?.length).toBe(1);
    const dels = ids.map((_, i) => spawn("DEL", i));
    expect(await Promise.all(dels.map((p) => p.exited))).toEqual(ids.map(() => 0));
    expect(natDump(host.name)).not.toContain("CNI-DN-");
  }, 60_000);

  test("DEL twice, without prevResult and without portMappings, removes exactly this container's rules", () => {
    using host = createTestNetns("pmdel-host");
    using pod = createTestNetns("pmdel-pod");
    const node = { host, pod };
    const conf = baseConf([{ hostPort: 8080, containerPort: 80, protocol: "tcp" }]);
    expect(pm(node, "ADD", conf, "keep").exitCode).toBe(0);
    const before = natDump(host.name);
    expect(pm(node, "ADD", conf, "gone").exitCode).toBe(0);
    const bare = { cniVersion: "1.0.0", name: "pmtest", type: "portmap" };
    for (let i = 0; i < 2; i++) {
      const r = pm(node, "DEL", bare, "gone");
      expect([r.exitCode, r.stdout]).toEqual([0, ""]);
    }
    expect(natDump(host.name)).toBe(before);
    expect(natDump(host.name, 6)).not.toContain("CNI-DN-");
  });

  test("ADD again with a new pod IP replaces the old rules (the reference keeps them: plugins#683)", () => {
    using host = createTestNetns("pmre-host");
    using pod = createTestNetns("pmre-pod");
    const node = { host, pod };
    expect(pm(node, "ADD", baseConf([{ hostPort: 8080, containerPort: 80, protocol: "tcp" }])).exitCode).toBe(0);
    const moved = { ...baseConf([{ hostPort: 8080, containerPort: 80, protocol: "tcp" }]), prevResult: { cniVersion: "1.0.0", ips: [{ address: "10.244.1.77/24" }] } };
    expect(pm(node, "ADD", moved).exitCode).toBe(0);
    const dump = natDump(host.name);
    expect(dump).toContain("--to-destination 10.244.1.77:80");
    expect(dump).not.toContain(`--to-destination ${POD_IP}:80`);
    expect(dump.match(/^-A CNI-HOSTPORT-DNAT /gm)?.length).toBe(1);
  });

  test("CHECK passes after ADD and names a rule that was removed behind its back", () => {
    using host = createTestNetns("pmck-host");
    using pod = createTestNetns("pmck-pod");
    const node = { host, pod };
    const conf = baseConf([{ hostPort: 8080, containerPort: 80, protocol: "tcp" }]);
    expect(pm(node, "ADD", conf).exitCode).toBe(0);
    expect(pm(node, "CHECK", conf).exitCode).toBe(0);
    const chain = /^:(CNI-DN-\S+)/m.exec(natDump(host.name))![1]!;
    sh(host.name, "iptables", "-w", "-t", "nat", "-D", chain, "-p", "tcp", "-m", "tcp", "--dport", "8080", "-j", "DNAT", "--to-destination", `${POD_IP}:80`);
    const r = pm(node, "CHECK", conf);
    expect(r.exitCode).toBe(1);
    expect(String(r.json?.msg)).toContain(`-A ${chain} -p tcp --dport 8080 -j DNAT`);
    sh(host.name, "iptables", "-w", "-t", "nat", "-D", "PREROUTING", "-m", "addrtype", "--dst-type", "LOCAL", "-j", "CNI-HOSTPORT-DNAT");
    expect(pm(node, "ADD", conf).exitCode).toBe(0); // ADD repairs both
    expect(pm(node, "CHECK", conf).exitCode).toBe(0);
  });

  test("no portMappings: ADD passes prevResult through and installs nothing", () => {
    using host = createTestNetns("pmnop-host");
    using pod = createTestNetns("pmnop-pod");
    const before = natDump(host.name);
    const r = pm({ host, pod }, "ADD", baseConf([]));
    expect(r.exitCode).toBe(0);
    expect((r.json?.ips as unknown[])?.length).toBe(1);
    expect(natDump(host.name)).toBe(before);
  });
});

describe("portmap GC and STATUS (1.1.0)", () => {
  test("GC removes the chains of containers not in cni.dev/valid-attachments, only in this network", () => {
    using host = createTestNetns("pmgc-host");
    using pod = createTestNetns("pmgc-pod");
    const node = { host, pod };
    const v11 = (name: string, port: number) => ({ ...baseConf([{ hostPort: port, containerPort: 80, protocol: "tcp" }]), cniVersion: "1.1.0", name });
    expect(pm(node, "ADD", v11("pmtest", 8080), "live").exitCode).toBe(0);
    expect(pm(node, "ADD", v11("pmtest", 8081), "dead").exitCode).toBe(0);
    expect(pm(node, "ADD", v11("othernet", 8082), "dead").exitCode).toBe(0);
    const gcConf = { cniVersion: "1.1.0", name: "pmtest", type: "portmap", "cni.dev/valid-attachments": [{ containerID: "live", ifname: "eth0" }] };
    const r = runPlugin({ plugin: "portmap", command: "GC", conf: gcConf, hostNetns: host.name });
    expect([r.exitCode, r.stdout]).toEqual([0, ""]);
    const dump = natDump(host.name);
    expect(dump).toContain('id: \\"live\\"');
    expect(dump).toContain("--dports 8082 ");
    expect(dump).not.toContain("--dports 8081 ");
    expect(dump.match(/^:CNI-DN-/gm)?.length).toBe(2);
  });

  test("STATUS succeeds when iptables works and is code 50 without it", () => {
    using host = createTestNetns("pmst-host");
    const conf = { cniVersion: "1.1.0", name: "pmtest", type: "portmap" };
    expect(runPlugin({ plugin: "portmap", command: "STATUS", conf, hostNetns: host.name }).exitCode).toBe(0);
    const r = runPlugin({ plugin: "portmap", command: "STATUS", conf, hostNetns: host.name, env: { PATH: "/usr/bin:/bin" } });
    expect([r.exitCode, r.json?.code]).toEqual([1, 50]);
  });
});

describe("portmap bad input", () => {
  const ok = { hostPort: 8080, containerPort: 80, protocol: "tcp" };
  test.each([
    { why: "host port 0", conf: baseConf([ok, { hostPort: 0, containerPort: 80, protocol: "tcp" }]), code: 7, msg: "Invalid host port number: 0" },
    { why: "host port 65536", conf: baseConf([ok, { hostPort: 65536, containerPort: 80, protocol: "tcp" }]), code: 7, msg: "Invalid host port number: 65536" },
    { why: "unknown protocol", conf: baseConf([ok, { hostPort: 81, containerPort: 80, protocol: "icmp" }]), code: 7, msg: "Unknown protocol" },
    { why: "hostIP not an IP", conf: baseConf([ok, { hostPort: 81, containerPort: 80, hostIP: "node-1" }]), code: 7, msg: "Invalid host IP" },
    { why: "markMasqBit 32", conf: baseConf([ok], { markMasqBit: 32 }), code: 7, msg: "MasqMarkBit must be between 0 and 31" },
    { why: "both mark options", conf: baseConf([ok], { markMasqBit: 13, externalSetMarkChain: "KUBE-MARK-MASQ" }), code: 7, msg: "Cannot specify externalSetMarkChain and markMasqBit" },
    { why: "nftables backend", conf: baseConf([ok], { backend: "nftables" }), code: 2, msg: 'backend "nftables" is not supported' },
    { why: "no prevResult", conf: { ...baseConf([ok]), prevResult: undefined }, code: 7, msg: "must be called as chained plugin" },
    { why: "a condition iptables rejects", conf: baseConf([ok], { conditionsV4: ["--no-such-option"] }), code: 999, msg: "Cannot install the IPv4 port mappings" },
  ])("ADD with $why fails with code $code and installs nothing", ({ conf, code, msg }) => {
    using host = createTestNetns("pmbad-host");
    using pod = createTestNetns("pmbad-pod");
    const before = natDump(host.name);
    const r = pm({ host, pod }, "ADD", conf);
    expect(r.exitCode).toBe(1);
    expect(r.json?.code).toBe(code);
    expect(String(r.json?.msg)).toContain(msg);
    expect(natDump(host.name)).toBe(before);
  });

  test("a missing iptables binary is a clear error and nothing is installed", () => {
    using host = createTestNetns("pmnobin-host");
    using pod = createTestNetns("pmnobin-pod");
    const before = natDump(host.name);
    const r = pm({ host, pod }, "ADD", baseConf([{ hostPort: 8080, containerPort: 80, protocol: "tcp" }]), "pod1", { PATH: "/usr/bin:/bin" });
    expect(r.exitCode).toBe(1);
    expect(String(r.json?.msg)).toContain("Cannot install the IPv4 port mappings: Cannot run iptables-restore: not found in PATH");
    expect(natDump(host.name)).toBe(before);
  });

  test("an IPv6 failure rolls back the IPv4 rules already installed", () => {
    using host = createTestNetns("pmrb-host");
    using pod = createTestNetns("pmrb-pod");
    const before = natDump(host.name);
    const conf = {
      ...baseConf([{ hostPort: 8080, containerPort: 80, protocol: "tcp" }], { conditionsV6: ["--no-such-option"] }),
      prevResult: { cniVersion: "1.0.0", ips: [{ address: `${POD_IP}/24` }, { address: "fd00:244::5/64" }] },
    };
    const r = pm({ host, pod }, "ADD", conf);
    expect(r.exitCode).toBe(1);
    expect(String(r.json?.msg)).toContain("IPv6");
    expect(natDump(host.name)).not.toContain("CNI-DN-");
    expect(natDump(host.name).match(/^:CNI-HOSTPORT-DNAT/m)).not.toBeNull(); // shared chains may stay, as with the reference
    expect(before).not.toContain("CNI-");
  });
});
