// Pure parts of shared/libcni: config lookup order and conversion (libcni/conf.go), the bytes plugins receive
// (buildOneConfig), the cache codec (libcni cachedInfo), and how DEL picks its config (planDel).
import { describe, expect, test } from "bun:test";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildOneConfig, findNetwork, goJson, loadNetworkFile, parseCacheText, parseNetworkList, parseSingleConf, planDel, type CacheRead, type RuntimeConf } from "./index.ts";

function withDir(files: Record<string, string>, fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), "weft-t-libcni-"));
  try {
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(join(dir, name, ".."), { recursive: true });
      writeFileSync(join(dir, name), text);
    }
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const list = (name: string, extra: Record<string, unknown> = {}) => JSON.stringify({ cniVersion: "1.0.0", name, plugins: [{ type: "bridge" }], ...extra });
const rt: RuntimeConf = { containerId: "c1", netns: "/run/netns/p", ifname: "eth0", args: [], capabilityArgs: {} };

describe("findNetwork()", () => {
  test("prefers .conflist files, in lexical order, over .conf/.json", () => {
    withDir({ "00-a.conf": JSON.stringify({ cniVersion: "1.0.0", name: "net", type: "ptp" }), "20-b.conflist": list("net"), "10-c.conflist": list("net", { disableCheck: true }) }, (dir) => {
      const l = findNetwork(dir, "net");
      expect(l.source).toBe(join(dir, "10-c.conflist"));
      expect(l.disableCheck).toBe(true);
    });
  });

  test("converts a .conf to a one-plugin list with Go's sorted-key bytes", () => {
    withDir({ "10-x.conf": '{"type":"bridge","name":"x","cniVersion":"0.3.1","bridge":"br<0>"}' }, (dir) => {
      const l = findNetwork(dir, "x");
      expect(l.bytes).toBe('{"cniVersion":"0.3.1","name":"x","plugins":[{"bridge":"br\\u003c0\\u003e","cniVersion":"0.3.1","name":"x","type":"bridge"}]}');
      expect(l.plugins.map((p) => p.type)).toEqual(["bridge"]);
    });
  });

  test("an unknown name lists the networks found; a broken file is skipped, not fatal", () => {
    withDir({ "10-a.conflist": list("alpha"), "20-b.conflist": "{ broken", "30-c.json": JSON.stringify({ name: "gamma", type: "loopback" }) }, (dir) => {
      const warnings: string[] = [];
      expect(() => findNetwork(dir, "nope", (w) => warnings.push(w))).toThrow(`No network "nope" in ${dir}; found: alpha (10-a.conflist), gamma (30-c.json)`);
      expect(warnings).toEqual([expect.stringContaining("skipped")]);
      expect(findNetwork(dir, "gamma").name).toBe("gamma");
    });
    withDir({}, (dir) => expect(() => findNetwork(dir, "x")).toThrow("no network configs found"));
  });

  test("appends plugins from <confdir>/<name>/*.conf unless loadOnlyInlinedPlugins", () => {
    withDir({ "10-n.conflist": list("n"), "n/20-pm.conf": JSON.stringify({ type: "portmap" }), "10-m.conflist": list("m", { loadOnlyInlinedPlugins: true }), "m/x.conf": JSON.stringify({ type: "tuning" }) }, (dir) => {
      expect(loadNetworkFile(join(dir, "10-n.conflist")).plugins.map((p) => p.type)).toEqual(["bridge", "portmap"]);
      expect(loadNetworkFile(join(dir, "10-m.conflist")).plugins.map((p) => p.type)).toEqual(["bridge"]);
    });
  });
});

describe("parseNetworkList()", () => {
  test.each([
    { cniVersion: "0.4.0", cniVersions: ["1.0.0", "0.3.1"], want: "1.0.0" },
    { cniVersion: "1.0.0", cniVersions: ["9.9.9", "1.1.0"], want: "1.1.0" },
    { cniVersion: undefined, cniVersions: ["0.3.1"], want: "0.3.1" },
    { cniVersion: "0.3.1", cniVersions: ["2.0.0"], want: "0.3.1" },
    { cniVersion: undefined, cniVersions: undefined, want: "" },
  ])("cniVersion $cniVersion + cniVersions $cniVersions → $want", ({ cniVersion, cniVersions, want }) => {
    expect(parseNetworkList(JSON.stringify({ name: "n", cniVersion, cniVersions, plugins: [{ type: "x" }] }), "t").cniVersion).toBe(want);
  });

  test.each([
    ['{"plugins":[{"type":"x"}]}', 'the list has no "name"'],
    ['{"name":"n","plugins":[]}', '"plugins" must be a non-empty list'],
    ['{"name":"n","plugins":[{"type":""}]}', "missing 'type'"],
    ['{"name":"n","disableCheck":"maybe","plugins":[{"type":"x"}]}', '"disableCheck" must be true or false'],
    ["[1]", "must be a JSON object"],
  ])("%s is rejected: %s", (text, msg) => {
    expect(() => parseNetworkList(text, "t")).toThrow(msg);
  });

  test("a single conf without type is rejected", () => {
    expect(() => parseSingleConf('{"name":"n"}', "t")).toThrow("missing 'type'");
  });
});

describe("buildOneConfig()", () => {
  const l = parseNetworkList(JSON.stringify({ cniVersion: "1.0.0", name: "n", plugins: [{ type: "portmap", capabilities: { portMappings: true, bandwidth: false }, runtimeConfig: { static: 1 } }, { type: "bridge" }] }), "t");
  test("injects name, cniVersion, prevResult and only the declared capabilities, keys sorted", () => {
    const caps = { portMappings: [{ hostPort: 80 }], bandwidth: { ingressRate: 1 }, mac: "x" };
    const out = buildOneConfig(l, l.plugins[0]!, { cniVersion: "1.0.0" }, { ...rt, capabilityArgs: caps });
    expect(out).toBe('{"capabilities":{"bandwidth":false,"portMappings":true},"cniVersion":"1.0.0","name":"n","prevResult":{"cniVersion":"1.0.0"},"runtimeConfig":{"portMappings":[{"hostPort":80}]},"type":"portmap"}');
  });
  test("keeps a static runtimeConfig when no capability matched, and sets no prevResult when there is none", () => {
    expect(JSON.parse(buildOneConfig(l, l.plugins[0]!, undefined, rt))).toEqual({ capabilities: { bandwidth: false, portMappings: true }, cniVersion: "1.0.0", name: "n", runtimeConfig: { static: 1 }, type: "portmap" });
    expect(JSON.parse(buildOneConfig(l, l.plugins[1]!, undefined, { ...rt, capabilityArgs: { portMappings: [] } }))).toEqual({ cniVersion: "1.0.0", name: "n", type: "bridge" });
  });
  test("goJson() escapes like Go", () => {
    expect(goJson({ b: "<&>\u2028", a: [{ z: 1, y: 2 }] })).toBe('{"a":[{"y":2,"z":1}],"b":"\\u003c\\u0026\\u003e\\u2028"}');
  });
});

describe("parseCacheText()", () => {
  const good = { kind: "cniCacheV1", containerId: "c1", config: Buffer.from(list("n")).toString("base64"), ifName: "eth0", networkName: "n", cniArgs: [["A", "b"]], result: { cniVersion: "1.0.0" } };
  test("decodes libcni's entry", () => {
    expect(parseCacheText(JSON.stringify(good))).toEqual({ containerId: "c1", ifName: "eth0", networkName: "n", config: list("n"), cniArgs: [["A", "b"]], result: { cniVersion: "1.0.0" } });
  });
  test.each([
    ["{", "not JSON"],
    ["[]", "not a JSON object"],
    [JSON.stringify({ ...good, kind: "other" }), 'unknown kind "other"'],
    [JSON.stringify({ ...good, ifName: 3 }), '"ifName" is missing'],
    [JSON.stringify({ ...good, cniArgs: [["A"]] }), '"cniArgs" is not a list'],
    [JSON.stringify({ ...good, result: [] }), '"result" is not an object'],
  ])("%s is reported, not thrown: %s", (text, why) => {
    expect(parseCacheText(text)).toContain(why);
  });
  test("a legacy bare result is accepted as a result", () => {
    expect(parseCacheText('{"cniVersion":"0.4.0","ips":[]}')).toEqual({ containerId: "", ifName: "", networkName: "", result: { cniVersion: "0.4.0", ips: [] } });
  });
});

describe("planDel()", () => {
  const today = parseNetworkList(list("n"), "/etc/cni/net.d/10-n.conflist");
  const cachedBytes = list("n", { plugins: [{ type: "bridge", bridge: "old0" }] });
  const ok = (config?: string): CacheRead => ({ status: "ok", file: "/c/n-c1-eth0", entry: { containerId: "c1", ifName: "eth0", networkName: "n", config, cniArgs: [["K", "v"]], capabilityArgs: { portMappings: [] }, result: { cniVersion: "1.0.0", ips: [{ address: "10.0.0.2/24" }] } } });
  test("today's config when it equals the cached one (key order ignored), with the cached args and result", () => {
    const p = planDel(today, undefined, ok(JSON.stringify({ plugins: [{ type: "bridge" }], name: "n", cniVersion: "1.0.0" })), rt, { args: false, caps: false });
    expect(p.list).toBe(today);
    expect(p.notes).toEqual([]);
    expect(p.rt.args).toEqual([["K", "v"]]);
    expect(p.prev).toEqual({ cniVersion: "1.0.0", ips: [{ address: "10.0.0.2/24" }] });
  });
  test("the cached config when today's differs or is gone, saying so", () => {
    const changed = planDel(today, undefined, ok(cachedBytes), rt, { args: true, caps: true });
    expect(changed.list.plugins[0]!.raw.bridge).toBe("old0");
    expect(changed.notes).toEqual(["using the config cached at ADD: /etc/cni/net.d/10-n.conflist has changed since"]);
    expect(changed.rt.args).toEqual([]);
    const gone = planDel(undefined, 'No network "n"', ok(cachedBytes), rt, { args: false, caps: false });
    expect(gone.notes).toEqual(['using the config cached at ADD (No network "n")']);
  });
  test("a corrupt entry is ignored with a note; nothing at all is an error", () => {
    const p = planDel(today, undefined, { status: "corrupt", file: "/c/x", reason: "not JSON" }, rt, { args: false, caps: false });
    expect(p.notes).toEqual(["ignoring the corrupt cache file /c/x: not JSON"]);
    expect(p.prev).toBeUndefined();
    expect(() => planDel(undefined, 'No network "n"', { status: "absent", file: "/c/x" }, rt, { args: false, caps: false })).toThrow('No network "n", and no cached config');
  });
  test("a cached result in another version is converted to the list's", () => {
    const l04 = parseNetworkList(JSON.stringify({ cniVersion: "0.4.0", name: "n", plugins: [{ type: "bridge" }] }), "t");
    const p = planDel(l04, undefined, ok(JSON.stringify({ cniVersion: "0.4.0", name: "n", plugins: [{ type: "bridge" }] })), rt, { args: false, caps: false });
    expect(p.prev).toEqual(expect.objectContaining({ cniVersion: "0.4.0", ips: [{ version: "4", address: "10.0.0.2/24" }] }));
  });
});
