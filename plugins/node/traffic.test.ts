import { expect, test } from "bun:test";
import { tryParseCidr4 } from "./ip4.ts";
import { tryParseCidr6 } from "./ip6.ts";
import { desiredChains, desiredChains6 } from "./traffic.ts";

test("desiredChains6() is flanneld's IPv6 rule set: the IPv4 rules with IPv6Network, our IPv6 subnet and ff00::/8", () => {
  const v4 = desiredChains({ network: tryParseCidr4("10.5.0.0/16")!, subnet: tryParseCidr4("10.5.1.0/24")!, ipMasq: true, forward: true });
  const v6 = desiredChains6({ network: tryParseCidr6("fd00:5::/48")!, subnet: tryParseCidr6("fd00:5:0:1::/64")!, ipMasq: true, forward: true });
  const swap = (a: string) => ({ "10.5.0.0/16": "fd00:5::/48", "10.5.1.0/24": "fd00:5:0:1::/64", "224.0.0.0/4": "ff00::/8" })[a] ?? a;
  expect(v6).toEqual(v4.map((c) => ({ ...c, rules: c.rules.map((r) => r.map(swap)) })));
  expect(v6[0]!.rules[4]).toEqual(["-s", "fd00:5::/48", "!", "-d", "ff00::/8", "-m", "comment", "--comment", "flanneld masq", "-j", "MASQUERADE", "--random-fully"]);
  expect(desiredChains6({ network: tryParseCidr6("fd00:5::/48")!, subnet: tryParseCidr6("fd00:5:0:1::/64")!, ipMasq: false, forward: true }).map((c) => c.chain)).toEqual(["FLANNEL-FWD"]);
});
