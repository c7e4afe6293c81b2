import { describe, expect, test } from "bun:test";
import { SPEC_VERSIONS, compareVersions, hasCheck, hasGc, hasInterfaces, hasIpVersionField, hasStatus, resultFamily } from "./version.ts";

describe("version predicates", () => {
  test.each(SPEC_VERSIONS.map((v) => ({ v })))("$v", ({ v }) => {
    const n = v.split(".").map(Number);
    const atLeast = (a: number, b: number) => (n[0]! > a) || (n[0] === a && n[1]! >= b);
    expect(hasCheck(v)).toBe(atLeast(0, 4));
    expect(hasGc(v)).toBe(atLeast(1, 1));
    expect(hasStatus(v)).toBe(atLeast(1, 1));
    expect(hasInterfaces(v)).toBe(atLeast(0, 3));
    expect(hasIpVersionField(v)).toBe(atLeast(0, 3) && !atLeast(1, 0));
  });
  test("resultFamily() groups versions as the Go types do", () => {
    expect(SPEC_VERSIONS.map(resultFamily)).toEqual(["020", "020", "04x", "04x", "04x", "1x", "1x"]);
    expect(resultFamily("")).toBe("020");
  });
  test.each([
    ["0.3.1", "0.3.0", 1],
    ["0.10.0", "0.9.0", 1],
    ["1.0.0", "1.0.0", 0],
    ["0.4.0", "1.0.0", -1],
    ["1.0", "1.0.0", 0],
  ] as const)("compareVersions(%s, %s) = %d", (a, b, want) => {
    expect(compareVersions(a, b)).toBe(want);
  });
});
