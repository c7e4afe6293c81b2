// The CNI protocol boundary (SPEC §2 "Execution Protocol"; Go pkg/skel): env and stdin in, one JSON document
// out. dispatch() is a pure function of injected I/O so tests and in-process delegation need no process state.
// All validation (env table, names, netns, stdin, version gates) happens before a command runs.
import { statSync } from "node:fs";
import { CniCode, CniError, toCniError } from "./errors.ts";
import { containerIdProblem, ifnameProblem, networkNameProblem, printable } from "./names.ts";
import { formatResult, parseResult, type Result } from "./result.ts";
import { CURRENT_VERSION, SPEC_VERSIONS, hasCheck, hasGc, hasStatus, isSpecVersion } from "./version.ts";
import { NetnsNotFoundError, NotANetnsError, checkNetnsPath } from "../netns/check.ts";

export type Command = "ADD" | "DEL" | "CHECK" | "GC" | "STATUS" | "VERSION";
const COMMANDS: readonly Command[] = ["ADD", "DEL", "CHECK", "GC", "STATUS", "VERSION"];

/** Injected process I/O. */
export interface PluginIO {
  env: Readonly<Record<string, string | undefined>>;
  /** @throws when stdin cannot be read (becomes code 5) */
  readStdin(): Uint8Array | string;
  stdout(text: string): void;
  stderr(text: string): void;
}

/** The network config as parsed from stdin: only `name` and `cniVersion` are known to the skeleton. */
export type NetConf = Record<string, unknown> & { name: string; cniVersion: string };

export interface CmdArgs {
  command: Exclude<Command, "VERSION">;
  containerId: string;
  /** Path of the pod's network namespace; "" when not given (DEL, GC, STATUS). */
  netns: string;
  ifname: string;
  /** Raw CNI_ARGS. */
  args: string;
  /** CNI_PATH split on ":", empty entries dropped. */
  path: string[];
  /** stdin exactly as received (delegation passes it on). */
  stdin: Uint8Array;
  conf: NetConf;
  cniVersion: string;
  env: Readonly<Record<string, string | undefined>>;
  stderr(text: string): void;
}

export interface Plugin {
  /** Used in the about line, e.g. "bridge". */
  name: string;
  /** Defaults to every spec version. */
  supportedVersions?: readonly string[];
  add(a: CmdArgs): Result | Promise<Result>;
  del(a: CmdArgs): void | Promise<void>;
  check?(a: CmdArgs): void | Promise<void>;
  gc?(a: CmdArgs): void | Promise<void>;
  status?(a: CmdArgs): void | Promise<void>;
}

/** A plugin known by name, loaded only once validation passed (VERSION and bad input never load it). */
export interface LazyPlugin {
  name: string;
  supportedVersions?: readonly string[];
  load(): Promise<Plugin>;
}

type Need = "required" | "optional";
/** Which CNI_* variables each command needs (SPEC §2 table, with skel's CNI_PATH requirement). */
const ENV_TABLE: ReadonlyArray<{ name: string; need: Partial<Record<Command, Need>> }> = [
  { name: "CNI_COMMAND", need: { ADD: "required", DEL: "required", CHECK: "required", GC: "required", STATUS: "required", VERSION: "required" } },
  { name: "CNI_CONTAINERID", need: { ADD: "required", DEL: "required", CHECK: "required" } },
  { name: "CNI_NETNS", need: { ADD: "required", DEL: "optional", CHECK: "required" } },
  { name: "CNI_IFNAME", need: { ADD: "required", DEL: "required", CHECK: "required" } },
  { name: "CNI_PATH", need: { ADD: "required", DEL: "required", CHECK: "required", GC: "required", STATUS: "required" } },
];

/** Version gates: a command not allowed by the config's cniVersion is code 1. */
const GATES: Partial<Record<Command, (v: string) => boolean>> = { CHECK: hasCheck, GC: hasGc, STATUS: hasStatus };

const decoder = new TextDecoder();

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** Parses prevResult from the config (any family) into the canonical form; undefined when absent. */
export function prevResultOf(conf: NetConf): Result | undefined {
  const raw = conf.prevResult;
  if (raw === undefined || raw === null) return undefined;
  try {
    return parseResult(raw, conf.cniVersion);
  } catch (e) {
    throw toCniError(e).wrap("Cannot parse prevResult");
  }
}

function printJson(io: PluginIO, value: unknown): void {
  io.stdout(`${JSON.stringify(value, null, 4)}\n`);
}

/** The version to label an error with: the config's when it is one we know, else ours. */
function errorVersion(conf: unknown): string {
  const v = isObject(conf) ? conf.cniVersion : undefined;
  return typeof v === "string" && isSpecVersion(v) ? v : CURRENT_VERSION;
}

/**
 * Runs one CNI command for `plugin` and returns the process exit code. Never throws: every failure is
 * printed as a CNI error object on stdout.
 */
export async function dispatch(io: PluginIO, plugin: Plugin | LazyPlugin): Promise<number> {
  let conf: unknown;
  try {
    const code = await run(io, plugin, (c) => (conf = c));
    return code;
  } catch (e) {
    const err = toCniError(e);
    if (/^(1|true)$/i.test(io.env.WEFT_DEBUG ?? "") && e instanceof Error && e.stack) io.stderr(`${e.stack}\n`);
    printJson(io, err.toJSON(errorVersion(conf)));
    return 1;
  }
}

async function run(io: PluginIO, meta: Plugin | LazyPlugin, seen: (conf: unknown) => void): Promise<number> {
  const env = io.env;
  const supported = meta.supportedVersions ?? SPEC_VERSIONS;
  const cmdRaw = env.CNI_COMMAND ?? "";
  if (cmdRaw === "") {
    io.stderr(`weft ${meta.name} plugin: a CNI plugin, run by a container runtime; CNI protocol versions supported: ${supported.join(", ")}\n`);
    return 0;
  }
  if (!(COMMANDS as readonly string[]).includes(cmdRaw)) {
    throw new CniError(CniCode.InvalidEnv, `unknown CNI_COMMAND: ${printable(cmdRaw)}`, `expected one of ${COMMANDS.join(", ")}`);
  }
  const command = cmdRaw as Command;
  if (command === "VERSION") {
    io.stdout(`${JSON.stringify({ cniVersion: CURRENT_VERSION, supportedVersions: supported })}\n`);
    return 0;
  }

  // Read stdin first only to label errors with the config's version; env errors are still reported first.
  let stdin: Uint8Array = new Uint8Array();
  let stdinError: CniError | undefined;
  let parsed: unknown;
  try {
    const raw = io.readStdin();
    stdin = typeof raw === "string" ? new TextEncoder().encode(raw) : raw;
  } catch (e) {
    stdinError = new CniError(CniCode.IoFailure, "Cannot read the network config from stdin", (e as Error).message);
  }
  if (!stdinError) {
    try {
      parsed = JSON.parse(decoder.decode(stdin));
      seen(parsed);
    } catch (e) {
      const why = stdin.byteLength === 0 ? "stdin is empty" : (e as Error).message;
      stdinError = new CniError(CniCode.DecodingFailure, "error unmarshall network config", why);
    }
  }

  const missing = ENV_TABLE.filter((v) => v.need[command] === "required" && !env[v.name]).map((v) => v.name);
  if (missing.length) throw new CniError(CniCode.InvalidEnv, `required env variables [${missing.join(",")}] missing`);
  const containerId = env.CNI_CONTAINERID ?? "";
  const ifname = env.CNI_IFNAME ?? "";
  const netns = env.CNI_NETNS ?? "";
  if (containerId) {
    const p = containerIdProblem(containerId);
    if (p) throw new CniError(CniCode.InvalidEnv, p);
  }
  if (ifname) {
    const p = ifnameProblem(ifname);
    if (p) throw new CniError(CniCode.InvalidEnv, p);
  }
  if (netns) checkNetnsEnv(command, netns, env);

  if (stdinError) throw stdinError;
  if (!isObject(parsed)) {
    throw new CniError(CniCode.DecodingFailure, "error unmarshall network config", "the network config must be a JSON object");
  }
  const name = parsed.name;
  if (name === undefined || name === null || name === "") throw new CniError(CniCode.InvalidConfig, "missing network name");
  if (typeof name !== "string") throw new CniError(CniCode.InvalidConfig, "network name must be a string");
  const nameProblem = networkNameProblem(name);
  if (nameProblem) throw new CniError(CniCode.InvalidConfig, nameProblem);
  const rawVersion = parsed.cniVersion;
  if (rawVersion !== undefined && typeof rawVersion !== "string") {
    throw new CniError(CniCode.DecodingFailure, "cniVersion must be a string");
  }
  const cniVersion = rawVersion === undefined || rawVersion === "" ? "0.1.0" : rawVersion;
  if (!supported.includes(cniVersion)) {
    throw new CniError(CniCode.IncompatibleVersion, "incompatible CNI versions", `config is "${printable(cniVersion)}", plugin supports [${supported.join(" ")}]`);
  }
  const gate = GATES[command];
  if (gate && !gate(cniVersion)) {
    throw new CniError(CniCode.IncompatibleVersion, `config version does not allow ${command}`, `config is "${cniVersion}"; ${command} needs ${command === "CHECK" ? "0.4.0" : "1.1.0"} or later`);
  }
  const conf = { ...parsed, name, cniVersion } as NetConf;
  const impl = "load" in meta ? await meta.load() : meta;
  const args: CmdArgs = {
    command,
    containerId,
    netns,
    ifname,
    args: env.CNI_ARGS ?? "",
    path: (env.CNI_PATH ?? "").split(":").filter((p) => p !== ""),
    stdin,
    conf,
    cniVersion,
    env,
    stderr: (t) => io.stderr(t.endsWith("\n") ? t : `${t}\n`),
  };
  switch (command) {
    case "ADD": {
      const result = await impl.add(args);
      printJson(io, formatResult(result, cniVersion));
      return 0;
    }
    case "DEL":
      await impl.del(args);
      return 0;
    case "CHECK":
      await impl.check?.(args);
      return 0;
    case "GC":
      await impl.gc?.(args);
      return 0;
    case "STATUS":
      await impl.status?.(args);
      return 0;
  }
}

/**
 * ADD and CHECK need a real netns (code 4 otherwise); any command refuses a CNI_NETNS that is the plugin's own
 * namespace (code 8, before acting: Go checks after), unless CNI_NETNS_OVERRIDE is 1/true.
 */
function checkNetnsEnv(command: Command, netns: string, env: PluginIO["env"]): void {
  try {
    checkNetnsPath(netns);
  } catch (e) {
    if (command !== "ADD" && command !== "CHECK") return; // DEL: a gone or odd netns is the plugin's business
    if (e instanceof NetnsNotFoundError) throw new CniError(CniCode.InvalidEnv, `CNI_NETNS "${printable(netns)}" does not exist`, "the pod's network namespace must exist for ADD and CHECK");
    if (e instanceof NotANetnsError) throw new CniError(CniCode.InvalidEnv, `CNI_NETNS "${printable(netns)}" is not a network namespace`, e.message);
    throw new CniError(CniCode.InvalidEnv, `Cannot open CNI_NETNS "${printable(netns)}"`, (e as Error).message);
  }
  if (/^(1|true)$/i.test(env.CNI_NETNS_OVERRIDE ?? "")) return;
  try {
    const mine = statSync("/proc/thread-self/ns/net");
    const theirs = statSync(netns);
    if (mine.ino === theirs.ino && mine.dev === theirs.dev) {
      throw new CniError(CniCode.InvalidNetns, "plugin's netns and netns from CNI_NETNS should not be the same", `CNI_NETNS "${printable(netns)}" is the namespace the plugin runs in; set CNI_NETNS_OVERRIDE=1 if that is intended`);
    }
  } catch (e) {
    if (e instanceof CniError) throw e;
  }
}

