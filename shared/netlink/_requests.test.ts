// Unit tests for the request encoders and reply decoders of shared/netlink (pure, no kernel). The `netlink` npm
// package serves as an independent oracle: it decodes what we encode, and encodes replies we decode. Bridge VLAN
// requests, which this machine's kernel cannot execute (no CONFIG_BRIDGE_VLAN_FILTERING), are compared with the
// bytes iproute2 6.1 sends (captured with strace).
import { describe, expect, test } from "bun:test";
import { AttrStream, type StreamData, parseAttributes, parseMessages } from "netlink/dist/structs";
import { formatBridgePort, formatInfo, parseInfo, parseVethInfo, parseVxlan, parseLinkAttrs } from "netlink/dist/rt/ifla";
import {
  formatAddressMessage,
  formatLinkMessage,
  formatNeighborMessage,
  formatRouteMessage,
  parseAddressMessage,
  parseLinkMessage,
  parseNeighborMessage,
  parseRouteMessage,
} from "netlink/dist/rt/structs";
import { LE, MsgWriter, Reader, collectAttrs } from "./_codec.ts";
import { NLA_F_NESTED, NLM_F_ACK, NLM_F_REQUEST } from "./_consts.ts";
import { parseAddr, parseBridgeVlans, parseLink, parseNeigh, parseRoute } from "./_parse.ts";
import {
  addAddrReq,
  bridgeVlanReq,
  checkIfname,
  createBridgeReq,
  createVethReq,
  createVxlanReq,
  delAddrReq,
  routeReq,
  setBridgePortReq,
  setNeighReq,
} from "./_requests.ts";
import type { Request } from "./_transport.ts";

/** Encodes a request as the transport would (seq 1, REQUEST|ACK). */
function encode(req: Request): Buffer {
  const w = new MsgWriter(64); // small on purpose: exercises growth
  const start = w.begin(req.type, req.flags | NLM_F_REQUEST | NLM_F_ACK, 1);
  req.body(w);
  w.end(start);
  return Buffer.from(w.view());
}

function oneMessage(req: Request) {
  const msgs = parseMessages(encode(req));
  expect(msgs).toHaveLength(1);
  return msgs[0]!;
}

/** Raw attribute types (with flag bits) at the top level of [off, end). */
function rawTypes(b: Buffer, off: number): number[] {
  const out: number[] = [];
  while (off + 4 <= b.length) {
    const len = b.readUInt16LE(off);
    out.push(b.readUInt16LE(off + 2));
    off += (len + 3) & ~3;
  }
  return out;
}

function concat(x: Uint8Array[]): Buffer {
  return Buffer.concat(x.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength)));
}

/** The bytes of the package's StreamData (a buffer, an array of them, or a writer function). */
function streamBytes(d: StreamData): Buffer {
  const out = new AttrStream();
  out.emit(d);
  return concat(out.bufs);
}

describe("MsgWriter", () => {
  test("MsgWriter pads attributes with zeros and patches lengths", () => {
    const w = new MsgWriter(8);
    w.buf.fill(0xee); // reused buffers hold garbage: padding must be written
    const s = w.begin(16, 1, 7);
    w.attrU8(1, 0xab);
    w.attrStr(3, "ab");
    const n = w.nestStart(18);
    w.attrU16be(15, 8472);
    w.nestEnd(n);
    w.end(s);
    expect(w.view().toString("hex")).toBe(
      [
        "2c000000", "10000100", "07000000", "00000000", // nlmsghdr, len 44
        "05000100", "ab000000", // u8 + 3 pad
        "07000300", "61620000", // "ab\0" + 1 pad
        "0c001280", "06000f00", "21180000", // nest with NLA_F_NESTED, be16 8472 + pad
      ].join(""),
    );
  });

  test("MsgWriter.reset() reuses the buffer for the next message", () => {
    const w = new MsgWriter();
    w.begin(1, 0, 1);
    w.reset();
    const s = w.begin(2, 0, 2);
    w.end(s);
    expect(w.len).toBe(16);
  });
});

describe("checkIfname()", () => {
  test.each([{ n: "" }, { n: "a".repeat(16) }, { n: "a/b" }, { n: "a b" }, { n: "." }, { n: ".." }, { n: "eth0:1" }, { n: "ééééééééé" }])(
    "checkIfname() rejects $n",
    ({ n }) => {
      expect(() => checkIfname(n)).toThrow(RangeError);
    },
  );
  test.each([{ n: "eth0" }, { n: "a".repeat(15) }, { n: "veth-1.2_x" }])("checkIfname() accepts $n", ({ n }) => {
    expect(() => checkIfname(n)).not.toThrow();
  });
});

describe("link requests (decoded by the netlink package)", () => {
  test("createBridgeReq() encodes name, MTU, MAC and kind bridge in a nested IFLA_LINKINFO", () => {
    const m = oneMessage(createBridgeReq({ name: "br0", mtu: 1400, mac: "02:00:00:00:00:aa", vlanFiltering: true }));
    expect(m.type).toBe(16);
    expect(m.flags).toBe(NLM_F_REQUEST | NLM_F_ACK | 0x400 | 0x200);
    const link = parseLinkMessage(m.data);
    expect(link.attrs.ifname).toBe("br0");
    expect(link.attrs.mtu).toBe(1400);
    expect(link.attrs.address?.toString("hex")).toBe("0200000000aa");
    const info = parseInfo(link.attrs.linkinfo!);
    expect(info.kind).toBe("bridge");
    expect(rawTypes(m.data, 16)).toContain(18 | NLA_F_NESTED);
    expect(info.data?.toString("hex")).toBe("05000700" + "01000000"); // IFLA_BR_VLAN_FILTERING = 1
  });

  test("createVethReq() puts the peer's ifinfomsg, name, MTU, MAC and netns fd inside VETH_INFO_PEER", () => {
    const m = oneMessage(
      createVethReq({ name: "veth1", peerName: "eth0", peerNetnsFd: 42, mtu: 1450, mac: "02:00:00:00:00:01", peerMac: "02:00:00:00:00:02" }),
    );
    const link = parseLinkMessage(m.data);
    expect(link.attrs.ifname).toBe("veth1");
    expect(link.attrs.mtu).toBe(1450);
    const info = parseInfo(link.attrs.linkinfo!);
    expect(info.kind).toBe("veth");
    const peerRaw = parseVethInfo(info.data!).peer!;
    const peerAttrs = parseLinkAttrs(peerRaw.subarray(16)); // after struct ifinfomsg
    expect(peerAttrs.ifname).toBe("eth0");
    expect(peerAttrs.mtu).toBe(1450);
    expect(peerAttrs.netNsFd).toBe(42);
    expect(peerAttrs.address?.toString("hex")).toBe("020000000002");
    // VETH_INFO_PEER is a struct in the kernel's policy: no NLA_F_NESTED on it
    expect(rawTypes(info.data!, 0)).toEqual([1]);
  });

  test("createVxlanReq() encodes VNI, big-endian port, local address, device, learning and GBP", () => {
    const m = oneMessage(
      createVxlanReq({ name: "flannel.1", vni: 1, port: 8472, localIp: "192.168.1.10", dev: 2, learning: false, gbp: true }),
    );
    const info = parseInfo(parseLinkMessage(m.data).attrs.linkinfo!);
    expect(info.kind).toBe("vxlan");
    const vx = parseVxlan(info.data!);
    expect(vx.id).toBe(1);
    expect(vx.port?.readUInt16BE(0)).toBe(8472);
    expect(vx.local?.toString("hex")).toBe("c0a8010a");
    expect(vx.link).toBe(2);
    expect(vx.learning).toBe(0);
    expect(vx.gbp).toBe(true);
  });

  test("createVxlanReq() sends an IPv6 local address as IFLA_VXLAN_LOCAL6", () => {
    const m = oneMessage(createVxlanReq({ name: "vx6", vni: 7, port: 4789, localIp: "fd00::1", learning: true }));
    const vx = parseVxlan(parseInfo(parseLinkMessage(m.data).attrs.linkinfo!).data!);
    expect(vx.local).toBeUndefined();
    expect(vx.local6?.toString("hex")).toBe("fd000000000000000000000000000001");
    expect(vx.learning).toBe(1);
  });

  test("setBridgePortReq() sends IFLA_BRPORT_MODE and IFLA_BRPORT_ISOLATED as slave data", () => {
    const m = oneMessage(setBridgePortReq(5, { hairpin: true, isolated: false }));
    const link = parseLinkMessage(m.data);
    expect(link.data.index).toBe(5);
    const info = parseInfo(link.attrs.linkinfo!);
    expect(info.slaveKind).toBe("bridge");
    const types: Array<[number, number]> = [];
    parseAttributes(info.slaveData!, (a) => types.push([a.type, a.data[0]!]));
    expect(types).toEqual([
      [4, 1],
      [33, 0],
    ]);
  });

  test.each([
    { o: { name: "a".repeat(16), peerName: "b" } },
    { o: { name: "a", peerName: "b/c" } },
    { o: { name: "a", peerName: "b", mac: "zz" } },
    { o: { name: "a", peerName: "b", mtu: 67 } },
  ])("createVethReq() rejects bad arguments before sending ($o.name)", ({ o }) => {
    expect(() => createVethReq(o)).toThrow(RangeError);
  });
});

describe("bridge VLAN requests (compared with iproute2 6.1)", () => {
  // body after nlmsghdr, NLA_F_NESTED cleared on IFLA_AF_SPEC (iproute2 6.1 does not set it; the kernel accepts both)
  function body(req: Request): string {
    const b = Buffer.from(encode(req).subarray(16));
    b.writeUInt16LE(b.readUInt16LE(18) & ~NLA_F_NESTED, 18);
    return b.toString("hex");
  }
  const ifinfo = (index: number) => "07000000" + Buffer.from(new Int32Array([index]).buffer).toString("hex") + "00000000" + "00000000";

  test("bridgeVlanReq() matches `bridge vlan add dev v0 vid 10 pvid untagged`", () => {
    const req = bridgeVlanReq(true, 4, { vid: 10, pvid: true, untagged: true });
    expect(req.type).toBe(19); // RTM_SETLINK
    expect(body(req)).toBe(ifinfo(4) + "0c001a00" + "08000200" + "06000a00");
  });

  test("bridgeVlanReq() matches `bridge vlan add dev v0 vid 20-30`", () => {
    expect(body(bridgeVlanReq(true, 4, { vid: 20, vidEnd: 30 }))).toBe(
      ifinfo(4) + "14001a00" + "08000200" + "08001400" + "08000200" + "10001e00",
    );
  });

  test("bridgeVlanReq() matches `bridge vlan add dev br0 vid 5 self`", () => {
    expect(body(bridgeVlanReq(true, 2, { vid: 5, self: true }))).toBe(
      ifinfo(2) + "14001a00" + "06000000" + "02000000" + "08000200" + "00000500",
    );
  });

  test("bridgeVlanReq() matches `bridge vlan del dev v0 vid 10`", () => {
    const req = bridgeVlanReq(false, 4, { vid: 10 });
    expect(req.type).toBe(17); // RTM_DELLINK
    expect(body(req)).toBe(ifinfo(4) + "0c001a00" + "08000200" + "00000a00");
  });

  test.each([{ vid: 0 }, { vid: 4095 }, { vid: 10, vidEnd: 9 }])("bridgeVlanReq() rejects vid $vid..$vidEnd", (o) => {
    expect(() => bridgeVlanReq(true, 4, o)).toThrow(RangeError);
  });

  test("parseBridgeVlans() expands ranges and reads the PVID/untagged flags", () => {
    const w = new MsgWriter();
    w.zeros(16); // ifinfomsg
    const spec = w.nestStart(26);
    const info = (flags: number, vid: number) => {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint16(0, flags, LE);
      new DataView(b.buffer).setUint16(2, vid, LE);
      w.attrBytes(2, b);
    };
    info(6, 1);
    info(8, 20);
    info(16, 22);
    w.nestEnd(spec);
    const r = new Reader(Buffer.from(w.view()));
    expect(parseBridgeVlans(r, 0, w.len)).toEqual([
      { vid: 1, pvid: true, untagged: true },
      { vid: 20, pvid: false, untagged: false },
      { vid: 21, pvid: false, untagged: false },
      { vid: 22, pvid: false, untagged: false },
    ]);
  });
});

describe("address requests", () => {
  test("addAddrReq() sets local, address and the broadcast Go netlink computes, for IPv4", () => {
    const m = oneMessage(addAddrReq({ index: 3, address: "10.1.2.3/24" }));
    const a = parseAddressMessage(m.data);
    expect(a.data.family).toBe(2);
    expect(a.data.prefixlen).toBe(24);
    expect(a.data.index).toBe(3);
    expect(a.attrs.local?.toString("hex")).toBe("0a010203");
    expect(a.attrs.address?.toString("hex")).toBe("0a010203");
    expect(a.attrs.broadcast?.toString("hex")).toBe("0a0102ff");
  });

  test.each([{ cidr: "10.1.2.3/31" }, { cidr: "10.1.2.3/32" }, { cidr: "fd00::1/64" }])("addAddrReq() sends no broadcast for $cidr", ({ cidr }) => {
    expect(parseAddressMessage(oneMessage(addAddrReq({ index: 3, address: cidr })).data).attrs.broadcast).toBeUndefined();
  });

  test("addAddrReq() puts nodad in ifa_flags and noprefixroute in IFA_FLAGS", () => {
    const m = oneMessage(addAddrReq({ index: 3, address: "fd00::1/64", nodad: true, noprefixroute: true }));
    expect(m.data[2]).toBe(0x02); // ifa_flags: IFA_F_NODAD
    const a = collectAttrs(new Reader(m.data), 8, m.data.length);
    expect(a[8]).toBeDefined();
    expect(m.data.readUInt32LE(a[8]!.off)).toBe(0x202);
  });

  test("delAddrReq() with a bare IPv4 address matches any prefix length (no IFA_ADDRESS)", () => {
    const m = oneMessage(delAddrReq({ index: 3, address: "10.1.2.3" }));
    const a = parseAddressMessage(m.data);
    expect(a.data.prefixlen).toBe(0);
    expect(a.attrs.address).toBeUndefined();
    expect(a.attrs.local?.toString("hex")).toBe("0a010203");
  });
});

describe("route requests", () => {
  test("routeReq(add) encodes dst, gateway, oif, table, priority, onlink and metrics", () => {
    const m = oneMessage(
      routeReq("add", { dst: "10.0.0.0/8", gw: "10.1.0.1", oif: 4, table: 1000, priority: 50, onlink: true, mtu: 1400, advmss: 1360, src: "10.1.0.5" }),
    );
    expect(m.flags & 0x600).toBe(0x600); // CREATE|EXCL
    const r = parseRouteMessage(m.data);
    expect(r.data.dstLen).toBe(8);
    expect(r.data.table).toBe(0); // > 255 goes in RTA_TABLE only
    expect(r.attrs.table).toBe(1000);
    expect(r.attrs.dst?.toString("hex")).toBe("0a000000");
    expect(r.attrs.gateway?.toString("hex")).toBe("0a010001");
    expect(r.attrs.oif).toBe(4);
    expect(r.attrs.priority).toBe(50);
    expect(r.attrs.prefsrc?.toString("hex")).toBe("0a010005");
    expect(r.attrs.metrics?.mtu?.readUInt32LE(0)).toBe(1400);
    expect(r.attrs.metrics?.advmss?.readUInt32LE(0)).toBe(1360);
    expect(m.data.readUInt32LE(8) & 4).toBe(4); // RTNH_F_ONLINK
    expect(m.data[5]).toBe(3); // RTPROT_BOOT
    expect(m.data[6]).toBe(0); // universe scope with a gateway
    expect(m.data[7]).toBe(1); // RTN_UNICAST
  });

  test("routeReq(add) defaults to link scope for a device route and omits RTA_DST for a default route", () => {
    const m = oneMessage(routeReq("add", { dst: "0.0.0.0/0", oif: 2 }));
    expect(m.data[1]).toBe(0);
    expect(m.data[6]).toBe(253);
    expect(parseRouteMessage(m.data).attrs.dst).toBeUndefined();
  });

  test("routeReq(del) matches any scope, type and protocol and leaves metrics out", () => {
    const m = oneMessage(routeReq("del", { dst: "10.0.0.0/8", gw: "10.1.0.1", mtu: 1400 }));
    expect(m.type).toBe(25);
    expect([m.data[5], m.data[6], m.data[7]]).toEqual([0, 255, 0]);
    expect(parseRouteMessage(m.data).attrs.metrics).toBeUndefined();
  });

  test("routeReq() sends an IPv6 gateway for an IPv4 route as RTA_VIA", () => {
    // (the package's RouteVia decoder insists on 3 bytes, so read the attribute ourselves)
    const m = oneMessage(routeReq("add", { dst: "10.0.0.0/8", gw: "fe80::1", oif: 2 }));
    const a = collectAttrs(new Reader(m.data), 12, m.data.length);
    expect(a[5]).toBeUndefined(); // RTA_GATEWAY
    const via = a[18]!; // RTA_VIA: struct rtvia { u16 family; u8 addr[16] }
    expect(via.len).toBe(18);
    expect(m.data.readUInt16LE(via.off)).toBe(10);
    expect(m.data.subarray(via.off + 2, via.off + 18).toString("hex")).toBe("fe800000000000000000000000000001");
  });

  test.each([{ dst: "10.0.0.0/33" }, { dst: "nope" }, { dst: "10.0.0.0/8", src: "fd00::1" }, { dst: "10.0.0.0/8", table: 0 }])(
    "routeReq() rejects $dst (src $src, table $table)",
    (o) => {
      expect(() => routeReq("add", o)).toThrow(RangeError);
    },
  );
});

describe("neighbour requests", () => {
  test("setNeighReq() for a VXLAN fdb entry: AF_BRIDGE, NTF_SELF, permanent, lladdr and remote dst", () => {
    const m = oneMessage(setNeighReq({ index: 7, family: 7, lladdr: "aa:bb:cc:dd:ee:ff", dst: "192.168.1.2", self: true }));
    expect(m.flags & 0x500).toBe(0x500); // CREATE|REPLACE
    const n = parseNeighborMessage(m.data);
    expect(n.data.family).toBe(7);
    expect(n.data.ifindex).toBe(7);
    expect(m.data.readUInt16LE(8)).toBe(0x80); // NUD_PERMANENT
    expect(m.data[10]).toBe(0x02); // NTF_SELF
    expect(n.attrs.lladdr?.toString("hex")).toBe("aabbccddeeff");
    expect(n.attrs.dst?.toString("hex")).toBe("c0a80102");
  });

  test.each([
    { o: { index: 1, family: 4 as const, lladdr: "aa:bb:cc:dd:ee:ff" } },
    { o: { index: 1, family: 4 as const, dst: "fd00::1", lladdr: "aa:bb:cc:dd:ee:ff" } },
    { o: { index: 1, family: 6 as const, dst: "fd00::1", lladdr: "aa:bb:cc:dd:ee" } },
  ])("setNeighReq() rejects inconsistent arguments", ({ o }) => {
    expect(() => setNeighReq(o)).toThrow(RangeError);
  });
});

describe("reply decoders (fed by the netlink package's encoders)", () => {
  function payload(fn: (out: AttrStream) => void): { r: Reader; end: number } {
    const out = new AttrStream();
    fn(out);
    const b = concat(out.bufs);
    return { r: new Reader(b), end: b.length };
  }

  test("parseLink() reads index, name, MTU, MAC, flags, operstate, master, link netns id and kinds", () => {
    const slaveData = streamBytes(formatBridgePort({ mode: 1, isolated: Buffer.from([1]) }));
    const linkinfo = streamBytes(formatInfo({ kind: "veth", slaveKind: "bridge", slaveData }));
    const { r, end } = payload((out) =>
      formatLinkMessage(
        {
          kind: "link",
          data: { index: 9, flags: { up: true, promisc: true } },
          attrs: { ifname: "veth9", mtu: 1450, address: Buffer.from("0200000000ab", "hex"), operstate: 6, master: 3, linkNetnsid: 1, linkinfo },
        },
        out,
      ),
    );
    const l = parseLink(r, 0, end)!;
    expect(l).toMatchObject({ index: 9, name: "veth9", mtu: 1450, mac: "02:00:00:00:00:ab", up: true, promisc: true, operState: "up", master: 3, linkNetnsId: 1, kind: "veth", slaveKind: "bridge" });
    expect(l.bridgePort).toEqual({ hairpin: true, isolated: true, learning: false });
  });

  test("parseAddr() prefers IFA_LOCAL and reads IFA_FLAGS over ifa_flags", () => {
    const { r, end } = payload((out) =>
      formatAddressMessage(
        {
          kind: "address",
          data: { family: 10, prefixlen: 64, index: 2, scope: 0 },
          attrs: { address: Buffer.from("fd000000000000000000000000000001", "hex"), flags: { tentative: true, noprefixroute: true } },
        },
        out,
      ),
    );
    expect(parseAddr(r, 0, end)).toEqual({ index: 2, family: 6, address: "fd00::1/64", scope: 0, flags: 0x240, tentative: true, dadFailed: false });
  });

  test("parseRoute() reads a default route with gateway, table and metrics", () => {
    const { r, end } = payload((out) =>
      formatRouteMessage(
        {
          kind: "route",
          data: { family: 2, dstLen: 0, table: 254, protocol: 3, scope: 0, type: 1, flags: { __unknown: 4 /* RTNH_F_ONLINK */ } },
          attrs: { gateway: Buffer.from("0a000001", "hex"), oif: 2, table: 254, priority: 100, metrics: { mtu: Buffer.from(new Uint32Array([1400]).buffer) } },
        },
        out,
      ),
    );
    expect(parseRoute(r, 0, end)).toEqual({
      family: 4, dst: "0.0.0.0/0", gw: "10.0.0.1", oif: 2, table: 254, protocol: 3, scope: 0, type: 1, onlink: true, priority: 100, mtu: 1400,
    });
  });

  test("parseNeigh() reads an fdb entry's family, lladdr, remote and state", () => {
    const { r, end } = payload((out) =>
      formatNeighborMessage(
        {
          kind: "neighbor",
          data: { family: 7, ifindex: 5, state: { permanent: true }, flags: { self: true } },
          attrs: { lladdr: Buffer.from("aabbccddeeff", "hex"), dst: Buffer.from("c0a80102", "hex") },
        },
        out,
      ),
    );
    expect(parseNeigh(r, 0, end)).toEqual({ index: 5, family: 7, state: 0x80, flags: 0x02, lladdr: "aa:bb:cc:dd:ee:ff", dst: "192.168.1.2" });
  });

  test("decoders ignore truncated payloads and malformed attributes instead of reading out of bounds", () => {
    const r = new Reader(Buffer.from("0000000001000000000000000000000003000300", "hex")); // attr length 3 < 4
    expect(parseLink(r, 0, 10)).toBeUndefined();
    expect(parseLink(r, 0, 20)?.name).toBe("");
  });
});
