// Kernel tests for shared/sysctl: every read and write happens inside a per-test netns (net.* sysctls are per
// netns), so the machine's own settings are never changed.
import { describe, expect, test } from "bun:test";
import { openRtnl } from "../../shared/netlink/index.ts";
import { withNetns } from "../../shared/netns/index.ts";
import { InvalidSysctlKeyError, SysctlError, ensureSysctl, readSysctl, writeSysctl } from "../../shared/sysctl/index.ts";
import { createTestNetns, uniqueIfname } from "../helpers/netns.ts";
import { thrown } from "../helpers/thrown.ts";

describe("sysctl inside a test netns", () => {
  test("readSysctl()/writeSysctl() act on the netns of the calling thread, in both key spellings", () => {
    using ns = createTestNetns("sysctl");
    const hostBefore = readSysctl("net.ipv4.ip_forward");
    withNetns(ns.path, () => {
      expect(readSysctl("net.ipv4.ip_forward")).toBe("0"); // a new netns starts with forwarding off
      writeSysctl("net/ipv4/ip_forward", "1");
      expect(readSysctl("net.ipv4.ip_forward")).toBe("1");
      expect(readSysctl("net/ipv4/ip_forward")).toBe("1");
    });
    expect(readSysctl("net.ipv4.ip_forward")).toBe(hostBefore);
  });

  test("ensureSysctl() writes only when the value differs and ignores whitespace differences", () => {
    using ns = createTestNetns("ensure");
    withNetns(ns.path, () => {
      expect(ensureSysctl("net.ipv4.conf.all.forwarding", "1")).toBe(true);
      expect(ensureSysctl("net.ipv4.conf.all.forwarding", "1")).toBe(false);
      expect(readSysctl("net.ipv4.conf.all.forwarding")).toBe("1");
      const range = readSysctl("net.ipv4.ip_local_port_range")!;
      expect(ensureSysctl("net.ipv4.ip_local_port_range", range.replace(/\s+/, "    "))).toBe(false);
      expect(ensureSysctl("net.ipv4.ip_local_port_range", "20000 30000")).toBe(true);
      expect(readSysctl("net.ipv4.ip_local_port_range")?.split(/\s+/)).toEqual(["20000", "30000"]);
    });
  });

  test("slash keys keep dots in interface names (net/ipv4/conf/<br.5>/...)", () => {
    using ns = createTestNetns("dotname");
    withNetns(ns.path, () => {
      const name = `${uniqueIfname("b").slice(0, 10)}.5`;
      using r = openRtnl();
      r.createBridge({ name });
      expect(ensureSysctl(`net/ipv6/conf/${name}/disable_ipv6`, "1")).toBe(true);
      expect(readSysctl(`net/ipv6/conf/${name}/disable_ipv6`)).toBe("1");
    });
  });

  test("a missing key reads as undefined and fails to write or ensure with SysctlError ENOENT", () => {
    using ns = createTestNetns("missing");
    withNetns(ns.path, () => {
      expect(readSysctl("net.ipv4.conf.nosuchdev0.forwarding")).toBeUndefined();
      const w = thrown(() => writeSysctl("net.ipv4.conf.nosuchdev0.forwarding", "1"));
      expect(w).toBeInstanceOf(SysctlError);
      expect(w).toMatchObject({ code: "ENOENT", op: "write", key: "net.ipv4.conf.nosuchdev0.forwarding" });
      expect(thrown(() => ensureSysctl("net.ipv4.conf.nosuchdev0.forwarding", "1"))).toMatchObject({ code: "ENOENT" });
    });
  });

  test("a value the kernel refuses is SysctlError EINVAL; a directory key is a SysctlError too", () => {
    using ns = createTestNetns("einval");
    withNetns(ns.path, () => {
      expect(thrown(() => writeSysctl("net.ipv4.ip_forward", "abc"))).toMatchObject({ code: "EINVAL", op: "write" });
      expect(readSysctl("net.ipv4.ip_forward")).toBe("0");
      expect(thrown(() => readSysctl("net.ipv4"))).toBeInstanceOf(SysctlError);
    });
  });

  test.each([{ key: "../../etc/passwd" }, { key: "net/../../../etc/hostname" }, { key: "net.ipv4..ip_forward" }, { key: "/proc/sys/net/ipv4/ip_forward" }])(
    "readSysctl()/writeSysctl() reject $key without touching the file system",
    ({ key }) => {
      expect(() => readSysctl(key)).toThrow(InvalidSysctlKeyError);
      expect(() => writeSysctl(key, "1")).toThrow(InvalidSysctlKeyError);
    },
  );
});
