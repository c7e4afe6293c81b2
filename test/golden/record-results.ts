// Records golden results from the reference host-local (/usr/lib/cni, Debian v1.1.1): the same allocation
// printed in every spec version the reference speaks, so weft's converters are checked against Go's, not
// against themselves. Run as root: `bun test/golden/record-results.ts` (writes test/golden/results/*.json).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const VERSIONS = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0"];
const SCENARIOS: Record<string, (dataDir: string, resolv: string) => Record<string, unknown>> = {
  v4: (dataDir) => ({ type: "host-local", dataDir, subnet: "10.9.1.0/24", routes: [{ dst: "0.0.0.0/0" }, { dst: "10.9.0.0/16", gw: "10.9.1.254" }] }),
  dual: (dataDir, resolvConf) => ({
    type: "host-local",
    dataDir,
    resolvConf,
    ranges: [[{ subnet: "10.9.2.0/24" }], [{ subnet: "fd00:9:2::/64" }]],
    routes: [{ dst: "10.9.0.0/16" }, { dst: "fd00:9::/48", gw: "fd00:9:2::fe" }, { dst: "0.0.0.0/0" }],
  }),
  v6: (dataDir) => ({ type: "host-local", dataDir, ranges: [[{ subnet: "fd00:9:3::/64", gateway: "fd00:9:3::1" }]], routes: [{ dst: "::/0" }] }),
};

const out = join(import.meta.dir, "results");
const tmp = mkdtempSync(join(tmpdir(), "weft-golden-"));
const resolv = join(tmp, "resolv.conf");
writeFileSync(resolv, "nameserver 10.9.0.10\nsearch svc.cluster.local cluster.local\noptions ndots:5\n");
try {
  for (const [name, make] of Object.entries(SCENARIOS)) {
    for (const v of VERSIONS) {
      const dataDir = join(tmp, `${name}-${v}`);
      const conf = { cniVersion: v, name: "golden", ipam: make(dataDir, resolv) };
      const p = Bun.spawnSync(["/usr/lib/cni/host-local"], {
        env: { CNI_COMMAND: "ADD", CNI_CONTAINERID: "golden", CNI_NETNS: "/proc/1/ns/net", CNI_IFNAME: "eth0", CNI_PATH: "/usr/lib/cni" },
        stdin: Buffer.from(JSON.stringify(conf)),
      });
      if (p.exitCode !== 0) throw new Error(`${name} ${v}: ${p.stdout} ${p.stderr}`);
      const file = join(out, `host-local-${name}-${v}.json`);
      writeFileSync(file, `${JSON.stringify(JSON.parse(p.stdout.toString()), null, 2)}\n`);
      console.log("wrote", file);
    }
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
