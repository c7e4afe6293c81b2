// Recognising a network namespace path before entering it (Go pkg/ns IsNSorErr): the path must exist and live
// on nsfs (a bind-mounted netns) or procfs (/proc/<pid>/ns/net). Typed errors let DEL treat "gone" as success.
import { NSFS_MAGIC, PROC_SUPER_MAGIC, SysError, statfsType } from "../sys/libc.ts";

export class NetnsNotFoundError extends Error {
  readonly path: string;
  constructor(path: string) {
    super(`network namespace "${path}" does not exist`);
    this.name = "NetnsNotFoundError";
    this.path = path;
  }
}

export class NotANetnsError extends Error {
  readonly path: string;
  constructor(path: string, magic: number) {
    super(`"${path}" is not a network namespace (file system magic 0x${magic.toString(16)}, expected nsfs or procfs)`);
    this.name = "NotANetnsError";
    this.path = path;
  }
}

/** @throws {NetnsNotFoundError} @throws {NotANetnsError} @throws {SysError} for other statfs failures */
export function checkNetnsPath(path: string): void {
  let magic: number;
  try {
    magic = statfsType(path);
  } catch (e) {
    if (e instanceof SysError && (e.code === "ENOENT" || e.code === "ENOTDIR")) throw new NetnsNotFoundError(path);
    throw e;
  }
  if (magic !== NSFS_MAGIC && magic !== PROC_SUPER_MAGIC) throw new NotANetnsError(path, magic);
}
