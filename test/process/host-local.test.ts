// host-local as a process (build/bin/host-local, `make build` first): concurrency, a lock holder killed,
// ADDs killed mid-way, exhaustion, GC/STATUS, and bad input leaving nothing behind. State lives in a per-test
// temp dataDir; CNI_NETNS names a namespace the test creates (host-local itself touches no kernel state).
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createTestNetns } from "../helpers/netns.ts";
import { ROOT, runPlugin, tempDir } from "../helpers/plugin.ts";
import { tryAcquireFileLock } from "../../shared/lock/index.ts";
import { NETWORK, hostLocalConf, reservations, resultIps, spawnHostLocal, storeFiles } from "./host-local-helpers.ts";

const run = (o: { command: string; conf: unknown; containerId?: string; ifname?: string; netns?: string; args?: string }) =>
  runPlugin({ plugin: "host-local", ifname: "eth0", ...o });

describe("host-local concurrency", () => {
  test("64 concurrent ADDs get 64 distinct addresses; 64 concurrent DELs leave only last_reserved_ip.0 and lock", async () => {
    using ns = createTestNetns("hl64");
    using dir = tempDir("hl64");
    const conf = hostLocalConf(dir.path);
    const ids = Array.from({ length: 64 }, (_, i) => `c64-${i}`);
    const adds = await Promise.all(ids.map((id) => spawnHostLocal({ command: "ADD", conf, containerId: id, ifname: "eth0", netns: ns.path })));
    const failed = adds.filter((r) => r.exitCode !== 0).map((r) => r.stdout);
    expect(failed).toEqual([]);
    const ips = adds.flatMap((r) => resultIps(r.json));
    expect(new Set(ips).size).toBe(64);
    const files = reservations(dir.path);
    expect(Object.keys(files)).toHaveLength(64);
    // Every file belongs to the container whose result named that address.
    adds.forEach((r, i) => expect(files[resultIps(r.json)[0]!]).toBe(`${ids[i]}\r\neth0`));
    const lock = tryAcquireFileLock(join(dir.path, NETWORK, "lock"));
    expect(lock).toBeDefined(); // nobody still holds it
    lock?.release();

    const dels = await Promise.all(ids.map((id) => spawnHostLocal({ command: "DEL", conf, containerId: id, ifname: "eth0" })));
    expect(dels.filter((r) => r.exitCode !== 0 || r.stdout !== "").map((r) => r.stdout)).toEqual([]);
    expect(Object.keys(storeFiles(dir.path))).toEqual(["last_reserved_ip.0", "lock"]);
  }, 60_000);

  test("a lock holder killed with SIGKILL: the next ADD proceeds within 2 s and the store is consistent", async () => {
    using ns = createTestNetns("hlkill");
    using dir = tempDir("hlkill");
    const conf = hostLocalConf(dir.path);
    mkdirSync(join(dir.path, NETWORK), { recursive: true });
    const lockPath = join(dir.path, NETWORK, "lock");
    const script = join(dir.path, "holder.ts");
    writeFileSync(script, `import { acquireFileLock } from ${JSON.stringify(join(ROOT, "shared/lock/index.ts"))};\nacquireFileLock(${JSON.stringify(lockPath)});\nconsole.log("locked");\nsetInterval(() => {}, 1000);\n`);
    const holder = Bun.spawn([process.execPath, script], { stdout: "pipe", stderr: "pipe" });
    try {
      const reader = holder.stdout.getReader();
      const first = await reader.read();
      expect(new TextDecoder().decode(first.value)).toContain("locked");
      expect(tryAcquireFileLock(lockPath)).toBeUndefined(); // it really holds the lock
      // An ADD started now waits; killing the holder lets it through.
      const pending = spawnHostLocal({ command: "ADD", conf, containerId: "after-kill", ifname: "eth0", netns: ns.path });
      await Bun.sleep(50);
      expect(existsSync(join(dir.path, NETWORK, "10.77.1.2"))).toBe(false); // still blocked behind the lock
      holder.kill("SIGKILL");
      const t0 = performance.now();
      const r = await pending;
      expect(performance.now() - t0).toBeLessThan(2000);
      expect(r.exitCode).toBe(0);
      expect(resultIps(r.json)).toEqual(["10.77.1.2"]);
      expect(reservations(dir.path)).toEqual({ "10.77.1.2": "after-kill\r\neth0" });
    } finally {
      holder.kill("SIGKILL");
      await holder.exited;
    }
  }, 20_000);

  test("ADDs killed with SIGKILL at spread delays never leave a partial or foreign file; DEL then cleans up", async () => {
    using ns = createTestNetns("hlcrash");
    using dir = tempDir("hlcrash");
    const conf = hostLocalConf(dir.path);
    const trials = 24;
    const killedAt: number[] = [];
    // Spread the kills over one whole ADD, as long as an ADD takes on this machine right now.
    const probe = run({ command: "ADD", conf, containerId: "probe", netns: ns.path });
    expect(probe.exitCode).toBe(0);
    expect(run({ command: "DEL", conf, containerId: "probe" }).exitCode).toBe(0);
    const spanMs = Math.max(5, probe.ms * 1.2);
    for (let i = 0; i < trials; i++) {
      const p = Bun.spawn([join(ROOT, "build/bin/host-local")], {
        env: { CNI_COMMAND: "ADD", CNI_CONTAINERID: `crash-${i}`, CNI_IFNAME: "eth0", CNI_NETNS: ns.path, CNI_PATH: "/nonexistent" },
        stdin: Buffer.from(JSON.stringify(conf)),
        stdout: "ignore",
        stderr: "ignore",
      });
      const delayMs = (spanMs * i) / trials; // from before start-up to after the write
      await Bun.sleep(delayMs);
      p.kill("SIGKILL");
      killedAt.push(delayMs);
      await p.exited;
      // Invariant after every kill: each reservation file is complete and names its container.
      for (const [ip, content] of Object.entries(reservations(dir.path))) {
        expect({ ip, content }).toEqual({ ip, content: expect.stringMatching(/^crash-\d+\r\neth0$/) });
      }
    }
    // A next ADD succeeds and removes any temporary left by a killed process.
    const next = run({ command: "ADD", conf, containerId: "survivor", netns: ns.path });
    expect(next.exitCode).toBe(0);
    expect(Object.keys(storeFiles(dir.path)).filter((n) => n.startsWith("."))).toEqual([]);
    for (let i = 0; i < trials; i++) expect(run({ command: "DEL", conf, containerId: `crash-${i}` }).exitCode).toBe(0);
    expect(run({ command: "DEL", conf, containerId: "survivor" }).exitCode).toBe(0);
    expect(Object.keys(reservations(dir.path))).toEqual([]);
    expect(killedAt.length).toBe(trials);
  }, 60_000);
});

describe("host-local exhaustion", () => {
  test("on a /24 with the default range the 254th ADD fails naming the range and network; nothing leaks", async () => {
    using ns = createTestNetns("hlfull");
    using dir = tempDir("hlfull");
    const conf = hostLocalConf(dir.path);
    const store = join(dir.path, NETWORK);
    mkdirSync(store, { recursive: true });
    // 240 reservations in the reference's format stand for earlier ADDs; 13 real ADDs fill the rest.
    for (let i = 2; i < 242; i++) writeFileSync(join(store, `10.77.1.${i}`), `old-${i}\r\neth0`);
    const adds = await Promise.all(Array.from({ length: 13 }, (_, i) => spawnHostLocal({ command: "ADD", conf, containerId: `fill-${i}`, ifname: "eth0", netns: ns.path })));
    expect(adds.filter((r) => r.exitCode !== 0).map((r) => r.stdout)).toEqual([]);
    expect(Object.keys(reservations(dir.path))).toHaveLength(253);
    const before = storeFiles(dir.path);
    const last = run({ command: "ADD", conf, containerId: "one-too-many", netns: ns.path });
    expect(last.exitCode).toBe(1);
    expect(last.json?.code).toBe(999);
    expect(last.json?.msg).toBe("failed to allocate for range 0: no IP addresses available in range set: 10.77.1.1-10.77.1.254");
    expect(String(last.json?.details)).toContain(`network "${NETWORK}"`);
    expect(storeFiles(dir.path)).toEqual(before);
    // STATUS (1.1.0) reports the exhaustion with code 50; after one DEL it succeeds again.
    const status = run({ command: "STATUS", conf: { ...conf, cniVersion: "1.1.0" } });
    expect(status.exitCode).toBe(1);
    expect(status.json?.code).toBe(50);
    expect(run({ command: "DEL", conf, containerId: "fill-0" }).exitCode).toBe(0);
    expect(run({ command: "STATUS", conf: { ...conf, cniVersion: "1.1.0" } }).exitCode).toBe(0);
  }, 60_000);
});

describe("host-local GC and STATUS (spec 1.1)", () => {
  test("GC releases every reservation not in cni.dev/valid-attachments (legacy and empty files included)", () => {
    using dir = tempDir("hlgc");
    const conf = { ...hostLocalConf(dir.path), cniVersion: "1.1.0" };
    const store = join(dir.path, NETWORK);
    mkdirSync(store, { recursive: true });
    const files: Record<string, string> = {
      "10.77.1.2": "keep\r\neth0",
      "10.77.1.3": "keep\r\neth1",
      "10.77.1.4": "gone\r\neth0",
      "10.77.1.5": "legacy-keep",
      "10.77.1.6": "legacy-gone",
      "10.77.1.7": "",
      "last_reserved_ip.0": "10.77.1.7",
    };
    for (const [n, c] of Object.entries(files)) writeFileSync(join(store, n), c);
    const valid = [{ containerID: "keep", ifname: "eth0" }, { containerID: "legacy-keep", ifname: "eth0" }];
    const r = run({ command: "GC", conf: { ...conf, "cni.dev/valid-attachments": valid } });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe("");
    expect(reservations(dir.path)).toEqual({ "10.77.1.2": "keep\r\neth0", "10.77.1.5": "legacy-keep" });
    // The older key name works too; an empty list releases everything.
    expect(run({ command: "GC", conf: { ...conf, "cni.dev/attachments": [] } }).exitCode).toBe(0);
    expect(reservations(dir.path)).toEqual({});
    expect(Object.keys(storeFiles(dir.path))).toEqual(["last_reserved_ip.0", "lock"]);
  });

  test("GC without any attachment list fails and releases nothing", () => {
    using dir = tempDir("hlgc2");
    const conf = { ...hostLocalConf(dir.path), cniVersion: "1.1.0" };
    mkdirSync(join(dir.path, NETWORK), { recursive: true });
    writeFileSync(join(dir.path, NETWORK, "10.77.1.2"), "x\r\neth0");
    const r = run({ command: "GC", conf });
    expect(r.exitCode).toBe(1);
    expect(r.json?.code).toBe(7);
    expect(Object.keys(reservations(dir.path))).toEqual(["10.77.1.2"]);
  });

  test("STATUS succeeds on an empty or missing store and refuses a 1.0.0 config", () => {
    using dir = tempDir("hlst");
    const conf = hostLocalConf(dir.path);
    expect(run({ command: "STATUS", conf: { ...conf, cniVersion: "1.1.0" } }).exitCode).toBe(0);
    expect(existsSync(join(dir.path, NETWORK))).toBe(false);
    const old = run({ command: "STATUS", conf });
    expect(old.json?.code).toBe(1);
  });
});

describe("host-local requests, duplicates, CHECK, DEL", () => {
  test("requested IPs from CNI_ARGS, args and runtimeConfig are honoured; a taken one is a clear error", () => {
    using ns = createTestNetns("hlreq");
    using dir = tempDir("hlreq");
    const conf = hostLocalConf(dir.path, { ranges: [[{ subnet: "10.77.1.0/24" }], [{ subnet: "fd77::/64" }]] });
    const a = run({ command: "ADD", conf, containerId: "r1", netns: ns.path, args: "IgnoreUnknown=1;K8S_POD_NAME=p;IP=10.77.1.50" });
    expect(resultIps(a.json)).toEqual(["10.77.1.50", "fd77::2"]);
    const b = run({ command: "ADD", conf: { ...conf, args: { cni: { ips: ["fd77::99"] } }, runtimeConfig: { ips: ["10.77.1.51/24"] } }, containerId: "r2", netns: ns.path });
    expect(resultIps(b.json)).toEqual(["10.77.1.51", "fd77::99"]);
    const c = run({ command: "ADD", conf: { ...conf, runtimeConfig: { ips: ["10.77.1.50"] } }, containerId: "r3", netns: ns.path });
    expect(c.json?.msg).toBe("failed to allocate for range 0: requested IP address 10.77.1.50 is not available in range set 10.77.1.1-10.77.1.254");
    const d = run({ command: "ADD", conf: { ...conf, runtimeConfig: { ips: ["10.78.0.5"] } }, containerId: "r4", netns: ns.path });
    expect(d.json?.msg).toBe("failed to allocate all requested IPs: 10.78.0.5");
    expect(Object.keys(reservations(dir.path)).sort()).toEqual(["10.77.1.50", "10.77.1.51", "fd77::2", "fd77::99"]);
  });

  test("a repeated ADD for one container interface fails as the reference does and keeps the first reservation", () => {
    using ns = createTestNetns("hldup");
    using dir = tempDir("hldup");
    const conf = hostLocalConf(dir.path);
    expect(run({ command: "ADD", conf, containerId: "dup", netns: ns.path }).exitCode).toBe(0);
    const again = run({ command: "ADD", conf, containerId: "dup", netns: ns.path });
    expect(again.json?.msg).toBe("failed to allocate for range 0: 10.77.1.2 has been allocated to dup, duplicate allocation is not allowed");
    expect(reservations(dir.path)).toEqual({ "10.77.1.2": "dup\r\neth0" });
    // Another interface of the same container is a separate attachment.
    expect(resultIps(run({ command: "ADD", conf, containerId: "dup", ifname: "eth1", netns: ns.path }).json)).toEqual(["10.77.1.3"]);
  });

  test("CHECK finds the container's reservation and notices a prevResult address it does not hold", () => {
    using ns = createTestNetns("hlchk");
    using dir = tempDir("hlchk");
    const conf = hostLocalConf(dir.path);
    const add = run({ command: "ADD", conf, containerId: "chk", netns: ns.path });
    const prevResult = add.json;
    expect(run({ command: "CHECK", conf: { ...conf, prevResult }, containerId: "chk", netns: ns.path }).exitCode).toBe(0);
    const other = run({ command: "CHECK", conf: { ...conf, prevResult }, containerId: "nobody", netns: ns.path });
    expect(other.json?.msg).toBe("host-local: Failed to find address added by container nobody");
    const forged = { ...prevResult, ips: [{ address: "10.77.1.77/24", gateway: "10.77.1.1" }] };
    const bad = run({ command: "CHECK", conf: { ...conf, prevResult: forged }, containerId: "chk", netns: ns.path });
    expect(bad.exitCode).toBe(1);
    expect(bad.json?.msg).toContain("10.77.1.77");
  });

  test("DEL succeeds with nothing held, twice, without a netns, and without creating the store", () => {
    using dir = tempDir("hldel");
    const conf = hostLocalConf(dir.path);
    expect(run({ command: "DEL", conf, containerId: "none" })).toMatchObject({ exitCode: 0, stdout: "" });
    expect(run({ command: "DEL", conf, containerId: "none" })).toMatchObject({ exitCode: 0, stdout: "" });
    expect(existsSync(join(dir.path, NETWORK))).toBe(false);
  });
});

describe("host-local bad input writes nothing", () => {
  test.each([
    { name: "overlapping ranges", ipam: { ranges: [[{ subnet: "10.77.0.0/16" }], [{ subnet: "10.77.1.0/24" }]] }, code: 7, msg: "range set 0 overlaps with 1" },
    { name: "rangeStart outside subnet", ipam: { ranges: [[{ subnet: "10.77.1.0/24", rangeStart: "10.77.2.1" }]] }, code: 7, msg: "RangeStart 10.77.2.1 not in network" },
    { name: "rangeEnd before rangeStart", ipam: { ranges: [[{ subnet: "10.77.1.0/24", rangeStart: "10.77.1.9", rangeEnd: "10.77.1.3" }]] }, code: 7, msg: "is before RangeStart" },
    { name: "gateway outside subnet", ipam: { ranges: [[{ subnet: "10.77.1.0/24", gateway: "10.77.2.1" }]] }, code: 7, msg: "Gateway 10.77.2.1 not in network" },
    { name: "IPv6 gateway on IPv4", ipam: { ranges: [[{ subnet: "10.77.1.0/24", gateway: "fd00::1" }]] }, code: 7, msg: "is IPv6 but network" },
    { name: "a /32", ipam: { ranges: [[{ subnet: "10.77.1.0/32" }]] }, code: 7, msg: "too small to allocate from" },
    { name: "a /31", ipam: { ranges: [[{ subnet: "10.77.1.0/31" }]] }, code: 7, msg: "too small to allocate from" },
    { name: "dataDir with ..", ipam: { dataDir: "DATADIR/../escape" }, code: 7, msg: '".." segments' },
    { name: "relative dataDir", ipam: { dataDir: "relative/dir" }, code: 7, msg: "absolute path" },
    { name: "dataDir with NUL", ipam: { dataDir: "DATADIR/a\u0000b" }, code: 7, msg: "NUL" },
    { name: "requested 1.2.3.", extra: { runtimeConfig: { ips: ["1.2.3."] } }, code: 7, msg: "invalid IP address" },
    { name: "requested 0x1.2.3.4", extra: { args: { cni: { ips: ["0x1.2.3.4"] } } }, code: 7, msg: "invalid IP address" },
    { name: "requested ' 1.2.3.4'", extra: { runtimeConfig: { ips: [" 1.2.3.4"] } }, code: 7, msg: "invalid IP address" },
    { name: "requested via CNI_ARGS", args: "IP=1.2.3.", code: 4, msg: "invalid IP address" },
    { name: "network name ../x", extra: { name: "../x" }, code: 7, msg: "invalid characters found in network name" },
    { name: "network name a/b", extra: { name: "a/b" }, code: 7, msg: "invalid characters found in network name" },
  ])("ADD with $name fails with code $code and writes nothing", ({ ipam, extra, args, code, msg }) => {
    using ns = createTestNetns("hlbad");
    using dir = tempDir("hlbad");
    const fixed = ipam && "dataDir" in ipam ? { ...ipam, dataDir: String(ipam.dataDir).replace("DATADIR", dir.path) } : ipam;
    const conf = { ...hostLocalConf(dir.path, fixed), ...extra };
    const r = run({ command: "ADD", conf, containerId: "bad", netns: ns.path, ...(args ? { args } : {}) });
    expect(r.exitCode).toBe(1);
    expect(r.json?.code).toBe(code);
    expect(String(r.json?.msg)).toContain(msg);
    expect(readdirSync(dir.path)).toEqual([]);
  });
});
