// Private: the typed errors of shared/netlink. A kernel refusal is a NetlinkError carrying errno, its name and the
// extended-ack text (NLMSGERR_ATTR_MSG) when the kernel gave one, so callers branch on `code`, never on a message.
import { getSystemErrorMessage } from "node:util";
import { errnoName } from "../sys/libc.ts";

function strerror(errno: number): string {
  try {
    return getSystemErrorMessage(-errno);
  } catch {
    return "unknown error";
  }
}

/** The kernel refused a netlink request (or did not answer: code ETIMEDOUT). */
export class NetlinkError extends Error {
  /** The Rtnl method that failed, e.g. "createBridge". */
  readonly op: string;
  /** Positive errno, e.g. 17. */
  readonly errno: number;
  /** The errno's name, e.g. "EEXIST". */
  readonly code: string;
  /** The kernel's extended-ack message, when it sent one. */
  readonly extack?: string;
  constructor(o: { op: string; what: string; errno: number; extack?: string }) {
    const code = errnoName(o.errno);
    super(`Cannot ${o.what}: ${code} (${strerror(o.errno)})${o.extack ? `: ${o.extack}` : ""}`);
    this.name = "NetlinkError";
    this.op = o.op;
    this.errno = o.errno;
    this.code = code;
    if (o.extack !== undefined) this.extack = o.extack;
  }
}

/** getLink() found no such interface in the socket's netns. */
export class LinkNotFoundError extends Error {
  // The contract's snake_case field name, kept as agreed with the plugin authors.
  readonly name_or_index: string | number;
  constructor(nameOrIndex: string | number) {
    super(
      typeof nameOrIndex === "number"
        ? `Link with index ${nameOrIndex} not found`
        : `Link "${nameOrIndex}" not found`,
    );
    this.name = "LinkNotFoundError";
    this.name_or_index = nameOrIndex;
  }
}

const NOT_FOUND_CODES = new Set(["ENOENT", "ESRCH", "ENODEV", "EADDRNOTAVAIL", "ENXIO"]);

/**
 * Whether `e` says "that object does not exist": LinkNotFoundError, or a NetlinkError with the code the kernel uses
 * for a missing object (delRoute: ESRCH; delAddr: EADDRNOTAVAIL; delNeigh: ENOENT; unknown ifindex: ENODEV).
 */
export function isNotFound(e: unknown): boolean {
  return e instanceof LinkNotFoundError || (e instanceof NetlinkError && NOT_FOUND_CODES.has(e.code));
}
