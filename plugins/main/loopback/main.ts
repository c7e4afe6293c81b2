// loopback: brings `lo` up in the pod's netns (containerd runs it for every sandbox).
// Matches containernetworking/plugins plugins/main/loopback, except that the result is converted to the
// config's version (the reference labels a 1.x-shaped result with any version; see README).
import { CniCode, CniError } from "../../../shared/cni/errors.ts";
import { formatResult, type Result } from "../../../shared/cni/result.ts";
import { prevResultOf, type CmdArgs, type Plugin } from "../../../shared/cni/skel.ts";
import { openRtnl, type AddrInfo } from "../../../shared/netlink/index.ts";
import { NetnsNotFoundError, withNetns } from "../../../shared/netns/index.ts";

const LOOPBACK_V4 = /^127\./;

function isLoopbackAddr(a: AddrInfo): boolean {
  return a.family === 4 ? LOOPBACK_V4.test(a.address) : a.address === "::1/128";
}

function add(a: CmdArgs): Result {
  const prev = prevResultOf(a.conf);
  // A prevResult the config's version cannot express fails here, before lo is touched (not after, with lo left up).
  if (prev) formatResult(prev, a.cniVersion);
  const addrs = withNetns(a.netns, () => {
    using rtnl = openRtnl();
    const lo = rtnl.getLink("lo");
    rtnl.setUp(lo.index);
    return rtnl.addrs({ index: lo.index });
  });
  const foreign = addrs.find((x) => !isLoopbackAddr(x));
  if (foreign) {
    throw new CniError(CniCode.Internal, "loopback interface found with non-loopback address", `"${foreign.address}" is on lo in ${a.netns}`);
  }
  if (prev) return prev;
  const v4 = addrs.find((x) => x.family === 4);
  const v6 = addrs.find((x) => x.family === 6);
  const ips = [v4, v6].filter((x): x is AddrInfo => x !== undefined).map((x) => ({ interface: 0, address: x.address }));
  return {
    cniVersion: a.cniVersion,
    interfaces: [{ name: "lo", mac: "00:00:00:00:00:00", sandbox: a.netns }],
    ...(ips.length ? { ips } : {}),
  };
}

function del(a: CmdArgs): void {
  if (a.netns === "") return;
  try {
    withNetns(a.netns, () => {
      using rtnl = openRtnl();
      rtnl.setDown(rtnl.getLink("lo").index);
    });
  } catch (e) {
    if (e instanceof NetnsNotFoundError) return; // the pod is gone: nothing to undo
    throw e;
  }
}

function check(a: CmdArgs): void {
  const up = withNetns(a.netns, () => {
    using rtnl = openRtnl();
    return rtnl.getLink("lo").up;
  });
  if (!up) throw new CniError(CniCode.Internal, "loopback interface is down", `in ${a.netns}`);
}

export const plugin: Plugin = { name: "loopback", add, del, check };
