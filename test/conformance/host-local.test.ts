// host-local against the reference (/usr/lib/cni/host-local, Debian v1.1.1) on the same input: results per spec
// version, store files byte for byte, error messages; the two taking turns on one data directory; and 32 + 32
// concurrent ADDs of both on one directory. Where weft deliberately differs, the difference is asserted.
import { describe, expect, test } from "bun:test";
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createTestNetns } from "../helpers/netns.ts";
import { REF_BIN, WEFT_BIN, runPlugin, tempDir, type PluginRun } from "../helpers/plugin.ts";
import { type AsyncRun, NETWORK, hostLocalConf, reservations, resultIps, spawnHostLocal, storeFiles } from "../process/host-local-helpers.ts";

const REF_VERSIONS = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0"] as const;

/** One plugin call; the binary directory is chosen by ref()/weft(). */
type Call = Omit<AsyncRun, "bin">;
const ref = (c: Call): PluginRun => runPlugin({ binDir: REF_BIN, plugin: "host-local", ifname: "eth0", ...c });
const weft = (c: Call): PluginRun => runPlugin({ binDir: WEFT_BIN, plugin: "host-local", ifname: "eth0", ...c });

/** Runs the same call against both, each on its own data directory. */
function both(dirs: { ref: string; weft: string }, make: (dataDir: string) => Call): { ref: PluginRun; weft: PluginRun } {
  return { ref: ref(make(dirs.ref)), weft: weft(make(dirs.weft)) };
}

describe.each(REF_VERSIONS)("host-local %s matches the reference", (version) => {
  test("ADD, a second ADD, CHECK and DEL give the same output and the same files", () => {
    using ns = createTestNetns("hlcmp");
    using r = tempDir("hlref");
    using w = tempDir("hlweft");
    const resolv = join(r.path, "resolv.conf");
    writeFileSync(resolv, "nameserver 10.77.0.53\nsearch svc.local local\noptions ndots:5\n");
    const conf = (d: string) =>
      hostLocalConf(d, { ranges: [[{ subnet: "10.77.1.0/24" }], [{ subnet: "fd77::/64", rangeStart: "fd77::10" }]], routes: [{ dst: "0.0.0.0/0" }, { dst: "fd00::/8", gw: "fd77::1" }], resolvConf: resolv }, { cniVersion: version });
    const dirs = { ref: r.path, weft: w.path };
    for (const id of ["one", "two"]) {
      const add = both(dirs, (d) => ({ command: "ADD", conf: conf(d), containerId: id, netns: ns.path }));
      expect(add.ref.exitCode).toBe(0);
      expect(add.weft.stdout.trim()).toBe(add.ref.stdout.trim());
      expect(add.weft.exitCode).toBe(0);
    }
    const files = storeFiles(w.path);
    expect(files).toEqual(storeFiles(r.path));
    expect(Object.keys(files)).toEqual(["10.77.1.2", "10.77.1.3", "fd77::10", "fd77::11", "last_reserved_ip.0", "last_reserved_ip.1", "lock"]);
    if (version >= "0.4.0") {
      const prevResult = JSON.parse(weft({ command: "ADD", conf: conf(w.path), containerId: "three", netns: ns.path }).stdout);
      ref({ command: "ADD", conf: conf(r.path), containerId: "three", netns: ns.path });
      const ok = both(dirs, (d) => ({ command: "CHECK", conf: { ...conf(d), prevResult }, containerId: "three", netns: ns.path }));
      expect([ok.weft.exitCode, ok.weft.stdout]).toEqual([ok.ref.exitCode, ok.ref.stdout]);
      const missing = both(dirs, (d) => ({ command: "CHECK", conf: { ...conf(d), prevResult }, containerId: "ghost", netns: ns.path }));
      expect(missing.ref.json?.msg).toBe("host-local: Failed to find address added by container ghost");
      expect(missing.weft.json?.msg).toBe(missing.ref.json?.msg);
    }
    for (const id of ["one", "one", "nobody"]) {
      const del = both(dirs, (d) => ({ command: "DEL", conf: conf(d), containerId: id }));
      expect([del.weft.exitCode, del.weft.stdout]).toEqual([0, ""]);
      expect([del.ref.exitCode, del.ref.stdout]).toEqual([0, ""]);
    }
    expect(storeFiles(w.path)).toEqual(storeFiles(r.path));
  });

  test("error messages of the reference are kept", () => {
    using ns = createTestNetns("hlerr");
    using r = tempDir("hlref");
    using w = tempDir("hlweft");
    const dirs = { ref: r.path, weft: w.path };
    const small = (d: string, extra: Record<string, unknown> = {}) => hostLocalConf(d, { ranges: [[{ subnet: "10.77.2.0/30" }]] }, { cniVersion: version, ...extra });
    both(dirs, (d) => ({ command: "ADD", conf: small(d), containerId: "a", netns: ns.path }));
    const rows: Array<[string, (d: string) => Call]> = [
      ["duplicate", (d) => ({ command: "ADD", conf: small(d), containerId: "a", netns: ns.path })],
      ["exhausted", (d) => ({ command: "ADD", conf: small(d), containerId: "b", netns: ns.path })],
      ["requested taken", (d) => ({ command: "ADD", conf: hostLocalConf(d, { ranges: [[{ subnet: "10.77.2.0/30" }]] }, { cniVersion: version }), containerId: "c", netns: ns.path, args: "IP=10.77.2.2" })],
      ["requested gateway", (d) => ({ command: "ADD", conf: small(d), containerId: "c", netns: ns.path, args: "IP=10.77.2.1" })],
    ];
    for (const [what, call] of rows) {
      const got = both(dirs, call);
      expect({ what, code: got.weft.json?.code, msg: got.weft.json?.msg }).toEqual({ what, code: got.ref.json?.code, msg: got.ref.json?.msg });
    }
    // Invalid configs: same message, but weft says code 7 (invalid network config) where the reference says 999.
    for (const ipam of [{ ranges: [[{ subnet: "10.77.2.1/24" }]] }, { ranges: [[{ subnet: "10.77.2.0/31" }]] }, { ranges: [] }]) {
      const got = both(dirs, (d) => ({ command: "ADD", conf: hostLocalConf(d, ipam, { cniVersion: version }), containerId: "x", netns: ns.path }));
      expect(got.weft.json?.msg).toBe(got.ref.json?.msg as string);
      expect([got.ref.json?.code, got.weft.json?.code]).toEqual([999, 7]);
    }
  });
});

describe("host-local deliberate differences from the reference", () => {
  test("1.0.0 without resolvConf: the reference prints an empty dns, weft omits it (libcni >= 1.2)", () => {
    using ns = createTestNetns("hldns");
    using r = tempDir("hlref");
    using w = tempDir("hlweft");
    const got = both({ ref: r.path, weft: w.path }, (d) => ({ command: "ADD", conf: hostLocalConf(d), containerId: "a", netns: ns.path }));
    expect(got.ref.json?.dns).toEqual({});
    expect(got.weft.json).toEqual({ cniVersion: "1.0.0", ips: [{ address: "10.77.1.2/24", gateway: "10.77.1.1" }] });
    const { dns: _dns, ...refRest } = got.ref.json ?? {};
    expect(got.weft.json).toEqual(refRest);
  });

  test("reservation files are 0600 (upstream v1.9.1); Debian's v1.1.1 writes 0644", () => {
    using ns = createTestNetns("hlmode");
    using r = tempDir("hlref");
    using w = tempDir("hlweft");
    both({ ref: r.path, weft: w.path }, (d) => ({ command: "ADD", conf: hostLocalConf(d), containerId: "a", netns: ns.path }));
    const mode = (d: string, f: string) => statSync(join(d, NETWORK, f)).mode & 0o777;
    expect([mode(r.path, "10.77.1.2"), mode(w.path, "10.77.1.2")]).toEqual([0o644, 0o600]);
    expect([mode(r.path, "lock"), mode(w.path, "lock")]).toEqual([mode(r.path, "lock"), mode(r.path, "lock")]);
  });

  test("a gateway outside the subnet: the reference hands out .1, weft refuses the config", () => {
    using ns = createTestNetns("hlgw");
    using r = tempDir("hlref");
    using w = tempDir("hlweft");
    const got = both({ ref: r.path, weft: w.path }, (d) => ({ command: "ADD", conf: hostLocalConf(d, { ranges: [[{ subnet: "10.77.1.0/24", gateway: "10.77.9.1" }]] }), containerId: "a", netns: ns.path }));
    expect(resultIps(got.ref.json)).toEqual(["10.77.1.1"]);
    expect(got.weft.json?.code).toBe(7);
    expect(got.weft.json?.msg).toBe("invalid range set 0: Gateway 10.77.9.1 not in network 10.77.1.0/24");
  });

  test("1.1.0: the reference refuses it; weft answers in the spec's 1.1.0 shape (golden from the spec)", () => {
    using ns = createTestNetns("hl110");
    using r = tempDir("hlref");
    using w = tempDir("hlweft");
    const resolv = join(w.path, "resolv.conf");
    writeFileSync(resolv, "nameserver 10.1.0.1\n");
    const conf = (d: string) => hostLocalConf(d, { ranges: [[{ subnet: "10.1.0.0/16" }]], routes: [{ dst: "0.0.0.0/0" }], resolvConf: resolv }, { cniVersion: "1.1.0" });
    const got = both({ ref: r.path, weft: w.path }, (d) => ({ command: "ADD", conf: conf(d), containerId: "a", netns: ns.path, args: "IP=10.1.0.5" }));
    expect(got.ref.json?.code).toBe(1);
    // SPEC.md §5 "IPAM Delegation" result shape: ips without interface, routes, dns.
    expect(got.weft.json).toEqual({
      cniVersion: "1.1.0",
      ips: [{ address: "10.1.0.5/16", gateway: "10.1.0.1" }],
      routes: [{ dst: "0.0.0.0/0" }],
      dns: { nameservers: ["10.1.0.1"] },
    });
  });
});

describe("host-local and the reference on one data directory", () => {
  test("taking turns: no address twice, each reads the other's files (round-robin, DEL, CHECK, duplicates)", () => {
    using ns = createTestNetns("hlmix");
    using dir = tempDir("hlmix");
    const conf = hostLocalConf(dir.path, {}, { cniVersion: "0.4.0" });
    const add = (impl: typeof ref, id: string) => {
      const out = impl({ command: "ADD", conf, containerId: id, netns: ns.path });
      expect({ id, code: out.exitCode, out: out.stdout }).toMatchObject({ id, code: 0 });
      return resultIps(out.json)[0];
    };
    expect(["r1", "r2", "r3"].map((id) => add(ref, id))).toEqual(["10.77.1.2", "10.77.1.3", "10.77.1.4"]);
    expect(["w1", "w2", "w3"].map((id) => add(weft, id))).toEqual(["10.77.1.5", "10.77.1.6", "10.77.1.7"]);
    expect(weft({ command: "DEL", conf, containerId: "r2" }).exitCode).toBe(0);
    expect(ref({ command: "ADD", conf, containerId: "r4", netns: ns.path }).exitCode).toBe(0);
    expect(reservations(dir.path)["10.77.1.8"]).toBe("r4\r\neth0"); // the reference kept weft's round-robin position
    expect(ref({ command: "DEL", conf, containerId: "w1" }).exitCode).toBe(0);
    // Each CHECKs the other's reservations; each refuses a duplicate of the other's.
    const prev = (ip: string) => ({ cniVersion: "0.4.0", ips: [{ version: "4", address: `${ip}/24`, gateway: "10.77.1.1" }] });
    expect(weft({ command: "CHECK", conf: { ...conf, prevResult: prev("10.77.1.2") }, containerId: "r1", netns: ns.path }).exitCode).toBe(0);
    expect(ref({ command: "CHECK", conf: { ...conf, prevResult: prev("10.77.1.6") }, containerId: "w2", netns: ns.path }).exitCode).toBe(0);
    expect(ref({ command: "ADD", conf, containerId: "w2", netns: ns.path }).json?.msg).toBe("failed to allocate for range 0: 10.77.1.6 has been allocated to w2, duplicate allocation is not allowed");
    expect(weft({ command: "ADD", conf, containerId: "r3", netns: ns.path }).json?.msg).toBe("failed to allocate for range 0: 10.77.1.4 has been allocated to r3, duplicate allocation is not allowed");
    expect(reservations(dir.path)).toEqual({
      "10.77.1.2": "r1\r\neth0",
      "10.77.1.4": "r3\r\neth0",
      "10.77.1.6": "w2\r\neth0",
      "10.77.1.7": "w3\r\neth0",
      "10.77.1.8": "r4\r\neth0",
    });
    // weft continues after the reference's last reservation and also releases a legacy (ID-only) file.
    writeFileSync(join(dir.path, NETWORK, "10.77.1.100"), "legacy");
    expect(add(weft, "w4")).toBe("10.77.1.9");
    expect(weft({ command: "DEL", conf, containerId: "legacy" }).exitCode).toBe(0);
    expect(reservations(dir.path)["10.77.1.100"]).toBeUndefined();
  });

  test("32 weft and 32 reference ADDs at once: 64 distinct addresses, no error", async () => {
    using ns = createTestNetns("hlmix64");
    using dir = tempDir("hlmix64");
    const conf = hostLocalConf(dir.path);
    const runs = await Promise.all(
      Array.from({ length: 64 }, (_, i) => spawnHostLocal({ bin: i % 2 ? REF_BIN : WEFT_BIN, command: "ADD", conf, containerId: `m${i}`, ifname: "eth0", netns: ns.path })),
    );
    expect(runs.filter((r) => r.exitCode !== 0).map((r) => r.stdout)).toEqual([]);
    const ips = runs.flatMap((r) => resultIps(r.json));
    expect(new Set(ips).size).toBe(64);
    const files = reservations(dir.path);
    expect(Object.keys(files)).toHaveLength(64);
    runs.forEach((r, i) => expect(files[resultIps(r.json)[0]!]).toBe(`m${i}\r\neth0`));
  }, 60_000);
});
