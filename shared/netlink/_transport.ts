// Private: a synchronous NETLINK_ROUTE transport over shared/sys/libc.ts (the `netlink` package's socket layer needs
// libuv, which Bun lacks). One socket, one reused send buffer and one receive buffer per instance. Replies are
// matched by sequence number (stale replies to a timed-out request are skipped); SO_RCVTIMEO bounds every wait.
// Errors carry the extended-ack text: we set NETLINK_EXT_ACK and parse NLMSGERR_ATTR_MSG (netlink.h, "Extended ACK").
import {
  AF_NETLINK,
  NETLINK_EXT_ACK,
  NETLINK_GET_STRICT_CHK,
  SOCK_CLOEXEC,
  SOCK_RAW,
  SOL_NETLINK,
  SOL_SOCKET,
  SO_RCVTIMEO,
  SysError,
  bind,
  close,
  recv,
  send,
  setsockopt,
  socket,
  MSG_TRUNC,
} from "../sys/libc.ts";
import { LE, MsgWriter, Reader, forEachAttr } from "./_codec.ts";
import {
  NETLINK_CAP_ACK,
  NETLINK_ROUTE,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  NLMSG_NOOP,
  NLMSG_OVERRUN,
  NLMSGERR_ATTR_MSG,
  NLM_F_ACK,
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLM_F_REQUEST,
} from "./_consts.ts";
import { NetlinkError } from "./_errors.ts";

/** One request: `body` writes everything after the nlmsghdr (the fixed struct, then attributes). */
export interface Request {
  /** Method name for NetlinkError.op. */
  op: string;
  /** "create bridge \"br0\"": completes "Cannot ..." in error messages. */
  what: string;
  type: number;
  /** NLM_F_* besides REQUEST/ACK/DUMP, which the transport adds. */
  flags: number;
  body(w: MsgWriter): void;
}

/** A received message: its payload is r.buf[off, end) (valid only inside the callback). */
export interface Msg {
  r: Reader;
  type: number;
  flags: number;
  off: number;
  end: number;
}

const ETIMEDOUT = 110;
const EINTR = 4;
const EAGAIN = 11;
const EMSGSIZE = 90;
const ENOBUFS = 105;
const RECV_TIMEOUT_S = 5;
const RECV_BUF_SIZE = 64 * 1024; // > the kernel's 32 KiB cap on one dump datagram
const DUMP_RETRIES = 5;
/** Requests per sendmsg in batch(): keeps the acks that queue up well below the default receive buffer. */
const BATCH_CHUNK = 64;

function intOpt(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, v, LE);
  return b;
}

/** The kernel's error payload: errno (positive, 0 for an ACK) and the extended-ack message. */
function parseErrorPayload(m: Msg): { errno: number; extack?: string } {
  const { r, off, end } = m;
  if (end - off < 4) return { errno: 0 };
  const errno = -r.i32(off);
  let tlvStart: number;
  if (m.type === NLMSG_DONE) {
    tlvStart = off + 4;
  } else {
    // struct nlmsgerr { int error; struct nlmsghdr msg; } then the echoed request unless NLM_F_CAPPED
    const origLen = end - off >= 4 + NLMSG_HDRLEN ? r.u32(off + 4) : NLMSG_HDRLEN;
    tlvStart = off + 4 + ((m.flags & NLM_F_CAPPED) !== 0 ? NLMSG_HDRLEN : (origLen + 3) & ~3);
  }
  let extack: string | undefined;
  if ((m.flags & NLM_F_ACK_TLVS) !== 0 && tlvStart < end) {
    forEachAttr(r, tlvStart, end, (type, aoff, alen) => {
      if (type === NLMSGERR_ATTR_MSG) extack = r.str(aoff, alen);
    });
  }
  return extack === undefined || extack === "" ? { errno } : { errno, extack };
}

/** A NETLINK_ROUTE socket in the netns of the thread that opened it. */
export class NetlinkSocket implements Disposable {
  readonly fd: number;
  private seq: number;
  private readonly w = new MsgWriter();
  private readonly rbuf = Buffer.alloc(RECV_BUF_SIZE);
  private readonly reader = new Reader(this.rbuf);
  private closed = false;

  /** @throws {SysError} socket/bind failures (EMFILE, EPERM, ...) */
  constructor() {
    this.fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    try {
      const tv = new Uint8Array(16); // struct timeval { long tv_sec; long tv_usec; }
      new DataView(tv.buffer).setBigInt64(0, BigInt(RECV_TIMEOUT_S), LE);
      setsockopt(this.fd, SOL_SOCKET, SO_RCVTIMEO, tv);
      setsockopt(this.fd, SOL_NETLINK, NETLINK_EXT_ACK, intOpt(1));
      setsockopt(this.fd, SOL_NETLINK, NETLINK_CAP_ACK, intOpt(1)); // errors do not echo the whole request
      try {
        setsockopt(this.fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, intOpt(1)); // reject malformed dump requests
      } catch {
        // kernels before 4.20: dumps are simply unfiltered
      }
      const addr = new Uint8Array(12); // struct sockaddr_nl { AF_NETLINK, pad, pid 0 (kernel assigns), groups 0 }
      new DataView(addr.buffer).setUint16(0, AF_NETLINK, LE);
      bind(this.fd, addr);
    } catch (e) {
      close(this.fd);
      throw e;
    }
    // Random start: replies to another socket's old sequence numbers can never be mistaken for ours.
    this.seq = (Math.random() * 0x7fffffff) >>> 0;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    close(this.fd);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0;
    if (this.seq === 0) this.seq = 1;
    return this.seq;
  }

  private sysFail(op: string, what: string, e: unknown): never {
    if (e instanceof SysError) throw new NetlinkError({ op, what, errno: e.errno });
    throw e;
  }

  private write(req: Request, flags: number): number {
    const seq = this.nextSeq();
    const start = this.w.begin(req.type, NLM_F_REQUEST | flags | req.flags, seq);
    req.body(this.w);
    this.w.end(start);
    return seq;
  }

  private flush(op: string, what: string): void {
    if (this.closed) throw new Error(`Cannot ${what}: the netlink socket is closed`);
    try {
      send(this.fd, this.w.view());
    } catch (e) {
      this.sysFail(op, what, e);
    }
  }

  /**
   * Receives datagrams and hands each message to `fn` until `fn` has returned true (messages after that in the same
   * datagram are still handed over, then the loop stops).
   */
  private pump(op: string, what: string, fn: (m: Msg, seq: number) => boolean): void {
    const r = this.reader;
    for (let done = false; !done; ) {
      let n: number;
      try {
        n = recv(this.fd, this.rbuf, MSG_TRUNC);
      } catch (e) {
        if (e instanceof SysError && e.errno === EINTR) continue;
        if (e instanceof SysError && e.errno === EAGAIN) {
          throw new NetlinkError({ op, what, errno: ETIMEDOUT, extack: `no reply within ${RECV_TIMEOUT_S} s` });
        }
        this.sysFail(op, what, e);
      }
      if (n > this.rbuf.length) throw new NetlinkError({ op, what, errno: EMSGSIZE, extack: "reply truncated" });
      let off = 0;
      while (off + NLMSG_HDRLEN <= n) {
        const len = r.u32(off);
        if (len < NLMSG_HDRLEN || off + len > n) break;
        const type = r.u16(off + 4);
        const m: Msg = { r, type, flags: r.u16(off + 6), off: off + NLMSG_HDRLEN, end: off + len };
        if (type === NLMSG_OVERRUN) throw new NetlinkError({ op, what, errno: ENOBUFS });
        if (type !== NLMSG_NOOP && fn(m, r.u32(off + 8))) done = true;
        off += (len + 3) & ~3;
      }
    }
  }

  /**
   * Sends `req` with NLM_F_ACK and waits for its ACK.
   * @throws {NetlinkError}
   */
  ack(req: Request): void {
    this.w.reset();
    const seq = this.write(req, NLM_F_ACK);
    this.flush(req.op, req.what);
    let err: { errno: number; extack?: string } | undefined;
    this.pump(req.op, req.what, (m, s) => {
      if (s !== seq || m.type !== NLMSG_ERROR) return false;
      err = parseErrorPayload(m);
      return true;
    });
    if (err !== undefined && err.errno !== 0) throw new NetlinkError({ op: req.op, what: req.what, ...err });
  }

  /**
   * Sends a get request (no dump) and returns `parse` of its single reply.
   * @throws {NetlinkError}
   */
  get<T>(req: Request, parse: (m: Msg) => T): T {
    this.w.reset();
    const seq = this.write(req, 0);
    this.flush(req.op, req.what);
    let out: { v: T } | undefined;
    let err: { errno: number; extack?: string } | undefined;
    this.pump(req.op, req.what, (m, s) => {
      if (s !== seq) return false;
      if (m.type === NLMSG_ERROR) {
        const e = parseErrorPayload(m);
        if (e.errno !== 0) err = e;
        return true;
      }
      out = { v: parse(m) };
      return true;
    });
    if (err !== undefined) throw new NetlinkError({ op: req.op, what: req.what, ...err });
    if (out === undefined) throw new NetlinkError({ op: req.op, what: req.what, errno: 61 /* ENODATA */ });
    return out.v;
  }

  /**
   * Runs a dump (NLM_F_DUMP) and returns the defined results of `parse` over its messages. A dump the kernel marks
   * inconsistent (NLM_F_DUMP_INTR: the table changed meanwhile) is retried a few times.
   * @throws {NetlinkError} EINTR when it stays inconsistent
   */
  dump<T>(req: Request, parse: (m: Msg) => T | undefined): T[] {
    for (let attempt = 0; ; attempt++) {
      this.w.reset();
      const seq = this.write(req, NLM_F_DUMP);
      this.flush(req.op, req.what);
      const out: T[] = [];
      let interrupted = false;
      let err: { errno: number; extack?: string } | undefined;
      this.pump(req.op, req.what, (m, s) => {
        if (s !== seq) return false;
        if ((m.flags & NLM_F_DUMP_INTR) !== 0) interrupted = true;
        if (m.type === NLMSG_DONE || m.type === NLMSG_ERROR) {
          const e = parseErrorPayload(m);
          if (e.errno !== 0) err = e;
          return true;
        }
        const v = parse(m);
        if (v !== undefined) out.push(v);
        return false;
      });
      if (err !== undefined) throw new NetlinkError({ op: req.op, what: req.what, ...err });
      if (!interrupted) return out;
      if (attempt >= DUMP_RETRIES) {
        throw new NetlinkError({ op: req.op, what: req.what, errno: EINTR, extack: "dump kept being interrupted" });
      }
    }
  }

  /**
   * Sends all requests with NLM_F_ACK, several per datagram, and collects one result per request, in order
   * (undefined for success). Processing does not stop at a failed request.
   * @throws {NetlinkError} only for transport failures (timeout, send error)
   */
  batch(reqs: readonly Request[]): Array<NetlinkError | undefined> {
    const results: Array<NetlinkError | undefined> = new Array(reqs.length).fill(undefined);
    for (let i = 0; i < reqs.length; i += BATCH_CHUNK) {
      const chunk = reqs.slice(i, i + BATCH_CHUNK);
      this.w.reset();
      const first = this.write(chunk[0] as Request, NLM_F_ACK);
      for (let j = 1; j < chunk.length; j++) this.write(chunk[j] as Request, NLM_F_ACK);
      const head = chunk[0] as Request;
      this.flush(head.op, head.what);
      let pending = chunk.length;
      this.pump(head.op, head.what, (m, s) => {
        const j = (s - first) >>> 0; // sequence numbers wrap
        if (j >= chunk.length || m.type !== NLMSG_ERROR) return false;
        const e = parseErrorPayload(m);
        const req = chunk[j] as Request;
        if (e.errno !== 0) results[i + j] = new NetlinkError({ op: req.op, what: req.what, ...e });
        return --pending === 0;
      });
    }
    return results;
  }
}
