import { describe, expect, test } from "bun:test";
import { CniError } from "../../../shared/cni/errors.ts";
import { bigIntToIp } from "../../../shared/ip/index.ts";
import { loadConfig, loadStoreConfig, rangeSetText, storeDir } from "./config.ts";
import { parseResolvConf } from "./resolv.ts";

function conf(ipam: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return { name: "net", cniVersion: "1.0.0", ipam: { type: "host-local", dataDir: "/var/lib/x", ...ipam }, ...extra };
}
function error(fn: () => unknown): CniError {
  try {
    fn();
  } catch (e) {
    if (e instanceof CniError) return e;
    throw e;
  }
  throw new Error("expected a CniError");
}

describe("loadConfig() defaults and order", () => {
  test("loadConfig() defaults a /24 to .2-.254 behind gateway .1, and dataDir to /var/lib/cni/networks", () => {
    const c = loadConfig({ name: "cbr0", cniVersion: "0.3.1", ipam: { type: "host-local", ranges: [[{ subnet: "10.244.1.0/24" }]] } }, "", "0.3.1");
    expect(c.dir).toBe("/var/lib/cni/networks/cbr0");
    const r = c.rangeSets[0]!.ranges[0]!;
    expect([bigIntToIp(r.start, 4), bigIntToIp(r.end, 4), bigIntToIp(r.gateway, 4)]).toEqual(["10.244.1.1", "10.244.1.254", "10.244.1.1"]);
    expect(rangeSetText(c.rangeSets[0]!)).toBe("10.244.1.1-10.244.1.254");
  });

  test("loadConfig() orders range sets runtimeConfig.ipRanges, legacy subnet, ranges", () => {
    const c = loadConfig(conf({ subnet: "10.2.0.0/24", ranges: [[{ subnet: "10.3.0.0/24" }]] }, { runtimeConfig: { ipRanges: [[{ subnet: "10.1.0.0/24" }]] } }), "", "1.0.0");
    expect(c.rangeSets.map((s) => s.ranges[0]!.subnet)).toEqual(["10.1.0.0/24", "10.2.0.0/24", "10.3.0.0/24"]);
  });

  test("loadConfig() matches keys case-insensitively and treats null as absent", () => {
    const c = loadConfig(conf({ Ranges: [[{ Subnet: "10.9.0.0/24", RANGESTART: "10.9.0.100", gateway: null }]] }), "", "1.0.0");
    expect(bigIntToIp(c.rangeSets[0]!.ranges[0]!.start, 4)).toBe("10.9.0.100");
  });

  test("loadConfig() merges requested IPs from CNI_ARGS, args and runtimeConfig, in that order, without duplicates", () => {
    const c = loadConfig(
      conf({ ranges: [[{ subnet: "10.9.0.0/24" }], [{ subnet: "fd00::/64" }]] }, { args: { cni: { ips: ["fd00::5", "10.9.0.7/24"] } }, runtimeConfig: { ips: ["10.9.0.7"] } }),
      "IgnoreUnknown=1;K8S_POD_NAME=p;IP=10.9.0.6",
      "1.0.0",
    );
    expect(c.requested.map((r) => r.text)).toEqual(["10.9.0.6", "fd00::5", "10.9.0.7"]);
  });

  test("loadConfig() canonicalises routes and keeps their extra fields", () => {
    const c = loadConfig(conf({ ranges: [[{ subnet: "10.9.0.0/24" }]], routes: [{ dst: "FD00:0::0/8", gw: "FD00::1", mtu: 1400 }, { dst: "10.1.2.3/16" }] }), "", "1.0.0");
    expect(c.routes).toEqual([{ dst: "fd00::/8", gw: "fd00::1", mtu: 1400 }, { dst: "10.1.0.0/16" }]);
  });
});

describe("loadConfig() rejects bad input with a clear error", () => {
  test.each([
    { name: "overlapping range sets", ipam: { ranges: [[{ subnet: "10.9.0.0/24" }], [{ subnet: "10.9.0.0/25" }]] }, msg: "range set 0 overlaps with 1" },
    { name: "overlapping ranges in a set", ipam: { ranges: [[{ subnet: "10.9.0.0/24" }, { subnet: "10.9.0.0/25" }]] }, msg: "invalid range set 0: subnets 10.9.0.1-10.9.0.254 and 10.9.0.1-10.9.0.126 overlap" },
    { name: "rangeStart outside its subnet", ipam: { ranges: [[{ subnet: "10.9.0.0/24", rangeStart: "10.9.1.5" }]] }, msg: "invalid range set 0: RangeStart 10.9.1.5 not in network 10.9.0.0/24" },
    { name: "rangeEnd outside its subnet", ipam: { ranges: [[{ subnet: "10.9.0.0/24", rangeEnd: "10.9.1.5" }]] }, msg: "invalid range set 0: RangeEnd 10.9.1.5 not in network 10.9.0.0/24" },
    { name: "rangeEnd before rangeStart", ipam: { ranges: [[{ subnet: "10.9.0.0/24", rangeStart: "10.9.0.50", rangeEnd: "10.9.0.10" }]] }, msg: "invalid range set 0: RangeEnd 10.9.0.10 is before RangeStart 10.9.0.50" },
    { name: "gateway outside the subnet", ipam: { ranges: [[{ subnet: "10.9.0.0/24", gateway: "10.9.1.1" }]] }, msg: "invalid range set 0: Gateway 10.9.1.1 not in network 10.9.0.0/24" },
    { name: "IPv6 gateway for an IPv4 range", ipam: { ranges: [[{ subnet: "10.9.0.0/24", gateway: "fd00::1" }]] }, msg: "invalid range set 0: Gateway fd00::1 is IPv6 but network 10.9.0.0/24 is IPv4" },
    { name: "a /32", ipam: { ranges: [[{ subnet: "10.9.0.0/32" }]] }, msg: "invalid range set 0: Network 10.9.0.0/32 too small to allocate from" },
    { name: "a /31", ipam: { ranges: [[{ subnet: "10.9.0.0/31" }]] }, msg: "invalid range set 0: Network 10.9.0.0/31 too small to allocate from" },
    { name: "a /127", ipam: { ranges: [[{ subnet: "fd00::/127" }]] }, msg: "invalid range set 0: Network fd00::/127 too small to allocate from" },
    { name: "host bits set", ipam: { ranges: [[{ subnet: "10.9.0.1/24" }]] }, msg: "invalid range set 0: Network has host bits set. For a subnet mask of length 24 the network address is 10.9.0.0" },
    { name: "no ranges", ipam: { ranges: [] }, msg: "no IP ranges specified" },
    { name: "an empty range set", ipam: { ranges: [[]] }, msg: "invalid range set 0: empty range set" },
    { name: "mixed families", ipam: { ranges: [[{ subnet: "10.9.0.0/24" }, { subnet: "fd00::/64" }]] }, msg: "invalid range set 0: mixed address families" },
    { name: "a subnet that is not a CIDR", ipam: { ranges: [[{ subnet: "10.9.0.0" }]] }, msg: 'invalid range set 0: "subnet" invalid CIDR "10.9.0.0": missing the prefix length ("/24")' },
    { name: "a hex rangeStart", ipam: { ranges: [[{ subnet: "10.9.0.0/24", rangeStart: "0x1.2.3.4" }]] }, msg: /"ipam.ranges\[0\]\[0\].rangeStart" invalid IP address "0x1.2.3.4"/ },
    { name: "a subnet of the wrong type", ipam: { ranges: [[{ subnet: 24 }]] }, msg: /ipam.ranges\[0\]\[0\].subnet" must be a string/ },
    { name: "a relative dataDir", ipam: { dataDir: "var/lib", ranges: [[{ subnet: "10.9.0.0/24" }]] }, msg: /"ipam.dataDir" must be an absolute path/ },
    { name: "a dataDir with ..", ipam: { dataDir: "/var/lib/../../etc", ranges: [[{ subnet: "10.9.0.0/24" }]] }, msg: /must not contain "\.\." segments/ },
    { name: "a dataDir with NUL", ipam: { dataDir: "/var/lib\0x", ranges: [[{ subnet: "10.9.0.0/24" }]] }, msg: /NUL/ },
    { name: "a bad route", ipam: { ranges: [[{ subnet: "10.9.0.0/24" }]], routes: [{ dst: "10.0.0.0/33" }] }, msg: /"ipam.routes\[0\].dst" invalid CIDR/ },
  ])("loadConfig() rejects $name", ({ ipam, msg }) => {
    const e = error(() => loadConfig(conf(ipam), "", "1.0.0"));
    expect(e.code).toBe(7);
    if (typeof msg === "string") expect(e.msg).toBe(msg);
    else expect(e.msg).toMatch(msg);
  });

  test.each([
    { where: "args", extra: { args: { cni: { ips: ["1.2.3."] } } }, args: "", code: 7 },
    { where: "args", extra: { args: { cni: { ips: ["0x1.2.3.4"] } } }, args: "", code: 7 },
    { where: "runtimeConfig", extra: { runtimeConfig: { ips: [" 1.2.3.4"] } }, args: "", code: 7 },
    { where: "runtimeConfig", extra: { runtimeConfig: { ips: ["::ffff:10.9.0.4"] } }, args: "", code: 7 },
    { where: "CNI_ARGS", extra: {}, args: "IP=1.2.3.", code: 4 },
    { where: "CNI_ARGS", extra: {}, args: "K8S_POD_NAME=x", code: 4 },
  ])("loadConfig() rejects a requested IP that is not an IP ($where $args)", ({ extra, args, code }) => {
    const e = error(() => loadConfig(conf({ ranges: [[{ subnet: "10.9.0.0/24" }]] }, extra), args, "1.0.0"));
    expect(e.code).toBe(code);
  });

  test("loadConfig() refuses two addresses of one family under cniVersion 0.2.0", () => {
    const e = error(() => loadConfig(conf({ ranges: [[{ subnet: "10.9.0.0/24" }], [{ subnet: "10.8.0.0/24" }]] }), "", "0.2.0"));
    expect(e.msg).toBe("CNI version 0.2.0 does not support more than 1 address per family");
    expect(loadConfig(conf({ ranges: [[{ subnet: "10.9.0.0/24" }], [{ subnet: "fd00::/64" }]] }), "", "0.2.0").rangeSets).toHaveLength(2);
  });
});

describe("storeDir()", () => {
  test.each([
    { name: "../x" },
    { name: "a/b" },
    { name: ".." },
    { name: "." },
    { name: "a\0b" },
    { name: "" },
  ])("storeDir() refuses network name $name", ({ name }) => {
    expect(error(() => storeDir(name, "/d")).code).toBe(7);
  });

  test("storeDir() joins dataDir and name", () => {
    expect(storeDir("cbr0", "/d/")).toBe("/d/cbr0");
    expect(storeDir("cbr0", "")).toBe("/var/lib/cni/networks/cbr0");
    expect(loadStoreConfig({ name: "n", ipam: { dataDir: "/d" } })).toEqual({ network: "n", dir: "/d/n" });
  });
});

describe("parseResolvConf()", () => {
  test("parseResolvConf() reads nameserver, domain, search and options like dns.go", () => {
    const text = "nameserver 1.1.1.1\n# c\n; c\nnameserver 8.8.8.8\ndomain x.y\nsearch a b\nsearch c\noptions ndots:5 rotate\nnameserver\n  \n";
    expect(parseResolvConf(text)).toEqual({ nameservers: ["1.1.1.1", "8.8.8.8"], domain: "x.y", search: ["a", "b", "c"], options: ["ndots:5", "rotate"] });
    expect(parseResolvConf("")).toEqual({});
  });
});
