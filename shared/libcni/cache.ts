// The runtime-side result cache, in libcni's format and place (libcni/api.go cacheAdd/getCachedResult):
// `<cacheDir>/results/<network>-<containerID>-<ifname>`, dir 0700, file 0600, compact JSON
// {kind:"cniCacheV1", containerId, config:<base64 list bytes>, ifName, networkName, netns, cniArgs, capabilityArgs, result}.
// containerd, cnitool and weft read each other's entries. weft writes beside and renames (libcni writes in place).
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LibcniError } from "./errors.ts";

export const DEFAULT_CACHE_DIR = "/var/lib/cni";
const KIND = "cniCacheV1";

export interface CacheEntry {
  containerId: string;
  ifName: string;
  networkName: string;
  /** Absent in entries written by libcni before 1.2. */
  netns?: string;
  /** The network config list (decoded from base64) the attachment was made with; absent in legacy entries. */
  config?: string;
  cniArgs?: [string, string][];
  capabilityArgs?: Record<string, unknown>;
  result?: Record<string, unknown>;
}

export type CacheRead =
  | { status: "absent"; file: string }
  | { status: "corrupt"; file: string; reason: string }
  | { status: "ok"; file: string; entry: CacheEntry };

export function cacheFile(cacheDir: string, network: string, containerId: string, ifname: string): string {
  return join(cacheDir, "results", `${network}-${containerId}-${ifname}`);
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** Writes the entry of one successful ADD (replacing any previous one atomically). @throws {LibcniError} */
export function writeCache(cacheDir: string, e: CacheEntry): string {
  const file = cacheFile(cacheDir, e.networkName, e.containerId, e.ifName);
  // Field order and omitempty as Go's cachedInfo struct marshals them.
  const doc: Record<string, unknown> = {
    kind: KIND,
    containerId: e.containerId,
    config: Buffer.from(e.config ?? "").toString("base64"),
    ifName: e.ifName,
    networkName: e.networkName,
  };
  if (e.netns) doc.netns = e.netns;
  if (e.cniArgs?.length) doc.cniArgs = e.cniArgs;
  if (e.capabilityArgs && Object.keys(e.capabilityArgs).length) doc.capabilityArgs = e.capabilityArgs;
  if (e.result) doc.result = e.result;
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    mkdirSync(join(cacheDir, "results"), { recursive: true, mode: 0o700 });
    writeFileSync(tmp, JSON.stringify(doc), { mode: 0o600 });
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new LibcniError(`Cannot write the result cache ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return file;
}

/** Decodes one cache file's text; a legacy file holding a bare result is accepted (result only). */
export function parseCacheText(text: string): CacheEntry | string {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch (e) {
    return `not JSON (${(e as Error).message})`;
  }
  if (!isObject(o)) return "not a JSON object";
  if (o.kind === undefined && typeof o.cniVersion === "string") return { containerId: "", ifName: "", networkName: "", result: o };
  if (o.kind !== KIND) return `unknown kind ${JSON.stringify(o.kind)} (expected "${KIND}")`;
  for (const k of ["containerId", "ifName", "networkName"] as const) {
    if (typeof o[k] !== "string") return `"${k}" is missing or not a string`;
  }
  const entry: CacheEntry = { containerId: o.containerId as string, ifName: o.ifName as string, networkName: o.networkName as string };
  if (typeof o.netns === "string" && o.netns !== "") entry.netns = o.netns;
  if (o.config !== undefined && o.config !== null) {
    if (typeof o.config !== "string") return `"config" is not a base64 string`;
    entry.config = Buffer.from(o.config, "base64").toString("utf8");
  }
  if (Array.isArray(o.cniArgs)) {
    if (!o.cniArgs.every((p) => Array.isArray(p) && p.length === 2 && p.every((s) => typeof s === "string"))) return `"cniArgs" is not a list of [key, value] pairs`;
    entry.cniArgs = o.cniArgs as [string, string][];
  }
  if (isObject(o.capabilityArgs)) entry.capabilityArgs = o.capabilityArgs;
  if (o.result !== undefined && o.result !== null) {
    if (!isObject(o.result)) return `"result" is not an object`;
    entry.result = o.result;
  }
  return entry;
}

/** Reads one attachment's cache entry; a corrupt file is reported, never thrown. */
export function readCache(cacheDir: string, network: string, containerId: string, ifname: string): CacheRead {
  const file = cacheFile(cacheDir, network, containerId, ifname);
  return readCacheFile(file);
}

export function readCacheFile(file: string): CacheRead {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return { status: "absent", file };
    return { status: "corrupt", file, reason: `unreadable (${code ?? (e as Error).message})` };
  }
  const parsed = parseCacheText(text);
  return typeof parsed === "string" ? { status: "corrupt", file, reason: parsed } : { status: "ok", file, entry: parsed };
}

export function deleteCache(cacheDir: string, network: string, containerId: string, ifname: string): void {
  rmSync(cacheFile(cacheDir, network, containerId, ifname), { force: true });
}

/** Every file of `<cacheDir>/results`, sorted by name, decoded or reported corrupt. */
export function listCache(cacheDir: string): CacheRead[] {
  const dir = join(cacheDir, "results");
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new LibcniError(`Cannot read the result cache ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return names
    .filter((n) => !n.includes(".tmp-"))
    .sort()
    .map((n) => readCacheFile(join(dir, n)));
}
