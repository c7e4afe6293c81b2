// Conversion is checked against results recorded from the Go reference (test/golden/results, made by
// test/golden/record-results.ts) and the spec's 1.1.0 example, never against weft's own output.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { formatResult, parseResult } from "./result.ts";

const GOLDEN = join(import.meta.dir, "../../test/golden/results");
const REF_VERSIONS = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0"] as const;
const recorded = (scenario: string, v: string): Record<string, unknown> =>
  JSON.parse(readFileSync(join(GOLDEN, `host-local-${scenario}-${v}.json`), "utf8"));
/**
 * The recording, less one known difference: Debian's v1.1.1 prints an empty `"dns": {}` in 1.x results;
 * libcni >= 1.2 (and weft) omit it.
 */
const golden = (scenario: string, v: string): Record<string, unknown> => {
  const g = recorded(scenario, v);
  if (v.startsWith("1.") && JSON.stringify(g.dns) === "{}") delete g.dns;
  return g;
};

describe.each(["v4", "v6", "dual"])("formatResult() on the reference's %s allocation", (scenario) => {
  test.each(["0.3.0", "0.3.1", "0.4.0", "1.0.0"])("from %s into every version matches Go's converters", (from) => {
    const canonical = parseResult(golden(scenario, from), "1.0.0");
    for (const to of REF_VERSIONS) expect({ to, out: formatResult(canonical, to) }).toEqual({ to, out: golden(scenario, to) });
  });

  test("0.2.0 parses and prints back unchanged", () => {
    const g = golden(scenario, "0.2.0");
    expect(formatResult(parseResult(g, "0.2.0"), "0.2.0")).toEqual(g);
  });
});

const SPEC_110 = {
  cniVersion: "1.1.0",
  interfaces: [
    { name: "cni0", mac: "00:11:22:33:44:55" },
    { name: "veth3243", mac: "55:44:33:22:11:11" },
    { name: "eth0", mac: "99:88:77:66:55:44", sandbox: "/var/run/netns/blue" },
  ],
  ips: [{ address: "10.1.0.5/16", gateway: "10.1.0.1", interface: 2 }],
  routes: [{ dst: "0.0.0.0/0" }],
  dns: { nameservers: ["10.1.0.1"] },
};

describe("the spec's 1.1.0 example", () => {
  test("round-trips at 1.1.0 and relabels to 1.0.0", () => {
    const r = parseResult(SPEC_110, "1.1.0");
    expect(formatResult(r, "1.1.0")).toEqual(SPEC_110);
    expect(formatResult(r, "1.0.0")).toEqual({ ...SPEC_110, cniVersion: "1.0.0" });
  });
  test("gains ips[].version and keeps interfaces at 0.4.0", () => {
    const out = formatResult(parseResult(SPEC_110, "1.1.0"), "0.4.0");
    expect(out.ips).toEqual([{ version: "4", interface: 2, address: "10.1.0.5/16", gateway: "10.1.0.1" }]);
    expect(out.interfaces).toEqual(SPEC_110.interfaces);
  });
  test("drops interfaces and splits routes at 0.2.0", () => {
    expect(formatResult(parseResult(SPEC_110, "1.1.0"), "0.2.0")).toEqual({
      cniVersion: "0.2.0",
      ip4: { ip: "10.1.0.5/16", gateway: "10.1.0.1", routes: [{ dst: "0.0.0.0/0" }] },
      dns: { nameservers: ["10.1.0.1"] },
    });
  });
  test("1.x-only fields (interface mtu, route table) are dropped below 1.0.0 for interfaces only", () => {
    const r = parseResult({ ...SPEC_110, interfaces: [{ name: "eth0", mtu: 1400 }], routes: [{ dst: "0.0.0.0/0", table: 100 }] }, "1.1.0");
    const out = formatResult(r, "0.4.0");
    expect(out.interfaces).toEqual([{ name: "eth0" }]);
    expect(out.routes).toEqual([{ dst: "0.0.0.0/0", table: 100 }]);
  });
});

test("the known difference: an empty dns is omitted at 1.0.0, where Debian's reference prints {}", () => {
  expect(recorded("v4", "1.0.0").dns).toEqual({});
  expect(formatResult(parseResult(recorded("v4", "1.0.0"), "1.0.0"), "1.0.0")).not.toHaveProperty("dns");
  expect(formatResult(parseResult(recorded("v4", "1.0.0"), "1.0.0"), "0.4.0")).toHaveProperty("dns", {});
});

describe("parseResult()", () => {
  test("a result without cniVersion takes the fallback's family", () => {
    const r = parseResult({ ip4: { ip: "10.0.0.2/24" } }, "0.2.0");
    expect(r.ips).toEqual([{ address: "10.0.0.2/24" }]);
  });
  test.each([
    ["a list", []],
    ["a string", "x"],
    ["ips not a list", { cniVersion: "1.0.0", ips: {} }],
    ["address not a string", { cniVersion: "1.0.0", ips: [{ address: 5 }] }],
    ["interface index not an integer", { cniVersion: "1.0.0", ips: [{ address: "10.0.0.1/8", interface: 1.5 }] }],
    ["route without dst", { cniVersion: "0.4.0", routes: [{ gw: "10.0.0.1" }] }],
  ])("rejects %s with code 6", (_what, value) => {
    expect(() => parseResult(value, "1.0.0")).toThrow(expect.objectContaining({ code: 6 }));
  });
  test("0.x output without any IP is an error", () => {
    expect(() => formatResult({ cniVersion: "1.0.0", interfaces: [{ name: "eth0" }] }, "0.2.0")).toThrow("no valid IP addresses");
  });
});
