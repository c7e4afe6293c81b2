// A host-wide lock around read-modify-write of iptables state. iptables-restore is atomic, but deciding what
// to write needs a fresh iptables-save first; without the lock two concurrent ADDs could both see a shared
// rule missing and both add it. flock(2), so a killed holder releases it at once.
import { closeSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { LOCK_EX, flock } from "../sys/libc.ts";

/** Where weft's iptables lock lives (next to the xtables lock iptables itself takes in /run). */
export const IPTABLES_LOCK_PATH = "/run/weft/iptables.lock";

/**
 * Runs `fn` while holding weft's iptables lock (waits for it).
 * @throws {SysError} when the lock file cannot be opened or locked
 */
export function withIptablesLock<T>(fn: () => T, path = IPTABLES_LOCK_PATH): T {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  const fd = openSync(path, "a", 0o600);
  try {
    flock(fd, LOCK_EX);
    return fn();
  } finally {
    closeSync(fd); // closing the descriptor releases the lock
  }
}
