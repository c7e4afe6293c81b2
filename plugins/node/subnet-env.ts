// subnet.env, the file the flannel CNI plugin reads: written atomically (temp file + rename, mode 0644 whatever the
// umask) in flanneld's exact format (pkg/subnet/subnet.go WriteSubnetFile), and read back for the previous subnet.
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { type Cidr4, formatCidr4, formatIp4, tryParseCidr4 } from "./ip4.ts";

export interface SubnetEnv {
  network: Cidr4;
  subnet: Cidr4;
  mtu: number;
  ipMasq: boolean;
}

/** The file's text: `FLANNEL_SUBNET` is the subnet's first host address with the subnet's length, as flanneld writes it. */
export function formatSubnetEnv(e: SubnetEnv): string {
  return (
    `FLANNEL_NETWORK=${formatCidr4(e.network)}\n` +
    `FLANNEL_SUBNET=${formatIp4((e.subnet.ip + 1) >>> 0)}/${e.subnet.len}\n` +
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
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
  for (const line of text.split("\n")) {
    const m = /^\s*FLANNEL_SUBNET\s*=\s*"?([^"\s]*)"?\s*$/.exec(line);
    if (!m) continue;
    const parts = m[1]!.split(",");
    if (parts.length !== 1) return undefined;
    return tryParseCidr4(parts[0]!);
  }
  return undefined;
}
