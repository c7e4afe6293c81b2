// Is an attachment still alive? Its netns file must exist and be a netns, and its interface must exist in it.
// The interface is looked up in /proc/thread-self/net/dev after entering the netns (per-thread, no netlink
// needed). cnitool-style container IDs (cnitool-<sha512(netns path)>) are matched back to named netns.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { NetnsNotFoundError, NotANetnsError, checkNetnsPath, withNetns } from "../../shared/netns/index.ts";

export type Liveness = "alive" | "netns-gone" | "not-a-netns" | "interface-gone" | "unknown";

/** cnitool's container ID for a netns path: "cnitool-" + hex of the first 10 bytes of SHA-512(path). */
export function cnitoolContainerId(absNetns: string): string {
  return `cnitool-${createHash("sha512").update(absNetns).digest("hex").slice(0, 20)}`;
}

export function netnsState(path: string): "present" | "gone" | "not-a-netns" {
  try {
    checkNetnsPath(path);
    return "present";
  } catch (e) {
    if (e instanceof NetnsNotFoundError) return "gone";
    if (e instanceof NotANetnsError) return "not-a-netns";
    return "gone";
  }
}

/** Interface names in the netns at `path`. @throws when the netns cannot be entered */
export function interfacesIn(path: string): string[] {
  const text = withNetns(path, () => readFileSync("/proc/thread-self/net/dev", "utf8"));
  return text
    .split("\n")
    .slice(2)
    .map((l) => l.split(":")[0]?.trim() ?? "")
    .filter((n) => n !== "");
}

export function liveness(netns: string | undefined, ifname: string): Liveness {
  if (!netns) return "unknown";
  const s = netnsState(netns);
  if (s === "gone") return "netns-gone";
  if (s === "not-a-netns") return "not-a-netns";
  try {
    return interfacesIn(netns).includes(ifname) ? "alive" : "interface-gone";
  } catch {
    return "unknown";
  }
}

/** Named netns paths (/run/netns, /var/run/netns) by the cnitool container ID they would get. */
export function cnitoolIdsOfNamedNetns(): Map<string, string> {
  const out = new Map<string, string>();
  for (const dir of ["/run/netns", "/var/run/netns"]) {
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const n of names) out.set(cnitoolContainerId(join(dir, n)), join(dir, n));
  }
  return out;
}
