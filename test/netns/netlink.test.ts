// Kernel tests for shared/netlink: every test makes its own namespaces (createTestNetns) and does all kernel work
// inside them through withNetns(), so the machine's own netns is never touched; `using` removes them on failure.
import { describe, expect, test } from "bun:test";
import { closeSync } from "node:fs";
import {
  LinkNotFoundError,
  NetlinkError,
  NeighState,
  RouteProtocol,
  RouteScope,
  isNotFound,
  openRtnl,
  type Rtnl,
} from "../../shared/netlink/index.ts";
import { type NetnsHandle, type NotPromise, openNetnsFd, withNetns } from "../../shared/netns/index.ts";
import { type TestNetns, createTestNetns, runIn, uniqueIfname } from "../helpers/netns.ts";
import { thrown } from "../helpers/thrown.ts";

/** Runs fn with a fresh Rtnl inside `ns`. */
function inNs<T>(ns: TestNetns, fn: (r: Rtnl, host: NetnsHandle) => T): T {
  return withNetns(ns.path, (h) => {
    using r = openRtnl();
    return fn(r, h) as NotPromise<T>;
  });
}

function netlinkError(fn: () => unknown): NetlinkError {
  const e = thrown(fn);
  expect(e).toBeInstanceOf(NetlinkError);
  return e as NetlinkError;
}

/** A veth pair a<->b, both ends in the current netns and up; `a` gets `addrs`. */
function vethPair(r: Rtnl, addrs: Array<{ address: string; nodad?: boolean }> = []): { a: number; b: number } {
  const an = uniqueIfname("va");
  const bn = uniqueIfname("vb");
  r.createVeth({ name: an, peerName: bn });
  const a = r.getLink(an).index;
  const b = r.getLink(bn).index;
  r.setUp(a);
  r.setUp(b);
  for (const x of addrs) r.addAddr({ index: a, ...x });
  return { a, b };
}

describe("links", () => {
  test("links() lists only loopback in a fresh netns; getLink() finds it by name and index", () => {
    using ns = createTestNetns("links");
    inNs(ns, (r) => {
      const all = r.links();
      expect(all.map((l) => l.name)).toEqual(["lo"]);
      const lo = r.getLink("lo");
      expect(lo).toMatchObject({ index: 1, name: "lo", mtu: 65536, mac: "00:00:00:00:00:00", up: false, promisc: false });
      expect(lo.kind).toBeUndefined();
      expect(r.getLink(1).name).toBe("lo");
    });
  });

  test("getLink() throws LinkNotFoundError and findLink() returns undefined for a missing link", () => {
    using ns = createTestNetns("notfound");
    inNs(ns, (r) => {
      const byName = thrown(() => r.getLink("nope0"));
      expect(byName).toBeInstanceOf(LinkNotFoundError);
      expect((byName as LinkNotFoundError).name_or_index).toBe("nope0");
      expect(isNotFound(byName)).toBe(true);
      const byIndex = thrown(() => r.getLink(99999));
      expect((byIndex as LinkNotFoundError).name_or_index).toBe(99999);
      expect(r.findLink("nope0")).toBeUndefined();
      expect(r.findLink("lo")?.index).toBe(1);
    });
  });

  test("createBridge() creates a bridge; creating it again is EEXIST; deleteLink() removes it and tolerates absence", () => {
    using ns = createTestNetns("bridge");
    inNs(ns, (r) => {
      const name = uniqueIfname("br");
      r.createBridge({ name, mtu: 1400, mac: "02:42:00:00:00:01" });
      const br = r.getLink(name);
      expect(br).toMatchObject({ name, kind: "bridge", mtu: 1400, mac: "02:42:00:00:00:01", up: false });
      expect(br.bridge?.vlanFiltering).toBe(false);
      const e = netlinkError(() => r.createBridge({ name }));
      expect(e).toMatchObject({ code: "EEXIST", errno: 17, op: "createBridge" });
      expect(e.message).toBe(`Cannot create bridge "${name}": EEXIST (file already exists)`);
      r.deleteLink(name);
      expect(r.findLink(name)).toBeUndefined();
      r.deleteLink(name);
      r.deleteLink(br.index);
    });
  });

  test("createVeth() with peerNetnsFd creates the peer in the other netns with its name, MTU and MAC", () => {
    using host = createTestNetns("vhost");
    using pod = createTestNetns("vpod");
    const hostName = uniqueIfname("veth");
    const podFd = openNetnsFd(pod.path);
    let ms = 0;
    try {
      inNs(host, (r) => {
        const t0 = performance.now();
        r.createVeth({ name: hostName, peerName: "eth0", peerNetnsFd: podFd, mtu: 1410, mac: "02:00:00:00:01:01", peerMac: "02:00:00:00:01:02" });
        ms = performance.now() - t0;
        const h = r.getLink(hostName);
        expect(h).toMatchObject({ kind: "veth", mtu: 1410, mac: "02:00:00:00:01:01" });
        expect(h.linkNetnsId).toBeNumber(); // the peer lives in another netns
        expect(r.findLink("eth0")).toBeUndefined();
      });
    } finally {
      closeSync(podFd);
    }
    console.log(`createVeth() with the peer born in another netns: ${ms.toFixed(2)} ms`);
    inNs(pod, (r) => {
      const p = r.getLink("eth0");
      expect(p).toMatchObject({ kind: "veth", mtu: 1410, mac: "02:00:00:00:01:02" });
      expect(p.linkNetnsId).toBeNumber();
    });
    inNs(host, (r) => r.deleteLink(hostName));
    inNs(pod, (r) => expect(r.findLink("eth0")).toBeUndefined()); // deleting one end deletes the pair
  });

  test("createVeth() uses the withNetns handle fd to put the peer in the original netns", () => {
    using host = createTestNetns("hfdhost");
    using pod = createTestNetns("hfdpod");
    const hostSide = uniqueIfname("vh");
    withNetns(host.path, () => {
      inNs(pod, (r, h) => {
        r.createVeth({ name: "eth0", peerName: hostSide, peerNetnsFd: h.fd });
        expect(r.findLink(hostSide)).toBeUndefined();
      });
      using r = openRtnl();
      expect(r.getLink(hostSide).kind).toBe("veth");
    });
  });

  test("createVeth() fails with EEXIST when the peer name is taken and leaves nothing behind", () => {
    using ns = createTestNetns("vexist");
    inNs(ns, (r) => {
      const a = uniqueIfname("va");
      const b = uniqueIfname("vb");
      r.createBridge({ name: b });
      expect(netlinkError(() => r.createVeth({ name: a, peerName: b })).code).toBe("EEXIST");
      expect(r.findLink(a)).toBeUndefined();
    });
  });

  test("createVeth() rejects an over-long name with RangeError before calling the kernel", () => {
    using ns = createTestNetns("vlong");
    inNs(ns, (r) => {
      expect(() => r.createVeth({ name: "x".repeat(16), peerName: "y" })).toThrow(RangeError);
      expect(r.links()).toHaveLength(1);
    });
  });

  test("setUp/setDown/setMtu/setMaster/setName/setMac/setPromisc change the link", () => {
    using ns = createTestNetns("set");
    inNs(ns, (r) => {
      const brName = uniqueIfname("br");
      r.createBridge({ name: brName });
      const br = r.getLink(brName).index;
      const { a, b } = vethPair(r);
      expect(r.getLink(a).up).toBe(true);
      r.setDown(a);
      expect(r.getLink(a).up).toBe(false);
      r.setMtu(a, 1280);
      expect(r.getLink(a).mtu).toBe(1280);
      r.setMaster(a, br);
      expect(r.getLink(a)).toMatchObject({ master: br, slaveKind: "bridge" });
      r.setMaster(a, 0);
      expect(r.getLink(a).master).toBeUndefined();
      const newName = uniqueIfname("ren");
      r.setName(a, newName);
      expect(r.getLink(a).name).toBe(newName);
      r.setMac(a, "02:AA:BB:CC:DD:EE");
      expect(r.getLink(a).mac).toBe("02:aa:bb:cc:dd:ee");
      r.setPromisc(a, true);
      expect(r.getLink(a).promisc).toBe(true);
      r.setPromisc(a, false);
      expect(r.getLink(a).promisc).toBe(false);
      r.setUp(a);
      const l = r.getLink(a);
      expect(l.up).toBe(true);
      expect(l.operState).toBe("up"); // peer b is up: carrier
      expect(r.getLink(b).link).toBe(a);
    });
  });

  test("setUp() on a missing index is a NetlinkError ENODEV naming the operation", () => {
    using ns = createTestNetns("enodev");
    inNs(ns, (r) => {
      const e = netlinkError(() => r.setUp(99999));
      expect(e).toMatchObject({ code: "ENODEV", errno: 19, op: "setUp" });
      expect(isNotFound(e)).toBe(true);
      expect(e.message).toStartWith("Cannot set link 99999 up: ENODEV");
    });
  });

  test("moveToNetns() moves a link into another netns", () => {
    using host = createTestNetns("mvhost");
    using pod = createTestNetns("mvpod");
    const a = uniqueIfname("va");
    const b = uniqueIfname("vb");
    const podFd = openNetnsFd(pod.path);
    try {
      inNs(host, (r) => {
        r.createVeth({ name: a, peerName: b });
        r.moveToNetns(r.getLink(b).index, podFd);
        expect(r.findLink(b)).toBeUndefined();
      });
    } finally {
      closeSync(podFd);
    }
    inNs(pod, (r) => expect(r.getLink(b).kind).toBe("veth"));
  });

  test("an Rtnl opened inside withNetns() keeps working on that netns after switching back", () => {
    using ns = createTestNetns("bound");
    const name = uniqueIfname("br");
    const r = withNetns(ns.path, () => openRtnl());
    try {
      r.createBridge({ name });
      expect(r.links().map((l) => l.name).sort()).toEqual([name, "lo"].sort());
    } finally {
      r.close();
      r.close(); // idempotent
    }
    expect(() => r.links()).toThrow(/closed/);
    inNs(ns, (r2) => expect(r2.findLink(name)).toBeDefined());
  });
});

describe("bridge ports", () => {
  test("setBridgePort() sets and clears hairpin and isolated (netlink dump and sysfs agree)", () => {
    using ns = createTestNetns("hairpin");
    const sysfs = (port: string, attr: string) => runIn(ns.name, ["cat", `/sys/class/net/${port}/brport/${attr}`]).stdout.trim();
    const portName = inNs(ns, (r) => {
      const brName = uniqueIfname("br");
      r.createBridge({ name: brName });
      const { a } = vethPair(r);
      r.setMaster(a, r.getLink(brName).index);
      r.setBridgePort(a, { hairpin: true, isolated: true });
      expect(r.getLink(a).bridgePort).toMatchObject({ hairpin: true, isolated: true });
      return r.getLink(a).name;
    });
    expect(sysfs(portName, "hairpin_mode")).toBe("1");
    expect(sysfs(portName, "isolated")).toBe("1");
    inNs(ns, (r) => {
      const a = r.getLink(portName).index;
      r.setBridgePort(a, { hairpin: false });
      expect(r.getLink(a).bridgePort).toMatchObject({ hairpin: false, isolated: true });
    });
    expect(sysfs(portName, "hairpin_mode")).toBe("0");
    expect(sysfs(portName, "isolated")).toBe("1");
  });

  test("setBridgePort() on a link that is not a bridge port is a NetlinkError", () => {
    using ns = createTestNetns("noport");
    inNs(ns, (r) => {
      const { a } = vethPair(r);
      const e = netlinkError(() => r.setBridgePort(a, { hairpin: true }));
      expect(e.op).toBe("setBridgePort");
    });
  });

  test("bridgeVlanAdd/bridgeVlans/bridgeVlanDel round-trip, or report EOPNOTSUPP where the kernel lacks VLAN filtering", () => {
    using ns = createTestNetns("vlan");
    inNs(ns, (r) => {
      const brName = uniqueIfname("br");
      let supported = true;
      try {
        r.createBridge({ name: brName, vlanFiltering: true });
      } catch (e) {
        // CONFIG_BRIDGE_VLAN_FILTERING=n (this machine's kernel): the kernel refuses the option itself
        expect((e as NetlinkError).code).toBe("EOPNOTSUPP");
        supported = false;
        r.createBridge({ name: brName });
      }
      const br = r.getLink(brName).index;
      const { a } = vethPair(r);
      r.setMaster(a, br);
      if (!supported) {
        const e = netlinkError(() => r.bridgeVlanAdd(a, { vid: 10, pvid: true, untagged: true }));
        expect(e).toMatchObject({ code: "EOPNOTSUPP", op: "bridgeVlanAdd" });
        expect(r.bridgeVlans(a)).toEqual([]);
        return;
      }
      expect(r.getLink(br).bridge?.vlanFiltering).toBe(true);
      r.bridgeVlanAdd(a, { vid: 10, pvid: true, untagged: true });
      r.bridgeVlanAdd(a, { vid: 20, vidEnd: 22 });
      r.bridgeVlanAdd(br, { vid: 10, self: true });
      const vl = r.bridgeVlans(a);
      expect(vl).toContainEqual({ vid: 10, pvid: true, untagged: true });
      expect(vl.filter((v) => v.vid >= 20 && v.vid <= 22)).toHaveLength(3);
      expect(r.bridgeVlans(br).map((v) => v.vid)).toContain(10);
      r.bridgeVlanDel(a, { vid: 20, vidEnd: 22 });
      expect(r.bridgeVlans(a).map((v) => v.vid)).not.toContain(21);
    });
  });
});

describe("addresses", () => {
  test("addAddr() adds IPv4 and IPv6 (nodad: not tentative); addrs() filters; duplicates are EEXIST; delAddr() removes", () => {
    using ns = createTestNetns("addr");
    inNs(ns, (r) => {
      const { a, b } = vethPair(r);
      r.addAddr({ index: a, address: "10.7.0.1/24" });
      r.addAddr({ index: a, address: "fd07::1/64", nodad: true });
      r.addAddr({ index: b, address: "fd07::2/64" }); // DAD runs: tentative for at least a second
      const mine = r.addrs({ index: a });
      expect(mine.find((x) => x.address === "10.7.0.1/24")).toMatchObject({ family: 4, scope: 0, tentative: false });
      expect(mine.find((x) => x.address === "fd07::1/64")).toMatchObject({ family: 6, tentative: false, dadFailed: false });
      expect(r.addrs({ index: b, family: 6 }).find((x) => x.address === "fd07::2/64")?.tentative).toBe(true);
      expect(r.addrs({ family: 4 }).every((x) => x.family === 4)).toBe(true);
      expect(r.addrs({ index: a, family: 6 }).map((x) => x.address)).toContain("fd07::1/64");
      // the kernel adds the prefix route; the IPv4 broadcast is the one Go netlink computes
      expect(r.routes({ family: 4 }).map((x) => x.dst)).toContain("10.7.0.0/24");
      const brd = runIn(ns.name, ["ip", "-4", "addr", "show", "dev", r.getLink(a).name]).stdout;
      expect(brd).toContain("brd 10.7.0.255");

      const e = netlinkError(() => r.addAddr({ index: a, address: "10.7.0.1/24" }));
      expect(e).toMatchObject({ code: "EEXIST", op: "addAddr" });

      r.delAddr({ index: a, address: "10.7.0.1/24" });
      r.delAddr({ index: a, address: "fd07::1/64" });
      expect(r.addrs({ index: a }).map((x) => x.address)).not.toContain("10.7.0.1/24");
      const gone = netlinkError(() => r.delAddr({ index: a, address: "10.7.0.1/24" }));
      expect(gone.code).toBe("EADDRNOTAVAIL");
      expect(isNotFound(gone)).toBe(true);
    });
  });

  test("addAddr() with noprefixroute adds no prefix route", () => {
    using ns = createTestNetns("nopfx");
    inNs(ns, (r) => {
      const { a } = vethPair(r);
      r.addAddr({ index: a, address: "10.8.0.1/24", noprefixroute: true });
      expect(r.addrs({ index: a, family: 4 })[0]?.flags).toBe(0x200 | 0x80); // NOPREFIXROUTE | PERMANENT
      expect(r.routes({ family: 4 }).map((x) => x.dst)).not.toContain("10.8.0.0/24");
    });
  });
});

describe("routes", () => {
  test("addRoute/replaceRoute/delRoute and routes() with gateway, metrics, priority, table and prefsrc", () => {
    using ns = createTestNetns("route");
    inNs(ns, (r) => {
      const { a } = vethPair(r, [{ address: "10.9.0.1/24" }]);
      r.addRoute({ dst: "10.20.0.0/16", gw: "10.9.0.2" });
      const got = r.routes({ family: 4 }).find((x) => x.dst === "10.20.0.0/16");
      expect(got).toMatchObject({ family: 4, gw: "10.9.0.2", oif: a, table: 254, protocol: RouteProtocol.boot, scope: RouteScope.universe, type: 1, onlink: false });

      expect(netlinkError(() => r.addRoute({ dst: "10.20.0.0/16", gw: "10.9.0.2" })).code).toBe("EEXIST");

      r.replaceRoute({ dst: "10.20.0.0/16", gw: "10.9.0.3", mtu: 1400, advmss: 1360, src: "10.9.0.1" });
      const rep = r.routes({ family: 4 }).filter((x) => x.dst === "10.20.0.0/16");
      expect(rep).toHaveLength(1);
      expect(rep[0]).toMatchObject({ gw: "10.9.0.3", mtu: 1400, advmss: 1360, prefsrc: "10.9.0.1" });

      r.addRoute({ dst: "0.0.0.0/0", gw: "10.9.0.254", priority: 100 });
      expect(r.routes({ family: 4 }).find((x) => x.dst === "0.0.0.0/0")).toMatchObject({ gw: "10.9.0.254", priority: 100 });

      r.addRoute({ dst: "10.40.0.0/16", oif: a, table: 1000 });
      expect(r.routes().map((x) => x.dst)).not.toContain("10.40.0.0/16");
      expect(r.routes({ table: 1000 })).toEqual([
        expect.objectContaining({ dst: "10.40.0.0/16", oif: a, table: 1000, scope: RouteScope.link }),
      ]);
      expect(r.routes({ table: 0 }).map((x) => x.dst)).toContain("10.40.0.0/16");

      r.delRoute({ dst: "10.20.0.0/16", gw: "10.9.0.3", mtu: 9000 }); // metrics are not matched on delete
      r.delRoute({ dst: "10.40.0.0/16", table: 1000 });
      expect(r.routes({ table: 0 }).map((x) => x.dst)).not.toContainAnyValues(["10.20.0.0/16", "10.40.0.0/16"]);
      const gone = netlinkError(() => r.delRoute({ dst: "10.20.0.0/16" }));
      expect(gone.code).toBe("ESRCH");
      expect(isNotFound(gone)).toBe(true);
    });
  });

  test("addRoute() to an off-link gateway is ENETUNREACH with the kernel's extack text; onlink makes it work", () => {
    using ns = createTestNetns("onlink");
    inNs(ns, (r) => {
      const { a } = vethPair(r, [{ address: "10.9.0.1/24" }]);
      const e = netlinkError(() => r.addRoute({ dst: "10.30.0.0/16", gw: "192.168.99.1", oif: a }));
      expect(e.code).toBe("ENETUNREACH");
      expect(e.extack).toBeString();
      expect(e.extack!.length).toBeGreaterThan(0);
      expect(e.message).toContain(e.extack!);
      r.addRoute({ dst: "10.30.0.0/16", gw: "192.168.99.1", oif: a, onlink: true });
      expect(r.routes().find((x) => x.dst === "10.30.0.0/16")).toMatchObject({ gw: "192.168.99.1", onlink: true, oif: a });
    });
  });

  test("IPv6 routes: add with gateway, dump, delete", () => {
    using ns = createTestNetns("route6");
    inNs(ns, (r) => {
      const { a } = vethPair(r, [{ address: "fd09::1/64", nodad: true }]);
      r.addRoute({ dst: "fd10::/64", gw: "fd09::2", oif: a });
      r.addRoute({ dst: "::/0", gw: "fd09::fe", oif: a });
      const v6 = r.routes({ family: 6 });
      expect(v6.find((x) => x.dst === "fd10::/64")).toMatchObject({ family: 6, gw: "fd09::2", oif: a, table: 254 });
      expect(v6.find((x) => x.dst === "::/0")?.gw).toBe("fd09::fe");
      expect(r.routes({ family: 4 }).some((x) => x.family === 6)).toBe(false);
      r.delRoute({ dst: "fd10::/64", gw: "fd09::2", oif: a });
      expect(r.routes({ family: 6 }).map((x) => x.dst)).not.toContain("fd10::/64");
    });
  });

  test("routeGet() returns the route the kernel would use, and ENETUNREACH without one", () => {
    using ns = createTestNetns("routeget");
    inNs(ns, (r) => {
      const { a } = vethPair(r, [{ address: "10.9.0.1/24" }, { address: "fd09::1/64", nodad: true }]);
      r.addRoute({ dst: "10.20.0.0/16", gw: "10.9.0.2" });
      expect(r.routeGet("10.20.3.4")).toMatchObject({ family: 4, dst: "10.20.3.4/32", gw: "10.9.0.2", oif: a, prefsrc: "10.9.0.1" });
      expect(r.routeGet("10.9.0.7")).toMatchObject({ dst: "10.9.0.7/32", oif: a });
      expect(r.routeGet("10.9.0.7").gw).toBeUndefined();
      expect(r.routeGet("fd09::5")).toMatchObject({ family: 6, oif: a });
      expect(netlinkError(() => r.routeGet("192.0.2.1")).code).toBe("ENETUNREACH");
    });
  });

  test("batch() programs 250 routes, reports per-request errors in order, and deletes them", () => {
    using ns = createTestNetns("batch");
    inNs(ns, (r) => {
      vethPair(r, [{ address: "10.9.0.1/24" }]);
      const dsts = Array.from({ length: 250 }, (_, i) => `10.${100 + (i >> 8)}.${i & 255}.0/24`);
      const t0 = performance.now();
      const res = r.batch((b) => {
        for (const dst of dsts) b.addRoute({ dst, gw: "10.9.0.2" });
      });
      const ms = performance.now() - t0;
      console.log(`batch() of 250 addRoute: ${ms.toFixed(2)} ms`);
      expect(res).toHaveLength(250);
      expect(res.every((x) => x === undefined)).toBe(true);
      const have = new Set(r.routes({ family: 4 }).map((x) => x.dst));
      expect(dsts.every((d) => have.has(d))).toBe(true);

      const mixed = r.batch((b) => {
        b.addRoute({ dst: dsts[0]!, gw: "10.9.0.2" }); // exists
        b.addRoute({ dst: "10.200.0.0/24", gw: "10.9.0.2" });
        b.delRoute({ dst: "10.201.0.0/24" }); // absent
        b.replaceRoute({ dst: dsts[1]!, gw: "10.9.0.3" });
      });
      expect(mixed.map((x) => x?.code)).toEqual(["EEXIST", undefined, "ESRCH", undefined]);
      expect(mixed[0]?.op).toBe("addRoute");

      const t1 = performance.now();
      const del = r.batch((b) => {
        for (const dst of [...dsts, "10.200.0.0/24"]) b.delRoute({ dst });
      });
      console.log(`batch() of 251 delRoute: ${(performance.now() - t1).toFixed(2)} ms`);
      expect(del.filter((x) => x !== undefined)).toEqual([]);
      expect(r.routes({ family: 4 }).filter((x) => x.dst.startsWith("10.10") || x.dst.startsWith("10.200"))).toEqual([]);
      expect(r.batch(() => {})).toEqual([]);
    });
  });
});

describe("neighbours and fdb", () => {
  test("setNeigh() creates and replaces IPv4/IPv6 neighbours; delNeigh() removes them", () => {
    using ns = createTestNetns("neigh");
    inNs(ns, (r) => {
      const { a } = vethPair(r, [{ address: "10.9.0.1/24" }, { address: "fd09::1/64", nodad: true }]);
      r.setNeigh({ index: a, family: 4, dst: "10.9.0.7", lladdr: "02:00:00:00:00:07" });
      r.setNeigh({ index: a, family: 6, dst: "fd09::7", lladdr: "02:00:00:00:00:08" });
      const n4 = r.neighs({ family: 4, index: a }).find((x) => x.dst === "10.9.0.7");
      expect(n4).toMatchObject({ family: 4, index: a, lladdr: "02:00:00:00:00:07", state: NeighState.permanent });
      expect(r.neighs({ family: 6, index: a }).find((x) => x.dst === "fd09::7")?.lladdr).toBe("02:00:00:00:00:08");
      r.setNeigh({ index: a, family: 4, dst: "10.9.0.7", lladdr: "02:00:00:00:00:17" });
      expect(r.neighs({ family: 4, index: a }).filter((x) => x.dst === "10.9.0.7").map((x) => x.lladdr)).toEqual(["02:00:00:00:00:17"]);
      r.delNeigh({ index: a, family: 4, dst: "10.9.0.7" });
      expect(r.neighs({ family: 4, index: a }).find((x) => x.dst === "10.9.0.7")).toBeUndefined();
      const gone = netlinkError(() => r.delNeigh({ index: a, family: 4, dst: "10.9.0.7" }));
      expect(isNotFound(gone)).toBe(true);
    });
  });

  test("createVxlan() sets VNI, port, local IP, device, learning and GBP; a second device with the same VNI is EEXIST with extack", () => {
    using ns = createTestNetns("vxlan");
    inNs(ns, (r) => {
      const { a } = vethPair(r, [{ address: "10.9.0.1/24" }]);
      const name = uniqueIfname("vx");
      r.createVxlan({ name, vni: 4242, port: 8472, localIp: "10.9.0.1", dev: a, learning: false, gbp: true, mtu: 1450, mac: "02:00:00:00:42:42" });
      const vx = r.getLink(name);
      expect(vx).toMatchObject({ kind: "vxlan", mtu: 1450, mac: "02:00:00:00:42:42" });
      expect(vx.vxlan).toEqual({ vni: 4242, port: 8472, localIp: "10.9.0.1", dev: a, learning: false, gbp: true });
      const e = netlinkError(() =>
        r.createVxlan({ name: uniqueIfname("vx"), vni: 4242, port: 8472, localIp: "10.9.0.1", dev: a, learning: true, gbp: true }),
      );
      expect(e.code).toBe("EEXIST");
      expect(e.extack).toContain("VNI");
      console.log(`extack for a duplicate VXLAN VNI: "${e.extack}"`);
    });
  });

  test("setNeigh()/neighs()/delNeigh() manage VXLAN fdb entries (family 7, self) and ARP entries on the device", () => {
    using ns = createTestNetns("fdb");
    inNs(ns, (r) => {
      const { a } = vethPair(r, [{ address: "10.9.0.1/24" }]);
      const name = uniqueIfname("vx");
      r.createVxlan({ name, vni: 1, port: 8472, localIp: "10.9.0.1", dev: a, learning: false });
      const vx = r.getLink(name).index;
      r.setUp(vx);
      const mac = "0a:58:0a:f4:01:00";
      r.setNeigh({ index: vx, family: 7, lladdr: mac, dst: "10.9.0.5", self: true });
      const fdb = () => r.neighs({ family: 7, index: vx }).filter((x) => x.lladdr === mac);
      expect(fdb()).toEqual([expect.objectContaining({ family: 7, index: vx, dst: "10.9.0.5", state: NeighState.permanent })]);
      expect(fdb()[0]!.flags & 0x02).toBe(0x02); // NTF_SELF
      r.setNeigh({ index: vx, family: 7, lladdr: mac, dst: "10.9.0.6", self: true }); // replace the remote
      expect(fdb().map((x) => x.dst)).toEqual(["10.9.0.6"]);
      // flannel's ARP entry for the remote subnet's gateway on the VXLAN device
      r.setNeigh({ index: vx, family: 4, dst: "10.244.1.0", lladdr: mac });
      expect(r.neighs({ family: 4, index: vx }).find((x) => x.dst === "10.244.1.0")?.lladdr).toBe(mac);
      expect(r.neighs({ index: vx }).map((x) => x.family).sort()).toEqual(expect.arrayContaining([4, 7]));
      r.delNeigh({ index: vx, family: 7, lladdr: mac, dst: "10.9.0.6", self: true });
      expect(fdb()).toEqual([]);
      r.delNeigh({ index: vx, family: 4, dst: "10.244.1.0" });
      expect(r.neighs({ family: 4, index: vx }).find((x) => x.dst === "10.244.1.0")).toBeUndefined();
    });
  });

  test("batch() programs neighbours and fdb entries", () => {
    using ns = createTestNetns("nbatch");
    inNs(ns, (r) => {
      const { a } = vethPair(r, [{ address: "10.9.0.1/24" }]);
      const name = uniqueIfname("vx");
      r.createVxlan({ name, vni: 2, port: 8472, dev: a, learning: false });
      const vx = r.getLink(name).index;
      const res = r.batch((b) => {
        for (let i = 1; i <= 100; i++) {
          const mac = `0a:58:00:00:00:${i.toString(16).padStart(2, "0")}`;
          b.setNeigh({ index: vx, family: 7, lladdr: mac, dst: `10.9.1.${i}`, self: true });
          b.setNeigh({ index: vx, family: 4, dst: `10.244.${i}.0`, lladdr: mac });
        }
      });
      expect(res.filter((x) => x !== undefined)).toEqual([]);
      expect(r.neighs({ family: 7, index: vx }).filter((x) => x.lladdr?.startsWith("0a:58:00"))).toHaveLength(100);
      expect(r.neighs({ family: 4, index: vx })).toHaveLength(100);
    });
  });
});
