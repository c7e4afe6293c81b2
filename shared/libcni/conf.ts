// Network configuration lists as libcni loads them (libcni/conf.go): a directory is searched for `*.conflist`
// files in lexical order, then for `*.conf`/`*.json` files (a single plugin config, converted to a one-entry list);
// the first whose `name` matches wins. `cniVersions` picks the highest version this runner knows (1.1.0).
// Unlike libcni, a file that does not parse is skipped with a warning instead of hiding every later file.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, extname, join } from "node:path";
import { compareVersions } from "../cni/version.ts";
import { LibcniError } from "./errors.ts";
import { goJson } from "./go-json.ts";

/** The newest spec version the runner speaks (libcni's version.Current()). */
export const RUNNER_VERSION = "1.1.0";

export interface PluginConf {
  type: string;
  /** `capabilities` with only the `true` entries kept. */
  capabilities: string[];
  /** The plugin's object as written in the file (key order as written). */
  raw: Record<string, unknown>;
}

export interface NetworkList {
  name: string;
  /** As selected from cniVersion/cniVersions; "" when the file has neither (plugins then assume 0.1.0). */
  cniVersion: string;
  disableCheck: boolean;
  disableGC: boolean;
  plugins: PluginConf[];
  /** The bytes libcni caches as `config`: the .conflist file, or the list a .conf was converted to. */
  bytes: string;
  /** A file path, "-" (stdin) or "cache:<file>". */
  source: string;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** The version used to decide what the list may do: "" counts as 0.1.0. */
export function effectiveVersion(list: NetworkList): string {
  return list.cniVersion === "" ? "0.1.0" : list.cniVersion;
}

function parseJsonObject(text: string, source: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new LibcniError(`Cannot parse ${source}: ${(e as Error).message}`);
  }
  if (!isObject(v)) throw new LibcniError(`Cannot parse ${source}: the config must be a JSON object`);
  return v;
}

function readBool(o: Record<string, unknown>, key: string, source: string): boolean {
  const v = o[key];
  if (v === undefined) return false;
  if (typeof v === "boolean") return v;
  if (typeof v === "string" && /^(true|false)$/i.test(v)) return v.toLowerCase() === "true";
  throw new LibcniError(`Cannot parse ${source}: "${key}" must be true or false, not ${JSON.stringify(v)}`);
}

function pickVersion(o: Record<string, unknown>, source: string): string {
  const v = o.cniVersion;
  if (v !== undefined && typeof v !== "string") throw new LibcniError(`Cannot parse ${source}: "cniVersion" must be a string`);
  const version = v ?? "";
  const many = o.cniVersions;
  if (many === undefined) return version;
  if (!Array.isArray(many) || many.some((x) => typeof x !== "string")) {
    throw new LibcniError(`Cannot parse ${source}: "cniVersions" must be a list of version strings`);
  }
  const candidates = [...(many as string[]), ...(version ? [version] : [])].filter((x) => compareVersions(x, RUNNER_VERSION) <= 0);
  if (candidates.length === 0) return version;
  return candidates.reduce((best, x) => (compareVersions(x, best) > 0 ? x : best));
}

function pluginConf(raw: unknown, where: string): PluginConf {
  if (!isObject(raw)) throw new LibcniError(`Cannot parse ${where}: a plugin config must be a JSON object`);
  const type = raw.type;
  if (typeof type !== "string" || type === "") throw new LibcniError(`Cannot parse ${where}: missing 'type'`);
  const caps = isObject(raw.capabilities) ? Object.entries(raw.capabilities).filter(([, on]) => on === true).map(([k]) => k) : [];
  return { type, capabilities: caps, raw };
}

/** Parses the text of a .conflist. @throws {LibcniError} */
export function parseNetworkList(text: string, source: string): NetworkList {
  const o = parseJsonObject(text, source);
  if (typeof o.name !== "string" || o.name === "") throw new LibcniError(`Cannot parse ${source}: the list has no "name"`);
  if (!Array.isArray(o.plugins) || o.plugins.length === 0) throw new LibcniError(`Cannot parse ${source}: "plugins" must be a non-empty list`);
  return {
    name: o.name,
    cniVersion: pickVersion(o, source),
    disableCheck: readBool(o, "disableCheck", source),
    disableGC: readBool(o, "disableGC", source),
    plugins: o.plugins.map((p, i) => pluginConf(p, `${source} plugins[${i}]`)),
    bytes: text,
    source,
  };
}

/** Parses a single plugin config (.conf/.json) and converts it to a one-entry list (libcni ConfListFromConf). */
export function parseSingleConf(text: string, source: string): NetworkList {
  const o = parseJsonObject(text, source);
  pluginConf(o, source);
  if (typeof o.name !== "string" || o.name === "") throw new LibcniError(`Cannot parse ${source}: the config has no "name"`);
  const cniVersion = typeof o.cniVersion === "string" ? o.cniVersion : "";
  const bytes = goJson({ name: o.name, cniVersion, plugins: [o] });
  return parseNetworkList(bytes, source);
}

/** A .conflist, .conf or .json file (by extension), or "-" for stdin (a list when it has "plugins"). */
export function loadNetworkFile(path: string, readStdin: () => string = () => readFileSync(0, "utf8")): NetworkList {
  if (path === "-") {
    const text = readStdin();
    const o = parseJsonObject(text, "stdin");
    return "plugins" in o ? parseNetworkList(text, "-") : parseSingleConf(text, "-");
  }
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new LibcniError(`Cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (extname(path) !== ".conflist") return parseSingleConf(text, path);
  const list = parseNetworkList(text, path);
  const o = JSON.parse(text) as Record<string, unknown>;
  if (!readBool(o, "loadOnlyInlinedPlugins", path)) list.plugins.push(...siblingPlugins(join(path, "..", list.name)));
  return list;
}

/** SPEC 1.1 (loadOnlyInlinedPlugins=false): extra plugin configs in `<confdir>/<network name>/*.conf`, lexical order. */
function siblingPlugins(dir: string): PluginConf[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [];
  return confFiles(dir, [".conf"]).map((f) => pluginConf(JSON.parse(readFileSync(f, "utf8")), f));
}

/** Regular files (not directories) of `dir` with one of `exts`, sorted; [] when the dir does not exist. */
export function confFiles(dir: string, exts: string[]): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new LibcniError(`Cannot read the config directory ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return names
    .filter((n) => exts.includes(extname(n)))
    .sort()
    .map((n) => join(dir, n))
    .filter((p) => {
      try {
        return !statSync(p).isDirectory();
      } catch {
        return false;
      }
    });
}

export interface ScannedFile {
  path: string;
  list?: NetworkList;
  error?: string;
}

/** Every config file of `dir` in libcni's lookup order (.conflist first, then .conf/.json), parsed or not. */
export function scanConfDir(dir: string): ScannedFile[] {
  const out: ScannedFile[] = [];
  for (const path of [...confFiles(dir, [".conflist"]), ...confFiles(dir, [".conf", ".json"])]) {
    try {
      out.push({ path, list: loadNetworkFile(path) });
    } catch (e) {
      out.push({ path, error: (e as Error).message });
    }
  }
  return out;
}

/**
 * The network called `name` in `dir`, as libcni's LoadNetworkConf finds it; `warn` hears about skipped files.
 * @throws {LibcniError} naming the networks that were found when none matches
 */
export function findNetwork(dir: string, name: string, warn: (msg: string) => void = () => {}): NetworkList {
  const scanned = scanConfDir(dir);
  for (const f of scanned) {
    if (f.list?.name === name) return f.list;
  }
  for (const f of scanned) if (f.error) warn(`skipped ${f.path}: ${f.error}`);
  const names = scanned.flatMap((f) => (f.list ? [`${f.list.name} (${basename(f.path)})`] : []));
  if (scanned.length === 0) throw new LibcniError(`No network "${name}": no network configs found in ${dir} (set NETCONFPATH or --conf-dir, or pass a file path)`);
  throw new LibcniError(`No network "${name}" in ${dir}; found: ${names.length ? names.join(", ") : "none that parse"}`);
}

/** True when `arg` names a file ("-", contains "/", or ends in .conflist/.conf/.json) rather than a network. */
export function isFileArg(arg: string): boolean {
  return arg === "-" || arg.includes("/") || /\.(conflist|conf|json)$/.test(arg);
}
