// Kernel tests for shared/netns (withNetns, openNetnsFd, isCurrentNetns) and for the test helpers themselves.
// Namespaces are made per test with createTestNetns and removed by `using`, also on failure.
import { describe, expect, test } from "bun:test";
import { closeSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openRtnl } from "../../shared/netlink/index.ts";
import {
  NetnsAsyncCallbackError,
  NetnsNotFoundError,
  NotANetnsError,
  currentNetnsPath,
  isCurrentNetns,
  openNetnsFd,
  withNetns,
} from "../../shared/netns/index.ts";
import { TEST_NETNS_PREFIX, createTestNetns, runIn, uniqueIfname } from "../helpers/netns.ts";

const inode = (p: string) => statSync(p).ino;

describe("withNetns()", () => {
  test("withNetns() runs fn inside the namespace and switches back", () => {
    using ns = createTestNetns("enter");
    const before = inode(currentNetnsPath());
    const inside = withNetns(ns.path, () => inode(currentNetnsPath()));
    expect(inside).toBe(inode(ns.path));
    expect(inside).not.toBe(before);
    expect(inode(currentNetnsPath())).toBe(before);
  });

  test("withNetns() switches back when fn throws, and rethrows its error", () => {
    using ns = createTestNetns("throw");
    const before = inode(currentNetnsPath());
    const boom = new Error("boom");
    expect(() =>
      withNetns(ns.path, () => {
        throw boom;
      }),
    ).toThrow(boom);
    expect(inode(currentNetnsPath())).toBe(before);
  });

  test("withNetns() rejects an async callback after switching back", async () => {
    using ns = createTestNetns("async");
    const before = inode(currentNetnsPath());
    let e: unknown;
    try {
      // @ts-expect-error: an async callback is a compile error too
      withNetns(ns.path, async () => 1);
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(NetnsAsyncCallbackError);
    expect((e as NetnsAsyncCallbackError).path).toBe(ns.path);
    expect(inode(currentNetnsPath())).toBe(before);
    // a rejected promise is swallowed rather than surfacing as an unhandled rejection
    expect(() =>
      // @ts-expect-error
      withNetns(ns.path, () => Promise.reject(new Error("late"))),
    ).toThrow(NetnsAsyncCallbackError);
    await Bun.sleep(1);
  });

  test("withNetns() gives fn a handle on the original netns", () => {
    using ns = createTestNetns("handle");
    const host = inode(currentNetnsPath());
    withNetns(ns.path, (h) => {
      expect(inode(h.path)).toBe(host);
      expect(h.fd).toBeGreaterThan(2);
      expect(isCurrentNetns(h.path)).toBe(false);
      expect(isCurrentNetns(ns.path)).toBe(true);
    });
  });

  test("withNetns() nests and restores each level", () => {
    using a = createTestNetns("outer");
    using b = createTestNetns("inner");
    const host = inode(currentNetnsPath());
    withNetns(a.path, () => {
      withNetns(b.path, () => expect(inode(currentNetnsPath())).toBe(inode(b.path)));
      expect(inode(currentNetnsPath())).toBe(inode(a.path));
    });
    expect(inode(currentNetnsPath())).toBe(host);
  });

  test("withNetns() throws NetnsNotFoundError for a missing path without entering anything", () => {
    const before = inode(currentNetnsPath());
    const p = `/run/netns/${TEST_NETNS_PREFIX}missing-${process.pid}`;
    let ran = false;
    expect(() =>
      withNetns(p, () => {
        ran = true;
      }),
    ).toThrow(NetnsNotFoundError);
    expect(ran).toBe(false);
    expect(() => withNetns("/nonexistent-dir/x/net", () => 0)).toThrow(NetnsNotFoundError);
    expect(inode(currentNetnsPath())).toBe(before);
  });

  test.each([{ kind: "a regular file" }, { kind: "a directory" }, { kind: "a UTS namespace" }])(
    "withNetns() throws NotANetnsError for $kind",
    ({ kind }) => {
      const dir = mkdtempSync(join(tmpdir(), "weft-netns-"));
      try {
        const file = join(dir, "f");
        writeFileSync(file, "");
        const p = kind === "a regular file" ? file : kind === "a directory" ? dir : "/proc/self/ns/uts";
        const before = inode(currentNetnsPath());
        expect(() => withNetns(p, () => 0)).toThrow(NotANetnsError);
        expect(inode(currentNetnsPath())).toBe(before);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  test("sync fs reads and Bun.spawnSync children inside withNetns() see the target netns", () => {
    using ns = createTestNetns("spawn");
    const name = uniqueIfname("br");
    withNetns(ns.path, () => {
      using r = openRtnl();
      r.createBridge({ name });
      expect(existsSync(`/proc/sys/net/ipv4/conf/${name}`)).toBe(true);
      const child = Bun.spawnSync(["readlink", "/proc/self/ns/net"]).stdout.toString().trim();
      expect(child).toBe(`net:[${inode(ns.path)}]`);
    });
    expect(existsSync(`/proc/sys/net/ipv4/conf/${name}`)).toBe(false);
  });
});

describe("openNetnsFd()", () => {
  test("openNetnsFd() opens a namespace and types the failures", () => {
    using ns = createTestNetns("fd");
    const fd = openNetnsFd(ns.path);
    try {
      expect(statSync(`/proc/self/fd/${fd}`).ino).toBe(inode(ns.path));
    } finally {
      closeSync(fd);
    }
    expect(() => openNetnsFd(`/run/netns/${TEST_NETNS_PREFIX}nope-${process.pid}`)).toThrow(NetnsNotFoundError);
    expect(() => openNetnsFd("/etc/hostname")).toThrow(NotANetnsError);
    closeSync(openNetnsFd(`/proc/${process.pid}/ns/net`)); // procfs paths are accepted
  });

  test("isCurrentNetns() compares with the calling thread's netns", () => {
    using ns = createTestNetns("cur");
    expect(isCurrentNetns(currentNetnsPath())).toBe(true);
    expect(isCurrentNetns(ns.path)).toBe(false);
    expect(() => isCurrentNetns("/nonexistent/net")).toThrow(NetnsNotFoundError);
  });
});

describe("test helpers", () => {
  test("createTestNetns() makes a recognisable namespace and removes it on dispose", () => {
    let path = "";
    {
      using ns = createTestNetns("helper label!");
      path = ns.path;
      expect(ns.name).toStartWith(`${TEST_NETNS_PREFIX}${process.pid}-`);
      expect(ns.name).toEndWith("-helper-label-");
      expect(ns.path).toBe(`/run/netns/${ns.name}`);
      expect(existsSync(ns.path)).toBe(true);
      expect(runIn(ns.name, ["ip", "-o", "link"]).stdout).toContain("lo:");
    }
    expect(existsSync(path)).toBe(false);
  });

  test("createTestNetns() dispose ignores a namespace that is already gone", () => {
    const ns = createTestNetns("gone");
    Bun.spawnSync(["ip", "netns", "del", ns.name]);
    expect(() => ns[Symbol.dispose]()).not.toThrow();
  });

  test("uniqueIfname() gives distinct names of at most 15 bytes", () => {
    const names = Array.from({ length: 500 }, () => uniqueIfname("averylongprefix"));
    expect(new Set(names).size).toBe(500);
    expect(names.every((n) => Buffer.byteLength(n) <= 15 && n.startsWith("averylon"))).toBe(true);
  });

  test("runIn() returns exit code, stdout and stderr and passes stdin and env", () => {
    using ns = createTestNetns("run");
    expect(runIn(ns.name, ["sh", "-c", "cat; echo $FOO; echo err >&2; exit 3"], { stdin: "in\n", env: { FOO: "bar" } })).toEqual({
      exitCode: 3,
      stdout: "in\nbar\n",
      stderr: "err\n",
    });
  });
});
