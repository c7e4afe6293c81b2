// shared/delegate against real processes: lookup in CNI_PATH, environment and stdin handed over, errors passed
// through, output that is not a CNI answer, "text file busy" retried, and the in-process path (weft's own binary)
// giving the same answers as exec. Fake plugins are shell scripts and a small bun program written per test.
import { describe, expect, test } from "bun:test";
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { CniError } from "../../shared/cni/errors.ts";
import type { Plugin } from "../../shared/cni/skel.ts";
import { delegateAdd, delegateCheck, delegateDel, delegateGc, delegateStatus, findInPath, type DelegateOptions } from "../../shared/delegate/index.ts";
import { createTestNetns } from "../helpers/netns.ts";
import { ROOT, tempDir } from "../helpers/plugin.ts";

function script(dir: string, name: string, body: string, mode = 0o755): string {
  mkdirSync(dir, { recursive: true });
  const p = join(dir, name);
  writeFileSync(p, `#!/bin/sh\n${body}\n`);
  chmodSync(p, mode);
  return p;
}

function caller(dir: string, env: Record<string, string> = {}) {
  const stderr: string[] = [];
  const args: DelegateOptions["args"] = {
    env: { PATH: "/usr/bin:/bin", CNI_COMMAND: "ADD", CNI_CONTAINERID: "c1", CNI_NETNS: "/run/netns/x", CNI_IFNAME: "eth0", CNI_ARGS: "IgnoreUnknown=1", CNI_PATH: dir, ...env },
    path: [dir],
    stderr: (t) => stderr.push(t),
  };
  return { args, stderr };
}

async function caught(p: Promise<unknown>): Promise<CniError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CniError) return e;
    throw e;
  }
  throw new Error("expected the delegate call to fail");
}

const CONF = `{"cniVersion":"1.0.0","name":"n","type":"fake"}`;

describe("findInPath()", () => {
  test("findInPath() takes the first regular file, without an exec-bit check", () => {
    using t = tempDir("find");
    mkdirSync(join(t.path, "a", "fake"), { recursive: true }); // a directory: skipped
    script(join(t.path, "b"), "fake", "exit 0", 0o644); // not executable: still found
    script(join(t.path, "c"), "fake", "exit 0");
    const dirs = ["a", "b", "c"].map((d) => join(t.path, d));
    expect(findInPath("fake", dirs)).toBe(join(t.path, "b", "fake"));
    expect(findInPath("fake", [join(t.path, "nothing"), dirs[2]!])).toBe(join(t.path, "c", "fake"));
  }, 30_000);

  test("findInPath() errors name the plugin and the path", () => {
    expect(() => findInPath("nope", ["/nonexistent/a", "/nonexistent/b"])).toThrow(
      expect.objectContaining({ code: 999, msg: `failed to find plugin "nope" in path [/nonexistent/a /nonexistent/b]` }),
    );
    expect(() => findInPath("", ["/x"])).toThrow(expect.objectContaining({ code: 7, msg: "no plugin name provided" }));
    expect(() => findInPath("../bin/sh", ["/x"])).toThrow(expect.objectContaining({ code: 7, msg: "invalid plugin name: ../bin/sh" }));
    expect(() => findInPath("fake", [])).toThrow(expect.objectContaining({ code: 4, msg: "no paths provided" }));
  }, 30_000);
});

describe("exec delegation", () => {
  test("delegateAdd() runs the plugin with the caller's env (only CNI_COMMAND changed) and the config on stdin", async () => {
    using t = tempDir("exec-env");
    const bin = join(t.path, "bin");
    script(bin, "fake", `tr '\\0' '\\n' < /proc/$$/environ | sort > "${t.path}/env"; cat > "${t.path}/stdin"; echo '{"cniVersion":"1.0.0","ips":[{"address":"10.1.2.3/24","gateway":"10.1.2.1"}]}'`);
    const { args } = caller(bin, { CNI_COMMAND: "DEL", EXTRA: "kept" });
    const r = await delegateAdd({ type: "fake", stdin: CONF, args });
    expect(r).toEqual({ cniVersion: "1.0.0", ips: [{ address: "10.1.2.3/24", gateway: "10.1.2.1" }] });
    expect(readFileSync(join(t.path, "stdin"), "utf8")).toBe(CONF);
    const want = Object.entries({ ...args.env, CNI_COMMAND: "ADD" }).map(([k, v]) => `${k}=${v}`).sort();
    expect(readFileSync(join(t.path, "env"), "utf8").trim().split("\n")).toEqual(want);
  }, 30_000);

  test("delegateAdd() gives a result without cniVersion the config's version (Go's fixupResultVersion)", async () => {
    using t = tempDir("exec-ver");
    const bin = join(t.path, "bin");
    script(bin, "fake", `cat >/dev/null; echo '{"ips":[{"version":"4","address":"10.1.2.3/24"}]}'`);
    const r = await delegateAdd({ type: "fake", stdin: CONF.replace("1.0.0", "0.4.0"), args: caller(bin).args });
    expect(r).toEqual({ cniVersion: "0.4.0", ips: [{ address: "10.1.2.3/24" }] });
  }, 30_000);

  test.each([
    { cmd: "DEL", fn: delegateDel },
    { cmd: "CHECK", fn: delegateCheck },
    { cmd: "GC", fn: delegateGc },
    { cmd: "STATUS", fn: delegateStatus },
  ])("delegate$cmd() sets CNI_COMMAND=$cmd and forwards stderr", async ({ cmd, fn }) => {
    using t = tempDir("exec-cmd");
    const bin = join(t.path, "bin");
    script(bin, "fake", `cat >/dev/null; echo "ran $CNI_COMMAND" >&2`);
    const { args, stderr } = caller(bin);
    await fn({ type: "fake", stdin: CONF, args });
    expect(stderr.join("")).toBe(`ran ${cmd}\n`);
  }, 30_000);

  test("a delegate's CNI error passes through unchanged (code, msg, details)", async () => {
    using t = tempDir("exec-err");
    const bin = join(t.path, "bin");
    script(bin, "fake", `cat >/dev/null; echo 'no luck' >&2; printf '{"cniVersion":"1.0.0","code":11,"msg":"try later","details":"the lock is busy"}'; exit 1`);
    const { args, stderr } = caller(bin);
    const e = await caught(delegateAdd({ type: "fake", stdin: CONF, args }));
    expect([e.code, e.msg, e.details]).toEqual([11, "try later", "the lock is busy"]);
    expect(stderr.join("")).toBe("no luck\n");
  }, 30_000);

  test.each([
    { why: "no output", body: "echo 'disk on fire' >&2; exit 3", msg: /exited with code 3 without an error message$/, details: /disk on fire/ },
    { why: "nothing at all", body: "exit 2", msg: /exited with code 2 without an error message$/, details: /wrote nothing to stderr/ },
    { why: "output that is not JSON", body: "echo 'panic: index out of range'; echo trace >&2; exit 2", msg: /its error message is not a CNI error$/, details: /panic: index out of range.*stderr: "trace"/ },
    { why: "a signal", body: "kill -9 $$", msg: /was killed by SIGKILL without an error message$/, details: /nothing to stderr/ },
    { why: "JSON without a code", body: `echo '{"msg":"odd"}'; exit 1`, msg: /^odd$/, details: /^$/ },
  ])("a failing delegate with $why becomes code 999 naming it", async ({ body, msg, details }) => {
    using t = tempDir("exec-bad");
    const bin = join(t.path, "bin");
    script(bin, "fake", `cat >/dev/null; ${body}`);
    const e = await caught(delegateDel({ type: "fake", stdin: CONF, args: caller(bin).args }));
    expect(e.code).toBe(999);
    expect(e.msg).toMatch(msg);
    expect(e.details).toMatch(details);
  }, 30_000);

  test("delegateAdd() refuses a successful run whose output is not a result", async () => {
    using t = tempDir("exec-garbage");
    const bin = join(t.path, "bin");
    script(bin, "fake", "cat >/dev/null; echo 'hello'");
    const e = await caught(delegateAdd({ type: "fake", stdin: CONF, args: caller(bin).args }));
    expect([e.code, e.msg]).toEqual([999, `delegate plugin "fake" returned a result that is not JSON`]);
  }, 30_000);

  test("a found file that cannot be executed is a clear error", async () => {
    using t = tempDir("exec-noexec");
    const bin = join(t.path, "bin");
    script(bin, "fake", "exit 0", 0o644);
    const e = await caught(delegateDel({ type: "fake", stdin: CONF, args: caller(bin).args }));
    expect(e.code).toBe(999);
    expect(e.msg).toStartWith(`Cannot run delegate plugin "fake" (${join(bin, "fake")})`);
    expect(e.details).toContain("not executable");
  }, 30_000);

  test('"text file busy" is retried until the plugin can run', async () => {
    using t = tempDir("exec-busy");
    const bin = join(t.path, "bin");
    const p = script(bin, "fake", `cat >/dev/null; echo ran >&2`);
    const fd = openSync(p, "r+"); // open for writing: exec fails with ETXTBSY while it stays open
    const timer = setTimeout(() => closeSync(fd), 120);
    try {
      const { args, stderr } = caller(bin);
      await delegateDel({ type: "fake", stdin: CONF, args });
      expect(stderr.join("")).toBe("ran\n");
    } finally {
      clearTimeout(timer);
      try {
        closeSync(fd);
      } catch {
        // already closed by the timer
      }
    }
  }, 30_000);
});

describe("in-process delegation", () => {
  /** A bun program serving a test plugin through skel's dispatch, and the same plugin loaded in this process. */
  async function fakeWeft(dir: string) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, "plugin.ts"),
      `import { CniError } from "${ROOT}/shared/cni/errors.ts";
export const plugin = {
  name: "fake",
  add(a) {
    a.stderr("adding " + a.containerId);
    if (a.conf.failCode) throw new CniError(a.conf.failCode, "asked to fail", "conf.failCode was set");
    if (a.conf.crash) throw new Error("plain crash");
    return { cniVersion: a.cniVersion, interfaces: [{ name: a.ifname, sandbox: a.netns }], ips: [{ interface: 0, address: a.conf.ip, gateway: a.env.GW }] };
  },
  del(a) { a.stderr("deleting " + a.containerId); },
};
`,
    );
    const bin = join(dir, "fake");
    writeFileSync(
      bin,
      `#!${process.execPath}
import { readFileSync, writeSync } from "node:fs";
import { dispatch } from "${ROOT}/shared/cni/skel.ts";
import { plugin } from "./plugin.ts";
process.exit(await dispatch({ env: process.env, readStdin: () => readFileSync(0), stdout: (t) => writeSync(1, t), stderr: (t) => writeSync(2, t) }, plugin));
`,
    );
    chmodSync(bin, 0o755);
    const { plugin } = (await import(join(dir, "plugin.ts"))) as { plugin: Plugin };
    const loads: string[] = [];
    const loader = async (name: string) => {
      loads.push(name);
      return name === "fake" ? plugin : undefined;
    };
    return { bin, loader, loads };
  }

  async function outcome(p: Promise<unknown>) {
    try {
      return { ok: await p };
    } catch (e) {
      const c = e as CniError;
      return { err: { code: c.code, msg: c.msg, details: c.details } };
    }
  }

  test.each([
    { why: "a result", conf: { cniVersion: "1.0.0", name: "n", type: "fake", ip: "10.9.0.5/24" } },
    { why: "a result converted from 0.3.1", conf: { cniVersion: "0.3.1", name: "n", type: "fake", ip: "10.9.0.5/24" } },
    { why: "a CNI error", conf: { cniVersion: "1.0.0", name: "n", type: "fake", failCode: 11 } },
    { why: "a plain exception (code 999)", conf: { cniVersion: "1.0.0", name: "n", type: "fake", crash: true } },
    { why: "a config skel refuses", conf: { cniVersion: "9.9.9", name: "n", type: "fake" } },
  ])("in-process and exec give identical answers: $why", async ({ conf }) => {
    using t = tempDir("inproc");
    using pod = createTestNetns("pod"); // skel checks CNI_NETNS on ADD; the fake plugin never enters it
    const { bin, loader, loads } = await fakeWeft(t.path);
    const stdin = JSON.stringify(conf);
    const ex = caller(t.path, { GW: "10.9.0.1", CNI_NETNS: pod.path });
    const inp = caller(t.path, { GW: "10.9.0.1", CNI_NETNS: pod.path });
    const viaExec = await outcome(delegateAdd({ type: "fake", stdin, args: ex.args, inProcess: { loader } }));
    expect(loads).toEqual([]); // bun is process.execPath, not this file: exec
    const viaSelf = await outcome(delegateAdd({ type: "fake", stdin, args: inp.args, inProcess: { selfPath: bin, loader } }));
    expect(loads).toEqual(["fake"]);
    expect(viaSelf).toEqual(viaExec);
    expect(inp.stderr).toEqual(ex.stderr);
    expect(JSON.stringify(viaExec)).toMatch(conf.failCode ? /"code":11/ : conf.crash ? /plain crash/ : conf.cniVersion === "9.9.9" ? /"code":1,/ : /10\.9\.0\.5\/24/);
  }, 30_000);

  test("WEFT_NO_INPROC=1 in the caller's env forces exec", async () => {
    using t = tempDir("inproc-off");
    const { bin, loader, loads } = await fakeWeft(t.path);
    const { args } = caller(t.path, { WEFT_NO_INPROC: "1" });
    await delegateDel({ type: "fake", stdin: CONF, args, inProcess: { selfPath: bin, loader } });
    expect(loads).toEqual([]);
  }, 30_000);

  test("a name the binary does not serve is exec'd", async () => {
    using t = tempDir("inproc-other");
    const { loader, loads } = await fakeWeft(t.path);
    const other = script(t.path, "other", `cat >/dev/null; echo other >&2`);
    const { args, stderr } = caller(t.path);
    await delegateDel({ type: "other", stdin: CONF, args, inProcess: { selfPath: other, loader } });
    expect(loads).toEqual(["other"]);
    expect(stderr.join("")).toBe("other\n");
  }, 30_000);
});
