// macspoofchk: frames entering the bridge from the pod's host veth must carry the pod's MAC, else they are
// dropped. The same nftables objects as the reference (containernetworking/plugins pkg/link/spoofcheck.go):
// table `bridge nat`, base chain `PREROUTING` (filter, prerouting, priority -300), chains
// `cni-br-iface-<cid>-<ifname>` and `…-mac`, every rule commented `macspoofchk-<cid>-<ifname>`.
// Each call is one `nft -f -` script, applied by nft as one transaction.
import { CniCode, CniError } from "../../../shared/cni/errors.ts";

export interface SpoofCheckTarget {
  containerId: string;
  ifname: string;
}

const TABLE = "bridge nat";

function ids(t: SpoofCheckTarget): { chain: string; macChain: string; comment: string } {
  const ref = `${t.containerId}-${t.ifname}`;
  return { chain: `cni-br-iface-${ref}`, macChain: `cni-br-iface-${ref}-mac`, comment: `macspoofchk-${ref}` };
}

/** The nft script installing the check for `hostVeth` and the pod's `mac`. */
export function spoofCheckScript(t: SpoofCheckTarget, hostVeth: string, mac: string): string {
  const { chain, macChain, comment } = ids(t);
  const c = `comment "${comment}"`;
  return [
    `add table ${TABLE}`,
    `add chain ${TABLE} PREROUTING { type filter hook prerouting priority -300; policy accept; }`,
    `add chain ${TABLE} ${chain}`,
    `add chain ${TABLE} ${macChain}`,
    `flush chain ${TABLE} ${chain}`,
    `flush chain ${TABLE} ${macChain}`,
    `add rule ${TABLE} PREROUTING iifname "${hostVeth}" jump ${chain} ${c}`,
    `add rule ${TABLE} ${chain} jump ${macChain} ${c}`,
    `add rule ${TABLE} ${macChain} ether saddr ${mac} return ${c}`,
    `add rule ${TABLE} ${macChain} drop ${c}`,
    "",
  ].join("\n");
}

/** The nft script removing the PREROUTING rules with `handles` and both chains (created first, so absent is fine). */
export function spoofCheckTeardownScript(t: SpoofCheckTarget, handles: readonly number[]): string {
  const { chain, macChain } = ids(t);
  return [
    ...handles.map((h) => `delete rule ${TABLE} PREROUTING handle ${h}`),
    `add chain ${TABLE} ${chain}`,
    `add chain ${TABLE} ${macChain}`,
    `flush chain ${TABLE} ${chain}`,
    `flush chain ${TABLE} ${macChain}`,
    `delete chain ${TABLE} ${chain}`,
    `delete chain ${TABLE} ${macChain}`,
    "",
  ].join("\n");
}

/** Handles of the PREROUTING rules carrying the target's comment, from `nft -j list chain bridge nat PREROUTING`. */
export function preroutingHandles(t: SpoofCheckTarget, json: string): number[] {
  const { comment } = ids(t);
  const doc = JSON.parse(json) as { nftables?: Array<{ rule?: { comment?: string; handle?: number } }> };
  return (doc.nftables ?? []).flatMap((o) => (o.rule?.comment === comment && typeof o.rule.handle === "number" ? [o.rule.handle] : []));
}

function nft(args: string[], input?: string): { ok: boolean; stdout: string; stderr: string } {
  const exe = Bun.which("nft", { PATH: process.env.PATH || "/usr/sbin:/usr/bin:/sbin:/bin" });
  if (!exe) throw new CniError(CniCode.Internal, "Cannot set up macspoofchk: nft is not installed", "install the nftables package");
  const p = Bun.spawnSync([exe, ...args], { stdin: input === undefined ? "ignore" : Buffer.from(input), stdout: "pipe", stderr: "pipe" });
  return { ok: p.exitCode === 0, stdout: p.stdout.toString(), stderr: p.stderr.toString().trim() };
}

/** @throws {CniError} when nft refuses the rules */
export function setupSpoofCheck(t: SpoofCheckTarget, hostVeth: string, mac: string): void {
  const r = nft(["-f", "-"], spoofCheckScript(t, hostVeth, mac));
  if (!r.ok) throw new CniError(CniCode.Internal, "failed to setup spoof-check", r.stderr);
}

/** Removes the check; a missing table or chain is not an error. @throws {CniError} when nft refuses */
export function teardownSpoofCheck(t: SpoofCheckTarget): void {
  const list = nft(["-j", "list", "chain", "bridge", "nat", "PREROUTING"]);
  if (!list.ok) return; // no bridge nat table or PREROUTING chain: nothing of ours can be there
  const r = nft(["-f", "-"], spoofCheckTeardownScript(t, preroutingHandles(t, list.stdout)));
  if (!r.ok) throw new CniError(CniCode.Internal, "failed to teardown spoof-check", r.stderr);
}
