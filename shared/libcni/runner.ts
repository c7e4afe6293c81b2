// Running a network config list like libcni does (libcni/api.go; SPEC §3 "Network configuration lists"):
// ADD in list order chaining prevResult, then the result cached; CHECK in order with the cached result; DEL in
// reverse order with the cached result (config ≥ 0.4.0); GC = DEL of stale cached attachments, then GC to every
// plugin (≥ 1.1.0) continuing on errors; STATUS in order, stopping at the first error (≥ 1.1.0).
import { parseResult, formatResult } from "../cni/result.ts";
import { hasCheck, hasGc, hasPrevResultOnDel, hasStatus } from "../cni/version.ts";
import { type CacheEntry, type CacheRead, deleteCache, listCache, writeCache } from "./cache.ts";
import { effectiveVersion, parseNetworkList, type NetworkList, type PluginConf } from "./conf.ts";
import { LibcniError, PluginError, type Op } from "./errors.ts";
import { execPlugin, findPlugin } from "./exec.ts";
import { goJson, jsonEqual } from "./go-json.ts";

/** One attachment's runtime parameters (libcni RuntimeConf). */
export interface RuntimeConf {
  containerId: string;
  netns: string;
  ifname: string;
  /** CNI_ARGS pairs, in order. */
  args: [string, string][];
  /** Capability arguments; each plugin gets those it declares in `capabilities`, as `runtimeConfig`. */
  capabilityArgs: Record<string, unknown>;
}

export interface RunnerOptions {
  /** Directories searched for plugin binaries (CNI_PATH). */
  cniPath: string[];
  /** Cache root (`/var/lib/cni`); entries live in `<cacheDir>/results`. */
  cacheDir: string;
  /** Environment passed to plugins (the CNI_* variables are set on top of it). */
  env: Readonly<Record<string, string | undefined>>;
  /** Receives the plugins' stderr. */
  stderr(text: string): void;
}

export interface Attachment {
  containerID: string;
  ifname: string;
}

function pluginEnv(o: RunnerOptions, op: Op, rt?: RuntimeConf): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(o.env)) if (v !== undefined && !k.startsWith("CNI_")) env[k] = v;
  // libcni sets every variable, empty when it does not apply (pkg/invoke/args.go AsEnv).
  env.CNI_COMMAND = op;
  env.CNI_CONTAINERID = rt?.containerId ?? "";
  env.CNI_NETNS = rt?.netns ?? "";
  env.CNI_ARGS = (rt?.args ?? []).map(([k, v]) => `${k}=${v}`).join(";");
  env.CNI_IFNAME = rt?.ifname ?? "";
  env.CNI_PATH = o.cniPath.join(":");
  return env;
}

/** The stdin of one plugin: its config with name, cniVersion, prevResult and its capabilities' runtimeConfig. */
export function buildOneConfig(list: NetworkList, plugin: PluginConf, prev: Record<string, unknown> | undefined, rt: RuntimeConf | undefined): string {
  const conf: Record<string, unknown> = { ...plugin.raw, name: list.name, cniVersion: list.cniVersion };
  if (prev) conf.prevResult = prev;
  if (rt) {
    const rc: Record<string, unknown> = {};
    for (const cap of plugin.capabilities) if (rt.capabilityArgs[cap] !== undefined) rc[cap] = rt.capabilityArgs[cap];
    // Like libcni, a runtimeConfig written in the file is replaced only when a capability matched.
    if (Object.keys(rc).length) conf.runtimeConfig = rc;
  }
  return goJson(conf);
}

function run(o: RunnerOptions, list: NetworkList, plugin: PluginConf, op: Op, stdin: string, rt?: RuntimeConf): string {
  const path = findPlugin(plugin.type, o.cniPath);
  return execPlugin({ plugin: plugin.type, path, op, stdin, env: pluginEnv(o, op, rt), stderr: o.stderr });
}

/** A plugin's ADD output as a result object labelled with its version. @throws {PluginError} code 6 */
function decodeResult(list: NetworkList, plugin: PluginConf, stdout: string): Record<string, unknown> {
  try {
    const o = JSON.parse(stdout) as Record<string, unknown>;
    if (typeof o.cniVersion !== "string" || o.cniVersion === "") o.cniVersion = effectiveVersion(list); // invoke fixupResultVersion
    parseResult(o, effectiveVersion(list));
    return o;
  } catch (e) {
    throw new PluginError({ plugin: plugin.type, op: "ADD", code: 6, msg: "plugin printed an invalid result", details: `${(e as Error).message}: ${JSON.stringify(stdout.slice(0, 200))}` });
  }
}

/**
 * ADD of the whole list; the final result is cached and returned. On failure nothing is cached (the caller
 * should DEL, as the spec asks of a runtime).
 * @throws {PluginError} @throws {LibcniError}
 */
export function addList(o: RunnerOptions, list: NetworkList, rt: RuntimeConf): { result: Record<string, unknown>; cacheFile: string } {
  let prev: Record<string, unknown> | undefined;
  for (const plugin of list.plugins) {
    const out = run(o, list, plugin, "ADD", buildOneConfig(list, plugin, prev, rt), rt);
    prev = decodeResult(list, plugin, out);
  }
  const result = prev ?? {};
  const entry: CacheEntry = {
    containerId: rt.containerId,
    ifName: rt.ifname,
    networkName: list.name,
    netns: rt.netns,
    config: list.bytes,
    cniArgs: rt.args,
    capabilityArgs: rt.capabilityArgs,
    result,
  };
  return { result, cacheFile: writeCache(o.cacheDir, entry) };
}

/**
 * A cached result in the list's version (libcni GetAsVersion; the same version passes through unchanged).
 * @throws {Error} when it cannot be parsed or converted
 */
export function cachedResultAs(list: NetworkList, cached: Record<string, unknown>): Record<string, unknown> {
  const version = effectiveVersion(list);
  if (cached.cniVersion === version) return cached;
  return formatResult(parseResult(cached, version), version) as Record<string, unknown>;
}

/** CHECK of the whole list with `prev` (the cached result) as prevResult. @throws {PluginError} @throws {LibcniError} */
export function checkList(o: RunnerOptions, list: NetworkList, rt: RuntimeConf, prev: Record<string, unknown> | undefined): void {
  if (!hasCheck(effectiveVersion(list))) throw new LibcniError(`Network "${list.name}" has cniVersion "${effectiveVersion(list)}", which does not support CHECK (0.4.0 or later needed)`);
  if (list.disableCheck) return;
  for (const plugin of list.plugins) run(o, list, plugin, "CHECK", buildOneConfig(list, plugin, prev, rt), rt);
}

/** DEL of the whole list in reverse order; stops at the first error. @throws {PluginError} @throws {LibcniError} */
export function delList(o: RunnerOptions, list: NetworkList, rt: RuntimeConf, prev: Record<string, unknown> | undefined): void {
  const p = hasPrevResultOnDel(effectiveVersion(list)) ? prev : undefined;
  for (const plugin of [...list.plugins].reverse()) run(o, list, plugin, "DEL", buildOneConfig(list, plugin, p, rt), rt);
}

/** What `del` will run: which list, with which runtime parameters and prevResult, and why. */
export interface DelPlan {
  list: NetworkList;
  rt: RuntimeConf;
  prev: Record<string, unknown> | undefined;
  /** Sentences for the user: which config was used, what was ignored. */
  notes: string[];
}

/**
 * Decides how to DEL an attachment. Differs from libcni on purpose (decisions.md "CLI"): when today's config is
 * missing or differs from the one cached at ADD, the cached one is used, with the ADD's CNI_ARGS and capability
 * args unless `explicit` says the caller gave their own. A corrupt cache entry is ignored (a note says so).
 * @throws {LibcniError} when there is neither a config today nor a usable cache entry
 */
export function planDel(today: NetworkList | undefined, todayError: string | undefined, cache: CacheRead, rt: RuntimeConf, explicit: { args: boolean; caps: boolean }): DelPlan {
  const notes: string[] = [];
  let entry: CacheEntry | undefined;
  if (cache.status === "corrupt") notes.push(`ignoring the corrupt cache file ${cache.file}: ${cache.reason}`);
  if (cache.status === "ok") entry = cache.entry;
  let list = today;
  if (entry?.config) {
    let cachedList: NetworkList | undefined;
    try {
      cachedList = parseNetworkList(entry.config, `cache:${cache.file}`);
    } catch (e) {
      notes.push(`ignoring the config in ${cache.file}: ${(e as Error).message}`);
    }
    if (cachedList && !today) {
      list = cachedList;
      notes.push(`using the config cached at ADD (${todayError ?? "the network's config is gone"})`);
    } else if (cachedList && today && !sameList(today, cachedList)) {
      list = cachedList;
      notes.push(`using the config cached at ADD: ${today.source} has changed since`);
    }
  }
  if (!list) throw new LibcniError(`${todayError ?? "No network config"}, and no cached config for this attachment in ${cache.file}`);
  const runtime: RuntimeConf = { ...rt };
  if (entry && !explicit.args && entry.cniArgs) runtime.args = entry.cniArgs;
  if (entry && !explicit.caps && entry.capabilityArgs) runtime.capabilityArgs = entry.capabilityArgs;
  let prev: Record<string, unknown> | undefined;
  if (entry?.result) {
    try {
      prev = cachedResultAs(list, entry.result);
    } catch (e) {
      notes.push(`ignoring the cached result in ${cache.file}: ${(e as Error).message}`);
    }
  }
  return { list, rt: runtime, prev, notes };
}

function sameList(a: NetworkList, b: NetworkList): boolean {
  try {
    return jsonEqual(JSON.parse(a.bytes), JSON.parse(b.bytes));
  } catch {
    return a.bytes === b.bytes;
  }
}

/** After a fully successful DEL: forget the attachment. */
export function forget(o: RunnerOptions, network: string, rt: RuntimeConf): void {
  deleteCache(o.cacheDir, network, rt.containerId, rt.ifname);
}

export interface GcReport {
  /** Cached attachments of the network that were DELeted because they are not valid. */
  deleted: Attachment[];
  errors: string[];
  /** false when the list's version has no GC (only the stale DELs ran) or disableGC is set. */
  gcSent: boolean;
}

/**
 * libcni GCNetworkList: DEL every cached attachment of the network not in `valid` (continuing on errors), then,
 * for cniVersion ≥ 1.1.0, GC to every plugin with `cni.dev/valid-attachments` (and the legacy `cni.dev/attachments`).
 */
export function gcList(o: RunnerOptions, list: NetworkList, valid: Attachment[]): GcReport {
  const report: GcReport = { deleted: [], errors: [], gcSent: false };
  if (list.disableGC) return report;
  const keep = new Set(valid.map((a) => `${a.containerID}\0${a.ifname}`));
  for (const c of listCache(o.cacheDir)) {
    if (c.status !== "ok" || c.entry.networkName !== list.name || !c.entry.ifName) continue;
    const e = c.entry;
    if (keep.has(`${e.containerId}\0${e.ifName}`)) continue;
    const rt: RuntimeConf = { containerId: e.containerId, netns: e.netns ?? "", ifname: e.ifName, args: e.cniArgs ?? [], capabilityArgs: e.capabilityArgs ?? {} };
    try {
      let prev: Record<string, unknown> | undefined;
      try {
        prev = e.result ? cachedResultAs(list, e.result) : undefined;
      } catch {
        prev = undefined;
      }
      delList(o, list, rt, prev);
      forget(o, list.name, rt);
      report.deleted.push({ containerID: e.containerId, ifname: e.ifName });
    } catch (err) {
      report.errors.push(`Cannot delete stale attachment ${e.containerId} ${e.ifName}: ${(err as Error).message}`);
    }
  }
  if (!hasGc(effectiveVersion(list))) return report;
  report.gcSent = true;
  for (const plugin of list.plugins) {
    const conf = goJson({ ...plugin.raw, name: list.name, cniVersion: list.cniVersion, "cni.dev/valid-attachments": valid, "cni.dev/attachments": valid });
    try {
      run(o, list, plugin, "GC", conf);
    } catch (err) {
      report.errors.push((err as Error).message);
    }
  }
  return report;
}

/**
 * STATUS of every plugin in order, stopping at the first error. Returns false when the list's version has no
 * STATUS (libcni then reports success without running anything).
 * @throws {PluginError} @throws {LibcniError}
 */
export function statusList(o: RunnerOptions, list: NetworkList): boolean {
  if (!hasStatus(effectiveVersion(list))) return false;
  for (const plugin of list.plugins) run(o, list, plugin, "STATUS", goJson({ ...plugin.raw, name: list.name, cniVersion: list.cniVersion }));
  return true;
}
