import { describe, expect, test } from "bun:test";
import { parseSave } from "../../../shared/iptables/index.ts";
import { resolveConfig } from "./config.ts";
import { addTransaction, checkTransaction, delTransaction, dnatChainName, fastAddTransaction, gcTransaction, oldSnatChainName, planFamily, type PodAddress } from "./plan.ts";

const CID = "0123456789abcdef";
const CHAIN = "CNI-DN-8cbe06c6d4b297670ecbf";
const V4: PodAddress = { family: 4, ip: "10.244.1.5", cidr: "10.244.1.5/24" };
const V6: PodAddress = { family: 6, ip: "fd00:244::5", cidr: "fd00:244::5/64" };
const maps = [
  { hostPort: 8080, containerPort: 80, protocol: "tcp" },
  { hostPort: 5353, containerPort: 53, protocol: "udp", hostIP: "10.0.0.1" },
  { hostPort: 9090, containerPort: 90, protocol: "tcp", hostIP: "fd00::1" },
];
const conf = (extra: Record<string, unknown> = {}) => resolveConfig({ name: "cbr0", runtimeConfig: { portMappings: maps }, ...extra });
const COMMENT = 'dnat name: "cbr0" id: "0123456789abcdef"';
const EMPTY = parseSave("*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n", "nat");

describe("chain names", () => {
  test("dnatChainName() and oldSnatChainName() hash network name + container ID", () => {
    expect(dnatChainName("cbr0", CID)).toBe(CHAIN);
    expect(oldSnatChainName("cbr0", CID)).toMatch(/^CNI-SN-[0-9a-f]{21}$/);
  });
});

describe("planFamily()", () => {
  test("planFamily() for IPv4 gives the reference's rules in the reference's order", () => {
    const p = planFamily(conf(), CID, V4);
    expect(p.chain).toBe(CHAIN);
    expect(p.rules.map((r) => r.args.join(" "))).toEqual([
      "-p tcp --dport 8080 -s 10.244.1.5/24 -j CNI-HOSTPORT-SETMARK",
      "-p tcp --dport 8080 -s 127.0.0.1 -j CNI-HOSTPORT-SETMARK",
      "-p tcp --dport 8080 -j DNAT --to-destination 10.244.1.5:80",
      "-p udp --dport 5353 -d 10.0.0.1 -s 10.244.1.5/24 -j CNI-HOSTPORT-SETMARK",
      "-p udp --dport 5353 -d 10.0.0.1 -s 127.0.0.1 -j CNI-HOSTPORT-SETMARK",
      "-p udp --dport 5353 -d 10.0.0.1 -j DNAT --to-destination 10.244.1.5:53",
    ]);
    // The port lists hold every mapping of the protocol, even one whose hostIP is IPv6 (as the reference does).
    expect(p.entries.map((r) => r.args)).toEqual([
      ["-m", "comment", "--comment", COMMENT, "-m", "multiport", "-p", "tcp", "--destination-ports", "8080,9090", "-j", CHAIN],
      ["-m", "comment", "--comment", COMMENT, "-m", "multiport", "-p", "udp", "--destination-ports", "5353", "-j", CHAIN],
    ]);
    expect(p.shared.chains).toEqual(["CNI-HOSTPORT-SETMARK", "CNI-HOSTPORT-MASQ", "CNI-HOSTPORT-DNAT"]);
    expect(p.shared.postrouting?.args.at(-1)).toBe("CNI-HOSTPORT-MASQ");
  });

  test("planFamily() for IPv6 brackets the address and has no localhost rule", () => {
    const p = planFamily(conf(), CID, V6);
    expect(p.rules.map((r) => r.args.join(" "))).toEqual([
      "-p tcp --dport 8080 -s fd00:244::5/64 -j CNI-HOSTPORT-SETMARK",
      "-p tcp --dport 8080 -j DNAT --to-destination [fd00:244::5]:80",
      "-p tcp --dport 9090 -d fd00::1 -s fd00:244::5/64 -j CNI-HOSTPORT-SETMARK",
      "-p tcp --dport 9090 -d fd00::1 -j DNAT --to-destination [fd00:244::5]:90",
    ]);
  });

  test("planFamily() without snat installs only DNAT rules and no SETMARK/MASQ chains", () => {
    const p = planFamily(conf({ snat: false }), CID, V4);
    expect(p.rules.every((r) => r.args.includes("DNAT"))).toBe(true);
    expect(p.shared.chains).toEqual(["CNI-HOSTPORT-DNAT"]);
    expect(p.shared.postrouting).toBeUndefined();
  });

  test("planFamily() with externalSetMarkChain jumps there and creates no mark chains", () => {
    const p = planFamily(conf({ externalSetMarkChain: "KUBE-MARK-MASQ" }), CID, V4);
    expect(p.rules[0]!.args.at(-1)).toBe("KUBE-MARK-MASQ");
    expect(p.shared.chains).toEqual(["CNI-HOSTPORT-DNAT"]);
  });

  test("planFamily() with masqAll marks any source and skips the localhost rule", () => {
    const p4 = planFamily(conf({ masqAll: true }), CID, V4);
    expect(p4.rules.filter((r) => r.args.includes("-s")).map((r) => r.args[r.args.indexOf("-s") + 1])).toEqual(["0.0.0.0/0", "0.0.0.0/0"]);
    expect(planFamily(conf({ masqAll: true }), CID, V6).rules[0]!.args).toContain("::/0");
  });

  test("planFamily() appends the family's conditions to the entry rules only", () => {
    const c = conf({ conditionsV4: ["!", "-s", "192.168.0.0/16"], conditionsV6: ["-i", "eth9"] });
    expect(planFamily(c, CID, V4).entries[0]!.args.slice(-5)).toEqual(["!", "-s", "192.168.0.0/16", "-j", CHAIN]);
    expect(planFamily(c, CID, V6).entries[0]!.args.slice(-4)).toEqual(["-i", "eth9", "-j", CHAIN]);
  });

  test("planFamily() splits more than 15 ports of one protocol into several multiport rules", () => {
    const many = Array.from({ length: 31 }, (_, i) => ({ hostPort: 1000 + i, containerPort: 80 }));
    const p = planFamily(resolveConfig({ name: "n", runtimeConfig: { portMappings: many } }), "c", V4);
    expect(p.entries.map((e) => e.args[e.args.indexOf("--destination-ports") + 1]!.split(",").length)).toEqual([15, 15, 1]);
  });

  test("planFamily() sets the mark bit as iptables prints it, up to bit 31", () => {
    expect(planFamily(conf({ markMasqBit: 31 }), CID, V4).shared.rules[0]!.args.at(-1)).toBe("0x80000000/0x80000000");
    expect(planFamily(conf({ markMasqBit: 0 }), CID, V4).shared.rules[1]!.args).toContain("0x1/0x1");
  });

  test("planFamily() cuts a comment over 255 bytes as the reference does", () => {
    const p = planFamily(resolveConfig({ name: "n".repeat(300), runtimeConfig: { portMappings: [maps[0]] } }), CID, V4);
    const comment = p.entries[0]!.args[3]!;
    expect(comment).toHaveLength(256);
    expect(comment.endsWith("...")).toBe(true);
  });
});

describe("addTransaction()", () => {
  test("addTransaction() on an empty table creates every chain and rule", () => {
    const text = addTransaction(planFamily(conf(), CID, V4), EMPTY);
    const lines = text.trim().split("\n");
    expect(lines[0]).toBe("*nat");
    expect(lines.at(-1)).toBe("COMMIT");
    expect(lines.filter((l) => l.startsWith("-N "))).toEqual(["-N CNI-HOSTPORT-SETMARK", "-N CNI-HOSTPORT-MASQ", "-N CNI-HOSTPORT-DNAT", `-N ${CHAIN}`]);
    expect(lines).toContain('-I POSTROUTING 1 -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ');
    expect(lines).toContain("-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT");
    expect(lines.filter((l) => l.startsWith(`-A ${CHAIN} `))).toHaveLength(6);
    expect(lines.some((l) => l.startsWith(":") || l.startsWith("-F"))).toBe(false);
  });

  test("addTransaction() over an earlier ADD replaces the container's rules and keeps shared ones", () => {
    const plan = planFamily(conf(), CID, V4);
    const saved = parseSave(
      [
        "*nat",
        ":PREROUTING ACCEPT [0:0]",
        ":OUTPUT ACCEPT [0:0]",
        ":POSTROUTING ACCEPT [0:0]",
        `:${CHAIN} - [0:0]`,
        ":CNI-HOSTPORT-DNAT - [0:0]",
        ":CNI-HOSTPORT-MASQ - [0:0]",
        ":CNI-HOSTPORT-SETMARK - [0:0]",
        "-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT",
        "-A OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT",
        '-A POSTROUTING -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ',
        `-A ${CHAIN} -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.244.1.99:80`,
        `-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \\"cbr0\\" id: \\"0123456789abcdef\\"" -m multiport --dports 8080 -j ${CHAIN}`,
        "-A CNI-HOSTPORT-DNAT -p tcp -m multiport --dports 7 -j CNI-DN-someoneelse000000000",
        "-A CNI-HOSTPORT-MASQ -m mark --mark 0x2000/0x2000 -j MASQUERADE",
        '-A CNI-HOSTPORT-SETMARK -m comment --comment "CNI portfwd masquerade mark" -j MARK --set-xmark 0x2000/0x2000',
        "COMMIT",
      ].join("\n"),
      "nat",
    );
    const lines = addTransaction(plan, saved).trim().split("\n");
    expect(lines.filter((l) => l.startsWith("-N ") || l.startsWith("-I "))).toEqual([]);
    expect(lines.filter((l) => /^-A (PREROUTING|OUTPUT|CNI-HOSTPORT-SETMARK|CNI-HOSTPORT-MASQ) /.test(l))).toEqual([]);
    expect(lines.filter((l) => l.startsWith("-D "))).toEqual([
      `-D CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \\"cbr0\\" id: \\"0123456789abcdef\\"" -m multiport --dports 8080 -j ${CHAIN}`,
    ]);
    expect(lines).toContain(`-F ${CHAIN}`);
  });

  test("addTransaction() adds the mark rule for a new mark bit next to an old one", () => {
    const saved = parseSave('*nat\n:CNI-HOSTPORT-SETMARK - [0:0]\n-A CNI-HOSTPORT-SETMARK -m comment --comment "CNI portfwd masquerade mark" -j MARK --set-xmark 0x2000/0x2000\nCOMMIT\n', "nat");
    const lines = addTransaction(planFamily(conf({ markMasqBit: 14 }), CID, V4), saved).split("\n");
    expect(lines).toContain('-A CNI-HOSTPORT-SETMARK -m comment --comment "CNI portfwd masquerade mark" -j MARK --set-xmark 0x4000/0x4000');
  });
});

describe("fastAddTransaction()", () => {
  test("fastAddTransaction() asserts the shared rules and a new chain, and adds the container's rules", () => {
    const lines = fastAddTransaction(planFamily(conf(), CID, V4)).trim().split("\n");
    expect(lines[1]).toBe(`-N ${CHAIN}`);
    expect(lines.filter((l) => l.startsWith("-C ")).map((l) => l.split(" ")[1])).toEqual(["CNI-HOSTPORT-SETMARK", "CNI-HOSTPORT-MASQ", "PREROUTING", "OUTPUT", "POSTROUTING"]);
    expect(lines.filter((l) => l.startsWith("-A "))).toHaveLength(8);
    expect(lines.some((l) => /^(-D|-F|-I|:)/.test(l))).toBe(false);
  });
});

describe("delTransaction()", () => {
  test("delTransaction() removes every jump to the container's chains, then the chains", () => {
    const sn = oldSnatChainName("cbr0", CID);
    const saved = parseSave(
      `*nat\n:CNI-HOSTPORT-DNAT - [0:0]\n:${CHAIN} - [0:0]\n:CNI-HOSTPORT-SNAT - [0:0]\n:${sn} - [0:0]\n` +
        `-A CNI-HOSTPORT-DNAT -p tcp -m multiport --dports 80 -j ${CHAIN}\n-A CNI-HOSTPORT-DNAT -p udp -m multiport --dports 80 -j ${CHAIN}\n` +
        `-A CNI-HOSTPORT-DNAT -p udp -j CNI-DN-other\n-A CNI-HOSTPORT-SNAT -j ${sn}\n-A ${CHAIN} -j DNAT --to-destination 1.2.3.4:5\nCOMMIT\n`,
      "nat",
    );
    expect(delTransaction("cbr0", CID, saved)).toBe(
      `*nat\n-D CNI-HOSTPORT-DNAT -p tcp -m multiport --dports 80 -j ${CHAIN}\n-D CNI-HOSTPORT-DNAT -p udp -m multiport --dports 80 -j ${CHAIN}\n` +
        `-F ${CHAIN}\n-X ${CHAIN}\n-D CNI-HOSTPORT-SNAT -j ${sn}\n-F ${sn}\n-X ${sn}\nCOMMIT\n`,
    );
  });

  test("delTransaction() has nothing to do when the chains are absent", () => {
    expect(delTransaction("cbr0", CID, EMPTY)).toBeUndefined();
  });
});

describe("checkTransaction()", () => {
  test("checkTransaction() checks shared and container rules, mapping lines back to rules", () => {
    const { text, rules } = checkTransaction(planFamily(conf(), CID, V4));
    const lines = text.trim().split("\n");
    expect(lines.slice(1, -1).every((l) => l.startsWith("-C "))).toBe(true);
    expect(lines).toHaveLength(rules.length + 2);
    expect(lines[rules.length]).toContain(rules.at(-1)!.args.at(-1)!);
  });
});

describe("gcTransaction()", () => {
  const entry = (net: string, cid: string, target = dnatChainName(net, cid)) =>
    `-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \\"${net}\\" id: \\"${cid}\\"" -m multiport --dports 80 -j ${target}`;
  const dump = (lines: string[], chains: string[]) => parseSave(`*nat\n${chains.map((c) => `:${c} - [0:0]`).join("\n")}\n${lines.join("\n")}\nCOMMIT\n`, "nat");

  test("gcTransaction() removes only the network's containers that are not valid", () => {
    const [a, b, other] = [dnatChainName("cbr0", "a"), dnatChainName("cbr0", "b"), dnatChainName("other", "b")];
    const saved = dump([entry("cbr0", "a"), entry("cbr0", "b"), entry("other", "b")], ["CNI-HOSTPORT-DNAT", a, b, other]);
    const text = gcTransaction("cbr0", new Set(["a"]), saved)!;
    expect(text).toContain(`-X ${b}`);
    expect(text).not.toContain(a);
    expect(text).not.toContain(other);
    expect(gcTransaction("cbr0", new Set(["a", "b"]), saved)).toBeUndefined();
  });

  test("gcTransaction() with an empty list removes every container of the network", () => {
    const [a, b] = [dnatChainName("cbr0", "a"), dnatChainName("cbr0", "b")];
    const text = gcTransaction("cbr0", new Set(), dump([entry("cbr0", "a"), entry("cbr0", "b")], ["CNI-HOSTPORT-DNAT", a, b]))!;
    expect(text.match(/^-X /gm)?.length).toBe(2);
  });

  test("gcTransaction() never trusts a comment whose hash does not match the chain", () => {
    const saved = dump([entry("cbr0", "a", "CNI-DN-000000000000000000000")], ["CNI-HOSTPORT-DNAT", "CNI-DN-000000000000000000000"]);
    expect(gcTransaction("cbr0", new Set(), saved)).toBeUndefined();
  });
});
