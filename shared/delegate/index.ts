// Running a delegate plugin (SPEC §4 "Plugin Delegation"; Go pkg/invoke delegate.go, exec.go, raw_exec.go):
// find it in CNI_PATH, run it with the caller's environment but our CNI_COMMAND and the delegate's config on
// stdin, forward its stderr, and turn its stdout into a result or pass its error through unchanged.
// When the delegate is weft's own binary it runs in-process through skel's dispatch() with the same injected
// I/O, so both paths read the same bytes the same way; WEFT_NO_INPROC=1 in the caller's env turns that off.
import { statSync } from "node:fs";
import { basename } from "node:path";
import { CniCode, CniError, toCniError } from "../cni/errors.ts";
import { printable } from "../cni/names.ts";
import { parseResult, type Result } from "../cni/result.ts";
import { dispatch, type CmdArgs, type Plugin } from "../cni/skel.ts";
import { findInPath } from "./find.ts";
import { getInProcessLoader, type PluginLoader } from "./inprocess.ts";

export { findInPath } from "./find.ts";
export { getInProcessLoader, setInProcessLoader, type PluginLoader } from "./inprocess.ts";

export type DelegateCommand = "ADD" | "DEL" | "CHECK" | "GC" | "STATUS";

export interface DelegateOptions {
  /** The plugin to run, e.g. "host-local": a file name looked up in CNI_PATH. */
  type: string;
  /** The full config for the delegate (not just the `ipam` block). */
  stdin: Uint8Array | string;
  /** The caller's: `env` (incl. CNI_PATH, CNI_ARGS, CNI_NETNS…), `path` (CNI_PATH split) and `stderr`. */
  args: Pick<CmdArgs, "env" | "path" | "stderr">;
  /** Set by each delegate* function; a value given here is ignored. */
  command?: DelegateCommand;
  /**
   * @internal For tests, where process.execPath is bun: treat `selfPath` as weft's own binary and load plugins
   * with `loader` instead of the one plugins/main.ts registers.
   */
  inProcess?: { selfPath?: string; loader?: PluginLoader };
}

/** What a delegate run produced, whichever way it ran. */
interface Outcome {
  path: string;
  inProcess: boolean;
  exitCode: number;
  signal?: string;
  stdout: string;
  stderr: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** Go's invoke retries "text file busy" 5 times, 1 s apart; a plugin being installed is usually done sooner. */
const ETXTBSY_DELAYS_MS = [50, 100, 250, 500, 1000];
/** Longest piece of a delegate's output quoted in an error. */
const QUOTE_MAX = 2000;

/**
 * Runs the delegate's ADD and returns its result in canonical form (`cniVersion` = the delegate's; a result
 * without one takes the delegate config's version, as Go's invoke does).
 * @throws {CniError} the delegate's own error unchanged, or code 999 when it cannot be run or its output is unusable
 */
export async function delegateAdd(o: DelegateOptions): Promise<Result> {
  const out = await run(o, "ADD");
  let json: unknown;
  try {
    json = JSON.parse(out.stdout);
  } catch (e) {
    throw new CniError(CniCode.Internal, `delegate plugin "${printable(o.type)}" returned a result that is not JSON`, `${(e as Error).message}; stdout: ${quote(out.stdout)}`);
  }
  try {
    return parseResult(json, configVersion(o.stdin));
  } catch (e) {
    throw toCniError(e).wrap(`Cannot use the result of delegate plugin "${printable(o.type)}"`);
  }
}

/** Runs the delegate's DEL. @throws {CniError} as delegateAdd */
export async function delegateDel(o: DelegateOptions): Promise<void> {
  await run(o, "DEL");
}

/** Runs the delegate's CHECK. @throws {CniError} as delegateAdd */
export async function delegateCheck(o: DelegateOptions): Promise<void> {
  await run(o, "CHECK");
}

/** Runs the delegate's GC. @throws {CniError} as delegateAdd */
export async function delegateGc(o: DelegateOptions): Promise<void> {
  await run(o, "GC");
}

/** Runs the delegate's STATUS. @throws {CniError} as delegateAdd */
export async function delegateStatus(o: DelegateOptions): Promise<void> {
  await run(o, "STATUS");
}

/** Finds and runs the delegate; returns its outcome when it exited 0, else throws its error. */
async function run(o: DelegateOptions, command: DelegateCommand): Promise<Outcome> {
  const path = findInPath(o.type, o.args.path);
  const env: Record<string, string | undefined> = { ...o.args.env, CNI_COMMAND: command };
  const stdin = typeof o.stdin === "string" ? encoder.encode(o.stdin) : o.stdin;
  const self = o.args.env.WEFT_NO_INPROC === "1" ? undefined : await selfPlugin(path, o.inProcess);
  const out = self ? await runInProcess(path, self, env, stdin) : await runExec(path, env, stdin, o.type);
  if (out.stderr !== "") o.args.stderr(out.stderr);
  if (out.exitCode !== 0) throw failure(o.type, out);
  return out;
}

/** The in-process plugin for `path` when that file is weft's own binary and it has a plugin of that name. */
async function selfPlugin(path: string, opt: DelegateOptions["inProcess"]): Promise<Plugin | undefined> {
  const loader = opt?.loader ?? getInProcessLoader();
  if (!loader || !sameFile(path, opt?.selfPath ?? process.execPath)) return undefined;
  return loader(basename(path));
}

function sameFile(a: string, b: string): boolean {
  try {
    const sa = statSync(a);
    const sb = statSync(b);
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return false;
  }
}

async function runInProcess(path: string, plugin: Plugin, env: Record<string, string | undefined>, stdin: Uint8Array): Promise<Outcome> {
  let stdout = "";
  let stderr = "";
  const exitCode = await dispatch(
    {
      env,
      readStdin: () => stdin,
      stdout: (t) => (stdout += t),
      stderr: (t) => (stderr += t),
    },
    plugin,
  );
  return { path, inProcess: true, exitCode, stdout, stderr };
}

async function runExec(path: string, env: Record<string, string | undefined>, stdin: Uint8Array, type: string): Promise<Outcome> {
  const cleanEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) cleanEnv[k] = v;
  for (let attempt = 0; ; attempt++) {
    try {
      const p = Bun.spawnSync([path], { env: cleanEnv, stdin, stdout: "pipe", stderr: "pipe" });
      const out: Outcome = { path, inProcess: false, exitCode: p.exitCode ?? 128, stdout: decoder.decode(p.stdout), stderr: decoder.decode(p.stderr) };
      if (p.signalCode) out.signal = String(p.signalCode);
      return out;
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      const delay = ETXTBSY_DELAYS_MS[attempt];
      if (code === "ETXTBSY" && delay !== undefined) {
        await Bun.sleep(delay);
        continue;
      }
      throw new CniError(CniCode.Internal, `Cannot run delegate plugin "${printable(type)}" (${path}): ${(e as Error).message}`, execHint(String(code)));
    }
  }
}

function execHint(code: string): string {
  switch (code) {
    case "EACCES":
      return "the file is not executable: check its mode (chmod 755) and that its file system is not mounted noexec";
    case "ENOEXEC":
      return "the file is not a program this machine can run: install the plugin again";
    case "ETXTBSY":
      return "the file was still being written after several retries: wait for the installation to finish";
    case "ENOENT":
      return "the file disappeared, or its interpreter is missing: install the plugin again";
    default:
      return "install the plugin again, or check the file named above";
  }
}

/**
 * The error for a delegate that exited non-zero: its own CNI error, passed through unchanged (code, msg,
 * details), or code 999 describing what it printed when that is not a CNI error.
 */
function failure(type: string, out: Outcome): CniError {
  const how = out.signal ? `was killed by ${out.signal}` : `exited with code ${out.exitCode}`;
  const who = `delegate plugin "${printable(type)}" (${out.path})`;
  const stderrNote = out.stderr.trim() === "" ? "it wrote nothing to stderr" : `stderr: ${quote(out.stderr)}`;
  if (out.stdout.trim() === "") return new CniError(CniCode.Internal, `${who} ${how} without an error message`, stderrNote);
  let e: unknown;
  try {
    e = JSON.parse(out.stdout);
  } catch {
    e = undefined;
  }
  if (typeof e !== "object" || e === null || Array.isArray(e)) {
    return new CniError(CniCode.Internal, `${who} ${how} and its error message is not a CNI error`, `stdout: ${quote(out.stdout)}; ${stderrNote}`);
  }
  const { code, msg, details } = e as Record<string, unknown>;
  const validCode = typeof code === "number" && Number.isInteger(code) && code > 0 ? code : CniCode.Internal;
  const text = typeof msg === "string" && msg !== "" ? msg : `${who} ${how}`;
  return new CniError(validCode, text, typeof details === "string" ? details : "");
}

function quote(s: string): string {
  const t = s.trim();
  return JSON.stringify(t.length > QUOTE_MAX ? `${t.slice(0, QUOTE_MAX)}…` : t);
}

/** The delegate config's cniVersion, "0.1.0" when it has none (Go's version decoder). */
function configVersion(stdin: Uint8Array | string): string {
  try {
    const v = (JSON.parse(typeof stdin === "string" ? stdin : decoder.decode(stdin)) as { cniVersion?: unknown }).cniVersion;
    return typeof v === "string" && v !== "" ? v : "0.1.0";
  } catch {
    return "0.1.0";
  }
}
