// Network namespaces on the calling thread: withNetns() enters one for a synchronous callback and always switches
// back (Go pkg/ns/ns_linux.go `Do`, minus the locked OS thread: setns(2) affects only the calling thread, and bun:ffi
// calls run on the JS thread, so every sync fs, FFI and netlink call inside the callback sees the target netns).
// Public surface of shared/netns; check.ts holds the path validation shared with DEL's "netns is gone" handling.
import { closeSync, constants as fsConstants, openSync, statSync, writeSync } from "node:fs";
import { CLONE_NEWNET, NSFS_MAGIC, PROC_SUPER_MAGIC, SysError, fstatfsType, setns } from "../sys/libc.ts";
import { NetnsNotFoundError, NotANetnsError, checkNetnsPath } from "./check.ts";

export { NetnsNotFoundError, NotANetnsError, checkNetnsPath };

/** `T` unless it is a thenable: makes `withNetns(p, async () => …)` a compile error. */
export type NotPromise<T> = T extends PromiseLike<unknown> ? never : T;

/** What withNetns() hands its callback: the namespace the thread was in before entering. */
export interface NetnsHandle {
  /** An fd of the ORIGINAL (host) netns, open only while the callback runs: usable as `peerNetnsFd`. */
  readonly fd: number;
  /** `/proc/self/fd/<fd>`: a path naming the original netns, valid only while the callback runs. */
  readonly path: string;
}

/** withNetns() was given a callback that returned a Promise or other thenable: the work after its first `await` would
 * run in the wrong namespace. This is a programming error. */
export class NetnsAsyncCallbackError extends Error {
  readonly path: string;
  constructor(path: string) {
    super(`Cannot run an async callback in network namespace "${path}": withNetns() callbacks must be synchronous`);
    this.name = "NetnsAsyncCallbackError";
    this.path = path;
  }
}

const CURRENT_NETNS = "/proc/thread-self/ns/net";

/** The calling thread's own netns file, `/proc/thread-self/ns/net` (not `/proc/self/...`: that is the main thread's). */
export function currentNetnsPath(): string {
  return CURRENT_NETNS;
}

/**
 * Opens a network namespace file read-only (O_CLOEXEC) and checks, on the open descriptor, that it lives on nsfs or
 * procfs: no window between check and use. A FIFO at the path does not block (O_NONBLOCK). The caller closes the fd.
 * @throws {NetnsNotFoundError} the path does not exist
 * @throws {NotANetnsError} the path is not a namespace file
 * @throws {SysError} any other open/fstatfs failure
 */
export function openNetnsFd(path: string): number {
  let fd: number;
  try {
    fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") throw new NetnsNotFoundError(path);
    throw e;
  }
  try {
    const magic = fstatfsType(fd);
    if (magic !== NSFS_MAGIC && magic !== PROC_SUPER_MAGIC) throw new NotANetnsError(path, magic);
    return fd;
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/**
 * Whether `path` names the netns the calling thread is in now (same device and inode as `/proc/thread-self/ns/net`).
 * @throws {NetnsNotFoundError} the path does not exist
 */
export function isCurrentNetns(path: string): boolean {
  let a;
  try {
    a = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") throw new NetnsNotFoundError(path);
    throw e;
  }
  const b = statSync(CURRENT_NETNS);
  return a.dev === b.dev && a.ino === b.ino;
}

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return (
    (typeof x === "object" || typeof x === "function") &&
    x !== null &&
    typeof (x as { then?: unknown }).then === "function"
  );
}

/** The process cannot keep running JS in an unknown namespace: report a CNI error on stdout and exit (Go drops the
 * OS thread instead, which a single-threaded runtime cannot do). */
function dieRestoreFailed(path: string, err: unknown): never {
  const msg = `Cannot switch back to the original network namespace after entering "${path}"`;
  const details = err instanceof Error ? err.message : String(err);
  try {
    writeSync(1, JSON.stringify({ cniVersion: "1.1.0", code: 999, msg, details }) + "\n");
  } finally {
    process.exit(1);
  }
}

/**
 * Runs `fn` inside the network namespace at `path` on the calling thread, then switches back, also when `fn` throws.
 * `fn` must be synchronous: a returned thenable is a programming error and throws {@link NetnsAsyncCallbackError}
 * (after switching back; its rejection is swallowed). Netlink sockets opened inside stay bound to that namespace, so
 * close them inside (`using`). Sync fs calls (/proc/sys/net) and `Bun.spawnSync` children (iptables, ip) made inside
 * see the target namespace (checked by test/netns/netns.test.ts). Nesting works. If switching back fails, a CNI error JSON
 * (`{"cniVersion":"1.1.0","code":999,...}`) is written to fd 1 and the process exits with status 1 at once.
 * @throws {NetnsNotFoundError} `path` does not exist (nothing was entered)
 * @throws {NotANetnsError} `path` is not a network namespace (nothing was entered)
 * @throws {NetnsAsyncCallbackError} `fn` returned a thenable
 * @throws {SysError} other failures to open or enter the namespace; and whatever `fn` throws
 */
export function withNetns<T>(path: string, fn: (host: NetnsHandle) => NotPromise<T>): T {
  const targetFd = openNetnsFd(path);
  let hostFd: number;
  try {
    hostFd = openSync(CURRENT_NETNS, fsConstants.O_RDONLY);
  } catch (e) {
    closeSync(targetFd);
    throw e;
  }
  try {
    setns(targetFd, CLONE_NEWNET);
  } catch (e) {
    closeSync(hostFd);
    // nsfs but another namespace type (e.g. /proc/self/ns/uts) is EINVAL
    if (e instanceof SysError && e.code === "EINVAL") throw new NotANetnsError(path, NSFS_MAGIC);
    throw e;
  } finally {
    closeSync(targetFd);
  }
  let result: T;
  try {
    result = fn({ fd: hostFd, path: `/proc/self/fd/${hostFd}` });
  } finally {
    try {
      setns(hostFd, CLONE_NEWNET);
    } catch (e) {
      dieRestoreFailed(path, e);
    }
    closeSync(hostFd);
  }
  if (isThenable(result)) {
    // Keep an unhandled rejection from surfacing later as an unrelated crash.
    result.then(undefined, () => undefined);
    throw new NetnsAsyncCallbackError(path);
  }
  return result;
}
