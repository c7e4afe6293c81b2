// The bridge plugin's config: the raw keys (as the reference's NetConf in plugins/main/bridge/bridge.go v1.9.1)
// and the resolved Config with every default applied in one place (resolveConfig). Cross-key rules and ranges
// are checked here, with code 7 and a sentence naming the key.
import { loadCniArgs } from "../../../shared/cni/args.ts";
import { CniCode, CniError } from "../../../shared/cni/errors.ts";
import { ifnameProblem, printable } from "../../../shared/cni/names.ts";
import type { DNS } from "../../../shared/cni/result.ts";
import { parseConfig } from "../../../shared/config/index.ts";
import gen from "../../../shared/config/gen/bridge.js";

export interface VlanTrunkEntry {
  id?: number | null;
  minID?: number | null;
  maxID?: number | null;
}

/** The config as received (keys matched case-insensitively; null means absent, as in Go). */
export interface BridgeNetConf {
  cniVersion?: string | null;
  name: string;
  type?: string | null;
  bridge?: string | null;
  isGateway?: boolean | null;
  isDefaultGateway?: boolean | null;
  forceAddress?: boolean | null;
  ipMasq?: boolean | null;
  ipMasqBackend?: string | null;
  mtu?: number | null;
  hairpinMode?: boolean | null;
  promiscMode?: boolean | null;
  vlan?: number | null;
  vlanTrunk?: VlanTrunkEntry[] | null;
  preserveDefaultVlan?: boolean | null;
  enabledad?: boolean | null;
  macspoofchk?: boolean | null;
  disableContainerInterface?: boolean | null;
  portIsolation?: boolean | null;
  ipam?: { type?: string | null } | null;
  dns?: { nameservers?: string[] | null; domain?: string | null; search?: string[] | null; options?: string[] | null } | null;
  args?: { cni?: { mac?: string | null } | null } | null;
  runtimeConfig?: { mac?: string | null } | null;
}

/** The resolved config: defaults applied, derived values computed. */
export interface Config {
  network: string;
  /** @default "cni0" */
  bridge: string;
  /** @default false; forced on by isDefaultGateway */
  isGateway: boolean;
  /** @default false */
  isDefaultGateway: boolean;
  /** @default false */
  forceAddress: boolean;
  /** @default false */
  ipMasq: boolean;
  /** Only "iptables" (or absent) is supported; checked on ADD. */
  ipMasqBackend: string | undefined;
  /** MTU of a newly created bridge and of both veth ends; 0 = kernel default. @default 0 */
  mtu: number;
  /** @default false */
  hairpinMode: boolean;
  /** @default false */
  promiscMode: boolean;
  /** Access VLAN of the host port; 0 = none. @default 0 */
  vlan: number;
  /** Tagged VLANs of the host port (vlanTrunk expanded, sorted, unique). @default [] */
  trunk: number[];
  /** VLAN filtering for a bridge this ADD creates: on when "vlan" or "vlanTrunk" is given. */
  vlanFiltering: boolean;
  /** @default false */
  preserveDefaultVlan: boolean;
  /** @default false (DAD disabled: plugins#680) */
  enableDad: boolean;
  /** @default false */
  macSpoofCheck: boolean;
  /** @default false */
  disableContainerInterface: boolean;
  /** @default false */
  portIsolation: boolean;
  /** IPAM plugin type; undefined = layer 2 only. */
  ipamType: string | undefined;
  /** DNS from the config; when set it replaces the IPAM's in the result. */
  dns: DNS | undefined;
  /** Pod MAC: runtimeConfig.mac > args.cni.mac > CNI_ARGS MAC= (lower-case, colon form). */
  mac: string | undefined;
}

const MIN_MTU = 68; // IPv4's minimum (RFC 791); the kernel refuses less on ethernet-like devices
const MAX_MTU = 65535; // ETH_MAX_MTU: the max_mtu of both bridge and veth

function invalid(msg: string, details = ""): CniError {
  return new CniError(CniCode.InvalidConfig, msg, details);
}

/**
 * Go's net.ParseMAC forms of a 6-byte address (colon, dash or dotted), normalised to lower-case colon form.
 * @throws {CniError} code 7 naming where the value came from
 */
export function parseMac(raw: string, from: string): string {
  const s = raw.trim().toLowerCase();
  let hex: string | undefined;
  if (/^[0-9a-f]{2}([:-])[0-9a-f]{2}(\1[0-9a-f]{2}){4}$/.test(s)) hex = s.replace(/[:-]/g, "");
  else if (/^[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}$/.test(s)) hex = s.replace(/\./g, "");
  if (!hex) throw invalid(`Invalid MAC address "${printable(raw)}" in ${from}`, "expected six hex octets such as 0a:58:0a:f4:01:05");
  if ((Number.parseInt(hex.slice(0, 2), 16) & 1) === 1) {
    throw invalid(`Invalid MAC address "${printable(raw)}" in ${from}`, "it is a multicast address (lowest bit of the first octet set)");
  }
  return hex.match(/../g)!.join(":");
}

/** vlanTrunk expanded into a sorted list of unique VLAN IDs (reference collectVlanTrunk). */
export function expandTrunk(entries: readonly VlanTrunkEntry[]): number[] {
  const ids = new Set<number>();
  entries.forEach((e, i) => {
    const at = `vlanTrunk[${i}]`;
    const min = e.minID ?? undefined;
    const max = e.maxID ?? undefined;
    if (min !== undefined && max === undefined) throw invalid(`"${at}.maxID" is missing: minID and maxID go together`);
    if (min === undefined && max !== undefined) throw invalid(`"${at}.minID" is missing: minID and maxID go together`);
    if (min !== undefined && max !== undefined) {
      if (min < 1 || min > 4094) throw invalid(`"${at}.minID" ${min} is out of range`, "VLAN IDs in a trunk are 1-4094");
      if (max < 1 || max > 4094) throw invalid(`"${at}.maxID" ${max} is out of range`, "VLAN IDs in a trunk are 1-4094");
      if (max < min) throw invalid(`"${at}.minID" ${min} is greater than maxID ${max}`);
      for (let v = min; v <= max; v++) ids.add(v);
    }
    const id = e.id ?? undefined;
    if (id !== undefined) {
      if (id < 1 || id > 4094) throw invalid(`"${at}.id" ${id} is out of range`, "VLAN IDs in a trunk are 1-4094");
      ids.add(id);
    }
  });
  return [...ids].sort((a, b) => a - b);
}

function resolveMac(raw: BridgeNetConf, cniArgs: string): string | undefined {
  // Precedence, lowest first: CNI_ARGS MAC=, then args.cni.mac, then runtimeConfig.mac (the reference's order).
  const fromEnv = loadCniArgs(cniArgs, ["MAC"]).MAC;
  const candidates: Array<[string | null | undefined, string]> = [
    [raw.runtimeConfig?.mac, "runtimeConfig.mac"],
    [raw.args?.cni?.mac, "args.cni.mac"],
    [fromEnv, "CNI_ARGS MAC"],
  ];
  for (const [value, from] of candidates) if (value) return parseMac(value, from);
  return undefined;
}

function resolveDns(d: BridgeNetConf["dns"]): DNS | undefined {
  if (!d) return undefined;
  const out: DNS = {};
  if (d.nameservers) out.nameservers = d.nameservers;
  if (d.domain) out.domain = d.domain;
  if (d.search) out.search = d.search;
  if (d.options) out.options = d.options;
  return Object.keys(out).length ? out : undefined;
}

/**
 * Applies the reference's defaults and checks the values every command needs (DEL and CHECK included).
 * @throws {CniError} code 7 for a bad value
 */
export function resolveConfig(raw: BridgeNetConf, cniArgs: string, command = "ADD"): Config {
  const bridge = raw.bridge || "cni0";
  const mtu = raw.mtu ?? 0;
  const vlan = raw.vlan ?? 0;
  if (vlan < 0 || vlan > 4094) throw invalid(`invalid VLAN ID ${vlan} (must be between 0 and 4094)`, `"vlan" is ${vlan}`);
  const ipamType = raw.ipam?.type || undefined;
  const isDefaultGateway = raw.isDefaultGateway ?? false;
  return {
    network: raw.name,
    bridge,
    isGateway: isDefaultGateway || (raw.isGateway ?? false),
    isDefaultGateway,
    forceAddress: raw.forceAddress ?? false,
    ipMasq: raw.ipMasq ?? false,
    ipMasqBackend: raw.ipMasqBackend ?? undefined,
    mtu,
    hairpinMode: raw.hairpinMode ?? false,
    promiscMode: raw.promiscMode ?? false,
    vlan,
    trunk: expandTrunk(raw.vlanTrunk ?? []),
    vlanFiltering: vlan !== 0 || (raw.vlanTrunk !== undefined && raw.vlanTrunk !== null),
    preserveDefaultVlan: raw.preserveDefaultVlan ?? false,
    enableDad: raw.enabledad ?? false,
    macSpoofCheck: raw.macspoofchk ?? false,
    disableContainerInterface: raw.disableContainerInterface ?? false,
    portIsolation: raw.portIsolation ?? false,
    ipamType,
    dns: resolveDns(raw.dns),
    // Only ADD uses the MAC: a bad MAC= in CNI_ARGS must not make the pod undeletable.
    mac: command === "ADD" ? resolveMac(raw, cniArgs) : undefined,
  };
}

/** Validates the raw config (schema, case-insensitive keys) and resolves it. @throws {CniError} */
export function loadConfig(conf: unknown, cniArgs: string, command = "ADD"): Config {
  return resolveConfig(parseConfig<BridgeNetConf>(gen, conf), cniArgs, command);
}

/**
 * The combinations only ADD refuses (as the reference, so a DEL of such a config still cleans up).
 * @throws {CniError} code 7, or code 2 for an ipMasqBackend weft does not implement
 */
export function checkAddable(c: Config): void {
  const nameProblem = ifnameProblem(c.bridge);
  if (nameProblem) throw invalid(`Invalid "bridge": ${nameProblem}`);
  if (c.mtu !== 0 && (c.mtu < MIN_MTU || c.mtu > MAX_MTU)) {
    throw invalid(`"mtu" ${c.mtu} is out of range`, `use 0 for the kernel default, or ${MIN_MTU}-${MAX_MTU} (the bridge and veth maximum)`);
  }
  if (c.hairpinMode && c.promiscMode) throw invalid("cannot set hairpin mode and promiscuous mode at the same time", 'set only one of "hairpinMode" and "promiscMode"');
  if (c.ipamType && c.disableContainerInterface) {
    throw invalid("cannot use IPAM when DisableContainerInterface flag is set", 'remove "ipam" or "disableContainerInterface"');
  }
  const backend = c.ipMasqBackend;
  if (c.ipMasq && c.ipamType && backend !== undefined && backend !== "iptables") {
    if (backend === "nftables") throw new CniError(CniCode.UnsupportedField, '"ipMasqBackend" "nftables" is not supported by weft', 'use "iptables" (the default)');
    throw invalid(`unknown ipmasq backend "${printable(backend)}"`, 'use "iptables"');
  }
}
