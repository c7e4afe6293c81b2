// `weft add|check|del|gc|status`: run a network config list against plugin binaries as libcni/cnitool do
// (shared/libcni), with cnitool's defaults (container ID derived from the netns path, ifname eth0, CNI_ARGS and
// CAP_ARGS from the environment) and two departures: a failed ADD is rolled back with DEL, and DEL uses the
// config cached at ADD when today's file is gone or differs (decisions.md "CLI").
import { existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { acquireFileLock, type FileLock } from "../../shared/lock/index.ts";
import { ifnameProblem, containerIdProblem } from "../../shared/cni/names.ts";
import {
  type Attachment,
  LibcniError,
  type NetworkList,
  type RuntimeConf,
  addList,
  cachedResultAs,
  checkList,
  delList,
  effectiveVersion,
  findNetwork,
  findPlugin,
  forget,
  gcList,
  isFileArg,
  listCache,
  loadNetworkFile,
  planDel,
  readCache,
  statusList,
} from "../../shared/libcni/index.ts";
import { CliError, type Ctx, UsageError, printJson } from "./context.ts";
import { cnitoolContainerId, netnsState } from "./liveness.ts";

export interface AttachOptions {
  containerId?: string;
  ifname?: string;
  args?: string;
  cap?: string;
  json?: boolean;
}

/** "K=V;K=V" → pairs; each piece needs exactly one "=" with a non-empty key and value (cnitool's rule). */
export function parseArgsFlag(raw: string): [string, string][] {
  if (raw === "") return [];
  return raw.split(";").map((pair) => {
    const kv = pair.split("=");
    if (kv.length !== 2 || !kv[0] || !kv[1]) throw new UsageError(`Invalid --args pair "${pair}": expected K=V;K=V (e.g. IgnoreUnknown=1;K8S_POD_NAME=web)`);
    return [kv[0], kv[1]];
  });
}

/** The --cap JSON object of capability args. */
export function parseCapFlag(raw: string): Record<string, unknown> {
  if (raw === "") return {};
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (e) {
    throw new UsageError(`Invalid --cap: not JSON (${(e as Error).message}); expected e.g. '{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]}'`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new UsageError(`Invalid --cap: expected a JSON object of capability args, got ${JSON.stringify(v)}`);
  return v as Record<string, unknown>;
}

/** A bare name with no "/" that exists under /run/netns is taken as that named netns; else the path, made absolute. */
export function resolveNetns(arg: string): string {
  if (!arg.includes("/") && existsSync(`/run/netns/${arg}`)) return `/run/netns/${arg}`;
  return resolve(arg);
}

export function loadList(ctx: Ctx, network: string): NetworkList {
  return isFileArg(network) ? loadNetworkFile(network) : findNetwork(ctx.confDir, network, ctx.warn);
}

function runtimeConf(ctx: Ctx, netnsArg: string, o: AttachOptions): RuntimeConf {
  const netns = resolveNetns(netnsArg);
  const containerId = o.containerId ?? cnitoolContainerId(netns);
  const ifname = o.ifname ?? (ctx.env.CNI_IFNAME || "eth0");
  const idProblem = containerIdProblem(containerId);
  if (idProblem) throw new UsageError(`Invalid --container-id: ${idProblem}`);
  const ifProblem = ifnameProblem(ifname);
  if (ifProblem) throw new UsageError(`Invalid --ifname: ${ifProblem}`);
  return {
    containerId,
    netns,
    ifname,
    args: parseArgsFlag(o.args ?? ctx.env.CNI_ARGS ?? ""),
    capabilityArgs: parseCapFlag(o.cap ?? ctx.env.CAP_ARGS ?? ""),
  };
}

function requireNetns(rt: RuntimeConf): void {
  const s = netnsState(rt.netns);
  if (s === "gone") throw new CliError(`Network namespace ${rt.netns} does not exist (create one with "ip netns add NAME" and pass /run/netns/NAME)`);
  if (s === "not-a-netns") throw new CliError(`${rt.netns} is not a network namespace (pass /run/netns/NAME or /proc/PID/ns/net)`);
}

function summary(result: Record<string, unknown>): string[] {
  const lines: string[] = [];
  const ips = Array.isArray(result.ips) ? (result.ips as { address?: string; gateway?: string }[]) : [];
  for (const k of ["ip4", "ip6"]) {
    const v = result[k] as { ip?: string; gateway?: string } | undefined;
    if (v?.ip) ips.push({ address: v.ip, gateway: v.gateway });
  }
  for (const ip of ips) lines.push(`  address ${ip.address}${ip.gateway ? ` gateway ${ip.gateway}` : ""}`);
  const routes = Array.isArray(result.routes) ? (result.routes as { dst?: string; gw?: string }[]) : [];
  for (const r of routes) lines.push(`  route ${r.dst}${r.gw ? ` via ${r.gw}` : ""}`);
  return lines;
}

/**
 * The spec makes GC exclusive with ADD and DEL of the same network (a GC must not release what an ADD in flight
 * has reserved but not yet cached). weft's CLI is its own runtime here: ADD/CHECK/DEL take a shared flock on
 * `<cacheDir>/weft/locks/<network>.lock`, GC an exclusive one. flock, not a lock directory, so a killed `weft`
 * leaves nothing stale.
 */
function networkLock(ctx: Ctx, network: string, mode: "shared" | "exclusive"): FileLock {
  const dir = join(ctx.cacheDir, "weft", "locks");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return acquireFileLock(join(dir, `${network}.lock`), { shared: mode === "shared" });
}

function describe(list: NetworkList, rt: RuntimeConf): string {
  return `${rt.ifname} of container ${rt.containerId} (netns ${rt.netns}) on network "${list.name}"`;
}

export function cmdAdd(ctx: Ctx, network: string, netnsArg: string, o: AttachOptions): void {
  const rt = runtimeConf(ctx, netnsArg, o);
  const list = loadList(ctx, network);
  requireNetns(rt);
  using _lock = networkLock(ctx, list.name, "shared");
  const prior = readCache(ctx.cacheDir, list.name, rt.containerId, rt.ifname);
  if (prior.status === "ok") {
    throw new CliError(`${describe(list, rt)} is already attached (cache ${prior.file}); run "weft del" first`);
  }
  // Every plugin must be found before any runs: a missing one then leaves nothing to roll back.
  for (const p of list.plugins) findPlugin(p.type, ctx.cniPath);
  let result: Record<string, unknown>;
  try {
    result = addList(ctx.runner(), list, rt).result;
  } catch (e) {
    // The spec asks the runtime to DEL after a failed ADD, so nothing half-made stays behind.
    try {
      delList(ctx.runner(), list, rt, undefined);
    } catch (d) {
      ctx.warn(`rollback after the failed ADD also failed: ${(d as Error).message}`);
    }
    throw e;
  }
  if (o.json) {
    printJson(ctx, result);
    return;
  }
  ctx.out([`added ${describe(list, rt)}`, ...summary(result)].join("\n"));
}

export function cmdCheck(ctx: Ctx, network: string, netnsArg: string, o: AttachOptions): void {
  const rt = runtimeConf(ctx, netnsArg, o);
  const list = loadList(ctx, network);
  requireNetns(rt);
  if (list.disableCheck) {
    ctx.out(`network "${list.name}" sets disableCheck: nothing checked`);
    return;
  }
  using _lock = networkLock(ctx, list.name, "shared");
  const cache = readCache(ctx.cacheDir, list.name, rt.containerId, rt.ifname);
  let prev: Record<string, unknown> | undefined;
  if (cache.status === "corrupt") ctx.warn(`ignoring the corrupt cache file ${cache.file}: ${cache.reason}`);
  if (cache.status === "absent") ctx.warn(`no cached result for ${describe(list, rt)} (${cache.file}): plugins are checked without prevResult`);
  if (cache.status === "ok" && cache.entry.result) {
    try {
      prev = cachedResultAs(list, cache.entry.result);
    } catch (e) {
      ctx.warn(`ignoring the cached result in ${cache.file}: ${(e as Error).message}`);
    }
  }
  if (cache.status === "ok" && !o.args && cache.entry.cniArgs) rt.args = cache.entry.cniArgs;
  if (cache.status === "ok" && !o.cap && cache.entry.capabilityArgs) rt.capabilityArgs = cache.entry.capabilityArgs;
  checkList(ctx.runner(), list, rt, prev);
  ctx.out(`ok: ${describe(list, rt)}`);
}

export function cmdDel(ctx: Ctx, network: string, netnsArg: string, o: AttachOptions): void {
  const rt = runtimeConf(ctx, netnsArg, o);
  let today: NetworkList | undefined;
  let todayError: string | undefined;
  try {
    today = loadList(ctx, network);
  } catch (e) {
    if (!(e instanceof LibcniError)) throw e;
    todayError = e.message;
  }
  const name = today?.name ?? (isFileArg(network) ? undefined : network);
  if (!name) throw new CliError(todayError ?? `Cannot load ${network}`);
  using _lock = networkLock(ctx, name, "shared");
  const cache = readCache(ctx.cacheDir, name, rt.containerId, rt.ifname);
  const plan = planDel(today, todayError, cache, rt, { args: o.args !== undefined, caps: o.cap !== undefined });
  for (const n of plan.notes) ctx.err(`weft: ${n}`);
  delList(ctx.runner(), plan.list, plan.rt, plan.prev);
  forget(ctx.runner(), plan.list.name, plan.rt);
  ctx.out(`deleted ${describe(plan.list, plan.rt)}`);
}

/** "cid/ifname" (or "cid" for eth0) → attachment. */
export function parseValid(items: string[]): Attachment[] {
  return items.map((s) => {
    const [cid, ifname = "eth0", ...rest] = s.split("/");
    if (!cid || rest.length) throw new UsageError(`Invalid --valid "${s}": expected CONTAINER_ID/IFNAME`);
    return { containerID: cid, ifname };
  });
}

export function cmdGc(ctx: Ctx, network: string, o: { valid?: string[]; json?: boolean }): void {
  const list = loadList(ctx, network);
  using _lock = networkLock(ctx, list.name, "exclusive");
  let valid: Attachment[];
  if (o.valid) {
    valid = parseValid(o.valid);
  } else {
    // Without a list from the caller: every cached attachment whose netns still exists (or was never recorded).
    valid = [];
    for (const c of listCache(ctx.cacheDir)) {
      if (c.status === "corrupt") ctx.warn(`ignoring the corrupt cache file ${c.file}: ${c.reason}`);
      if (c.status !== "ok" || c.entry.networkName !== list.name) continue;
      const e = c.entry;
      if (!e.netns || netnsState(e.netns) === "present") valid.push({ containerID: e.containerId, ifname: e.ifName });
    }
  }
  if (list.disableGC) {
    if (o.json) printJson(ctx, { network: list.name, disableGC: true, deleted: [], gcSent: false, errors: [] });
    else ctx.out(`network "${list.name}" sets disableGC: nothing done`);
    return;
  }
  const report = gcList(ctx.runner(), list, valid);
  if (o.json) {
    printJson(ctx, { network: list.name, valid, ...report });
  } else {
    for (const d of report.deleted) ctx.out(`deleted stale attachment ${d.containerID}/${d.ifname}`);
    ctx.out(
      report.gcSent
        ? `GC sent to ${list.plugins.length} plugin(s) of "${list.name}" with ${valid.length} valid attachment(s)`
        : `network "${list.name}" has cniVersion "${effectiveVersion(list)}": no GC sent to plugins (1.1.0 needed); only stale cached attachments were deleted`,
    );
  }
  if (report.errors.length) throw new CliError(`GC of "${list.name}" had ${report.errors.length} error(s): ${report.errors.join("; ")}`);
}

export function cmdStatus(ctx: Ctx, network: string, o: { json?: boolean }): void {
  const list = loadList(ctx, network);
  const asked = statusList(ctx.runner(), list);
  if (o.json) {
    printJson(ctx, { network: list.name, ready: true, askedPlugins: asked });
    return;
  }
  ctx.out(asked ? `network "${list.name}" is ready` : `network "${list.name}" is ready (cniVersion "${effectiveVersion(list)}" has no STATUS; plugins were not asked)`);
}
