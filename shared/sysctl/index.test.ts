// Unit tests for sysctl key handling (pure: no /proc access).
import { describe, expect, test } from "bun:test";
import { InvalidSysctlKeyError, sysctlPath } from "./index.ts";

describe("sysctlPath()", () => {
  test.each([
    { key: "net.ipv4.ip_forward", path: "/proc/sys/net/ipv4/ip_forward" },
    { key: "net/ipv4/ip_forward", path: "/proc/sys/net/ipv4/ip_forward" },
    { key: "net/ipv4/conf/eth0.100/rp_filter", path: "/proc/sys/net/ipv4/conf/eth0.100/rp_filter" },
    { key: "net.ipv6.conf.all.disable_ipv6", path: "/proc/sys/net/ipv6/conf/all/disable_ipv6" },
  ])("sysctlPath() maps $key", ({ key, path }) => {
    expect(sysctlPath(key)).toBe(path);
  });

  test.each([
    { key: "" },
    { key: ".." },
    { key: "../etc/passwd" },
    { key: "net/../../etc/passwd" },
    { key: "net/ipv4/./ip_forward" },
    { key: "net.ipv4..ip_forward" },
    { key: "net.ipv4.ip_forward." }, // trailing dot
    { key: "net/ipv4/" },
    { key: "/proc/sys/net/ipv4/ip_forward" },
  ])("sysctlPath() rejects $key", ({ key }) => {
    expect(() => sysctlPath(key)).toThrow(InvalidSysctlKeyError);
  });

  test("sysctlPath() rejects a key containing NUL", () => {
    expect(() => sysctlPath("net/ipv4/ip_forward\0x")).toThrow(InvalidSysctlKeyError);
  });
});
