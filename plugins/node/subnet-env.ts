// subnet.env, the file the flannel CNI plugin reads: written atomically (temp file + rename, mode 0644 whatever the
// umask) in flanneld's exact format (pkg/subnet/subnet.go WriteSubnetFile), and read back for the previous subnet.
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { type Cidr4, formatCidr4, formatIp4, tryParseCidr4 } from "./ip4.ts";
import { type Cidr6, type LeaseKey, formatCidr6, formatIp6, tryParseCidr6 } from "./ip6.ts";

export interface SubnetEnv {
  network: Cidr4;
  subnet: Cidr4;
  /** Dual stack: FLANNEL_IPV6_NETWORK and FLANNEL_IPV6_SUBNET. */
  ipv6?: { network: Cidr6; subnet: Cidr6 };
  mtu: number;
  ipMasq: boolean;
}

/**
 * The file's text: `FLANNEL_SUBNET` (and `FLANNEL_IPV6_SUBNET`) is the subnet's first host address with the subnet's
 * length, as flanneld writes it; the IPv6 lines follow the IPv4 ones.
 */
export function formatSubnetEnv(e: SubnetEnv): string {
  return (
    `FLANNEL_NETWORK=${formatCidr4(e.network)}\n` +
    `FLANNEL_SUBNET=${formatIp4((e.subnet.ip + 1) >>> 0)}/${e.subnet.len}\n` +
    (e.ipv6 ? `FLANNEL_IPV6_NETWORK=${formatCidr6(e.ipv6.network)}\nFLANNEL_IPV6_SUBNET=${formatIp6(e.ipv6.subnet.ip + 1n)}/${e.ipv6.subnet.len}\n` : "") +
    `FLANNEL_MTU=${e.mtu}\n` +
    `FLANNEL_IPMASQ=${e.ipMasq}\n`
  );
}

/** Writes the file atomically; creates its directory (0755) as flanneld does. */
export function writeSubnetEnv(path: string, e: SubnetEnv): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, formatSubnetEnv(e), { mode: 0o644 });
    chmodSync(tmp, 0o644);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * The subnet in an existing subnet.env (`FLANNEL_SUBNET`, turned back into its network), or undefined when the file
 * is missing or holds none. A comma list with more than one entry is ignored, as flanneld ignores it.
 */
export function readPreviousSubnet(path: string): Cidr4 | undefined {
  const v = readValue(path, "FLANNEL_SUBNET");
  return v === undefined ? undefined : tryParseCidr4(v);
}

/** Both subnets of an existing subnet.env (FLANNEL_SUBNET, FLANNEL_IPV6_SUBNET), each only when present and valid. */
export function readPreviousSubnets(path: string): Partial<LeaseKey> {
  const subnet = readPreviousSubnet(path);
  const v6 = readValue(path, "FLANNEL_IPV6_SUBNET");
  const ipv6Subnet = v6 === undefined ? undefined : tryParseCidr6(v6);
  return { ...(subnet ? { subnet } : {}), ...(ipv6Subnet ? { ipv6Subnet } : {}) };
}

/** The single value of `key`, or undefined (no file, no key, or a comma list). */
function readValue(path: string, key: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
  for (const line of text.split("\n")) {
    const m = /^\s*([A-Z0-9_]+)\s*=\s*"?([^"\s]*)"?\s*$/.exec(line);
    if (!m || m[1] !== key) continue;
    const parts = m[2]!.split(",");
    return parts.length === 1 ? parts[0]! : undefined;
  }
  return undefined;
}
