// Process tests of the compiled `weft` CLI (make build) driving conflists with weft's plugins and with the reference
// plugins (/usr/lib/cni), each test inside its own throwaway "host" netns with state in a temp dir: the libcni
// cache format, DEL with the cached config, corrupt cache handling, GC, stale reservations, bad input.
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createTestNetns, runIn, uniqueIfname } from "../helpers/netns.ts";
import { REF_BIN, WEFT_BIN, tempDir } from "../helpers/plugin.ts";
import { bridgeList, makeDirs, weft, writeConf } from "./weft-cli-helpers.ts";

const cnitoolId = (netns: string) => `cnitool-${createHash("sha512").update(netns).digest("hex").slice(0, 20)}`;
const IMPLS = [
  { impl: "weft", bin: WEFT_BIN, cniVersion: "1.1.0" },
  // Debian's reference is v1.1.1: it knows no 1.1.0 (no GC/STATUS), so its lists are 1.0.0.
  { impl: "reference", bin: REF_BIN, cniVersion: "1.0.0" },
];
const PORTMAP_CAP = '{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]}';

function setup(label: string, bin: string, cniVersion: string, subnet = "10.98.0.0/24") {
  const tmp = tempDir(`cli-${label}`);
  const dirs = makeDirs(tmp.path, bin);
  const list = bridgeList({ name: "tnet", bridge: uniqueIfname("wbr"), subnet, ipamDir: dirs.ipam, cniVersion });
  const confFile = writeConf(dirs.conf, "10-tnet.conflist", list);
  return { tmp, dirs, list, confFile };
}

function oneLine(s: string): string[] {
  return s.split("\n").filter((l) => l.trim() !== "");
}

describe.each(IMPLS)("weft add/check/del with $impl plugins", ({ impl, bin, cniVersion }) => {
  test("add writes libcni's cache entry; ls and ipam ls see it alive; del removes everything", () => {
    using host = createTestNetns("h");
    using pod = createTestNetns("p");
    const { tmp, dirs, confFile } = setup(impl, bin, cniVersion);
    using _t = tmp;
    const add = weft(["add", "tnet", pod.path, "--args", "IgnoreUnknown=1", "--cap", PORTMAP_CAP], { dirs, hostNetns: host.name });
    expect(add.stderr).toBe("");
    expect(add.exitCode).toBe(0);
    expect(add.stdout).toContain("address 10.98.0.2/24 gateway 10.98.0.1");

    const cid = cnitoolId(pod.path);
    const file = join(dirs.cache, "results", `tnet-${cid}-eth0`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dirs.cache, "results")).mode & 0o777).toBe(0o700);
    const text = readFileSync(file, "utf8");
    expect(text).not.toContain("\n"); // compact, as Go's json.Marshal
    const entry = JSON.parse(text) as Record<string, unknown>;
    // libcni cachedInfo field order; cniArgs/capabilityArgs present because given.
    expect(Object.keys(entry)).toEqual(["kind", "containerId", "config", "ifName", "networkName", "netns", "cniArgs", "capabilityArgs", "result"]);
    expect(entry.kind).toBe("cniCacheV1");
    expect(entry.containerId).toBe(cid);
    expect(Buffer.from(entry.config as string, "base64").toString()).toBe(readFileSync(confFile, "utf8"));
    expect(entry.cniArgs).toEqual([["IgnoreUnknown", "1"]]);
    expect(entry.capabilityArgs).toEqual(JSON.parse(PORTMAP_CAP));
    const result = entry.result as { cniVersion: string; ips: { address: string }[]; interfaces: { name: string; sandbox?: string }[] };
    expect(result.cniVersion).toBe(cniVersion);
    expect(result.ips.map((i) => i.address)).toEqual(["10.98.0.2/24"]);
    expect(result.interfaces.find((i) => i.sandbox)?.sandbox).toBe(pod.path);
    // portmap saw runtimeConfig.portMappings (filtered by its capabilities): its DNAT chain exists.
    expect(runIn(host.name, ["iptables", "-t", "nat", "-S", "CNI-HOSTPORT-DNAT"]).stdout).toContain("--dports 8080");

    const ls = JSON.parse(weft(["ls", "--json"], { dirs, hostNetns: host.name }).stdout) as { attachments: Record<string, unknown>[] };
    expect(ls.attachments).toEqual([expect.objectContaining({ network: "tnet", containerId: cid, ifname: "eth0", netns: pod.path, ips: ["10.98.0.2/24"], state: "alive" })]);
    const ipam = JSON.parse(weft(["ipam", "ls", "--json", "--data-dir", dirs.ipam], { dirs }).stdout) as { reservations: Record<string, unknown>[] };
    expect(ipam.reservations).toEqual([expect.objectContaining({ network: "tnet", ip: "10.98.0.2", containerId: cid, ifname: "eth0", state: "live" })]);

    const check = weft(["check", "tnet", pod.path], { dirs, hostNetns: host.name });
    if (impl === "weft") {
      expect(check.exitCode).toBe(0);
    } else {
      // v1.1.1 portmap checks IPv4 rules in ip6tables too (cni-notes §2.3): the CLI shows plugin, op and code.
      expect(check.exitCode).toBe(1);
      expect(oneLine(check.stderr)).toEqual([expect.stringMatching(/^weft: plugin "portmap" failed \(check\): code 999: could not check ipv6 dnat/)]);
    }

    const del = weft(["del", "tnet", pod.path], { dirs, hostNetns: host.name });
    expect(del.exitCode).toBe(0);
    expect(existsSync(file)).toBe(false);
    expect(readdirSync(join(dirs.ipam, "tnet")).filter((f) => f.startsWith("10."))).toEqual([]);
    expect(runIn(pod.name, ["ip", "link", "show", "eth0"]).exitCode).not.toBe(0);
    expect(runIn(host.name, ["iptables", "-t", "nat", "-S", "CNI-HOSTPORT-DNAT"]).stdout).not.toContain("8080");
  });
});

describe("weft del with a config that changed since ADD", () => {
  test.each(["changed", "removed"])("the config cached at ADD is used when today's file is %s", (how) => {
    using host = createTestNetns("h");
    using pod = createTestNetns("p");
    const { tmp, dirs, list, confFile } = setup("del", WEFT_BIN, "1.1.0");
    using _t = tmp;
    expect(weft(["add", "tnet", pod.path], { dirs, hostNetns: host.name }).exitCode).toBe(0);
    const bridge = (list.plugins as { bridge: string }[])[0]!.bridge;
    if (how === "changed") {
      // Today's file points host-local at another dir: DEL with it would leak the reservation.
      const changed = bridgeList({ name: "tnet", bridge, subnet: "10.98.0.0/24", ipamDir: join(tmp.path, "elsewhere"), cniVersion: "1.1.0" });
      writeConf(dirs.conf, "10-tnet.conflist", changed);
    } else {
      rmSync(confFile);
    }
    const del = weft(["del", "tnet", pod.path], { dirs, hostNetns: host.name });
    expect(del.exitCode).toBe(0);
    expect(del.stderr).toContain("using the config cached at ADD");
    expect(del.stderr).toContain(how === "changed" ? "has changed since" : 'No network "tnet"');
    expect(readdirSync(join(dirs.ipam, "tnet")).filter((f) => f.startsWith("10."))).toEqual([]);
    expect(readdirSync(join(dirs.cache, "results"))).toEqual([]);
  });
});

describe("weft with a corrupt cache file", () => {
  test("ls warns and lists nothing; del warns, runs today's config without prevResult, and removes the file", () => {
    using host = createTestNetns("h");
    using pod = createTestNetns("p");
    const { tmp, dirs } = setup("corrupt", WEFT_BIN, "1.1.0");
    using _t = tmp;
    expect(weft(["add", "tnet", pod.path], { dirs, hostNetns: host.name }).exitCode).toBe(0);
    const file = join(dirs.cache, "results", `tnet-${cnitoolId(pod.path)}-eth0`);
    writeFileSync(file, '{"kind":"cniCacheV1","containerId":');
    const ls = weft(["ls", "--json"], { dirs, hostNetns: host.name });
    expect(ls.exitCode).toBe(0);
    expect(ls.stderr).toContain(`weft: warning: ignoring the corrupt cache file ${file}: not JSON`);
    expect(JSON.parse(ls.stdout)).toEqual({ attachments: [], corrupt: [{ file, error: expect.stringContaining("not JSON") }] });
    const del = weft(["del", "tnet", pod.path], { dirs, hostNetns: host.name });
    expect(del.exitCode).toBe(0);
    expect(del.stderr).toContain(`ignoring the corrupt cache file ${file}`);
    expect(existsSync(file)).toBe(false);
    expect(runIn(pod.name, ["ip", "link", "show", "eth0"]).exitCode).not.toBe(0);
  });
});

describe("weft gc", () => {
  test.each(IMPLS)("deletes cached attachments whose netns is gone ($impl plugins)", ({ impl, bin, cniVersion }) => {
    using host = createTestNetns("h");
    using live = createTestNetns("live");
    const { tmp, dirs } = setup(`gc-${impl}`, bin, cniVersion);
    using _t = tmp;
    const dead = createTestNetns("dead");
    try {
      expect(weft(["add", "tnet", live.path], { dirs, hostNetns: host.name }).exitCode).toBe(0);
      expect(weft(["add", "tnet", dead.path], { dirs, hostNetns: host.name }).exitCode).toBe(0);
    } finally {
      dead[Symbol.dispose]();
    }
    // A reservation nobody owns (a leaked file): only a 1.1.0 GC reaches host-local to remove it.
    writeFileSync(join(dirs.ipam, "tnet", "10.98.0.77"), "ghost\r\neth0");
    const gc = weft(["gc", "tnet", "--json"], { dirs, hostNetns: host.name });
    expect(gc.exitCode).toBe(0);
    const report = JSON.parse(gc.stdout) as { deleted: unknown[]; gcSent: boolean; valid: unknown[] };
    expect(report.deleted).toEqual([{ containerID: cnitoolId(dead.path), ifname: "eth0" }]);
    expect(report.valid).toEqual([{ containerID: cnitoolId(live.path), ifname: "eth0" }]);
    expect(report.gcSent).toBe(impl === "weft");
    const left = readdirSync(join(dirs.ipam, "tnet")).filter((f) => f.startsWith("10.")).sort();
    expect(left).toEqual(impl === "weft" ? ["10.98.0.2"] : ["10.98.0.2", "10.98.0.77"]);
    expect(readdirSync(join(dirs.cache, "results"))).toEqual([`tnet-${cnitoolId(live.path)}-eth0`]);
    expect(weft(["del", "tnet", live.path], { dirs, hostNetns: host.name }).exitCode).toBe(0);
  });
});

describe("weft ipam", () => {
  test("ls marks unowned reservations stale; release frees a stale one and refuses a live one without --force", () => {
    using host = createTestNetns("h");
    using pod = createTestNetns("p");
    const { tmp, dirs } = setup("ipam", WEFT_BIN, "1.1.0");
    using _t = tmp;
    expect(weft(["add", "tnet", pod.path], { dirs, hostNetns: host.name }).exitCode).toBe(0);
    const netDir = join(dirs.ipam, "tnet");
    writeFileSync(join(netDir, "10.98.0.50"), "ghost\r\neth0");
    writeFileSync(join(netDir, "10.98.0.51"), "");
    const ls = JSON.parse(weft(["ipam", "ls", "tnet", "--json", "--data-dir", dirs.ipam], { dirs }).stdout) as { reservations: { ip: string; state: string; reason: string }[] };
    expect(ls.reservations.map((r) => [r.ip, r.state, r.reason])).toEqual([
      ["10.98.0.2", "live", "attachment alive"],
      ["10.98.0.50", "stale", "no cache entry and no live netns"],
      ["10.98.0.51", "stale", "empty reservation file (owned by nobody)"],
    ]);
    const stale = weft(["ipam", "ls", "--stale", "--data-dir", dirs.ipam], { dirs });
    expect(stale.stdout).not.toContain("10.98.0.2 ");
    expect(stale.stdout).toContain("10.98.0.50");

    const refuse = weft(["ipam", "release", "tnet", "10.98.0.2", "--data-dir", dirs.ipam], { dirs });
    expect(refuse.exitCode).toBe(1);
    expect(oneLine(refuse.stderr)).toEqual([expect.stringContaining("pass --force to release it anyway")]);
    expect(existsSync(join(netDir, "10.98.0.2"))).toBe(true);
    expect(weft(["ipam", "release", "tnet", "10.98.0.50", "--data-dir", dirs.ipam], { dirs }).exitCode).toBe(0);
    expect(existsSync(join(netDir, "10.98.0.50"))).toBe(false);
    expect(weft(["ipam", "release", "tnet", "10.98.0.2", "--force", "--data-dir", dirs.ipam], { dirs }).exitCode).toBe(0);
    expect(existsSync(join(netDir, "10.98.0.2"))).toBe(false);
    const missing = weft(["ipam", "release", "tnet", "10.98.0.9", "--data-dir", dirs.ipam], { dirs });
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toContain("No reservation of 10.98.0.9");
    expect(weft(["del", "tnet", pod.path], { dirs, hostNetns: host.name }).exitCode).toBe(0);
  });
});

describe("weft bad input", () => {
  test("each failure is one line on stderr with the documented exit code", () => {
    using host = createTestNetns("h");
    using pod = createTestNetns("p");
    const { tmp, dirs } = setup("bad", REF_BIN, "1.0.0");
    using _t = tmp;
    writeConf(dirs.conf, "20-missing.conflist", { cniVersion: "1.0.0", name: "missing", plugins: [{ type: "no-such-plugin" }] });
    writeConf(dirs.conf, "30-broken.conf", { cniVersion: "1.0.0", name: "broken", type: "bridge", bridge: uniqueIfname("wbr"), ipam: { type: "host-local", dataDir: dirs.ipam, ranges: [[{ subnet: "10.97.0.0/33" }]] } });
    const cases: { argv: string[]; code: number; match: RegExp }[] = [
      { argv: ["add", "nope", pod.path], code: 1, match: /^weft: No network "nope" in .*; found: tnet \(10-tnet\.conflist\), missing \(20-missing\.conflist\), broken \(30-broken\.conf\)$/ },
      { argv: ["add", "missing", pod.path], code: 1, match: new RegExp(`^weft: Cannot find plugin "no-such-plugin" in CNI_PATH \\(searched ${REF_BIN}\\)$`) },
      { argv: ["add", "tnet", "/run/netns/weft-t-no-such-netns"], code: 1, match: /^weft: Network namespace \/run\/netns\/weft-t-no-such-netns does not exist/ },
      { argv: ["add", "tnet", pod.path, "--args", "A=b=c"], code: 2, match: /^weft: Invalid --args pair "A=b=c"/ },
      { argv: ["add", "tnet", pod.path, "--cap", "{"], code: 2, match: /^weft: Invalid --cap: not JSON/ },
      { argv: ["add", "tnet", pod.path, "--cap", "[1]"], code: 2, match: /^weft: Invalid --cap: expected a JSON object/ },
      { argv: ["add", "tnet"], code: 2, match: /^weft: missing required argument 'netns'$/ },
      { argv: ["frobnicate"], code: 2, match: /^weft: unknown command 'frobnicate'$/ },
      { argv: ["add", "broken", pod.path], code: 1, match: /^weft: plugin "bridge" failed \(add\): code \d+: / },
    ];
    for (const c of cases) {
      const r = weft(c.argv, { dirs, hostNetns: host.name });
      // Warnings ("weft: warning: ...", e.g. a failed rollback) may precede the one error line.
      const lines = oneLine(r.stderr).filter((l) => !l.startsWith("(run with --help") && !l.startsWith("weft: warning: "));
      expect({ argv: c.argv, code: r.exitCode, lines: lines.length, line: lines[0] }).toEqual({ argv: c.argv, code: c.code, lines: 1, line: expect.stringMatching(c.match) });
    }
    // The failed ADD was rolled back (the reference bridge's DEL rejects the same bad subnet, and says so) and not cached.
    expect(weft(["add", "broken", pod.path], { dirs, hostNetns: host.name }).stderr).toContain("weft: warning: rollback after the failed ADD also failed: plugin \"bridge\" failed (del)");
    expect(existsSync(join(dirs.cache, "results"))).toBe(false);
    expect(runIn(pod.name, ["ip", "link", "show", "eth0"]).exitCode).not.toBe(0);
  });

  test("every command has --help with an example", () => {
    for (const argv of [[], ["add"], ["check"], ["del"], ["gc"], ["status"], ["ls"], ["ipam", "ls"], ["ipam", "release"], ["validate"], ["install"]]) {
      const r = weft([...argv, "--help"]);
      expect({ argv, code: r.exitCode, example: r.stdout.includes("Example:\n  weft ") }).toEqual({ argv, code: 0, example: true });
    }
  });
});
