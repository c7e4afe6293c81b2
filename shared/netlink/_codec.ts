// Private: the netlink wire format (include/uapi/linux/netlink.h). MsgWriter builds messages in one reused buffer;
// forEachAttr/collectAttrs read attributes in place. Conventions: all integers are host-endian except where the
// kernel says __be16/__be32 (VXLAN port); every attribute and message is padded to 4 bytes with zeros; a nest's
// header gets NLA_F_NESTED unless the caller asks otherwise (VETH_INFO_PEER is a struct, not a nest, in the
// kernel's policy). We encode attributes ourselves because the `netlink` package masks the type to 14 bits and so
// cannot set NLA_F_NESTED.
import { endianness } from "node:os";
import { NLA_F_NESTED, NLA_TYPE_MASK, NLMSG_HDRLEN } from "./_consts.ts";

/** Host byte order, for DataView calls. */
export const LE = endianness() === "LE";

const align4 = (n: number) => (n + 3) & ~3;

/** Builds one or more netlink messages into a reusable buffer. */
export class MsgWriter {
  buf: Buffer;
  private dv: DataView;
  /** Bytes written so far. */
  len = 0;

  constructor(size = 4096) {
    this.buf = Buffer.alloc(size);
    this.dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  /** Forgets the contents (the buffer is kept). */
  reset(): void {
    this.len = 0;
  }

  /** The bytes written so far (a view, valid until the next write). */
  view(): Buffer {
    return this.buf.subarray(0, this.len);
  }

  private reserve(n: number): number {
    const at = this.len;
    const need = at + n;
    if (need > this.buf.length) {
      let size = this.buf.length * 2;
      while (size < need) size *= 2;
      const nb = Buffer.alloc(size);
      this.buf.copy(nb, 0, 0, at);
      this.buf = nb;
      this.dv = new DataView(nb.buffer, nb.byteOffset, nb.byteLength);
    }
    this.len = need;
    return at;
  }

  /** Appends zero bytes up to the next 4-byte boundary. */
  pad(): void {
    const p = align4(this.len) - this.len;
    if (p > 0) {
      const at = this.reserve(p);
      this.buf.fill(0, at, this.len);
    }
  }

  // Each writer reserves first and only then touches this.buf/this.dv: reserve() may replace them.
  u8(v: number): void {
    const at = this.reserve(1);
    this.dv.setUint8(at, v);
  }
  u16(v: number): void {
    const at = this.reserve(2);
    this.dv.setUint16(at, v, LE);
  }
  u32(v: number): void {
    const at = this.reserve(4);
    this.dv.setUint32(at, v >>> 0, LE);
  }
  i32(v: number): void {
    const at = this.reserve(4);
    this.dv.setInt32(at, v, LE);
  }
  bytes(b: Uint8Array): void {
    const at = this.reserve(b.length);
    this.buf.set(b, at);
  }
  zeros(n: number): void {
    const at = this.reserve(n);
    this.buf.fill(0, at, this.len);
  }

  /** Starts a message (struct nlmsghdr with the length patched by {@link end}); returns its offset. */
  begin(type: number, flags: number, seq: number): number {
    this.pad();
    const at = this.reserve(NLMSG_HDRLEN);
    this.dv.setUint32(at, 0, LE);
    this.dv.setUint16(at + 4, type, LE);
    this.dv.setUint16(at + 6, flags, LE);
    this.dv.setUint32(at + 8, seq >>> 0, LE);
    this.dv.setUint32(at + 12, 0, LE); // nlmsg_pid: 0, the kernel fills in our port
    return at;
  }

  /** Ends the message begun at `start`: pads it and patches nlmsg_len. */
  end(start: number): void {
    this.pad();
    this.dv.setUint32(start, this.len - start, LE);
  }

  private attrHeader(type: number, payloadLen: number): void {
    this.pad();
    const at = this.reserve(4);
    this.dv.setUint16(at, 4 + payloadLen, LE);
    this.dv.setUint16(at + 2, type, LE);
  }

  attrU8(type: number, v: number): void {
    this.attrHeader(type, 1);
    this.u8(v);
    this.pad();
  }
  attrU16(type: number, v: number): void {
    this.attrHeader(type, 2);
    this.u16(v);
    this.pad();
  }
  /** A __be16 attribute (network byte order, e.g. IFLA_VXLAN_PORT). */
  attrU16be(type: number, v: number): void {
    this.attrHeader(type, 2);
    const at = this.reserve(2);
    this.dv.setUint16(at, v, false);
    this.pad();
  }
  attrU32(type: number, v: number): void {
    this.attrHeader(type, 4);
    this.u32(v);
  }
  attrS32(type: number, v: number): void {
    this.attrHeader(type, 4);
    this.i32(v);
  }
  attrBytes(type: number, b: Uint8Array): void {
    this.attrHeader(type, b.length);
    this.bytes(b);
    this.pad();
  }
  /** A NUL-terminated string attribute (NLA_STRING / NLA_NUL_STRING both accept it). */
  attrStr(type: number, s: string): void {
    const b = Buffer.from(s, "utf8");
    this.attrHeader(type, b.length + 1);
    this.bytes(b);
    this.u8(0);
    this.pad();
  }
  /** A zero-length NLA_FLAG attribute. */
  attrFlag(type: number): void {
    this.attrHeader(type, 0);
  }

  /** Opens a nested attribute; close it with {@link nestEnd}. `nestedFlag` sets NLA_F_NESTED (default true). */
  nestStart(type: number, nestedFlag = true): number {
    this.pad();
    const at = this.reserve(4);
    this.dv.setUint16(at + 2, nestedFlag ? type | NLA_F_NESTED : type, LE);
    return at;
  }
  nestEnd(start: number): void {
    this.pad();
    this.dv.setUint16(start, this.len - start, LE);
  }
}

/** A read-only view helper over a received buffer. */
export class Reader {
  readonly dv: DataView;
  constructor(readonly buf: Buffer) {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  u8(off: number): number {
    return this.dv.getUint8(off);
  }
  u16(off: number): number {
    return this.dv.getUint16(off, LE);
  }
  u16be(off: number): number {
    return this.dv.getUint16(off, false);
  }
  u32(off: number): number {
    return this.dv.getUint32(off, LE);
  }
  i32(off: number): number {
    return this.dv.getInt32(off, LE);
  }
  /** The bytes [off, off+len) copied out (the receive buffer is reused). */
  copy(off: number, len: number): Uint8Array {
    return Uint8Array.prototype.slice.call(this.buf, off, off + len);
  }
  /** A NUL-terminated (or attribute-bounded) UTF-8 string. */
  str(off: number, len: number): string {
    let end = off;
    const stop = off + len;
    while (end < stop && this.buf[end] !== 0) end++;
    return this.buf.toString("utf8", off, end);
  }
}

/** Where one attribute's payload lies in a buffer. */
export interface AttrSpan {
  off: number;
  len: number;
}

/**
 * Calls `fn(type, off, len)` for each attribute in [start, end); `type` has the NLA_F_NESTED/BYTEORDER bits
 * removed. Stops at a malformed header (length < 4 or past the end) instead of reading out of bounds.
 */
export function forEachAttr(
  r: Reader,
  start: number,
  end: number,
  fn: (type: number, off: number, len: number) => void,
): void {
  let off = start;
  while (off + 4 <= end) {
    const alen = r.u16(off);
    if (alen < 4 || off + alen > end) return;
    fn(r.u16(off + 2) & NLA_TYPE_MASK, off + 4, alen - 4);
    off += align4(alen);
  }
}

/** The attributes in [start, end) indexed by type (the last one of a type wins). */
export function collectAttrs(r: Reader, start: number, end: number): Array<AttrSpan | undefined> {
  const out: Array<AttrSpan | undefined> = [];
  forEachAttr(r, start, end, (type, off, len) => {
    out[type] = { off, len };
  });
  return out;
}
