import { describe, expect, test } from "bun:test";
import { describeErrors, keyPath, normalizeKeys, type KeyTree } from "./index.ts";

const TREE: KeyTree = {
  p: {
    hostport: ["hostPort", {}],
    ipam: ["ipam", { p: { ranges: ["ranges", { i: { i: { p: { subnet: ["subnet", {}] } } } }] } }],
    runtimeconfig: ["runtimeConfig", { p: { portmappings: ["portMappings", { i: { p: { hostport: ["hostPort", {}], containerport: ["containerPort", {}] } } }] } }],
  },
};

describe("normalizeKeys()", () => {
  test("respells keys case-insensitively at every depth, through arrays", () => {
    const got = normalizeKeys(
      { HostPort: 1, IPAM: { Ranges: [[{ SUBNET: "10.0.0.0/8" }]] }, RuntimeConfig: { PortMappings: [{ HostPort: 80, ContainerPort: 8080 }] } },
      TREE,
    );
    expect(got).toEqual({ hostPort: 1, ipam: { ranges: [[{ subnet: "10.0.0.0/8" }]] }, runtimeConfig: { portMappings: [{ hostPort: 80, containerPort: 8080 }] } });
  });
  test("keeps unknown keys and the exact spelling when both are present", () => {
    expect(normalizeKeys({ Foo: 1, hostPort: 2, HOSTPORT: 3 }, TREE)).toEqual({ Foo: 1, hostPort: 2 });
  });
  test("leaves scalars and mismatched shapes alone", () => {
    expect(normalizeKeys("x", TREE)).toBe("x");
    expect(normalizeKeys({ ipam: "nope" }, TREE)).toEqual({ ipam: "nope" });
  });
});

describe("keyPath()", () => {
  test.each([
    ["", undefined, "(the config)"],
    ["/ipam/ranges/0/1/subnet", undefined, "ipam.ranges[0][1].subnet"],
    ["/ipam", "type", "ipam.type"],
    ["/a~1b", undefined, "a/b"],
  ])("%p + %p → %p", (path, extra, want) => expect(keyPath(path, extra)).toBe(want));
});

test("describeErrors() words ajv's errors with the key path", () => {
  expect(
    describeErrors([
      { instancePath: "/mtu", keyword: "type", params: { type: "integer" }, message: "must be integer" },
      { instancePath: "", keyword: "required", params: { missingProperty: "type" } },
      { instancePath: "/backend", keyword: "enum", params: { allowedValues: ["iptables"] } },
    ]),
  ).toEqual(['"mtu" must be an integer', '"type" is required', '"backend" must be one of "iptables"']);
});
