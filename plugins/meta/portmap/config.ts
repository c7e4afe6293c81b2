// The portmap plugin's config: the raw keys (the reference's PortMapConf, plugins/meta/portmap/main.go v1.9.1)
// and the resolved Config with every default applied in one place (resolveConfig). Ranges and cross-key rules
// are checked here, each with code 7 (or 2 for a value weft does not support) and a sentence naming the key.
import { CniCode, CniError } from "../../../shared/cni/errors.ts";
import { printable } from "../../../shared/cni/names.ts";
import { parseConfig } from "../../../shared/config/index.ts";
import gen from "../../../shared/config/gen/portmap.js";
import { tryParseIp, type IpFamily } from "../../../shared/ip/index.ts";

/** One entry of `runtimeConfig.portMappings` (CONVENTIONS.md; containerd sends the keys capitalised). */
export interface PortMappingRaw {
  hostPort: number;
  containerPort: number;
  protocol?: string | null;
  hostIP?: string | null;
}

/** The config as received (keys matched case-insensitively; null means absent, as in Go). */
export interface PortmapNetConf {
  cniVersion?: string | null;
  name: string;
  type?: string | null;
  backend?: string | null;
  snat?: boolean | null;
  masqAll?: boolean | null;
  markMasqBit?: number | null;
  externalSetMarkChain?: string | null;
  conditionsV4?: string[] | null;
  conditionsV6?: string[] | null;
  runtimeConfig?: { portMappings?: PortMappingRaw[] | null } | null;
}

export type Protocol = "tcp" | "udp" | "sctp";
const PROTOCOLS: readonly Protocol[] = ["tcp", "udp", "sctp"];

/** A validated port mapping. */
export interface PortMapping {
  hostPort: number;
  containerPort: number;
  /** Lower-cased. @default "tcp" */
  protocol: Protocol;
  /** The host address to match, canonical; undefined when not given. */
  hostIP?: { address: string; family: IpFamily; unspecified: boolean };
}

/** The resolved config. */
export interface Config {
  network: string;
  /** Mark hairpin and localhost traffic for masquerade. @default true */
  snat: boolean;
  /** Masquerade hairpin traffic from any source, not only the pod's subnet (v1.9.1). @default false */
  masqAll: boolean;
  /** The chain that marks packets for masquerade: weft's CNI-HOSTPORT-SETMARK, or `externalSetMarkChain`. */
  setMarkChain: string;
  /** True when the mark chain is someone else's (externalSetMarkChain): weft then creates no SETMARK/MASQ chain. */
  externalSetMark: boolean;
  /** The mark bit of CNI-HOSTPORT-SETMARK. @default 13 (Kubernetes uses 14 and 15, Calico 20-31) */
  markBit: number;
  /** Extra match arguments for the per-container entry rule. @default [] */
  conditionsV4: string[];
  /** @default [] */
  conditionsV6: string[];
  /** @default [] */
  mappings: PortMapping[];
}

export const SETMARK_CHAIN = "CNI-HOSTPORT-SETMARK";
export const DEFAULT_MARK_BIT = 13;

function invalid(msg: string, details = ""): CniError {
  return new CniError(CniCode.InvalidConfig, msg, details);
}

/** The reference tells iptables conditions from nftables ones by the first token (v1.9.1 detectBackendOfConditions). */
function isNftStyle(conditions: string[] | null | undefined): boolean {
  const first = conditions?.[0];
  return first !== undefined && first !== "" && first[0] !== "-" && first[0] !== "!";
}

function checkPort(value: number, key: string, what: string): void {
  if (value < 1 || value > 65535) {
    throw invalid(`Invalid ${what} port number: ${value}`, `"${key}" must be between 1 and 65535`);
  }
}

function resolveMapping(m: PortMappingRaw, i: number): PortMapping {
  const key = `runtimeConfig.portMappings[${i}]`;
  checkPort(m.containerPort, `${key}.containerPort`, "container");
  checkPort(m.hostPort, `${key}.hostPort`, "host");
  const proto = (m.protocol ?? "").toLowerCase() || "tcp";
  if (!(PROTOCOLS as readonly string[]).includes(proto)) {
    throw invalid(`Unknown protocol "${printable(m.protocol ?? "")}" in "${key}.protocol"`, "use tcp, udp or sctp");
  }
  const out: PortMapping = { hostPort: m.hostPort, containerPort: m.containerPort, protocol: proto as Protocol };
  if (m.hostIP) {
    const ip = tryParseIp(m.hostIP);
    if (!ip) throw invalid(`Invalid host IP "${printable(m.hostIP)}" in "${key}.hostIP"`, "it must be an IPv4 or IPv6 address, or be left out for every address");
    out.hostIP = { address: ip.address, family: ip.family, unspecified: /^(0\.0\.0\.0|::)$/.test(ip.address) };
  }
  return out;
}

/**
 * Validates the raw config and applies every default.
 * @throws {CniError} code 7 for a bad value, code 2 for `backend: "nftables"` (not implemented by weft)
 */
export function resolveConfig(raw: unknown): Config {
  const c = parseConfig<PortmapNetConf>(gen, raw);
  const backend = c.backend ?? "iptables";
  if (backend === "nftables") {
    throw new CniError(CniCode.UnsupportedField, `backend "nftables" is not supported by weft portmap`, `weft programs iptables only (as the reference v1.1.1 does); remove "backend" or set it to "iptables"`);
  }
  if (backend !== "iptables") throw invalid(`Unknown backend "${printable(backend)}"`, `"backend" must be "iptables"`);
  for (const key of ["conditionsV4", "conditionsV6"] as const) {
    const bad = c[key]?.findIndex((t) => /[\n\r\0]/.test(t)) ?? -1;
    if (bad >= 0) throw invalid(`Invalid "${key}[${bad}]"`, "an iptables argument cannot contain a newline or NUL");
    if (isNftStyle(c[key])) {
      throw invalid(`iptables backend was requested but configuration contains nftables-specific options [${key}]`, `iptables conditions start with "-" or "!"`);
    }
  }
  const hasBit = c.markMasqBit !== undefined && c.markMasqBit !== null;
  const external = c.externalSetMarkChain ?? undefined;
  if (hasBit && external !== undefined) {
    throw invalid("Cannot specify externalSetMarkChain and markMasqBit", "they are mutually exclusive: keep one");
  }
  const markBit = c.markMasqBit ?? DEFAULT_MARK_BIT;
  if (markBit < 0 || markBit > 31) throw invalid("MasqMarkBit must be between 0 and 31", `"markMasqBit" is ${markBit}`);
  if (external !== undefined && !/^[A-Za-z0-9_.-]{1,28}$/.test(external)) {
    throw invalid(`Invalid externalSetMarkChain "${printable(external)}"`, "an iptables chain name is 1-28 letters, digits, '_', '.' or '-'");
  }
  return {
    network: c.name,
    snat: c.snat ?? true,
    masqAll: c.masqAll ?? false,
    setMarkChain: external ?? SETMARK_CHAIN,
    externalSetMark: external !== undefined,
    markBit,
    conditionsV4: c.conditionsV4 ?? [],
    conditionsV6: c.conditionsV6 ?? [],
    mappings: (c.runtimeConfig?.portMappings ?? []).map(resolveMapping),
  };
}
