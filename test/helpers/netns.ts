// Test helpers for kernel tests: throwaway network namespaces (named `weft-t-<pid>-<rand>-<label>` so a leak guard can
// find them), interface names that fit IFNAMSIZ, and running a command inside a namespace via `ip netns exec`.
// Every test makes its own "host" namespace with these and never touches the machine's own netns (style.md §12).
import { randomBytes } from "node:crypto";

/** Prefix of every namespace made by {@link createTestNetns}; a leak guard can look for it in `ip netns list`. */
export const TEST_NETNS_PREFIX = "weft-t-";

/** A test network namespace; `[Symbol.dispose]()` deletes it (`using ns = createTestNetns("host")`). */
export interface TestNetns extends Disposable {
  /** Name for `ip netns exec` / {@link runIn}. */
  readonly name: string;
  /** Bind-mounted namespace file, `/run/netns/<name>`: what `CNI_NETNS` and `withNetns()` take. */
  readonly path: string;
}

/** The outcome of {@link runIn}. */
export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

function rand(bytes: number): string {
  return randomBytes(bytes).toString("hex");
}

/**
 * Creates a new network namespace `weft-t-<pid>-<rand>-<label>` with `ip netns add` (its loopback is down, as in a
 * fresh pod). Disposing it runs `ip netns del`, ignoring a namespace that is already gone.
 * @throws {Error} when `ip netns add` fails (the message holds its stderr)
 */
export function createTestNetns(label: string): TestNetns {
  const safe = label.replace(/[^A-Za-z0-9_-]/g, "-").slice(0, 32);
  const name = `${TEST_NETNS_PREFIX}${process.pid}-${rand(3)}-${safe}`;
  const r = Bun.spawnSync(["ip", "netns", "add", name], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) {
    throw new Error(`Cannot create test netns "${name}": ip netns add exited ${r.exitCode}: ${r.stderr.toString().trim()}`);
  }
  liveTestNetns.add(name);
  return {
    name,
    path: `/run/netns/${name}`,
    [Symbol.dispose]() {
      Bun.spawnSync(["ip", "netns", "del", name], { stdout: "ignore", stderr: "ignore" });
      liveTestNetns.delete(name);
    },
  };
}

/** Namespaces made by this process and not yet deleted: the preload (test/helpers/preload.ts) removes them at exit. */
export const liveTestNetns = new Set<string>();

/** Deletes every namespace this process made and did not delete (a test that timed out never disposes). */
export function deleteLeftoverTestNetns(): string[] {
  const left = [...liveTestNetns];
  for (const name of left) {
    Bun.spawnSync(["ip", "netns", "del", name], { stdout: "ignore", stderr: "ignore" });
    liveTestNetns.delete(name);
  }
  return left;
}

let ifnameCounter = 0;

/**
 * An interface name unique within this process and likely across processes: `<prefix><counter><random>`, at most
 * 15 bytes (IFNAMSIZ - 1). The prefix is cut to 8 characters.
 */
export function uniqueIfname(prefix: string): string {
  const p = prefix.replace(/[^A-Za-z0-9_-]/g, "").slice(0, 8);
  const n = (ifnameCounter++ % 1296).toString(36); // at most 2 characters
  return `${p}${n}${rand(4)}`.slice(0, 15);
}

/**
 * Runs `argv` inside the namespace `nsName` with `ip netns exec` (which also mounts that namespace's /sys, so
 * `/sys/class/net/<dev>/...` shows its devices). Nothing is inherited from `process.env` unless passed in `env`
 * (PATH is always set).
 */
export function runIn(
  nsName: string,
  argv: string[],
  opts: { stdin?: string | Uint8Array; env?: Record<string, string>; cwd?: string } = {},
): RunResult {
  const r = Bun.spawnSync(["ip", "netns", "exec", nsName, ...argv], {
    stdin: opts.stdin === undefined ? "ignore" : typeof opts.stdin === "string" ? Buffer.from(opts.stdin) : opts.stdin,
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", ...opts.env },
    ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }),
  });
  return { exitCode: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}
