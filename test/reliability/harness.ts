// The reliability suite's harness (issue 9): counts that WEFT_STRESS=1 raises, the output directory for the
// figures, asynchronous plugin processes that can be SIGKILLed at a chosen moment, and the leftover guard: every
// trial records what it creates in a marker file, removes it on dispose (and on SIGINT/SIGTERM), and a run refuses
// to start while a dead run's markers or test namespaces are still there, naming them.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createTestNetns, TEST_NETNS_PREFIX, type TestNetns } from "../helpers/netns.ts";
import { tempDir, WEFT_BIN } from "../helpers/plugin.ts";

/** `make stress` sets WEFT_STRESS=1: the long variant. */
export const STRESS = /^(1|true)$/i.test(process.env.WEFT_STRESS ?? "");

/** `normal` in `make test`, `stress` under WEFT_STRESS=1. */
export function count(normal: number, stress: number): number {
  return STRESS ? stress : normal;
}

/** Where the suite writes its figures (crash distributions, fast-check statistics). */
export const OUT_DIR = "/tmp/weft-reliability";
const MARKER_DIR = join(OUT_DIR, "markers");

export function writeOutput(name: string, text: string): string {
  mkdirSync(OUT_DIR, { recursive: true });
  const path = join(OUT_DIR, name);
  writeFileSync(path, text);
  return path;
}

// ---- leftovers ---------------------------------------------------------------------------------------------

interface Marker {
  pid: number;
  netns: string[];
  dirs: string[];
}

const alive = (pid: number) => existsSync(`/proc/${pid}`);

/** What dead runs left: `weft-t-<pid>-…` namespaces whose process is gone, and this suite's markers of dead pids. */
export function findLeftovers(): string[] {
  const found: string[] = [];
  const list = Bun.spawnSync(["ip", "netns", "list"], { stdout: "pipe", stderr: "ignore" }).stdout.toString();
  for (const line of list.split("\n")) {
    const name = line.split(" ")[0] ?? "";
    const m = name.startsWith(TEST_NETNS_PREFIX) ? /^weft-t-(\d+)-/.exec(name) : null;
    if (m && !alive(Number(m[1]))) found.push(`netns ${name}`);
  }
  if (existsSync(MARKER_DIR)) {
    for (const f of readdirSync(MARKER_DIR)) {
      const pid = Number(f.split("-")[0]);
      if (alive(pid)) continue;
      let what = "";
      try {
        const m = JSON.parse(readFileSync(join(MARKER_DIR, f), "utf8")) as Marker;
        what = [...m.netns.map((n) => `netns ${n}`), ...m.dirs].join(", ");
      } catch {
        what = "unreadable marker";
      }
      found.push(`marker ${join(MARKER_DIR, f)} (${what})`);
    }
  }
  return found;
}

/**
 * Throws, naming them, when a previous run's leftovers are present; call it in beforeAll. WEFT_LEFTOVERS=warn (for
 * a developer whose machine holds another engineer's leftovers; `make test` never sets it) only prints them.
 */
export function refuseLeftovers(): void {
  if (!Bun.file(join(WEFT_BIN, "weft")).size) throw new Error("build/bin/weft is missing: run `make build` first");
  const left = findLeftovers();
  if (left.length && process.env.WEFT_LEFTOVERS === "warn") {
    console.warn(`WEFT_LEFTOVERS=warn: a previous run left these behind:\n  ${left.join("\n  ")}`);
    return;
  }
  if (left.length) {
    throw new Error(
      `refusing to run: a previous run left these behind:\n  ${left.join("\n  ")}\n` +
        `remove the namespaces with \`ip netns del <name>\`, the directories with rm -rf, then the marker files`,
    );
  }
}

/** Live trials' markers and the namespaces they made (disposed through the helper, so its registry knows). */
const live = new Map<string, { m: Marker; ns: TestNetns[] }>();

function disposeMarker(file: string): void {
  const t = live.get(file);
  if (!t) return;
  for (const ns of t.ns) ns[Symbol.dispose]();
  for (const d of t.m.dirs) rmSync(d, { recursive: true, force: true });
  rmSync(file, { force: true });
  live.delete(file);
  if (live.size === 0) untrap();
}

/** SIGINT/SIGTERM while trials run: remove what every live marker recorded, then exit as the signal would. */
function onSignal(sig: NodeJS.Signals): void {
  for (const file of [...live.keys()]) disposeMarker(file);
  process.exit(sig === "SIGINT" ? 130 : 143);
}
let trapped = false;
function trap(): void {
  if (trapped) return;
  trapped = true;
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}
/** The handlers exist only while a trial is live: the rest of the test run keeps Bun's own signal handling. */
function untrap(): void {
  trapped = false;
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
}

/**
 * A trial's resources: namespaces and temp directories made through it are recorded in a marker file (so a run
 * killed with SIGKILL is noticed by the next one) and all removed on dispose, even when the trial failed.
 */
export class Trial implements Disposable {
  readonly #file: string;
  readonly #m: Marker = { pid: process.pid, netns: [], dirs: [] };
  constructor(label: string) {
    trap();
    mkdirSync(MARKER_DIR, { recursive: true });
    this.#file = join(MARKER_DIR, `${process.pid}-${label}-${Math.random().toString(36).slice(2, 8)}.json`);
    this.#save();
    live.set(this.#file, { m: this.#m, ns: [] });
  }
  #save(): void {
    writeFileSync(this.#file, JSON.stringify(this.#m));
  }
  netns(label: string): TestNetns {
    const ns = createTestNetns(label);
    live.get(this.#file)?.ns.push(ns);
    this.#m.netns.push(ns.name);
    this.#save();
    return ns;
  }
  dir(label: string): string {
    const d = tempDir(label);
    this.#m.dirs.push(d.path);
    this.#save();
    return d.path;
  }
  [Symbol.dispose](): void {
    disposeMarker(this.#file);
  }
}

// ---- processes ---------------------------------------------------------------------------------------------

export interface Proc {
  exitCode: number | null;
  /** "SIGKILL" when the process was killed. */
  signal: string | null;
  stdout: string;
  stderr: string;
  json: Record<string, unknown> | undefined;
  ms: number;
}

export interface SpawnOptions {
  binDir: string;
  plugin: string;
  command: string;
  stdin: string | Uint8Array;
  /** The CNI_* variables (absent ones are not set); CNI_COMMAND is `command`. */
  cni?: { containerId?: string; netns?: string; ifname?: string; args?: string; path?: string };
  /** Run inside this named netns (ip netns exec: it execs the plugin, so the pid killed is the plugin's). */
  hostNetns?: string;
  /** Replaces the whole environment: then CNI_PATH comes from here unless `cni.path` is given. */
  env?: Record<string, string>;
  cwd?: string;
  /** SIGKILL the process this many ms after it was spawned. */
  killAfterMs?: number;
  /** Prefix argv (e.g. strace), placed after `ip netns exec <ns>`. */
  wrap?: string[];
  timeoutMs?: number;
}

export const BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/** iproute2's `ip`, resolved once: a test's PATH for the plugin may not contain it. */
const IP = Bun.which("ip", { PATH: BASE_PATH }) ?? "/usr/sbin/ip";

/** Runs one plugin process asynchronously, optionally killing it with SIGKILL after `killAfterMs`. */
export async function spawnPlugin(o: SpawnOptions): Promise<Proc> {
  const env: Record<string, string> = { ...(o.env ?? { PATH: BASE_PATH }), CNI_COMMAND: o.command };
  const c = o.cni ?? {};
  if (c.containerId !== undefined) env.CNI_CONTAINERID = c.containerId;
  if (c.netns !== undefined) env.CNI_NETNS = c.netns;
  if (c.ifname !== undefined) env.CNI_IFNAME = c.ifname;
  if (c.args !== undefined) env.CNI_ARGS = c.args;
  if (c.path !== undefined || !o.env) env.CNI_PATH = c.path ?? o.binDir; // with a whole env given, its own CNI_PATH (or none)
  const exe = join(o.binDir, o.plugin);
  const argv = [...(o.hostNetns ? [IP, "netns", "exec", o.hostNetns] : []), ...(o.wrap ?? []), exe];
  const t0 = performance.now();
  const p = Bun.spawn(argv, {
    env,
    stdin: typeof o.stdin === "string" ? Buffer.from(o.stdin) : o.stdin,
    stdout: "pipe",
    stderr: "pipe",
    ...(o.cwd ? { cwd: o.cwd } : {}),
  });
  const timers: Array<ReturnType<typeof setTimeout>> = [];
  if (o.killAfterMs !== undefined) timers.push(setTimeout(() => p.kill("SIGKILL"), Math.max(0, o.killAfterMs)));
  timers.push(setTimeout(() => p.kill("SIGKILL"), o.timeoutMs ?? 60_000));
  const [stdout, stderr] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  await p.exited;
  for (const t of timers) clearTimeout(t);
  let json: Record<string, unknown> | undefined;
  try {
    json = stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : undefined;
  } catch {
    json = undefined;
  }
  return { exitCode: p.exitCode, signal: p.signalCode === null ? null : String(p.signalCode), stdout, stderr, json, ms: performance.now() - t0 };
}

/** A small fixed-concurrency pool (the machine has 2 cores; 64 at once is for the tests that want it). */
export async function pool<T, R>(items: T[], width: number, fn: (t: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i] as T, i);
      }
    }),
  );
  return out;
}
