// Running one plugin as a process, as a runtime does (Go pkg/invoke: find.go, raw_exec.go): the binary is the first
// regular file named like the plugin type in CNI_PATH; the config goes to stdin, the CNI_* variables into the
// environment; a non-zero exit is decoded from the error JSON on stdout. The plugin's stderr is passed on.
import { CniCode, CniError } from "../cni/errors.ts";
import { findInPath } from "../delegate/index.ts";
import { LibcniError, PluginError, type Op } from "./errors.ts";

/**
 * The first regular file called `name` in `dirs` (shared/delegate's findInPath: Go's FindInPath, no exec-bit check).
 * @throws {LibcniError} saying which directories were searched
 */
export function findPlugin(name: string, dirs: readonly string[]): string {
  if (dirs.filter((d) => d !== "").length === 0) throw new LibcniError(`Cannot find plugin "${name}": CNI_PATH is empty (set CNI_PATH or --cni-path)`);
  try {
    return findInPath(name, dirs);
  } catch (e) {
    if (!(e instanceof CniError)) throw e;
    if (e.code === CniCode.Internal) throw new LibcniError(`Cannot find plugin "${name}" in CNI_PATH (searched ${dirs.join(", ")})`);
    throw new LibcniError(`Cannot look up plugin "${name}": ${e.msg}${e.details ? ` (${e.details})` : ""}`);
  }
}

export interface ExecRequest {
  /** The plugin type, for messages. */
  plugin: string;
  /** The binary, from findPlugin(). */
  path: string;
  op: Op;
  stdin: string;
  /** The complete environment of the child. */
  env: Record<string, string>;
  /** Receives the plugin's stderr. */
  stderr(text: string): void;
}

const TEXT_BUSY_RETRIES = 5;

/**
 * Runs the plugin and returns its stdout on success.
 * @throws {PluginError} when it exits non-zero (code/msg/details from its error JSON)
 * @throws {LibcniError} when it cannot be started
 */
export function execPlugin(r: ExecRequest): string {
  for (let attempt = 0; ; attempt++) {
    let p: ReturnType<typeof Bun.spawnSync>;
    try {
      p = Bun.spawnSync([r.path], { env: r.env, stdin: Buffer.from(r.stdin), stdout: "pipe", stderr: "pipe" });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // Another process may still hold the binary open for writing (an install in progress): libcni retries too.
      if (code === "ETXTBSY" && attempt < TEXT_BUSY_RETRIES) {
        Bun.sleepSync(1000);
        continue;
      }
      throw new LibcniError(`Cannot execute plugin "${r.plugin}" (${r.path}): ${code ?? (e as Error).message}`);
    }
    const stdout = p.stdout?.toString() ?? "";
    const stderr = p.stderr?.toString() ?? "";
    if (stderr) r.stderr(stderr);
    if (p.exitCode === 0) return stdout;
    throw decodeFailure(r, stdout, stderr, p.exitCode ?? -1, p.signalCode ? String(p.signalCode) : undefined);
  }
}

function decodeFailure(r: ExecRequest, stdout: string, stderr: string, exitCode: number, signal?: string): PluginError {
  const how = signal ? `killed by ${signal}` : `exit status ${exitCode}`;
  const base = { plugin: r.plugin, op: r.op };
  if (stdout.trim() === "") {
    const msg = stderr.trim() ? `netplugin failed: ${JSON.stringify(stderr.trim())}: ${how}` : `netplugin failed with no error message: ${how}`;
    return new PluginError({ ...base, code: 999, msg });
  }
  try {
    const e = JSON.parse(stdout) as { code?: unknown; msg?: unknown; details?: unknown };
    if (typeof e.code === "number") {
      return new PluginError({ ...base, code: e.code, msg: typeof e.msg === "string" ? e.msg : "", details: typeof e.details === "string" ? e.details : "" });
    }
  } catch {
    // fall through
  }
  return new PluginError({ ...base, code: 999, msg: `netplugin failed but error parsing its diagnostic message ${JSON.stringify(stdout.trim())}: ${how}` });
}
