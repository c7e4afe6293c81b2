// weft's loopback against the reference /usr/lib/cni/loopback on the same input, for every spec version.
// Known differences (README): the reference prints a 1.x-shaped result under 0.x versions; weft converts it.
// The reference (Debian v1.1.1) does not speak 1.1.0.
import { describe, expect, test } from "bun:test";
import { formatResult, parseResult } from "../../shared/cni/result.ts";
import { hasCheck } from "../../shared/cni/version.ts";
import { createTestNetns } from "../helpers/netns.ts";
import { REF_BIN, runPlugin } from "../helpers/plugin.ts";

const REF_VERSIONS = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0"];

function loUp(ns: string): boolean {
  const out = Bun.spawnSync(["ip", "-n", ns, "-o", "link", "show", "lo"]).stdout.toString();
  return /<[^>]*\bUP\b/.test(out);
}

function addBoth(v: string) {
  const conf = { cniVersion: v, name: "lo-test", type: "loopback" };
  const ref = createTestNetns("ref");
  const weft = createTestNetns("weft");
  const base = { plugin: "loopback", command: "ADD", containerId: "ctr1", ifname: "eth0", conf };
  const r = runPlugin({ ...base, binDir: REF_BIN, netns: ref.path });
  const w = runPlugin({ ...base, netns: weft.path });
  return { conf, ref, weft, r, w };
}

describe.each(REF_VERSIONS)("loopback at %s", (v) => {
  test("ADD brings lo up and answers like the reference, converted to the asked version", () => {
    const { ref, weft, r, w } = addBoth(v);
    using _a = ref;
    using _b = weft;
    expect(r.exitCode).toBe(0);
    expect(w.exitCode).toBe(0);
    expect(loUp(ref.name)).toBe(true);
    expect(loUp(weft.name)).toBe(true);
    // The reference labels a 1.x-shaped result with v; the same content converted to v is what the spec asks.
    const expected = formatResult(parseResult({ ...r.json, cniVersion: "1.0.0" }, "1.0.0"), v);
    const mask = (x: unknown) => JSON.parse(JSON.stringify(x).replaceAll(ref.path, "NETNS").replaceAll(weft.path, "NETNS"));
    expect(mask(w.json)).toEqual(mask(expected));
    if (v === "1.0.0") expect(mask(w.json)).toEqual(mask({ ...r.json, dns: undefined }));
  });

  test("DEL brings lo down, succeeds twice and when the netns is gone", () => {
    using pod = createTestNetns("pod");
    const base = { plugin: "loopback", containerId: "ctr1", ifname: "eth0", netns: pod.path, conf: { cniVersion: v, name: "lo-test" } };
    expect(runPlugin({ ...base, command: "ADD" }).exitCode).toBe(0);
    expect(runPlugin({ ...base, command: "DEL" }).exitCode).toBe(0);
    expect(loUp(pod.name)).toBe(false);
    expect(runPlugin({ ...base, command: "DEL" }).exitCode).toBe(0);
    expect(runPlugin({ ...base, command: "DEL", netns: "/run/netns/weft-t-gone" })).toMatchObject({ exitCode: 0, stdout: "" });
    expect(runPlugin({ ...base, command: "DEL", netns: "" })).toMatchObject({ exitCode: 0, stdout: "" });
  });

  test(hasCheck(v) ? "CHECK passes when lo is up and fails like the reference when it is down" : "CHECK is refused with code 1, as by the reference", () => {
    using pod = createTestNetns("pod");
    const base = { plugin: "loopback", containerId: "ctr1", ifname: "eth0", netns: pod.path, conf: { cniVersion: v, name: "lo-test" } };
    const add = runPlugin({ ...base, command: "ADD" });
    const conf = { ...base.conf, prevResult: add.json };
    if (!hasCheck(v)) {
      const w = runPlugin({ ...base, conf, command: "CHECK" });
      const r = runPlugin({ ...base, conf, command: "CHECK", binDir: REF_BIN });
      expect(w.json?.code).toBe(1);
      expect(r.json?.code).toBe(1);
      return;
    }
    expect(runPlugin({ ...base, conf, command: "CHECK" }).exitCode).toBe(0);
    Bun.spawnSync(["ip", "-n", pod.name, "link", "set", "lo", "down"]);
    const w = runPlugin({ ...base, conf, command: "CHECK" });
    const r = runPlugin({ ...base, conf, command: "CHECK", binDir: REF_BIN });
    expect(r.exitCode).not.toBe(0);
    expect(w.exitCode).not.toBe(0);
    expect(w.json?.msg).toBe(r.json?.msg as string);
  });
});

test("a prevResult is passed through unchanged", () => {
  using pod = createTestNetns("pod");
  const prevResult = { cniVersion: "1.0.0", interfaces: [{ name: "eth0", sandbox: pod.path }], ips: [{ interface: 0, address: "10.1.2.3/24" }] };
  const conf = { cniVersion: "1.0.0", name: "lo-test", prevResult };
  const w = runPlugin({ plugin: "loopback", command: "ADD", containerId: "c", ifname: "eth0", netns: pod.path, conf });
  const r = runPlugin({ plugin: "loopback", command: "ADD", containerId: "c", ifname: "eth0", netns: pod.path, conf, binDir: REF_BIN });
  expect(w.json).toEqual(prevResult);
  expect(r.json).toMatchObject(prevResult);
});

test("1.1.0, which the reference does not speak, gets the 1.x result", () => {
  using pod = createTestNetns("pod");
  const w = runPlugin({ plugin: "loopback", command: "ADD", containerId: "c", ifname: "eth0", netns: pod.path, conf: { cniVersion: "1.1.0", name: "n" } });
  expect(w.json).toEqual({
    cniVersion: "1.1.0",
    interfaces: [{ name: "lo", mac: "00:00:00:00:00:00", sandbox: pod.path }],
    ips: [{ interface: 0, address: "127.0.0.1/8" }, { interface: 0, address: "::1/128" }],
  });
  const r = runPlugin({ plugin: "loopback", command: "ADD", containerId: "c", ifname: "eth0", netns: pod.path, conf: { cniVersion: "1.1.0", name: "n" }, binDir: REF_BIN });
  expect(r.json?.code).toBe(1);
});
