import { expect, test } from "bun:test";
import { preroutingHandles, spoofCheckScript, spoofCheckTeardownScript } from "./spoofcheck.ts";

const t = { containerId: "abc123", ifname: "eth0" };

test("spoofCheckScript() builds the reference's table, chains, rules and comments in one script", () => {
  expect(spoofCheckScript(t, "veth0f2dff50", "3e:05:83:87:4a:83")).toBe(
    [
      "add table bridge nat",
      "add chain bridge nat PREROUTING { type filter hook prerouting priority -300; policy accept; }",
      "add chain bridge nat cni-br-iface-abc123-eth0",
      "add chain bridge nat cni-br-iface-abc123-eth0-mac",
      "flush chain bridge nat cni-br-iface-abc123-eth0",
      "flush chain bridge nat cni-br-iface-abc123-eth0-mac",
      'add rule bridge nat PREROUTING iifname "veth0f2dff50" jump cni-br-iface-abc123-eth0 comment "macspoofchk-abc123-eth0"',
      'add rule bridge nat cni-br-iface-abc123-eth0 jump cni-br-iface-abc123-eth0-mac comment "macspoofchk-abc123-eth0"',
      'add rule bridge nat cni-br-iface-abc123-eth0-mac ether saddr 3e:05:83:87:4a:83 return comment "macspoofchk-abc123-eth0"',
      'add rule bridge nat cni-br-iface-abc123-eth0-mac drop comment "macspoofchk-abc123-eth0"',
      "",
    ].join("\n"),
  );
});

test("spoofCheckTeardownScript() deletes the given PREROUTING rules, then both chains (created first so absence is fine)", () => {
  const s = spoofCheckTeardownScript(t, [4, 9]).split("\n");
  expect(s.slice(0, 2)).toEqual(["delete rule bridge nat PREROUTING handle 4", "delete rule bridge nat PREROUTING handle 9"]);
  expect(s.indexOf("add chain bridge nat cni-br-iface-abc123-eth0")).toBeLessThan(s.indexOf("delete chain bridge nat cni-br-iface-abc123-eth0"));
});

test("preroutingHandles() picks the rules carrying this attachment's comment only", () => {
  const json = JSON.stringify({
    nftables: [
      { metainfo: {} },
      { chain: { name: "PREROUTING" } },
      { rule: { handle: 4, comment: "macspoofchk-abc123-eth0" } },
      { rule: { handle: 5, comment: "macspoofchk-abc123-eth1" } },
      { rule: { handle: 6 } },
    ],
  });
  expect(preroutingHandles(t, json)).toEqual([4]);
});
