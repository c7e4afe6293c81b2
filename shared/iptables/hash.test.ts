import { describe, expect, test } from "bun:test";
import { HASHED_CHAIN_LENGTH, hashedChainName } from "./hash.ts";

describe("hashedChainName()", () => {
  test.each([
    // Values computed by the Go reference (cni-notes §2.3 and §2.5; v1.1.1 `iptables -t nat -S`).
    { prefix: "CNI-DN-", parts: ["cbr0", "0123456789abcdef"], want: "CNI-DN-8cbe06c6d4b297670ecbf" },
    { prefix: "CNI-", parts: ["cbr0", "0123456789abcdef"], want: "CNI-8cbe06c6d4b297670ecbfdbd" },
  ])("hashedChainName($prefix, $parts) is the reference's name", ({ prefix, parts, want }) => {
    expect(hashedChainName(prefix, ...parts)).toBe(want);
  });

  test("hashedChainName() hashes the concatenation, as Go hashes name+id", () => {
    expect(hashedChainName("CNI-DN-", "cbr", "00123456789abcdef")).toBe(hashedChainName("CNI-DN-", "cbr0", "0123456789abcdef"));
    expect(hashedChainName("CNI-DN-", "cbr0", "x")).not.toBe(hashedChainName("CNI-DN-", "cbr1", "x"));
  });

  test.each(["", "a", "net-with-dots.and_underscores", "ü-non-ascii", "x".repeat(1000)])(
    "hashedChainName() is always 28 lowercase characters after the prefix (%#)",
    (part) => {
      const name = hashedChainName("CNI-SN-", part);
      expect(name).toHaveLength(HASHED_CHAIN_LENGTH);
      expect(name).toMatch(/^CNI-SN-[0-9a-f]{21}$/);
    },
  );

  test("hashedChainName() rejects a prefix that leaves no room", () => {
    expect(() => hashedChainName("X".repeat(28), "a")).toThrow(RangeError);
  });
});
