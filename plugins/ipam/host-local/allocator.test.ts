import { describe, expect, test } from "bun:test";
import { CniError } from "../../../shared/cni/errors.ts";
import { bigIntToIp, ipToBigInt, type IpFamily } from "../../../shared/ip/index.ts";
import { assignRequested, candidates, duplicateProblem, nextFree, ownerContent, parseOwner, reservationsToRelease, type Reservation, type Snapshot } from "./allocator.ts";
import { loadConfig, type RangeSet } from "./config.ts";

function sets(ranges: unknown, extra: Record<string, unknown> = {}): RangeSet[] {
  return loadConfig({ name: "net", cniVersion: "1.0.0", ipam: { type: "host-local", dataDir: "/x", ranges }, ...extra }, "", "1.0.0").rangeSets;
}
const walk = (s: RangeSet, last?: string) => [...candidates(s, last === undefined ? undefined : ipToBigInt(last))].map((c) => bigIntToIp(c.value, s.family));

function res(ip: string, content: string): Reservation {
  const owner = parseOwner(content);
  return { ip, value: ipToBigInt(ip), family: ip.includes(":") ? 6 : 4, ...(owner ? { owner } : {}) };
}
function snap(list: Reservation[]): Snapshot {
  return { reservations: list, isTaken: (v: bigint, f: IpFamily) => list.some((r) => r.value === v && r.family === f) };
}

describe("candidates()", () => {
  const one = sets([[{ subnet: "10.0.0.0/29" }]])[0]!;
  test.each([
    { last: "none", want: ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"] },
    { last: "10.0.0.4", want: ["10.0.0.5", "10.0.0.6", "10.0.0.2", "10.0.0.3", "10.0.0.4"] },
    { last: "10.0.0.6", want: ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"] },
    { last: "10.0.0.1", want: ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"] },
    { last: "10.9.9.9", want: ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"] },
    { last: "fd00::1", want: ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"] },
  ])("candidates() of a /29 after $last round-robins and skips the gateway", ({ last, want }: { last: string; want: readonly string[] }) => {
    expect(walk(one, last === "none" ? undefined : last)).toEqual([...want]);
  });

  test("candidates() walks several ranges in order, wrapping from the last reserved one", () => {
    const s = sets([[{ subnet: "10.0.0.0/30" }, { subnet: "10.0.1.0/29", rangeStart: "10.0.1.4", rangeEnd: "10.0.1.5" }]])[0]!;
    expect(walk(s)).toEqual(["10.0.0.2", "10.0.1.4", "10.0.1.5"]);
    expect(walk(s, "10.0.1.4")).toEqual(["10.0.1.5", "10.0.0.2", "10.0.1.4"]);
    expect(walk(s, "10.0.1.5")).toEqual(["10.0.0.2", "10.0.1.4", "10.0.1.5"]);
    expect(walk(s, "10.0.0.2")).toEqual(["10.0.1.4", "10.0.1.5", "10.0.0.2"]);
  });

  test("candidates() never yields the network or broadcast address, even when the range includes them", () => {
    const s = sets([[{ subnet: "10.0.0.0/30", rangeStart: "10.0.0.0", rangeEnd: "10.0.0.3", gateway: "10.0.0.2" }]])[0]!;
    expect(walk(s)).toEqual(["10.0.0.1"]);
  });

  test("candidates() with a moved gateway hands out .1", () => {
    const s = sets([[{ subnet: "10.0.0.0/29", gateway: "10.0.0.6" }]])[0]!;
    expect(walk(s)).toEqual(["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"]);
  });

  test("candidates() of IPv6 includes the all-ones address", () => {
    const s = sets([[{ subnet: "fd00::/126" }]])[0]!;
    expect(walk(s)).toEqual(["fd00::2", "fd00::3"]);
  });

  test("nextFree() skips taken addresses and reports exhaustion", () => {
    const s = sets([[{ subnet: "10.0.0.0/30" }]])[0]!;
    expect(nextFree(s, snap([]))?.value).toBe(ipToBigInt("10.0.0.2"));
    expect(nextFree(s, snap([res("10.0.0.2", "a\r\neth0")]))).toBeUndefined();
  });
});

describe("ownership", () => {
  test.each([
    { content: "abc\r\neth0", want: { containerId: "abc", ifname: "eth0" } },
    { content: "abc\r\neth0\n", want: { containerId: "abc", ifname: "eth0" } },
    { content: "abc", want: { containerId: "abc" } },
    { content: "  abc \n", want: { containerId: "abc" } },
    { content: "", want: undefined },
    { content: " \r\n", want: undefined },
  ])("parseOwner($content)", ({ content, want }) => {
    expect(parseOwner(content)).toEqual(want);
  });

  test("ownerContent() is the reference's format", () => {
    expect(ownerContent("abc", "eth0")).toBe("abc\r\neth0");
    expect(ownerContent(" abc ", "eth0")).toBe("abc\r\neth0");
  });

  test("reservationsToRelease() takes exact matches, and legacy files only when there are none", () => {
    const all = [res("10.0.0.2", "a\r\neth0"), res("10.0.0.3", "a\r\neth1"), res("10.0.0.4", "a"), res("10.0.0.5", "b\r\neth0"), res("10.0.0.6", "")];
    expect(reservationsToRelease(all, "a", "eth0").map((r) => r.ip)).toEqual(["10.0.0.2"]);
    expect(reservationsToRelease(all, "a", "eth9").map((r) => r.ip)).toEqual(["10.0.0.4"]);
    expect(reservationsToRelease(all, "c", "eth0")).toEqual([]);
  });

  test("duplicateProblem() names the held address only within the range set", () => {
    const [v4, v6] = sets([[{ subnet: "10.0.0.0/24" }], [{ subnet: "fd00::/64" }]]);
    const s = snap([res("10.0.0.7", "a\r\neth0"), res("10.0.0.8", "b")]);
    expect(duplicateProblem(v4!, s, "a", "eth0")).toBe("10.0.0.7 has been allocated to a, duplicate allocation is not allowed");
    expect(duplicateProblem(v4!, s, "a", "eth1")).toBeUndefined();
    expect(duplicateProblem(v4!, s, "b", "eth3")).toContain("10.0.0.8");
    expect(duplicateProblem(v6!, s, "a", "eth0")).toBeUndefined();
  });
});

describe("assignRequested()", () => {
  const two = sets([[{ subnet: "10.0.0.0/24" }], [{ subnet: "fd00::/64" }]]);
  const req = (...ips: string[]) => ips.map((t) => ({ value: ipToBigInt(t), family: (t.includes(":") ? 6 : 4) as IpFamily, text: t }));

  test("assignRequested() gives each range set the first address it contains", () => {
    const m = assignRequested(two, req("fd00::9", "10.0.0.9"), snap([]), "net");
    expect(bigIntToIp(m.get(0)!.value, 4)).toBe("10.0.0.9");
    expect(bigIntToIp(m.get(1)!.value, 6)).toBe("fd00::9");
  });

  test.each([
    { ips: ["10.0.0.1"], msg: "failed to allocate for range 0: requested ip 10.0.0.1 is subnet's gateway" },
    { ips: ["10.0.0.9"], taken: "10.0.0.9", msg: "failed to allocate for range 0: requested IP address 10.0.0.9 is not available in range set 10.0.0.1-10.0.0.254" },
    { ips: ["10.0.1.9"], msg: "failed to allocate all requested IPs: 10.0.1.9" },
    { ips: ["10.0.0.9", "10.0.0.10"], msg: "failed to allocate all requested IPs: 10.0.0.10" },
    { ips: ["10.0.0.255"], msg: "failed to allocate all requested IPs: 10.0.0.255" },
  ])("assignRequested($ips) fails: $msg", ({ ips, taken, msg }) => {
    const s = snap(taken ? [res(taken, "x\r\neth0")] : []);
    let err: unknown;
    try {
      assignRequested(two, req(...ips), s, "net");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CniError);
    expect((err as CniError).msg).toBe(msg);
  });
});
