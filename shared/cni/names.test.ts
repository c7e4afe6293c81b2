import { describe, expect, test } from "bun:test";
import { containerIdProblem, ifnameProblem, networkNameProblem } from "./names.ts";

describe("ifnameProblem()", () => {
  test.each(["eth0", "net1", "a", "x".repeat(15), "veth-1.2_3"])("accepts %p", (n) => expect(ifnameProblem(n)).toBeUndefined());
  test.each(["", ".", "..", "x".repeat(16), "a/b", "a:b", "a b", "a\tb", "a\nb", "é".repeat(8), "a\0b"])("rejects %p", (n) => {
    expect(ifnameProblem(n)).toBeString();
  });
});

describe("containerIdProblem()", () => {
  test.each(["abc", "0123456789abcdef", "a_b.c-d", "A1"])("accepts %p", (id) => expect(containerIdProblem(id)).toBeUndefined());
  test.each(["", "-a", ".a", "../x", "/etc", "a/b", "a b", "a\nb", "a\0b", "x".repeat(1025)])("rejects %p", (id) => {
    expect(containerIdProblem(id)).toBeString();
  });
});

describe("networkNameProblem()", () => {
  test.each(["cbr0", "my-net.1", "n_2"])("accepts %p", (n) => expect(networkNameProblem(n)).toBeUndefined());
  test.each(["", "../x", "a/b", ".", "..", "-x", "a\0b", "a b"])("rejects %p", (n) => expect(networkNameProblem(n)).toBeString());
});
