import { describe, expect, test } from "bun:test";
import type { Result } from "../../../shared/cni/result.ts";
import { podAddresses } from "./main.ts";

const prev = (ips: Result["ips"], interfaces: Result["interfaces"] = [{ name: "cni0" }, { name: "eth0", sandbox: "/run/netns/p" }]): Result => ({
  cniVersion: "1.0.0",
  interfaces,
  ips,
});

describe("podAddresses()", () => {
  test("podAddresses() takes the first IPv4 and first IPv6 on CNI_IFNAME in the sandbox", () => {
    const r = prev([
      { address: "10.244.1.1/24", interface: 0 },
      { address: "10.244.1.5/24", interface: 1 },
      { address: "10.244.1.6/24", interface: 1 },
      { address: "fd00::5/64", interface: 1 },
    ]);
    expect(podAddresses(r, "eth0")).toEqual([
      { family: 4, ip: "10.244.1.5", cidr: "10.244.1.5/24" },
      { family: 6, ip: "fd00::5", cidr: "fd00::5/64" },
    ]);
  });

  test("podAddresses() skips an interface of another name or without a sandbox", () => {
    expect(podAddresses(prev([{ address: "10.244.1.5/24", interface: 1 }]), "net1")).toEqual([]);
    expect(podAddresses(prev([{ address: "10.244.1.5/24", interface: 1 }], [{ name: "x" }, { name: "eth0" }]), "eth0")).toEqual([]);
  });

  test("podAddresses() accepts addresses without an interface index, or with one out of range (as Go does)", () => {
    expect(podAddresses(prev([{ address: "10.1.0.2/16" }, { address: "fd00::2/64", interface: 7 }]), "eth0").map((p) => p.ip)).toEqual(["10.1.0.2", "fd00::2"]);
  });

  test("podAddresses() ignores an address that is not a CIDR", () => {
    expect(podAddresses(prev([{ address: "nonsense", interface: 1 }, { address: "10.1.0.2/16", interface: 1 }]), "eth0").map((p) => p.ip)).toEqual(["10.1.0.2"]);
  });

  test("podAddresses() of a result without IPs is empty", () => {
    expect(podAddresses({ cniVersion: "1.0.0" }, "eth0")).toEqual([]);
  });
});
