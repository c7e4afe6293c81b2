import { describe, expect, test } from "bun:test";
import { loadCniArgs, parseCniArgs } from "./args.ts";

describe("parseCniArgs()", () => {
  test("splits pairs", () => {
    expect([...parseCniArgs("IP=10.0.0.5;K8S_POD_NAME=a")]).toEqual([["IP", "10.0.0.5"], ["K8S_POD_NAME", "a"]]);
  });
  test.each(["IP", "IP=1=2", "A=1;", ";A=1"])("rejects the malformed %p with code 4", (raw) => {
    expect(() => parseCniArgs(raw)).toThrow(expect.objectContaining({ code: 4 }));
  });
  test("empty is no args", () => expect(parseCniArgs("").size).toBe(0));
});

describe("loadCniArgs()", () => {
  test("unknown keys fail without IgnoreUnknown", () => {
    expect(() => loadCniArgs("FOO=1", ["IP"])).toThrow("ARGS: unknown args [FOO]");
  });
  test.each(["1", "true", "TRUE"])("IgnoreUnknown=%s ignores them", (v) => {
    expect(loadCniArgs(`IgnoreUnknown=${v};FOO=1;IP=10.0.0.9`, ["IP"])).toEqual({ IP: "10.0.0.9" });
  });
  test("keys are case-sensitive like Go field names", () => {
    expect(() => loadCniArgs("ip=10.0.0.9", ["IP"])).toThrow("unknown args [ip]");
  });
});
