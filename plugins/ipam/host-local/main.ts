// host-local IPAM: hands out addresses from range sets and records them in a directory shared with the
// reference plugin (containernetworking/plugins plugins/ipam/host-local/main.go). Config → plan (pure
// allocator over one scan of the store) → apply (reservation files), all under the store's flock. Adds GC and
// STATUS (spec 1.1), which the reference lacks.
import { existsSync } from "node:fs";
import { CniCode, CniError } from "../../../shared/cni/errors.ts";
import type { IPConfig, Result } from "../../../shared/cni/result.ts";
import { prevResultOf, type CmdArgs, type Plugin } from "../../../shared/cni/skel.ts";
import { bigIntToIp, ipToBigInt, tryParseCidr } from "../../../shared/ip/index.ts";
import { addressWithPrefix, assignRequested, candidates, duplicateProblem, isOwnedBy, nextFree, reservationsToRelease, type Reservation } from "./allocator.ts";
import { loadConfig, loadStoreConfig, rangeFor, rangeSetText, type HostLocalConfig, type RangeSet } from "./config.ts";
import { readResolvConf } from "./resolv.ts";
import { Store, type StoreSnapshot } from "./store.ts";

function reportOrphans(snap: StoreSnapshot, dir: string, a: CmdArgs): void {
  for (const r of snap.orphans) {
    a.stderr(`host-local: ${dir}/${r.ip} is empty (a process died while reserving it): the address stays reserved until GC releases it`);
  }
}

/** Reserves one dynamic address of `set` in round-robin order. */
function allocate(store: Store, set: RangeSet, snap: StoreSnapshot, cfg: HostLocalConfig, a: CmdArgs): { value: bigint; gateway: bigint; prefix: string } {
  const fail = (msg: string, details: string) => new CniError(CniCode.Internal, `failed to allocate for range ${set.index}: ${msg}`, details);
  const dup = duplicateProblem(set, snap, a.containerId, a.ifname);
  if (dup) throw fail(dup, `network "${cfg.network}": an ADD for this container and interface already succeeded; DEL it first`);
  for (const c of candidates(set, store.lastReserved(set.index))) {
    if (snap.isTaken(c.value, set.family)) continue;
    if (store.reserve({ value: c.value, family: set.family, containerId: a.containerId, ifname: a.ifname, index: set.index, warn: a.stderr })) {
      return { value: c.value, gateway: c.range.gateway, prefix: addressWithPrefix(c.value, c.range) };
    }
  }
  throw fail(
    `no IP addresses available in range set: ${rangeSetText(set)}`,
    `network "${cfg.network}" (${cfg.dir}) has ${snap.reservations.length} reservations; release stale ones (DEL, or GC with the valid attachments) or widen the range`,
  );
}

function add(a: CmdArgs): Result {
  const cfg = loadConfig(a.conf, a.args, a.cniVersion);
  const dns = cfg.resolvConf ? readResolvConf(cfg.resolvConf) : undefined;
  const store = Store.open(cfg.dir, true);
  using _lock = store.lock();
  const snap = store.scan();
  reportOrphans(snap, cfg.dir, a);
  const requested = assignRequested(cfg.rangeSets, cfg.requested, snap, cfg.network);

  using undo = new DisposableStack();
  const ips: IPConfig[] = [];
  for (const set of cfg.rangeSets) {
    const req = requested.get(set.index);
    let got: { value: bigint; gateway: bigint; prefix: string };
    if (req) {
      const ok = store.reserve({ value: req.value, family: set.family, containerId: a.containerId, ifname: a.ifname, index: set.index, warn: a.stderr });
      if (!ok) {
        throw new CniError(CniCode.Internal, `failed to allocate for range ${set.index}: requested IP address ${bigIntToIp(req.value, set.family)} is not available in range set ${rangeSetText(set)}`);
      }
      got = { value: req.value, gateway: req.range.gateway, prefix: addressWithPrefix(req.value, req.range) };
    } else {
      got = allocate(store, set, snap, cfg, a);
    }
    const ip = bigIntToIp(got.value, set.family);
    undo.defer(() => store.release(ip));
    ips.push({ address: got.prefix, gateway: bigIntToIp(got.gateway, set.family) });
  }
  undo.move();
  return {
    cniVersion: a.cniVersion,
    ips,
    ...(cfg.routes.length ? { routes: cfg.routes } : {}),
    ...(dns && Object.keys(dns).length ? { dns } : {}),
  };
}

function releaseAll(store: Store, victims: readonly Reservation[]): void {
  const errors: string[] = [];
  for (const r of victims) {
    try {
      store.release(r.ip);
    } catch (e) {
      errors.push((e as CniError).message);
    }
  }
  if (errors.length) throw new CniError(CniCode.IoFailure, "Cannot release every reservation", errors.join("; "));
}

function del(a: CmdArgs): void {
  const { dir } = loadStoreConfig(a.conf);
  if (!existsSync(dir)) return; // nothing was ever reserved here
  const store = Store.open(dir, false);
  using _lock = store.lock();
  releaseAll(store, reservationsToRelease(store.scan().reservations, a.containerId, a.ifname));
}

function check(a: CmdArgs): void {
  const cfg = loadConfig(a.conf, a.args, a.cniVersion);
  const notFound = (details: string) => new CniError(CniCode.Internal, `host-local: Failed to find address added by container ${a.containerId}`, details);
  if (!existsSync(cfg.dir)) throw notFound(`the data directory ${cfg.dir} does not exist`);
  const store = Store.open(cfg.dir, false);
  using _lock = store.lock();
  const owned = store.scan().reservations.filter((r) => isOwnedBy(r, a.containerId, a.ifname, true));
  if (owned.length === 0) throw notFound(`no reservation in ${cfg.dir} belongs to interface "${a.ifname}"`);
  // Better than the reference: every address of prevResult that this network hands out must still be ours.
  for (const ip of prevResultOf(a.conf)?.ips ?? []) {
    const cidr = tryParseCidr(ip.address);
    if (!cidr) continue;
    const value = ipToBigInt(cidr.ip);
    if (!cfg.rangeSets.some((s) => rangeFor(s, value, cidr.family))) continue;
    if (!owned.some((r) => r.value === value && r.family === cidr.family)) {
      throw new CniError(CniCode.Internal, `host-local: address ${cidr.ip} of the previous result is not reserved for container ${a.containerId}`, `no file ${cfg.dir}/${cidr.ip} owned by interface "${a.ifname}"`);
    }
  }
}

interface Attachment {
  containerId: string;
  ifname: string;
}

/** `cni.dev/valid-attachments` (or the name the spec used first, `cni.dev/attachments`). @throws {CniError} code 7 */
function validAttachments(conf: Record<string, unknown>): Attachment[] {
  const key = ["cni.dev/valid-attachments", "cni.dev/attachments"].find((k) => Object.hasOwn(conf, k));
  if (!key) throw new CniError(CniCode.InvalidConfig, 'GC needs "cni.dev/valid-attachments"', "without the list of valid attachments nothing can be told stale; nothing was released");
  const list = conf[key] ?? [];
  if (!Array.isArray(list)) throw new CniError(CniCode.InvalidConfig, `"${key}" must be a list`);
  return list.map((x, i) => {
    const o = (typeof x === "object" && x !== null ? x : {}) as Record<string, unknown>;
    const get = (name: string) => Object.entries(o).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
    const containerId = get("containerID");
    const ifname = get("ifname");
    if (typeof containerId !== "string" || typeof ifname !== "string") {
      throw new CniError(CniCode.InvalidConfig, `"${key}[${i}]" must be {"containerID": string, "ifname": string}`);
    }
    return { containerId, ifname };
  });
}

function gc(a: CmdArgs): void {
  const { dir } = loadStoreConfig(a.conf);
  const valid = validAttachments(a.conf);
  if (!existsSync(dir)) return;
  const exact = new Set(valid.map((v) => `${v.containerId}\r\n${v.ifname}`));
  const ids = new Set(valid.map((v) => v.containerId));
  const store = Store.open(dir, false);
  using _lock = store.lock();
  const stale = store.scan().reservations.filter((r) => {
    if (!r.owner) return true; // empty file: owned by nobody
    if (r.owner.ifname === undefined) return !ids.has(r.owner.containerId); // legacy: container ID only
    return !exact.has(`${r.owner.containerId}\r\n${r.owner.ifname}`);
  });
  for (const r of stale) a.stderr(`host-local: GC releases ${r.ip} (${r.owner ? `${r.owner.containerId}/${r.owner.ifname ?? "?"}` : "empty file"})`);
  releaseAll(store, stale);
}

function status(a: CmdArgs): void {
  const cfg = loadConfig(a.conf, a.args, a.cniVersion);
  if (!existsSync(cfg.dir)) return;
  const store = Store.open(cfg.dir, false);
  using _lock = store.lock();
  const snap = store.scan();
  const full = cfg.rangeSets.find((s) => nextFree(s, snap) === undefined);
  if (full) {
    throw new CniError(
      CniCode.NotAvailable,
      `no IP addresses available in range set: ${rangeSetText(full)}`,
      `network "${cfg.network}" (${cfg.dir}): range set ${full.index} is exhausted, so ADD cannot succeed until addresses are released`,
    );
  }
}

export const plugin: Plugin = { name: "host-local", add, del, check, gc, status };
