import { describe, expect, test } from "bun:test";
import { CniError } from "../../../shared/cni/errors.ts";
import { checkAddable, expandTrunk, loadConfig, parseMac } from "./config.ts";

const base = { cniVersion: "1.0.0", name: "net", type: "bridge" };

function codeOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof CniError ? e.code : -1;
  }
  return undefined;
}

describe("loadConfig()", () => {
  test("loadConfig() applies the reference's defaults", () => {
    const c = loadConfig(base, "");
    expect(c).toMatchObject({
      bridge: "cni0",
      isGateway: false,
      isDefaultGateway: false,
      forceAddress: false,
      ipMasq: false,
      mtu: 0,
      hairpinMode: false,
      promiscMode: false,
      vlan: 0,
      trunk: [],
      vlanFiltering: false,
      preserveDefaultVlan: false,
      enableDad: false,
      macSpoofCheck: false,
      disableContainerInterface: false,
      portIsolation: false,
    });
    expect(c.ipamType).toBeUndefined();
    expect(c.mac).toBeUndefined();
    expect(c.dns).toBeUndefined();
  });

  test("loadConfig() resolves the MAC for ADD only: a bad MAC= in CNI_ARGS never blocks DEL, CHECK or GC", () => {
    expect(() => loadConfig(base, "IgnoreUnknown=1;MAC=zz", "ADD")).toThrow(/Invalid MAC address/);
    for (const cmd of ["DEL", "CHECK", "GC", "STATUS"]) expect(loadConfig(base, "IgnoreUnknown=1;MAC=zz", cmd).mac).toBeUndefined();
    expect(loadConfig(base, "MAC=0a:58:0a:f4:01:05", "ADD").mac).toBe("0a:58:0a:f4:01:05");
  });

  test("loadConfig() matches keys case-insensitively, as Go does", () => {
    const c = loadConfig({ ...base, Bridge: "br9", IsDefaultGateway: true, IPMASQ: true, IPAM: { Type: "host-local" } }, "");
    expect(c.bridge).toBe("br9");
    expect(c.isGateway).toBe(true); // forced by isDefaultGateway
    expect(c.ipMasq).toBe(true);
    expect(c.ipamType).toBe("host-local");
  });

  test("loadConfig() treats null as absent and an empty ipam as layer 2", () => {
    const c = loadConfig({ ...base, bridge: null, mtu: null, ipam: {} }, "");
    expect(c.bridge).toBe("cni0");
    expect(c.mtu).toBe(0);
    expect(c.ipamType).toBeUndefined();
  });

  test.each([
    { what: "runtimeConfig wins", conf: { runtimeConfig: { mac: "0a:00:00:00:00:03" }, args: { cni: { mac: "0a:00:00:00:00:02" } } }, env: "MAC=0a:00:00:00:00:01", mac: "0a:00:00:00:00:03" },
    { what: "args.cni beats CNI_ARGS", conf: { args: { cni: { mac: "0A-00-00-00-00-02" } } }, env: "MAC=0a:00:00:00:00:01", mac: "0a:00:00:00:00:02" },
    { what: "CNI_ARGS alone", conf: {}, env: "IgnoreUnknown=1;K8S_POD_NAME=x;MAC=0a:00:00:00:00:01", mac: "0a:00:00:00:00:01" },
  ])("loadConfig() MAC precedence: $what", ({ conf, env, mac }) => {
    expect(loadConfig({ ...base, ...conf }, env).mac).toBe(mac);
  });

  test("loadConfig() keeps the config's dns and drops an empty one", () => {
    expect(loadConfig({ ...base, dns: { nameservers: ["10.0.0.10"] } }, "").dns).toEqual({ nameservers: ["10.0.0.10"] });
    expect(loadConfig({ ...base, dns: {} }, "").dns).toBeUndefined();
  });

  test.each([
    { what: "vlan -1", conf: { vlan: -1 }, code: 7 },
    { what: "vlan 4095", conf: { vlan: 4095 }, code: 7 },
    { what: "vlan as a string", conf: { vlan: "5" }, code: 7 },
    { what: "trunk id 0", conf: { vlanTrunk: [{ id: 0 }] }, code: 7 },
    { what: "trunk minID without maxID", conf: { vlanTrunk: [{ minID: 5 }] }, code: 7 },
    { what: "trunk minID > maxID", conf: { vlanTrunk: [{ minID: 9, maxID: 5 }] }, code: 7 },
    { what: "bad MAC", conf: { runtimeConfig: { mac: "not-a-mac" } }, code: 7 },
    { what: "multicast MAC", conf: { runtimeConfig: { mac: "01:00:5e:00:00:01" } }, code: 7 },
    { what: "isGateway not a boolean", conf: { isGateway: "yes" }, code: 7 },
  ])("loadConfig() rejects $what", ({ conf, code }) => {
    expect(codeOf(() => loadConfig({ ...base, ...conf }, ""))).toBe(code);
  });

  test("loadConfig() rejects an unknown CNI_ARGS key without IgnoreUnknown", () => {
    expect(codeOf(() => loadConfig(base, "IP=10.0.0.5"))).toBe(4);
  });

  test("loadConfig() accepts vlan 0 and 4094", () => {
    expect(loadConfig({ ...base, vlan: 4094 }, "").vlanFiltering).toBe(true);
    expect(loadConfig({ ...base, vlan: 0 }, "").vlanFiltering).toBe(false);
  });
});

describe("checkAddable()", () => {
  test.each([
    { what: "a bridge name over 15 bytes", conf: { bridge: "a-very-long-bridge" }, code: 7 },
    { what: "a bridge name with a slash", conf: { bridge: "br/0" }, code: 7 },
    { what: "mtu 67", conf: { mtu: 67 }, code: 7 },
    { what: "mtu 65536", conf: { mtu: 65536 }, code: 7 },
    { what: "hairpin with promisc", conf: { hairpinMode: true, promiscMode: true }, code: 7 },
    { what: "ipam with disableContainerInterface", conf: { disableContainerInterface: true, ipam: { type: "host-local" } }, code: 7 },
    { what: "the nftables masquerade backend", conf: { ipMasq: true, ipMasqBackend: "nftables", ipam: { type: "host-local" } }, code: 2 },
    { what: "an unknown masquerade backend", conf: { ipMasq: true, ipMasqBackend: "pf", ipam: { type: "host-local" } }, code: 7 },
  ])("checkAddable() rejects $what", ({ conf, code }) => {
    const c = loadConfig({ ...base, ...conf }, ""); // DEL of the same config must still load
    expect(codeOf(() => checkAddable(c))).toBe(code);
  });

  test.each([{ mtu: 68 }, { mtu: 65535 }, { mtu: 0 }, { ipMasq: true, ipMasqBackend: "iptables", ipam: { type: "host-local" } }])("checkAddable() accepts %o", (conf) => {
    expect(codeOf(() => checkAddable(loadConfig({ ...base, ...conf }, "")))).toBeUndefined();
  });
});

describe("expandTrunk() / parseMac()", () => {
  test("expandTrunk() merges ids and ranges, sorted and unique", () => {
    expect(expandTrunk([{ id: 7 }, { minID: 3, maxID: 5 }, { id: 4 }, { minID: 100, maxID: 100, id: 1 }])).toEqual([1, 3, 4, 5, 7, 100]);
  });

  test.each([
    ["0A:1b:2C:3d:4E:5f", "0a:1b:2c:3d:4e:5f"],
    ["0a-1b-2c-3d-4e-5f", "0a:1b:2c:3d:4e:5f"],
    ["0a1b.2c3d.4e5f", "0a:1b:2c:3d:4e:5f"],
  ])("parseMac(%p) → %p", (raw, want) => {
    expect(parseMac(raw, "test")).toBe(want);
  });

  test.each(["0a:1b:2c:3d:4e", "0a:1b:2c:3d:4e:5f:60", "0a:1b-2c:3d:4e:5f", " ", "gg:00:00:00:00:00"])("parseMac(%p) throws code 7", (raw) => {
    expect(codeOf(() => parseMac(raw, "test"))).toBe(7);
  });
});
