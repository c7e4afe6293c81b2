// The delegate's config, built from flannel's config and subnet.env exactly as flannel-io/cni-plugin does it
// (flannel_linux.go doCmdAdd + getDelegateIPAM, flannel.go cmdAdd; cni-notes §3.3), and serialised as Go
// marshals a map: compact, keys sorted. Pure: no file or process access.
// Keys of `delegate` are matched case-insensitively (Go's decoder of the delegate would), so an override spelt
// "MTU" counts as set and comes out as "mtu".
import { CniCode, CniError } from "../../../shared/cni/errors.ts";
import { formatCidr, formatIp, parseCidr, parseIp } from "./cidr.ts";
import type { FlannelConfig, RouteConf } from "./config.ts";
import type { SubnetEnv } from "./subnet-env.ts";

type Json = Record<string, unknown>;

/** The delegate keys flannel reads or sets, in their canonical spelling. */
const DELEGATE_KEYS = ["type", "name", "ipam", "ipMasq", "mtu", "isGateway", "cniVersion", "runtimeConfig"] as const;

export interface DelegateConfOptions {
  /** Copy flannel's `runtimeConfig` into the delegate's (ADD); GC and STATUS carry none (SPEC §3). */
  withRuntimeConfig: boolean;
}

/**
 * The delegate config for ADD (and, without runtimeConfig, for GC and STATUS).
 * @throws {CniError} code 7 for a `delegate` that sets `name` or `ipam`, a non-string or empty `type`, or a bad `ipam.routes` entry
 */
export function buildDelegateConf(c: FlannelConfig, env: SubnetEnv, o: DelegateConfOptions): Json {
  const d = canonicalKeys(c.delegate);
  if (d.type !== undefined && typeof d.type !== "string") {
    throw new CniError(CniCode.InvalidConfig, "'delegate' dictionary, if present, must have (string) 'type' field", `got ${JSON.stringify(d.type)}`);
  }
  if (d.type === "") throw new CniError(CniCode.InvalidConfig, "'delegate' dictionary has an empty 'type' field", `remove it to use "bridge", or name the plugin to delegate to`);
  if ("name" in d) throw new CniError(CniCode.InvalidConfig, "'delegate' dictionary must not have 'name' field, it'll be set by flannel");
  if ("ipam" in d) throw new CniError(CniCode.InvalidConfig, "'delegate' dictionary must not have 'ipam' field, it'll be set by flannel", `put IPAM settings in flannel's own "ipam" block`);
  if (o.withRuntimeConfig && c.runtimeConfig !== undefined) d.runtimeConfig = c.runtimeConfig;

  d.name = c.name;
  d.type ??= "bridge";
  if (!("ipMasq" in d)) d.ipMasq = !env.ipMasq; // flanneld masquerades itself when it runs with --ip-masq
  if (!("mtu" in d)) d.mtu = env.mtu;
  if (d.type === "bridge" && !("isGateway" in d)) d.isGateway = true;
  if (c.cniVersion !== undefined) d.cniVersion = c.cniVersion;
  d.ipam = delegateIpam(c, env);
  return d;
}

/** flannel's `ipam` block with `type` defaulted, `ranges` replaced by the node's subnets and a route per network. */
function delegateIpam(c: FlannelConfig, env: SubnetEnv): Json {
  const ipam: Json = { ...(c.ipam ?? {}) };
  if (ipam.type === undefined || ipam.type === null) ipam.type = "host-local"; // Go keeps a null type; absent is meant
  const ranges: Json[][] = [];
  if (env.subnet) ranges.push([{ subnet: env.subnet }]);
  if (env.ipv6Subnet) ranges.push([{ subnet: env.ipv6Subnet }]);
  ipam.ranges = ranges;
  const routes = (c.ipam?.routes ?? []).map((r, i) => goRoute(r, i));
  for (const dst of [...env.networks, ...env.ipv6Networks]) routes.push({ dst });
  ipam.routes = routes;
  return ipam;
}

/**
 * A route as Go's types.Route round-trips it: `dst` keeps its host bits, addresses in Go's text form, zero
 * mtu/advmss/priority dropped, table/scope kept when present, other keys dropped.
 */
function goRoute(r: RouteConf, i: number): Json {
  const where = `ipam.routes[${i}]`;
  const fail = (e: unknown) =>
    new CniError(CniCode.InvalidConfig, `failed to assemble Delegate IPAM: failed to read IPAM routes: failed to parse ipam.routes: ${where}: ${(e as Error).message}`);
  const out: Json = {};
  try {
    out.dst = formatCidr(parseCidr(r.dst));
    if (r.gw !== undefined && r.gw !== null && r.gw !== "") out.gw = formatIp(parseIp(r.gw));
  } catch (e) {
    throw fail(e);
  }
  if (r.mtu) out.mtu = r.mtu;
  if (r.advmss) out.advmss = r.advmss;
  if (r.priority) out.priority = r.priority;
  if (r.table !== undefined && r.table !== null) out.table = r.table;
  if (r.scope !== undefined && r.scope !== null) out.scope = r.scope;
  return out;
}

/** A copy of `delegate` with the keys flannel knows respelt canonically (the exact spelling wins over others). */
function canonicalKeys(delegate: Json): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(delegate)) {
    const canonical = DELEGATE_KEYS.find((x) => x.toLowerCase() === k.toLowerCase());
    if (!canonical) out[k] = v;
    else if (canonical === k || !Object.hasOwn(delegate, canonical)) out[canonical] = v;
  }
  return out;
}

/** JSON as Go's encoding/json writes a map[string]interface{}: compact, object keys sorted at every level. */
export function marshalSorted(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (typeof v !== "object" || v === null) return v;
  const out: Json = {};
  for (const k of Object.keys(v).sort()) out[k] = sortKeys((v as Json)[k]);
  return out;
}
