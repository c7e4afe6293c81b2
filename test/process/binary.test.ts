// The compiled multi-call binary as a process: every name it answers to, a copy and a symlink under a plugin's
// name, an unknown name, and the protocol's bad-input rows (nothing may be created for them).
import { describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createTestNetns } from "../helpers/netns.ts";
import { WEFT_BIN, runPlugin, tempDir } from "../helpers/plugin.ts";

const NAMES = ["bridge", "host-local", "flannel", "portmap", "loopback"];
const ALL = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];

describe("the binary under each plugin name", () => {
  test.each(NAMES)("%s answers VERSION", (name) => {
    const r = runPlugin({ plugin: name, command: "VERSION" });
    expect(r.exitCode).toBe(0);
    expect(r.json).toEqual({ cniVersion: "1.1.0", supportedVersions: ALL });
  });

  test.each(NAMES)("%s without CNI_COMMAND prints one about line on stderr", (name) => {
    const r = runPlugin({ plugin: name, command: "" });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(name);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });

  test("the links are hard links of one file", () => {
    const ino = statSync(join(WEFT_BIN, "weft")).ino;
    for (const n of NAMES) expect(statSync(join(WEFT_BIN, n)).ino).toBe(ino);
  });

  test("a copy and a symlink under a plugin's name work too", () => {
    using dir = tempDir("bin");
    copyFileSync(join(WEFT_BIN, "weft"), join(dir.path, "loopback"));
    chmodSync(join(dir.path, "loopback"), 0o755);
    symlinkSync(join(WEFT_BIN, "weft"), join(dir.path, "portmap"));
    for (const n of ["loopback", "portmap"]) {
      const r = runPlugin({ binDir: dir.path, plugin: n, command: "" });
      expect(r.stderr).toContain(`weft ${n} plugin`);
    }
  });

  test("an unknown name says which names it answers to and exits 1", () => {
    using dir = tempDir("bin");
    symlinkSync(join(WEFT_BIN, "weft"), join(dir.path, "frobnicate"));
    const r = runPlugin({ binDir: dir.path, plugin: "frobnicate", command: "VERSION" });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('unknown role "frobnicate"');
    expect(r.stderr).toContain("bridge, host-local, flannel, portmap, loopback, weft");
  });

  test("a .env in the working directory is not read", () => {
    using dir = tempDir("cwd");
    writeFileSync(join(dir.path, ".env"), "CNI_COMMAND=VERSION\n");
    const p = Bun.spawnSync([join(WEFT_BIN, "loopback")], { cwd: dir.path, env: { PATH: "/usr/bin:/bin" }, stderr: "pipe", stdout: "pipe" });
    expect(p.stdout.toString()).toBe("");
    expect(p.stderr.toString()).toContain("weft loopback plugin");
  });
});

describe("bad input to the binary", () => {
  const conf = { cniVersion: "1.0.0", name: "bad", type: "loopback" };
  test.each([
    ["empty stdin", { stdin: "" }, 6],
    ["non-JSON", { stdin: "{" }, 6],
    ["JSON that is not an object", { stdin: '"x"' }, 6],
    ["an unknown CNI_COMMAND", { command: "ATTACH" }, 4],
    ["a missing netns", { netns: "/run/netns/weft-t-surely-missing" }, 4],
    ["a netns path that is not a netns", { netns: "/tmp" }, 4],
    ["a too long CNI_IFNAME", { ifname: "abcdefghijklmnop" }, 4],
    ["CNI_IFNAME with /", { ifname: "a/b" }, 4],
    ["CNI_IFNAME .", { ifname: "." }, 4],
    ["CNI_IFNAME ..", { ifname: ".." }, 4],
    ["CNI_IFNAME with a space", { ifname: "eth 0" }, 4],
    ["an unsupported cniVersion", { conf: { ...conf, cniVersion: "0.9.0" } }, 1],
  ] as const)("%s: its code, one JSON object on stdout, lo untouched", (_what, over, code) => {
    using pod = createTestNetns("pod");
    const r = runPlugin({ plugin: "loopback", command: "ADD", containerId: "c1", netns: pod.path, ifname: "eth0", conf, ...over });
    expect(r.exitCode).toBe(1);
    expect(r.json).toMatchObject({ code });
    expect(typeof r.json?.msg).toBe("string");
    expect(r.json?.cniVersion).toBeString();
    expect(r.stderr).not.toContain("    at ");
    const lo = Bun.spawnSync(["ip", "-n", pod.name, "-o", "link", "show", "lo"]).stdout.toString();
    expect(lo).not.toContain(",UP");
  });
});
