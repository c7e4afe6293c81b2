import { describe, expect, test } from "bun:test";
import { CniError } from "../../../shared/cni/errors.ts";
import { resolveConfig } from "./config.ts";

const base = { cniVersion: "1.0.0", name: "cbr0", type: "portmap" };
const withMaps = (...portMappings: unknown[]) => ({ ...base, runtimeConfig: { portMappings } });

function codeOf(raw: unknown): { code: number; msg: string } {
  try {
    resolveConfig(raw);
  } catch (e) {
    if (e instanceof CniError) return { code: e.code, msg: `${e.msg}: ${e.details}` };
    throw e;
  }
  throw new Error("expected resolveConfig() to throw");
}

describe("resolveConfig()", () => {
  test("resolveConfig() applies the reference's defaults", () => {
    const c = resolveConfig(base);
    expect(c).toEqual({
      network: "cbr0",
      snat: true,
      masqAll: false,
      setMarkChain: "CNI-HOSTPORT-SETMARK",
      externalSetMark: false,
      markBit: 13,
      conditionsV4: [],
      conditionsV6: [],
      mappings: [],
    });
  });

  test("resolveConfig() matches keys case-insensitively (containerd's HostPort, ContainerPort, …)", () => {
    const c = resolveConfig({ ...base, RuntimeConfig: { PortMappings: [{ HostPort: 8080, ContainerPort: 80, Protocol: "TCP", HostIP: "10.0.0.1" }] }, SNAT: false });
    expect(c.snat).toBe(false);
    expect(c.mappings).toEqual([{ hostPort: 8080, containerPort: 80, protocol: "tcp", hostIP: { address: "10.0.0.1", family: 4, unspecified: false } }]);
  });

  test("resolveConfig() takes null as absent (Go pointers)", () => {
    const c = resolveConfig({ ...base, markMasqBit: null, externalSetMarkChain: null, snat: null, conditionsV4: null });
    expect([c.markBit, c.snat, c.externalSetMark, c.conditionsV4]).toEqual([13, true, false, []]);
  });

  test("resolveConfig() accepts an external mark chain instead of the mark bit", () => {
    const c = resolveConfig({ ...base, externalSetMarkChain: "KUBE-MARK-MASQ" });
    expect([c.setMarkChain, c.externalSetMark]).toEqual(["KUBE-MARK-MASQ", true]);
  });

  test.each([
    { hostIP: "0.0.0.0", family: 4, unspecified: true, address: "0.0.0.0" },
    { hostIP: "::", family: 6, unspecified: true, address: "::" },
    { hostIP: "fd00:0::1", family: 6, unspecified: false, address: "fd00::1" },
    { hostIP: "", family: undefined, unspecified: undefined, address: undefined },
  ])("resolveConfig() reads hostIP $hostIP", ({ hostIP, family, unspecified, address }) => {
    const m = resolveConfig(withMaps({ hostPort: 1, containerPort: 2, protocol: "udp", hostIP })).mappings[0]!;
    expect(m.hostIP?.family).toBe(family as 4 | 6 | undefined);
    expect(m.hostIP?.unspecified).toBe(unspecified as boolean | undefined);
    expect(m.hostIP?.address).toBe(address as string | undefined);
  });

  test("resolveConfig() defaults a missing protocol to tcp", () => {
    expect(resolveConfig(withMaps({ hostPort: 1, containerPort: 2 })).mappings[0]!.protocol).toBe("tcp");
  });

  test.each([
    { why: "host port 0", raw: withMaps({ hostPort: 0, containerPort: 80, protocol: "tcp" }), code: 7, has: "Invalid host port number: 0" },
    { why: "host port 65536", raw: withMaps({ hostPort: 65536, containerPort: 80, protocol: "tcp" }), code: 7, has: "Invalid host port number: 65536" },
    { why: "container port 0", raw: withMaps({ hostPort: 80, containerPort: 0, protocol: "tcp" }), code: 7, has: "Invalid container port number: 0" },
    { why: "negative port", raw: withMaps({ hostPort: -1, containerPort: 80 }), code: 7, has: "Invalid host port number: -1" },
    { why: "fractional port", raw: withMaps({ hostPort: 80.5, containerPort: 80 }), code: 7, has: "hostPort" },
    { why: "port as a string", raw: withMaps({ hostPort: "80", containerPort: 80 }), code: 7, has: "hostPort" },
    { why: "unknown protocol", raw: withMaps({ hostPort: 80, containerPort: 80, protocol: "icmp" }), code: 7, has: 'Unknown protocol "icmp"' },
    { why: "hostIP not an IP", raw: withMaps({ hostPort: 80, containerPort: 80, hostIP: "localhost" }), code: 7, has: 'Invalid host IP "localhost"' },
    { why: "hostIP with a prefix", raw: withMaps({ hostPort: 80, containerPort: 80, hostIP: "10.0.0.1/24" }), code: 7, has: "Invalid host IP" },
    { why: "hostIP with a trailing dot", raw: withMaps({ hostPort: 80, containerPort: 80, hostIP: "10.0.0.1." }), code: 7, has: "Invalid host IP" },
    { why: "hostIP with a leading space", raw: withMaps({ hostPort: 80, containerPort: 80, hostIP: " 10.0.0.1" }), code: 7, has: "Invalid host IP" },
    { why: "hostIP with a hex octet", raw: withMaps({ hostPort: 80, containerPort: 80, hostIP: "0x0a.0.0.1" }), code: 7, has: "Invalid host IP" },
    { why: "markMasqBit 32", raw: { ...base, markMasqBit: 32 }, code: 7, has: "MasqMarkBit must be between 0 and 31" },
    { why: "markMasqBit -1", raw: { ...base, markMasqBit: -1 }, code: 7, has: "MasqMarkBit must be between 0 and 31" },
    { why: "both mark options", raw: { ...base, markMasqBit: 13, externalSetMarkChain: "KUBE-MARK-MASQ" }, code: 7, has: "Cannot specify externalSetMarkChain and markMasqBit" },
    { why: "empty external chain", raw: { ...base, externalSetMarkChain: "" }, code: 7, has: "Invalid externalSetMarkChain" },
    { why: "nftables backend", raw: { ...base, backend: "nftables" }, code: 2, has: 'backend "nftables" is not supported' },
    { why: "unknown backend", raw: { ...base, backend: "ebpf" }, code: 7, has: 'Unknown backend "ebpf"' },
    { why: "nft-style conditions", raw: { ...base, conditionsV4: ["ip", "saddr", "10.0.0.0/8"] }, code: 7, has: "nftables-specific options [conditionsV4]" },
    { why: "condition with a newline", raw: { ...base, conditionsV6: ["-s", "a\nb"] }, code: 7, has: "conditionsV6[1]" },
    { why: "portMappings not a list", raw: { ...base, runtimeConfig: { portMappings: {} } }, code: 7, has: "portMappings" },
  ])("resolveConfig() rejects $why", ({ raw, code, has }) => {
    const got = codeOf(raw);
    expect(got.code).toBe(code);
    expect(got.msg).toContain(has);
  });
});
