// The only file that calls dlopen("libc.so.6"): thin wrappers over the few syscalls Node's fs lacks
// (sockets for netlink, setns, flock, statfs). Each wrapper reads errno through __errno_location()
// straight after the call and throws SysError. Buffers are Uint8Arrays the caller keeps referenced.
import { dlopen, FFIType, ptr, read } from "bun:ffi";
import { statfsSync } from "node:fs";
import { constants as osConstants } from "node:os";

/** A failed syscall: `code` is the errno name (`ENOENT`), `errno` its number. */
export class SysError extends Error {
  readonly syscall: string;
  readonly errno: number;
  readonly code: string;
  constructor(syscall: string, errno: number, code = errnoName(errno)) {
    super(`${syscall} failed: ${code} (${strerrorText(errno)})`);
    this.name = "SysError";
    this.syscall = syscall;
    this.errno = errno;
    this.code = code;
  }
}

const ERRNO_NAMES: Map<number, string> = new Map(
  Object.entries(osConstants.errno).map(([name, n]) => [n as number, name]),
);

/** The errno's symbolic name, e.g. 17 → "EEXIST". */
export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `E${errno}`;
}

const { i32, u32, i64, u64, ptr: P } = FFIType;

// bun:ffi compiles a trampoline for every symbol at dlopen() time, which costs milliseconds at start-up.
// So the symbols are opened in small groups, each on first use: VERSION opens none, host-local opens only
// flock, a netlink user only the socket group.
const GROUPS = {
  errno: {
    __errno_location: { args: [], returns: P },
    strerror: { args: [i32], returns: FFIType.cstring },
  },
  sock: {
    socket: { args: [i32, i32, i32], returns: i32 },
    bind: { args: [i32, P, u32], returns: i32 },
    getsockname: { args: [i32, P, P], returns: i32 },
    send: { args: [i32, P, u64, i32], returns: i64 },
    recv: { args: [i32, P, u64, i32], returns: i64 },
    setsockopt: { args: [i32, i32, i32, P, u32], returns: i32 },
    close: { args: [i32], returns: i32 },
  },
  ns: { setns: { args: [i32, i32], returns: i32 } },
  lock: { flock: { args: [i32, i32], returns: i32 } },
  fs: { fstatfs: { args: [i32, P], returns: i32 } },
} as const;
type Groups = typeof GROUPS;
type Symbols<G extends keyof Groups> = ReturnType<typeof dlopen<Groups[G]>>["symbols"];
const opened = new Map<keyof Groups, unknown>();

function group<G extends keyof Groups>(g: G): Symbols<G> {
  let syms = opened.get(g) as Symbols<G> | undefined;
  if (!syms) {
    syms = dlopen("libc.so.6", GROUPS[g]).symbols as Symbols<G>;
    opened.set(g, syms);
  }
  return syms;
}

function errno(): number {
  const p = group("errno").__errno_location();
  return p === null ? 0 : read.i32(p, 0);
}

function strerrorText(n: number): string {
  return String(group("errno").strerror(n));
}

function check(syscall: string, rc: number | bigint): number {
  const n = Number(rc);
  if (n < 0) throw new SysError(syscall, errno());
  return n;
}


export const AF_NETLINK = 16;
export const SOCK_RAW = 3;
export const SOCK_CLOEXEC = 0x80000;
export const SOL_SOCKET = 1;
export const SO_RCVTIMEO = 20;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SOL_NETLINK = 270;
export const NETLINK_EXT_ACK = 11;
export const NETLINK_GET_STRICT_CHK = 12;
export const CLONE_NEWNET = 0x40000000;
export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;
/** statfs f_type of nsfs (a bind-mounted namespace) and of procfs (/proc/<pid>/ns/net). */
export const NSFS_MAGIC = 0x6e736673;
export const PROC_SUPER_MAGIC = 0x9fa0;
export const MSG_DONTWAIT = 0x40;
export const MSG_TRUNC = 0x20;
export const MSG_PEEK = 0x2;

/** @throws {SysError} */
export function socket(domain: number, type: number, protocol: number): number {
  return check("socket", group("sock").socket(domain, type, protocol));
}

/** @throws {SysError} */
export function bind(fd: number, addr: Uint8Array): void {
  check("bind", group("sock").bind(fd, ptr(addr), addr.byteLength));
}

/** Returns the socket's address bytes (at most `size`). @throws {SysError} */
export function getsockname(fd: number, size: number): Uint8Array {
  const buf = new Uint8Array(size);
  const len = new Uint32Array([size]);
  check("getsockname", group("sock").getsockname(fd, ptr(buf), ptr(len)));
  return buf.subarray(0, len[0]);
}

/** @throws {SysError} */
export function send(fd: number, data: Uint8Array, flags = 0): number {
  return check("send", group("sock").send(fd, ptr(data), data.byteLength, flags));
}

/** Receives into `buf`; returns the datagram's length (may exceed buf with MSG_TRUNC). @throws {SysError} */
export function recv(fd: number, buf: Uint8Array, flags = 0): number {
  return check("recv", group("sock").recv(fd, ptr(buf), buf.byteLength, flags));
}

/** @throws {SysError} */
export function setsockopt(fd: number, level: number, name: number, value: Uint8Array): void {
  check("setsockopt", group("sock").setsockopt(fd, level, name, ptr(value), value.byteLength));
}

/** @throws {SysError} */
export function close(fd: number): void {
  check("close", group("sock").close(fd));
}

/** Moves the calling thread into the namespace `fd` refers to. @throws {SysError} */
export function setns(fd: number, nstype: number): void {
  check("setns", group("ns").setns(fd, nstype));
}

/** flock(2). With LOCK_NB returns false instead of waiting when the lock is held. @throws {SysError} */
export function flock(fd: number, op: number): boolean {
  const rc = group("lock").flock(fd, op);
  if (rc === 0) return true;
  const e = errno();
  if ((op & LOCK_NB) !== 0 && e === 11 /* EWOULDBLOCK */) return false;
  throw new SysError("flock", e);
}

/** The filesystem magic (statfs f_type) of the file system holding `path` (fs.statfsSync: no FFI needed). @throws {SysError} */
export function statfsType(path: string): number {
  try {
    return Number(statfsSync(path).type);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new SysError("statfs", typeof err.errno === "number" ? Math.abs(err.errno) : 0, err.code);
  }
}

/** The filesystem magic of an open descriptor. @throws {SysError} */
export function fstatfsType(fd: number): number {
  const buf = new BigInt64Array(15);
  check("fstatfs", group("fs").fstatfs(fd, ptr(buf)));
  return Number(buf[0]);
}
