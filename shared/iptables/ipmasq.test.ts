import { describe, expect, test } from "bun:test";
import { IptablesError, type Family } from "./exec.ts";
import { findMasqState, gcIpMasq, masqChainName, masqCommentOwner, masqComment, masqSetupScript, masqTeardownScript, setupIpMasq, teardownIpMasq, type MasqRunner } from "./ipmasq.ts";

const owner = { network: "testnet", containerId: "abc123" };
const CHAIN = "CNI-ac401170a6a418c7c78d298f"; // recorded from /usr/lib/cni/bridge v1.1.1 for (testnet, abc123)
const C = '"name: \\"testnet\\" id: \\"abc123\\""';

/** A runner recording calls; `fail` makes the n-th restore fail with exit code 1. */
function fakeRunner(opts: { dumps?: Partial<Record<Family, string>>; failRestores?: number[]; notFound?: Family[] } = {}) {
  const calls: Array<{ op: "restore" | "save"; family: Family; text?: string }> = [];
  let restores = 0;
  const runner: MasqRunner = {
    restore(family, text) {
      calls.push({ op: "restore", family, text });
      if (opts.notFound?.includes(family)) throw new IptablesError(["ip6tables-restore"], 127, "");
      if (opts.failRestores?.includes(restores++)) throw new IptablesError(["iptables-restore"], 1, "line 2 failed");
    },
    save(family) {
      calls.push({ op: "save", family });
      if (opts.notFound?.includes(family)) throw new IptablesError(["ip6tables-save"], 127, "");
      return opts.dumps?.[family] ?? "*nat\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n";
    },
  };
  return { runner, calls };
}

const dumpWith = (jumps: string[], chainExists = true) =>
  ["*nat", ":POSTROUTING ACCEPT [0:0]", ...(chainExists ? [`:${CHAIN} - [0:0]`] : []), ...jumps, "COMMIT", ""].join("\n");

describe("masqChainName()", () => {
  test.each([
    { network: "testnet", containerId: "abc123", chain: CHAIN },
    { network: "cbr0", containerId: "0123456789abcdef", chain: "CNI-8cbe06c6d4b297670ecbfdbd" },
  ])("masqChainName() hashes $network + $containerId like the reference", ({ network, containerId, chain }) => {
    expect(masqChainName({ network, containerId })).toBe(chain);
  });

  test("masqComment() matches the reference's comment", () => {
    expect(masqComment(owner)).toBe('name: "testnet" id: "abc123"');
  });
});

describe("masqSetupScript()", () => {
  test("creates the chain with -N, the ACCEPT, the MASQUERADE and the POSTROUTING jump", () => {
    expect(masqSetupScript(owner, [{ ip: "10.99.0.2", network: "10.99.0.0/24" }], 4)).toBe(
      [
        "*nat",
        `-N ${CHAIN}`,
        `-A ${CHAIN} -d 10.99.0.0/24 -j ACCEPT -m comment --comment ${C}`,
        `-A ${CHAIN} ! -d 224.0.0.0/4 -j MASQUERADE -m comment --comment ${C}`,
        `-A POSTROUTING -s 10.99.0.2 -j ${CHAIN} -m comment --comment ${C}`,
        "COMMIT",
        "",
      ].join("\n"),
    );
  });

  test("uses ff00::/8 for IPv6 and lists every ACCEPT before the MASQUERADE", () => {
    const text = masqSetupScript(owner, [{ ip: "fd00::2", network: "fd00::/64" }, { ip: "fd01::2", network: "fd01::/64" }], 6);
    const lines = text.split("\n");
    expect(lines.findIndex((l) => l.includes("MASQUERADE"))).toBe(4);
    expect(lines.filter((l) => l.includes("-j ACCEPT"))).toHaveLength(2);
    expect(text).toContain("! -d ff00::/8 -j MASQUERADE");
  });

  test("with existing jumps: empties the chain with :chain and adds only the missing jumps", () => {
    const text = masqSetupScript(owner, [{ ip: "10.99.0.2", network: "10.99.0.0/24" }, { ip: "10.99.0.3", network: "10.99.0.0/24" }], 4, new Set(["10.99.0.2"]));
    expect(text).toContain(`:${CHAIN} - [0:0]`);
    expect(text).not.toContain("-N ");
    expect(text).not.toContain("-s 10.99.0.2 ");
    expect(text).toContain("-s 10.99.0.3 ");
  });
});

describe("masqTeardownScript() / findMasqState()", () => {
  test("masqTeardownScript() deletes each jump, then flushes and deletes the chain", () => {
    expect(masqTeardownScript(owner, ["10.99.0.2"])).toBe(
      ["*nat", `-D POSTROUTING -s 10.99.0.2 -j ${CHAIN} -m comment --comment ${C}`, `-F ${CHAIN}`, `-X ${CHAIN}`, "COMMIT", ""].join("\n"),
    );
  });

  test("findMasqState() finds the chain and every jump to it, the legacy -s ip/prefix form included", () => {
    const dump = dumpWith([
      `-A POSTROUTING -s 10.99.0.2/32 -m comment --comment ${C} -j ${CHAIN}`,
      `-A POSTROUTING -s 10.99.0.0/24 -m comment --comment ${C} -j ${CHAIN}`,
      `-A POSTROUTING -s 10.99.0.7/32 -j CNI-someoneelse000000000000`,
    ]);
    const s = findMasqState(dump, CHAIN);
    expect(s.exists).toBe(true);
    expect(s.jumps).toHaveLength(2);
    expect([...s.sources]).toEqual(["10.99.0.2", "10.99.0.0/24"]);
  });
});

describe("setupIpMasq()", () => {
  test("runs one iptables-restore per family and nothing else", async () => {
    const { runner, calls } = fakeRunner();
    await setupIpMasq(owner, ["10.99.0.2/24", "fd00::2/64"], runner);
    expect(calls.map((c) => `${c.op}${c.family}`)).toEqual(["restore4", "restore6"]);
  });

  test("when the chain exists, reads the table and completes it without duplicating the jump", async () => {
    const { runner, calls } = fakeRunner({ failRestores: [0], dumps: { 4: dumpWith([`-A POSTROUTING -s 10.99.0.2/32 -m comment --comment ${C} -j ${CHAIN}`]) } });
    await setupIpMasq(owner, ["10.99.0.2/24"], runner);
    expect(calls.map((c) => c.op)).toEqual(["restore", "save", "restore"]);
    expect(calls[2]!.text).not.toContain("-A POSTROUTING");
    expect(calls[2]!.text).toContain(`:${CHAIN} - [0:0]`);
  });

  test("a missing iptables binary is an error", async () => {
    const { runner } = fakeRunner({ notFound: [4] });
    await expect(setupIpMasq(owner, ["10.99.0.2/24"], runner)).rejects.toThrow(IptablesError);
  });
});

describe("teardownIpMasq()", () => {
  test("with the pod's addresses: one iptables-restore for their family only", async () => {
    const { runner, calls } = fakeRunner();
    await teardownIpMasq(owner, ["10.99.0.2/24"], runner);
    expect(calls.map((c) => `${c.op}${c.family}`)).toEqual(["restore4"]);
  });

  test("when the quick removal fails, removes what iptables-save shows", async () => {
    const jump = `-s 10.99.0.0/24 -m comment --comment ${C} -j ${CHAIN}`;
    const { runner, calls } = fakeRunner({ failRestores: [0], dumps: { 4: dumpWith([`-A POSTROUTING ${jump}`]) } });
    await teardownIpMasq(owner, ["10.99.0.2/24"], runner);
    expect(calls.map((c) => c.op)).toEqual(["restore", "save", "restore"]);
    expect(calls[2]!.text).toBe(["*nat", `-D POSTROUTING ${jump}`, `-F ${CHAIN}`, `-X ${CHAIN}`, "COMMIT", ""].join("\n"));
  });

  test("without addresses: searches both families; nothing found means nothing run", async () => {
    const { runner, calls } = fakeRunner();
    await teardownIpMasq(owner, undefined, runner);
    expect(calls.map((c) => `${c.op}${c.family}`)).toEqual(["save4", "save6"]);
  });

  test("without addresses: removes a chain left with no jumps", async () => {
    const { runner, calls } = fakeRunner({ dumps: { 6: dumpWith([]) } });
    await teardownIpMasq(owner, undefined, runner);
    expect(calls.at(-1)).toEqual({ op: "restore", family: 6, text: ["*nat", `-F ${CHAIN}`, `-X ${CHAIN}`, "COMMIT", ""].join("\n") });
  });

  test("a family without an iptables binary is skipped", async () => {
    const { runner, calls } = fakeRunner({ notFound: [6] });
    await teardownIpMasq(owner, undefined, runner);
    expect(calls.map((c) => `${c.op}${c.family}`)).toEqual(["save4", "save6"]);
  });
});

describe("gcIpMasq()", () => {
  const other = { network: "testnet", containerId: "gone1" };
  const otherChain = masqChainName(other);
  const OC = '"name: \\"testnet\\" id: \\"gone1\\""';
  const foreign = '"name: \\"othernet\\" id: \\"gone2\\""';
  const dump = [
    "*nat",
    ":POSTROUTING ACCEPT [0:0]",
    `:${CHAIN} - [0:0]`,
    `:${otherChain} - [0:0]`,
    `-A POSTROUTING -s 10.99.0.2/32 -m comment --comment ${C} -j ${CHAIN}`,
    `-A POSTROUTING -s 10.99.0.3/32 -m comment --comment ${OC} -j ${otherChain}`,
    `-A POSTROUTING -s 10.98.0.3/32 -m comment --comment ${foreign} -j CNI-0123456789abcdef01234567`,
    "COMMIT",
    "",
  ].join("\n");

  test("masqCommentOwner() reads the container ID of this network's comments only", () => {
    expect(masqCommentOwner('name: "testnet" id: "abc123"', "testnet")).toBe("abc123");
    expect(masqCommentOwner('name: "othernet" id: "abc123"', "testnet")).toBeUndefined();
    expect(masqCommentOwner("CNI portfwd requiring masquerade", "testnet")).toBeUndefined();
  });

  test("gcIpMasq() removes the jumps and chains of containers not listed, keeps the valid and other networks'", async () => {
    const { runner, calls } = fakeRunner({ dumps: { 4: dump } });
    expect(await gcIpMasq("testnet", new Set(["abc123"]), runner)).toEqual(["gone1"]);
    const restore = calls.find((c) => c.op === "restore");
    expect(restore?.text).toBe(["*nat", `-D POSTROUTING -s 10.99.0.3/32 -m comment --comment ${OC} -j ${otherChain}`, `-F ${otherChain}`, `-X ${otherChain}`, "COMMIT", ""].join("\n"));
  });

  test("gcIpMasq() with every container valid changes nothing", async () => {
    const { runner, calls } = fakeRunner({ dumps: { 4: dump } });
    expect(await gcIpMasq("testnet", new Set(["abc123", "gone1"]), runner)).toEqual([]);
    expect(calls.filter((c) => c.op === "restore")).toEqual([]);
  });
});
