import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadSubnetEnv, parseSubnetEnv, SubnetEnvError } from "./subnet-env.ts";

const FILE = "/run/flannel/subnet.env";
const V4 = "FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n";

function errorOf(text: string): SubnetEnvError {
  try {
    parseSubnetEnv(text, FILE);
  } catch (e) {
    if (e instanceof SubnetEnvError) return e;
    throw e;
  }
  throw new Error("parseSubnetEnv() accepted the text");
}

describe("parseSubnetEnv()", () => {
  test("parseSubnetEnv() reads an IPv4 file as flanneld writes it", () => {
    expect(parseSubnetEnv(V4, FILE)).toEqual({ networks: ["10.1.0.0/16"], subnet: "10.1.17.0/24", ipv6Networks: [], mtu: 1472, ipMasq: true });
  });

  test("parseSubnetEnv() reads IPv6 and dual-stack files", () => {
    const v6 = "FLANNEL_IPV6_NETWORK=fc00::/48\nFLANNEL_IPV6_SUBNET=fc00::1/64\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=false\n";
    expect(parseSubnetEnv(v6, FILE)).toEqual({ networks: [], ipv6Networks: ["fc00::/48"], ipv6Subnet: "fc00::/64", mtu: 1472, ipMasq: false });
    expect(parseSubnetEnv(V4 + v6, FILE)).toEqual({
      networks: ["10.1.0.0/16"], subnet: "10.1.17.0/24", ipv6Networks: ["fc00::/48"], ipv6Subnet: "fc00::/64", mtu: 1472, ipMasq: false,
    });
  });

  test.each([
    { why: "comma list, duplicates (after masking) dropped", line: "FLANNEL_NETWORK=10.1.0.0/16,192.168.0.0/16,10.1.5.0/16", networks: ["10.1.0.0/16", "192.168.0.0/16"] },
    { why: "host bits cleared", line: "FLANNEL_NETWORK=10.1.2.3/16", networks: ["10.1.0.0/16"] },
    { why: "same address, other prefix kept", line: "FLANNEL_NETWORK=10.0.0.0/8,10.0.0.0/16", networks: ["10.0.0.0/8", "10.0.0.0/16"] },
    { why: "a repeated key: the last wins", line: "FLANNEL_NETWORK=172.16.0.0/12\nFLANNEL_NETWORK=10.1.0.0/16", networks: ["10.1.0.0/16"] },
  ])("parseSubnetEnv() networks: $why", ({ line, networks }) => {
    expect(parseSubnetEnv(`${line}\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true`, FILE).networks).toEqual([...networks]);
  });

  test("parseSubnetEnv() ignores unknown keys, blank lines, CRLF endings and a missing final newline", () => {
    const text = "\r\n# comment\r\nFOO=bar\r\n" + V4.trimEnd().replaceAll("\n", "\r\n");
    expect(parseSubnetEnv(text, FILE)).toEqual(parseSubnetEnv(V4, FILE));
  });

  test.each([
    { value: "true", ipMasq: true },
    { value: "True", ipMasq: false },
    { value: "1", ipMasq: false },
    { value: "", ipMasq: false },
  ])("parseSubnetEnv() FLANNEL_IPMASQ=$value is $ipMasq (exactly \"true\")", ({ value, ipMasq }) => {
    expect(parseSubnetEnv(V4.replace("FLANNEL_IPMASQ=true", `FLANNEL_IPMASQ=${value}`), FILE).ipMasq).toBe(ipMasq);
  });

  test.each([
    { text: "", missing: "FLANNEL_NETWORK, FLANNEL_IPV6_NETWORK, FLANNEL_SUBNET, FLANNEL_IPV6_SUBNET, FLANNEL_MTU, FLANNEL_IPMASQ" },
    { text: V4.replace("FLANNEL_MTU=1472\n", ""), missing: "FLANNEL_MTU" },
    { text: V4.replace("FLANNEL_SUBNET=10.1.17.1/24\n", ""), missing: "FLANNEL_SUBNET, FLANNEL_IPV6_SUBNET" },
    { text: V4.replace("FLANNEL_NETWORK=10.1.0.0/16\n", "").replace("FLANNEL_IPMASQ=true\n", ""), missing: "FLANNEL_NETWORK, FLANNEL_IPV6_NETWORK, FLANNEL_IPMASQ" },
    { text: V4.replace("FLANNEL_MTU=1472", "FLANNEL_MTU = 1472"), missing: "FLANNEL_MTU" }, // "FLANNEL_MTU " is another key
  ])("parseSubnetEnv() names the file and the missing keys: $missing", ({ text, missing }) => {
    const e = errorOf(text);
    expect(e.kind).toBe("incomplete");
    expect(e.message).toBe(`${FILE} is missing ${missing}`);
  });

  test.each([
    { line: "FLANNEL_MTU=abc", hint: "not an unsigned integer" },
    { line: "FLANNEL_MTU=-1", hint: "not an unsigned integer" },
    { line: "FLANNEL_MTU=4294967296", hint: "not an unsigned integer" },
    { line: "FLANNEL_MTU", hint: 'no "="' },
    { line: "FLANNEL_NETWORK=10.1.0.0", hint: "invalid CIDR address" },
    { line: "FLANNEL_NETWORK=10.1.0.0/16,", hint: "invalid CIDR address" },
    { line: "FLANNEL_NETWORK= 10.1.0.0/16", hint: "invalid CIDR address" },
    { line: "FLANNEL_NETWORK=10.01.0.0/16", hint: "invalid CIDR address" },
    { line: "FLANNEL_SUBNET=10.1.17.1/33", hint: "invalid CIDR address" },
    { line: "FLANNEL_IPV6_SUBNET=::ffff:10.0.0.0/104", hint: "IPv4-mapped" },
    { line: "FLANNEL_IPV6_NETWORK=fc00::/48%eth0", hint: "invalid CIDR address" },
  ])("parseSubnetEnv() refuses $line naming the file and line", ({ line, hint }) => {
    const e = errorOf(`${V4}${line}\n`);
    expect(e.kind).toBe("malformed");
    expect(e.message).toStartWith(`${FILE} line 5: ${line.split("=")[0]}: `);
    expect(e.message).toContain(hint);
  });
});

describe("loadSubnetEnv()", () => {
  test("loadSubnetEnv() reads the file, and tells a missing file from a broken one", () => {
    const dir = mkdtempSync(join(tmpdir(), "weft-t-subnetenv-"));
    try {
      const file = join(dir, "subnet.env");
      expect(() => loadSubnetEnv(file)).toThrow(expect.objectContaining({ kind: "missing", message: `${file} does not exist` }));
      expect(() => loadSubnetEnv(dir)).toThrow(expect.objectContaining({ kind: "unreadable" }));
      writeFileSync(file, V4);
      expect(loadSubnetEnv(file).subnet).toBe("10.1.17.0/24");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
