// Reading and writing /proc/sys (the reference's pkg/utils/sysctl). Keys take sysctl(8)'s two spellings:
// "net.ipv4.ip_forward" or "net/ipv4/ip_forward"; with a "/" present dots are kept, so "net/ipv4/conf/eth0.100/rp_filter"
// works. /proc/sys/net/* reflects the netns of the thread that opens the file, so these calls honour withNetns().
import { readFileSync, writeFileSync } from "node:fs";

/** A sysctl key that is empty, absolute, or would leave /proc/sys ("..", ".", empty components, NUL). */
export class InvalidSysctlKeyError extends Error {
  readonly key: string;
  constructor(key: string, why: string) {
    super(`Invalid sysctl key "${key}": ${why}`);
    this.name = "InvalidSysctlKeyError";
    this.key = key;
  }
}

/** Reading or writing a sysctl failed; `code` is the errno name (`ENOENT` when the key does not exist on write). */
export class SysctlError extends Error {
  readonly key: string;
  readonly op: "read" | "write";
  readonly code: string;
  constructor(key: string, op: "read" | "write", code: string, detail: string) {
    super(`Cannot ${op} sysctl "${key}": ${code} (${detail})`);
    this.name = "SysctlError";
    this.key = key;
    this.op = op;
    this.code = code;
  }
}

/**
 * The /proc/sys path for `key`.
 * @throws {InvalidSysctlKeyError}
 */
export function sysctlPath(key: string): string {
  if (key.length === 0) throw new InvalidSysctlKeyError(key, "empty");
  if (key.includes("\0")) throw new InvalidSysctlKeyError(key, "contains NUL");
  if (key.startsWith("/")) throw new InvalidSysctlKeyError(key, "must be relative to /proc/sys");
  const parts = key.includes("/") ? key.split("/") : key.split(".");
  for (const p of parts) {
    if (p === "" || p === "." || p === "..") throw new InvalidSysctlKeyError(key, `component "${p}" is not allowed`);
  }
  return "/proc/sys/" + parts.join("/");
}

function errCode(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? "EIO";
}

/**
 * The sysctl's value with surrounding whitespace trimmed, or `undefined` when the key does not exist.
 * @throws {InvalidSysctlKeyError}
 * @throws {SysctlError} any failure but ENOENT (e.g. EACCES, EISDIR for a directory key)
 */
export function readSysctl(key: string): string | undefined {
  const path = sysctlPath(key);
  try {
    return readFileSync(path, "utf8").trim();
  } catch (e) {
    if (errCode(e) === "ENOENT") return undefined;
    throw new SysctlError(key, "read", errCode(e), (e as Error).message);
  }
}

/**
 * Writes `value` to the sysctl (the kernel parses it; a newline is not needed).
 * @throws {InvalidSysctlKeyError}
 * @throws {SysctlError} `code` ENOENT when the key does not exist, EINVAL when the kernel rejects the value
 */
export function writeSysctl(key: string, value: string): void {
  const path = sysctlPath(key);
  try {
    // "r+" rather than "w": never create a file, and /proc ignores truncation anyway
    writeFileSync(path, value, { flag: "r+" });
  } catch (e) {
    throw new SysctlError(key, "write", errCode(e), (e as Error).message);
  }
}

/** Values compare equal when they differ only in whitespace runs ("1024 65535" vs "1024\t65535"). */
function normalize(v: string): string {
  return v.trim().split(/\s+/).join(" ");
}

/**
 * Sets the sysctl to `value` unless it already has it; returns whether it wrote.
 * @throws {InvalidSysctlKeyError}
 * @throws {SysctlError} the key does not exist (`code` ENOENT) or the read/write failed
 */
export function ensureSysctl(key: string, value: string): boolean {
  const current = readSysctl(key);
  if (current === undefined) throw new SysctlError(key, "read", "ENOENT", "no such sysctl");
  if (normalize(current) === normalize(value)) return false;
  writeSysctl(key, value);
  return true;
}
