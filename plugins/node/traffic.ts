// flanneld's iptables rules (pkg/trafficmngr/iptables/iptables.go): nat chain FLANNEL-POSTRTG (with --ip-masq)
// and filter chain FLANNEL-FWD (with --iptables-forward-rules), each reached by a jump from POSTROUTING/FORWARD.
// ensureRules() compares with iptables-save and rewrites a chain in one iptables-restore transaction only when
// it differs, so it is cheap to call every resync. A dual-stack network gets the same chains from ip6tables for
// IPv6Network (multicast ff00::/8 instead of 224.0.0.0/4), as flanneld's IPv6 rules.
import { type SavedTable, parseSave, restore, ruleLine, save, splitRuleArgs } from "../../shared/iptables/index.ts";
import { type Cidr4, formatCidr4 } from "./ip4.ts";
import { type Cidr6, formatCidr6 } from "./ip6.ts";

const MASQ_COMMENT = ["-m", "comment", "--comment", "flanneld masq"];
const FWD_COMMENT = ["-m", "comment", "--comment", "flanneld forward"];
/** kube-proxy's mark for traffic it already handles (KubeProxyMark). */
const KUBE_PROXY_MARK = "0x4000/0x4000";

interface ChainSpec {
  table: "nat" | "filter";
  chain: string;
  from: string;
  jump: string[];
  rules: string[][];
}

/** The rules flanneld installs for `network` and our `subnet`, in its order. */
export function desiredChains(o: { network: Cidr4; subnet: Cidr4; ipMasq: boolean; forward: boolean }): ChainSpec[] {
  return chainsFor({ n: formatCidr4(o.network), s: formatCidr4(o.subnet), multicast: "224.0.0.0/4", ipMasq: o.ipMasq, forward: o.forward });
}

/** The ip6tables rules flanneld installs for `IPv6Network` and our IPv6 subnet. */
export function desiredChains6(o: { network: Cidr6; subnet: Cidr6; ipMasq: boolean; forward: boolean }): ChainSpec[] {
  return chainsFor({ n: formatCidr6(o.network), s: formatCidr6(o.subnet), multicast: "ff00::/8", ipMasq: o.ipMasq, forward: o.forward });
}

function chainsFor(o: { n: string; s: string; multicast: string; ipMasq: boolean; forward: boolean }): ChainSpec[] {
  const { n, s } = o;
  const out: ChainSpec[] = [];
  if (o.ipMasq) {
    out.push({
      table: "nat",
      chain: "FLANNEL-POSTRTG",
      from: "POSTROUTING",
      jump: [...MASQ_COMMENT, "-j", "FLANNEL-POSTRTG"],
      rules: [
        ["-m", "mark", "--mark", KUBE_PROXY_MARK, ...MASQ_COMMENT, "-j", "RETURN"],
        ["-s", s, "-d", n, ...MASQ_COMMENT, "-j", "RETURN"],
        ["-s", n, "-d", s, ...MASQ_COMMENT, "-j", "RETURN"],
        ["!", "-s", n, "-d", s, ...MASQ_COMMENT, "-j", "RETURN"],
        ["-s", n, "!", "-d", o.multicast, ...MASQ_COMMENT, "-j", "MASQUERADE", "--random-fully"],
        ["!", "-s", n, "-d", n, ...MASQ_COMMENT, "-j", "MASQUERADE", "--random-fully"],
      ],
    });
  }
  if (o.forward) {
    out.push({
      table: "filter",
      chain: "FLANNEL-FWD",
      from: "FORWARD",
      jump: [...FWD_COMMENT, "-j", "FLANNEL-FWD"],
      rules: [
        ["-s", n, ...FWD_COMMENT, "-j", "ACCEPT"],
        ["-d", n, ...FWD_COMMENT, "-j", "ACCEPT"],
      ],
    });
  }
  return out;
}

/** A rule's identity whatever order iptables-save prints its options in (`/32`, `/128` suffixes dropped as iptables does). */
function ruleId(args: readonly string[]): string {
  return [...args].map((a) => a.replace(/\/(32|128)$/, "")).sort().join(" ");
}

function chainMatches(t: SavedTable, c: ChainSpec): { chain: boolean; jump: boolean } {
  const have = t.rules.filter((r) => r.chain === c.chain).map((r) => ruleId(splitRuleArgs(r.spec)));
  const want = c.rules.map(ruleId);
  const jump = t.rules.some((r) => r.chain === c.from && ruleId(splitRuleArgs(r.spec)) === ruleId(c.jump));
  return { chain: t.chains.has(c.chain) && have.length === want.length && have.every((h, i) => h === want[i]), jump };
}

/**
 * Makes the chains exactly as desired; returns the names of the chains it had to (re)write.
 * @throws {IptablesError}
 */
export function ensureRules(chains: readonly ChainSpec[], family: 4 | 6 = 4): string[] {
  const fixed: string[] = [];
  for (const table of ["nat", "filter"] as const) {
    const mine = chains.filter((c) => c.table === table);
    if (mine.length === 0) continue;
    const t = parseSave(save(family, table), table);
    const decls: string[] = [];
    const lines: string[] = [];
    for (const c of mine) {
      const m = chainMatches(t, c);
      if (m.chain && m.jump) continue;
      fixed.push(c.chain);
      // declaring a chain under --noflush empties it, so the rules below replace whatever was there
      decls.push(`:${c.chain} - [0:0]`);
      lines.push(...c.rules.map((r) => ruleLine("-A", c.chain, r)));
      if (!m.jump) lines.push(ruleLine("-A", c.from, c.jump));
    }
    if (lines.length > 0) restore(family, `*${table}\n${[...decls, ...lines].join("\n")}\nCOMMIT\n`);
  }
  return fixed;
}
