// Drop-in check against the reference: the reference flannel binary is not packaged here, so weft's flannel
// (delegating to the reference bridge + host-local from /usr/lib/cni) is compared with the reference bridge fed
// the delegate config flannel-io/cni-plugin would build (hand-derived golden, cni-notes §3.3): same result
// (volatile fields masked), same saved file, same addresses and routes in the pod.
import { describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createTestNetns, runIn } from "../helpers/netns.ts";
import { REF_BIN, runPlugin, tempDir, WEFT_BIN } from "../helpers/plugin.ts";

const SUBNET_ENV = "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n";
const GOLDEN = (version: string, ipamDir: string) =>
  `{"cniVersion":"${version}","hairpinMode":true,"ipMasq":false,"ipam":{"dataDir":"${ipamDir}","ranges":[[{"subnet":"10.244.1.0/24"}]],"routes":[{"dst":"10.244.0.0/16"}],"type":"host-local"},"isDefaultGateway":true,"isGateway":true,"mtu":1450,"name":"cbr0","type":"bridge"}`;

function masked(r: Record<string, unknown> | undefined): Record<string, unknown> {
  const x = structuredClone(r ?? {}) as { interfaces?: Array<Record<string, unknown>> };
  for (const i of x.interfaces ?? []) {
    if (i.mac) i.mac = "<mac>";
    if (typeof i.name === "string" && i.name.startsWith("veth")) i.name = "<veth>";
    if (i.sandbox) i.sandbox = "<netns>";
  }
  return x as Record<string, unknown>;
}

function podState(ns: string) {
  const addrs = runIn(ns, ["ip", "-4", "-o", "addr", "show", "dev", "eth0"]).stdout.split("\n").map((l) => l.split(/\s+/)[3]).filter(Boolean);
  const routes = runIn(ns, ["ip", "-4", "route", "show"]).stdout.trim().split("\n").sort();
  return { addrs, routes };
}

describe.each(["0.3.1", "0.4.0", "1.0.0"])("cniVersion %s", (version) => {
  test("weft flannel → reference bridge equals the reference bridge given flannel's delegate config", () => {
    using t = tempDir("fl-conf");
    const bin = join(t.path, "bin");
    mkdirSync(bin);
    symlinkSync(join(WEFT_BIN, "weft"), join(bin, "flannel"));
    for (const p of ["bridge", "host-local"]) symlinkSync(join(REF_BIN, p), join(bin, p));
    writeFileSync(join(t.path, "subnet.env"), SUBNET_ENV);
    const runs = (["weft-flannel", "reference-bridge"] as const).map((how) => {
      using host = createTestNetns("host");
      using pod = createTestNetns("pod");
      const ipamDir = join(t.path, `ipam-${how}`);
      const base = { binDir: bin, command: "ADD", containerId: "pod1", netns: pod.path, ifname: "eth0", path: bin, hostNetns: host.name };
      const r =
        how === "weft-flannel"
          ? runPlugin({
              ...base, plugin: "flannel",
              conf: { name: "cbr0", cniVersion: version, type: "flannel", subnetFile: join(t.path, "subnet.env"), dataDir: join(t.path, "flannel"), ipam: { dataDir: ipamDir }, delegate: { hairpinMode: true, isDefaultGateway: true } },
            })
          : runPlugin({ ...base, plugin: "bridge", stdin: GOLDEN(version, ipamDir) });
      expect(r.exitCode).toBe(0);
      return { result: masked(r.json), pod: podState(pod.name), hostAddrs: runIn(host.name, ["ip", "-4", "-o", "addr", "show", "dev", "cni0"]).stdout.split(/\s+/)[3] };
    });
    const [weft, ref] = runs as [NonNullable<(typeof runs)[0]>, NonNullable<(typeof runs)[0]>];
    expect(readFileSync(join(t.path, "flannel", "pod1"), "utf8")).toBe(GOLDEN(version, join(t.path, "ipam-weft-flannel")));
    // Debian's v1.1.1 bridge prints `"dns": {}` under 1.0.0; the spec (and lib ≥1.2) omits an empty dns in 1.x,
    // and weft's flannel re-prints the result in its own version the newer way.
    if (version === "1.0.0") {
      expect(ref.result.dns).toEqual({});
      expect("dns" in weft.result).toBe(false);
      delete ref.result.dns;
    }
    expect(weft.result).toEqual(ref.result);
    expect(weft.pod).toEqual(ref.pod);
    expect(weft.pod.addrs).toEqual(["10.244.1.2/24"]);
    expect(weft.hostAddrs).toBe(ref.hostAddrs!);
  }, 60_000);
});
