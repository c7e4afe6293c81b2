// dispatch() with injected I/O: the env table, validation order, version gates and error shapes.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CniError } from "./errors.ts";
import { dispatch, type CmdArgs, type Plugin } from "./skel.ts";

interface Run { code: number; out: string; err: string; json: Record<string, unknown> | undefined; calls: CmdArgs[] }

const BASE_ENV = { CNI_CONTAINERID: "c1", CNI_IFNAME: "eth0", CNI_PATH: "/opt/cni/bin" };
const CONF = { cniVersion: "1.0.0", name: "net1", type: "fake" };

function fakePlugin(over: Partial<Plugin> = {}, calls: CmdArgs[] = []): Plugin {
  return {
    name: "fake",
    add: (a) => {
      calls.push(a);
      return { cniVersion: a.cniVersion, ips: [{ address: "10.0.0.2/24", gateway: "10.0.0.1" }] };
    },
    del: (a) => void calls.push(a),
    check: (a) => void calls.push(a),
    gc: (a) => void calls.push(a),
    status: (a) => void calls.push(a),
    ...over,
  };
}

async function run(env: Record<string, string | undefined>, stdin: unknown = CONF, over: Partial<Plugin> = {}): Promise<Run> {
  let out = "";
  let err = "";
  const calls: CmdArgs[] = [];
  const code = await dispatch(
    {
      env,
      readStdin: () => (typeof stdin === "string" ? stdin : JSON.stringify(stdin)),
      stdout: (t) => (out += t),
      stderr: (t) => (err += t),
    },
    fakePlugin(over, calls),
  );
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(out);
  } catch {
    json = undefined;
  }
  return { code, out, err, json, calls };
}

// A path that surely is a network namespace but not the one this test runs in is not available without
// creating one; these unit tests use CNI_NETNS_OVERRIDE with our own, and the netns tests cover real ones.
const OWN_NETNS = "/proc/self/ns/net";
const ADD = { ...BASE_ENV, CNI_COMMAND: "ADD", CNI_NETNS: OWN_NETNS, CNI_NETNS_OVERRIDE: "1" };

describe("dispatch()", () => {
  test("VERSION prints every supported version, ignoring stdin", async () => {
    const r = await run({ CNI_COMMAND: "VERSION" }, "not json");
    expect(r.code).toBe(0);
    expect(r.json).toEqual({ cniVersion: "1.1.0", supportedVersions: ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] });
  });

  test("no CNI_COMMAND prints one about line on stderr and exits 0", async () => {
    const r = await run({});
    expect(r.code).toBe(0);
    expect(r.out).toBe("");
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toContain("CNI protocol versions supported: 0.1.0");
  });

  test("an unknown command is code 4", async () => {
    const r = await run({ ...ADD, CNI_COMMAND: "FROB" });
    expect(r.json).toMatchObject({ code: 4, msg: "unknown CNI_COMMAND: FROB" });
    expect(r.code).not.toBe(0);
  });

  test("every missing variable is named, in table order", async () => {
    const r = await run({ CNI_COMMAND: "ADD" });
    expect(r.json).toMatchObject({ code: 4, msg: "required env variables [CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH] missing" });
  });

  test("DEL needs no netns; GC and STATUS need only CNI_PATH", async () => {
    expect((await run({ ...BASE_ENV, CNI_COMMAND: "DEL" })).code).toBe(0);
    const v11 = { ...CONF, cniVersion: "1.1.0" };
    expect((await run({ CNI_COMMAND: "GC", CNI_PATH: "/x" }, v11)).code).toBe(0);
    expect((await run({ CNI_COMMAND: "STATUS", CNI_PATH: "/x" }, v11)).code).toBe(0);
    expect((await run({ CNI_COMMAND: "STATUS" }, v11)).json).toMatchObject({ code: 4, msg: "required env variables [CNI_PATH] missing" });
  });

  test.each([
    ["CNI_CONTAINERID", "../etc", "invalid characters in containerID"],
    ["CNI_CONTAINERID", "a\nb", "invalid characters in containerID"],
    ["CNI_IFNAME", "a-very-long-ifname", "too long"],
    ["CNI_IFNAME", "a/b", "contains / or : or whitespace"],
    ["CNI_IFNAME", "..", "is not allowed"],
    ["CNI_IFNAME", "eth 0", "contains / or : or whitespace"],
  ])("%s=%p is code 4 and the plugin is not called", async (key, value, msg) => {
    const r = await run({ ...ADD, [key]: value });
    expect(r.json?.code).toBe(4);
    expect(String(r.json?.msg)).toContain(msg);
    expect(r.calls).toHaveLength(0);
  });

  test("env errors come before stdin errors", async () => {
    expect((await run({ CNI_COMMAND: "ADD" }, "{")).json?.code).toBe(4);
  });

  test.each([
    ["empty stdin", "", 6, "stdin is empty"],
    ["non-JSON", "{nope", 6, "error unmarshall network config"],
    ["a JSON list", "[]", 6, "must be a JSON object"],
    ["a JSON number", "3", 6, "must be a JSON object"],
    ["no name", JSON.stringify({ cniVersion: "1.0.0" }), 7, "missing network name"],
    ["a bad name", JSON.stringify({ cniVersion: "1.0.0", name: "../x" }), 7, "invalid characters found in network name"],
    ["an unknown version", JSON.stringify({ cniVersion: "9.9.9", name: "n" }), 1, "incompatible CNI versions"],
    ["a non-string version", JSON.stringify({ cniVersion: 1, name: "n" }), 6, "cniVersion must be a string"],
  ])("%s is refused with its code", async (_what, stdin, code, msg) => {
    const r = await run(ADD, stdin);
    expect(r.json?.code).toBe(code);
    expect(JSON.stringify(r.json)).toContain(msg);
    expect(r.calls).toHaveLength(0);
  });

  test("an unsupported version lists what the plugin supports", async () => {
    const r = await run(ADD, { ...CONF, cniVersion: "0.5.0" });
    expect(r.json).toMatchObject({ code: 1, details: 'config is "0.5.0", plugin supports [0.1.0 0.2.0 0.3.0 0.3.1 0.4.0 1.0.0 1.1.0]' });
  });

  test("a missing cniVersion means 0.1.0", async () => {
    const r = await run(ADD, { name: "n" });
    expect(r.calls[0]?.cniVersion).toBe("0.1.0");
    expect(r.json).toMatchObject({ cniVersion: "0.1.0", ip4: { ip: "10.0.0.2/24" } });
  });

  test.each([
    ["CHECK", "0.3.1", false],
    ["CHECK", "0.4.0", true],
    ["GC", "1.0.0", false],
    ["GC", "1.1.0", true],
    ["STATUS", "1.0.0", false],
    ["STATUS", "1.1.0", true],
  ])("%s under %s allowed: %p", async (cmd, v, ok) => {
    const r = await run({ ...ADD, CNI_COMMAND: cmd }, { ...CONF, cniVersion: v });
    if (ok) {
      expect(r.code).toBe(0);
      expect(r.calls).toHaveLength(1);
    } else {
      expect(r.json).toMatchObject({ code: 1, msg: `config version does not allow ${cmd}` });
    }
  });

  test("ADD's result is printed in the config's version", async () => {
    const r = await run(ADD, { ...CONF, cniVersion: "0.4.0" });
    expect(r.json).toEqual({ cniVersion: "0.4.0", ips: [{ version: "4", address: "10.0.0.2/24", gateway: "10.0.0.1" }], dns: {} });
  });

  test("a plain Error becomes code 999 with no stack on stdout; WEFT_DEBUG puts the stack on stderr", async () => {
    const boom = () => {
      throw new Error("kaboom");
    };
    const r = await run(ADD, CONF, { add: boom });
    expect(r.json).toEqual({ cniVersion: "1.0.0", code: 999, msg: "kaboom" });
    expect(r.err).toBe("");
    const d = await run({ ...ADD, WEFT_DEBUG: "1" }, CONF, { add: boom });
    expect(d.err).toContain("at ");
  });

  test("a CniError passes through with its code and details", async () => {
    const r = await run(ADD, CONF, {
      add: () => {
        throw new CniError(11, "busy", "try later");
      },
    });
    expect(r.json).toEqual({ cniVersion: "1.0.0", code: 11, msg: "busy", details: "try later" });
  });

  test("the error is labelled with the config's version, or 1.1.0 when there is none", async () => {
    expect((await run({ ...ADD, CNI_IFNAME: "" }, { ...CONF, cniVersion: "0.3.1" })).json?.cniVersion).toBe("0.3.1");
    expect((await run({ CNI_COMMAND: "ADD" }, "x")).json?.cniVersion).toBe("1.1.0");
  });

  describe("CNI_NETNS", () => {
    test("ADD with a path that does not exist is code 4 naming it", async () => {
      const r = await run({ ...ADD, CNI_NETNS: "/run/netns/weft-surely-missing" });
      expect(r.json).toMatchObject({ code: 4, msg: 'CNI_NETNS "/run/netns/weft-surely-missing" does not exist' });
    });
    test("ADD with a path that is not a netns is code 4", async () => {
      const dir = mkdtempSync(join(tmpdir(), "weft-t-skel-"));
      try {
        const r = await run({ ...ADD, CNI_NETNS: dir });
        expect(r.json?.code).toBe(4);
        expect(String(r.json?.msg)).toContain("is not a network namespace");
      } finally {
        rmSync(dir, { recursive: true });
      }
    });
    test("DEL with a path that is gone still runs the plugin", async () => {
      const r = await run({ ...BASE_ENV, CNI_COMMAND: "DEL", CNI_NETNS: "/run/netns/weft-surely-missing" });
      expect(r.code).toBe(0);
      expect(r.calls).toHaveLength(1);
    });
    test("the plugin's own netns is refused with code 8 before acting, unless overridden", async () => {
      const r = await run({ ...ADD, CNI_NETNS_OVERRIDE: undefined });
      expect(r.json).toMatchObject({ code: 8 });
      expect(r.calls).toHaveLength(0);
      const del = await run({ ...BASE_ENV, CNI_COMMAND: "DEL", CNI_NETNS: OWN_NETNS });
      expect(del.json).toMatchObject({ code: 8 });
      expect((await run(ADD)).code).toBe(0);
    });
  });

  test("the plugin gets CNI_PATH split and the raw stdin", async () => {
    const r = await run({ ...ADD, CNI_PATH: "/a::/b", CNI_ARGS: "K=V" });
    expect(r.calls[0]).toMatchObject({ path: ["/a", "/b"], args: "K=V", containerId: "c1", ifname: "eth0", command: "ADD" });
    expect(new TextDecoder().decode(r.calls[0]!.stdin)).toBe(JSON.stringify(CONF));
  });
});
