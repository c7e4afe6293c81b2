// Runs weft's compiled plugins (build/bin/<name>, made by `make build`) and the reference plugins
// (/usr/lib/cni/<name>) as processes, with the CNI environment and stdin passed explicitly, optionally inside a
// test's "host" namespace (ip netns exec). Tests never touch process.env.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dir, "../..");
export const WEFT_BIN = join(ROOT, "build/bin");
export const REF_BIN = "/usr/lib/cni";

export interface PluginRun {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON, or undefined when empty/unparsable. */
  json: Record<string, unknown> | undefined;
  ms: number;
}

export interface RunOptions {
  /** Directory holding the plugin binary: WEFT_BIN (default) or REF_BIN. */
  binDir?: string;
  /** Plugin name, e.g. "bridge". */
  plugin: string;
  command: "ADD" | "DEL" | "CHECK" | "GC" | "STATUS" | "VERSION" | string;
  conf?: unknown;
  /** Raw stdin (instead of conf). */
  stdin?: string;
  containerId?: string;
  netns?: string;
  ifname?: string;
  args?: string;
  /** CNI_PATH; defaults to binDir. */
  path?: string;
  /** Run inside this named netns (ip netns exec). */
  hostNetns?: string;
  /** Extra variables; a value of undefined removes the variable. */
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
}

/** Runs one plugin command as a process and captures everything. */
export function runPlugin(o: RunOptions): PluginRun {
  const binDir = o.binDir ?? WEFT_BIN;
  const env: Record<string, string> = { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin" };
  const set = (k: string, v: string | undefined) => {
    if (v !== undefined) env[k] = v;
  };
  set("CNI_COMMAND", o.command);
  set("CNI_CONTAINERID", o.containerId);
  set("CNI_NETNS", o.netns);
  set("CNI_IFNAME", o.ifname);
  set("CNI_ARGS", o.args);
  set("CNI_PATH", o.path ?? binDir);
  for (const [k, v] of Object.entries(o.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const exe = join(binDir, o.plugin);
  const argv = o.hostNetns ? ["ip", "netns", "exec", o.hostNetns, exe] : [exe];
  const stdin = o.stdin ?? (o.conf === undefined ? "" : JSON.stringify(o.conf));
  const t0 = performance.now();
  const p = Bun.spawnSync(argv, { env, stdin: Buffer.from(stdin), stdout: "pipe", stderr: "pipe", timeout: o.timeoutMs ?? 60_000 });
  const ms = performance.now() - t0;
  const stdout = p.stdout.toString();
  let json: Record<string, unknown> | undefined;
  try {
    json = stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : undefined;
  } catch {
    json = undefined;
  }
  return { exitCode: p.exitCode ?? -1, stdout, stderr: p.stderr.toString(), json, ms };
}

/** A temporary directory removed on dispose. */
export function tempDir(label: string): Disposable & { path: string } {
  const path = mkdtempSync(join(tmpdir(), `weft-t-${label}-`));
  return { path, [Symbol.dispose]: () => rmSync(path, { recursive: true, force: true }) };
}
