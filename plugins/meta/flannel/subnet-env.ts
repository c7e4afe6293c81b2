// flanneld's subnet.env (written by flannel-io/flannel pkg/subnet WriteSubnetFile), parsed as flannel-io/cni-plugin
// flannel.go loadFlannelSubnetEnv does (cni-notes §3.2): KEY=VALUE lines, unknown keys ignored, comma lists for
// the network keys with duplicates dropped, subnets reduced to their network, last repeated key wins.
// Unlike the reference, a known key without "=" is an error, not a panic, and every error names the file.
import { readFileSync } from "node:fs";
import { formatCidr, networkOf, parseCidr, sameCidr, type Cidr } from "./cidr.ts";

export interface SubnetEnv {
  /** FLANNEL_NETWORK: the cluster's IPv4 networks (host bits cleared, deduplicated). */
  networks: string[];
  /** FLANNEL_SUBNET as a network, e.g. "10.244.1.0/24". */
  subnet?: string;
  /** FLANNEL_IPV6_NETWORK. */
  ipv6Networks: string[];
  /** FLANNEL_IPV6_SUBNET as a network. */
  ipv6Subnet?: string;
  mtu: number;
  /** FLANNEL_IPMASQ: true only for the exact text "true". */
  ipMasq: boolean;
}

/** Why a subnet file cannot be used; `kind` tells a file that is not there from one that is wrong. */
export class SubnetEnvError extends Error {
  readonly file: string;
  readonly kind: "missing" | "unreadable" | "incomplete" | "malformed";
  readonly missingKeys: string[];
  constructor(file: string, kind: SubnetEnvError["kind"], message: string, missingKeys: string[] = []) {
    super(message);
    this.name = "SubnetEnvError";
    this.file = file;
    this.kind = kind;
    this.missingKeys = missingKeys;
  }
}

const MAX_UINT32 = 4294967295;

/**
 * Parses the text of a subnet file; `file` only names it in errors.
 * @throws {SubnetEnvError} "malformed" for a bad value, "incomplete" when required keys are missing
 */
export function parseSubnetEnv(text: string, file: string): SubnetEnv {
  let networks: Cidr[] | undefined;
  let ipv6Networks: Cidr[] | undefined;
  let subnet: Cidr | undefined;
  let ipv6Subnet: Cidr | undefined;
  let mtu: number | undefined;
  let ipMasq: boolean | undefined;

  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  lines.forEach((raw, i) => {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw; // Go's bufio.ScanLines drops a trailing \r
    const eq = line.indexOf("=");
    const key = eq < 0 ? line : line.slice(0, eq);
    const value = eq < 0 ? undefined : line.slice(eq + 1);
    if (!KNOWN_KEYS.has(key)) return;
    const bad = (why: string) => new SubnetEnvError(file, "malformed", `${file} line ${i + 1}: ${key}: ${why}`);
    if (value === undefined) throw bad(`no "=" and value`);
    const cidr = (s: string): Cidr => {
      try {
        return parseCidr(s);
      } catch (e) {
        throw bad((e as Error).message);
      }
    };
    switch (key) {
      case "FLANNEL_NETWORK":
        networks = dedupe(value.split(",").map((s) => networkOf(cidr(s))));
        break;
      case "FLANNEL_IPV6_NETWORK":
        ipv6Networks = dedupe(value.split(",").map((s) => networkOf(cidr(s))));
        break;
      case "FLANNEL_SUBNET":
        subnet = networkOf(cidr(value));
        break;
      case "FLANNEL_IPV6_SUBNET":
        ipv6Subnet = networkOf(cidr(value));
        break;
      case "FLANNEL_MTU":
        if (!/^\d+$/.test(value) || Number(value) > MAX_UINT32) throw bad(`"${value}" is not an unsigned integer`);
        mtu = Number(value);
        break;
      case "FLANNEL_IPMASQ":
        ipMasq = value === "true";
        break;
    }
  });

  const missing: string[] = [];
  if (!networks?.length && !ipv6Networks?.length) missing.push("FLANNEL_NETWORK", "FLANNEL_IPV6_NETWORK");
  if (!subnet && !ipv6Subnet) missing.push("FLANNEL_SUBNET", "FLANNEL_IPV6_SUBNET");
  if (mtu === undefined) missing.push("FLANNEL_MTU");
  if (ipMasq === undefined) missing.push("FLANNEL_IPMASQ");
  if (missing.length || mtu === undefined || ipMasq === undefined) {
    throw new SubnetEnvError(file, "incomplete", `${file} is missing ${missing.join(", ")}`, missing);
  }
  const out: SubnetEnv = {
    networks: (networks ?? []).map(formatCidr),
    ipv6Networks: (ipv6Networks ?? []).map(formatCidr),
    mtu,
    ipMasq,
  };
  if (subnet) out.subnet = formatCidr(subnet);
  if (ipv6Subnet) out.ipv6Subnet = formatCidr(ipv6Subnet);
  return out;
}

const KNOWN_KEYS = new Set(["FLANNEL_NETWORK", "FLANNEL_SUBNET", "FLANNEL_IPV6_NETWORK", "FLANNEL_IPV6_SUBNET", "FLANNEL_MTU", "FLANNEL_IPMASQ"]);

function dedupe(xs: Cidr[]): Cidr[] {
  const out: Cidr[] = [];
  for (const x of xs) if (!out.some((y) => sameCidr(x, y))) out.push(x);
  return out;
}

/**
 * Reads and parses the subnet file.
 * @throws {SubnetEnvError} "missing" when it does not exist, "unreadable" for other read errors, else as parseSubnetEnv
 */
export function loadSubnetEnv(file: string): SubnetEnv {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new SubnetEnvError(file, "missing", `${file} does not exist`);
    throw new SubnetEnvError(file, "unreadable", `cannot read ${file}: ${(e as Error).message}`);
  }
  return parseSubnetEnv(text, file);
}
