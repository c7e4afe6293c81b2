// Exclusive inter-process locks with flock(2) on a lock file, as the reference host-local takes them
// (go-filemutex: open(path, O_CREAT|O_RDONLY, 0750), flock(LOCK_EX)), so weft and the Go plugins exclude each
// other on a shared directory. The kernel drops the lock when its holder dies, even by SIGKILL: nothing stale.
import { closeSync, constants, openSync } from "node:fs";
import { LOCK_EX, LOCK_NB, LOCK_SH, flock } from "../sys/libc.ts";

/** A held lock; disposing it (or exiting) releases it. */
export interface FileLock extends Disposable {
  readonly path: string;
  release(): void;
}

export interface LockOptions {
  /**
   * Give up after this long (polling with LOCK_NB). Omitted: wait as long as it takes, as the reference does
   * (a blocking flock wakes the moment the holder lets go).
   */
  timeoutMs?: number;
  /** Take a shared lock (LOCK_SH): holders of shared locks exclude only an exclusive holder. */
  shared?: boolean;
}

/** The lock is still held by someone else after `timeoutMs`. */
export class LockTimeoutError extends Error {
  readonly path: string;
  readonly timeoutMs: number;
  constructor(path: string, timeoutMs: number) {
    super(`Cannot lock "${path}": still held by another process after ${timeoutMs} ms`);
    this.name = "LockTimeoutError";
    this.path = path;
    this.timeoutMs = timeoutMs;
  }
}

/** go-filemutex's mode for the lock file (rwxr-x--- under umask 022); kept for byte-level parity. */
const LOCK_FILE_MODE = 0o750;
/** Linux O_CLOEXEC (node:fs does not export it): a delegate exec'd by an in-process caller must not inherit the lock. */
const O_CLOEXEC = 0o2000000;
const OPEN_FLAGS = constants.O_CREAT | constants.O_RDONLY | O_CLOEXEC;

/**
 * Opens (creating if needed) `path` and takes an exclusive flock on it.
 * @throws {Error} from open(2) (a Node fs error with `code`), {SysError} from flock, {LockTimeoutError}
 */
export function acquireFileLock(path: string, opts: LockOptions = {}): FileLock {
  const fd = openSync(path, OPEN_FLAGS, LOCK_FILE_MODE);
  const mode = opts.shared ? LOCK_SH : LOCK_EX;
  try {
    if (opts.timeoutMs === undefined) flock(fd, mode);
    else waitFor(fd, path, opts.timeoutMs, mode);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  let open = true;
  const release = () => {
    if (!open) return;
    open = false;
    closeSync(fd); // closing the only descriptor of the open file description drops the flock
  };
  return { path, release, [Symbol.dispose]: release };
}

function waitFor(fd: number, path: string, timeoutMs: number, mode: number): void {
  const deadline = performance.now() + timeoutMs;
  let pauseMs = 1;
  while (!flock(fd, mode | LOCK_NB)) {
    if (performance.now() >= deadline) throw new LockTimeoutError(path, timeoutMs);
    Bun.sleepSync(pauseMs);
    pauseMs = Math.min(pauseMs * 2, 50);
  }
}

/**
 * Takes the lock only if it is free right now; undefined when another process holds it.
 * @throws {Error} from open(2), {SysError} from flock
 */
export function tryAcquireFileLock(path: string): FileLock | undefined {
  const fd = openSync(path, OPEN_FLAGS, LOCK_FILE_MODE);
  let ok = false;
  try {
    ok = flock(fd, LOCK_EX | LOCK_NB);
  } finally {
    if (!ok) closeSync(fd);
  }
  if (!ok) return undefined;
  let open = true;
  const release = () => {
    if (!open) return;
    open = false;
    closeSync(fd);
  };
  return { path, release, [Symbol.dispose]: release };
}
