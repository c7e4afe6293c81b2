// `weft node`: the flanneld role (flannel-io/flannel main.go). Start-up is config → external interface → VXLAN
// device → lease → address, rules, subnet.env → ready; then one loop reacts to lease changes, link events and
// timers, and always reconciles the kernel with the leases (plan.ts) instead of replaying events. A dual-stack
// network (EnableIPv6) adds, as flanneld, `flannel-v6.<VNI>` with the uplink's IPv6 address as its VTEP, the lease's
// IPv6 subnet, PublicIPv6 and BackendV6Data, the IPv6 routes/neighbours/FDB of plan6.ts, and ip6tables rules.
import type { NetConf } from "./config.ts";
import { NetConfError, parseNetConf } from "./config.ts";
import type { NodeFlags } from "./flags.ts";
import { type Cidr4, containsIp, formatCidr4, formatIp4, sameCidr, tryParseIp4 } from "./ip4.ts";
import { type Cidr6, type LeaseKey, containsIp6, formatIp6, sameCidr6, tryParseIp6 } from "./ip6.ts";
import * as kernel from "./kernel.ts";
import { acquireLease, holdsLease, leaseName } from "./lease.ts";
import { type Changes, type KernelState, type PlanContext, changeCount, desiredState, diffState, ownedRoute, peerLeases } from "./plan.ts";
import { type PlanContext6, desiredState6, ownedRoute6, peerLeases6 } from "./plan6.ts";
import { type Lease, type LeaseAttrs, type Store, openStore } from "./store/store.ts";
import { readPreviousSubnets, writeSubnetEnv } from "./subnet-env.ts";
import { desiredChains, desiredChains6, ensureRules } from "./traffic.ts";
import { Backoff, type Logger, sleep } from "./util.ts";

/** VXLAN header overhead on an IPv4 underlay (flannel uses 50 for both families; IPv6 needs 70). */
const VXLAN_OVERHEAD = 50;
/** VXLAN overhead on an IPv6 underlay (the 40-byte IPv6 header instead of IPv4's 20): flannel-v6.<VNI>. */
const VXLAN6_OVERHEAD = 70;

export interface ExternalIface {
  name: string;
  ip: string;
  /** The interface's first global IPv6 address (the VTEP of flannel-v6.<VNI> on a dual-stack network). */
  ip6?: string;
  mtu: number;
}

/** flannel pkg/ipmatch: `--iface` names or IPs in order, else the default-route interface. @throws {Error} */
export function pickExternal(ifaces: readonly string[]): ExternalIface {
  const links = kernel.listLinks();
  const firstV4 = (l: kernel.LinkInfo) => l.addrs[0]?.split("/")[0];
  const bare = (a: string) => a.split("/")[0];
  const ext = (l: kernel.LinkInfo, ip: string): ExternalIface => ({ name: l.name, ip, ...(l.addrs6[0] ? { ip6: bare(l.addrs6[0]) } : {}), mtu: l.mtu });
  for (const want of ifaces) {
    const byIp = tryParseIp4(want) !== undefined;
    const byIp6 = tryParseIp6(want);
    const l = links.find((x) =>
      byIp ? x.addrs.some((a) => bare(a) === want) : byIp6 !== undefined ? x.addrs6.some((a) => tryParseIp6(bare(a)!) === byIp6) : x.name === want,
    );
    if (!l) continue;
    const ip = byIp ? want : firstV4(l);
    if (ip) return ext(l, ip);
  }
  if (ifaces.length > 0) throw new Error(`Cannot use --iface ${ifaces.join(",")}: no such interface with an IPv4 address`);
  const dev = kernel.defaultRouteDev();
  const l = dev ? links.find((x) => x.name === dev) : undefined;
  const ip = l && firstV4(l);
  if (!l || !ip) throw new Error("Cannot pick the external interface: there is no default route with an IPv4 address; pass --iface");
  return ext(l, ip);
}

/** Reads and parses the network config, retrying (with backoff) while it is missing, wrong or unreachable. */
async function waitForConfig(store: Store, log: Logger, signal: AbortSignal): Promise<NetConf | undefined> {
  const backoff = new Backoff(1000, 10_000);
  while (!signal.aborted) {
    let problem: string;
    try {
      const text = await store.getConfig();
      if (text !== undefined) return parseNetConf(text);
      problem = `No network config in the ${store.description}: write one (e.g. {"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}})`;
    } catch (e) {
      problem = e instanceof NetConfError ? `${e.message} (in the ${store.description})` : (e as Error).message;
    }
    const wait = backoff.next();
    log("error", `${problem}; retrying in ${wait / 1000}s`);
    await sleep(wait, signal);
  }
  return undefined;
}

export class NodeDaemon {
  #ready = false;
  #leases: Lease[] = [];
  #own!: Cidr4;
  /** Our IPv6 subnet on a dual-stack network. */
  #own6: Cidr6 | undefined;
  #expiresAt = 0;
  #attrs!: LeaseAttrs;
  #conf!: NetConf;
  #ext!: ExternalIface;
  #vxlan: kernel.VxlanSpec | undefined;
  /** flannel-v6.<VNI> (vxlan on a dual-stack network). */
  #vxlan6: kernel.VxlanSpec | undefined;
  #reacquiring = false;

  constructor(
    readonly flags: NodeFlags,
    readonly log: Logger,
  ) {}

  get ready(): boolean {
    return this.#ready;
  }

  /** Runs until `signal` aborts; returns the exit status. */
  async run(signal: AbortSignal): Promise<number> {
    const f = this.flags;
    const store = await openStore({ ...(f.store ? { store: f.store } : {}), endpoints: f.etcdEndpoints, prefix: f.etcdPrefix });
    this.log("info", `using the ${store.description}`);
    const conf = await waitForConfig(store, this.log, signal);
    if (!conf) return 0;
    this.#conf = conf;
    for (const n of conf.notes) this.log("warn", n);
    this.#ext = pickExternal(f.iface);
    const publicIp = f.publicIp ?? this.#ext.ip;
    this.log("info", `external interface ${this.#ext.name} (${this.#ext.ip}, mtu ${this.#ext.mtu}), public IP ${publicIp}, backend ${conf.backend.type}`);
    if (conf.backend.type === "host-gw" && publicIp !== this.#ext.ip) {
      throw new Error(`Cannot use the host-gw backend with --public-ip ${publicIp} differing from the interface address ${this.#ext.ip}: a NATed public IP is not supported by host-gw`);
    }
    const publicIpv6 = conf.ipv6 ? this.#publicIpv6() : undefined;

    // the lease must publish the VTEP's MAC, so the device comes first (as flanneld); reuse the MAC our old lease
    // published, so that peers' ARP/FDB entries stay valid across a reboot (flannel#1795)
    const previous = readPreviousSubnets(f.subnetFile);
    const oldMacs = await this.#retry(signal, async () => {
      const mine = (await store.listLeases()).find((l) => l.attrs.PublicIP === publicIp);
      return { v4: mine?.attrs.BackendData?.VtepMAC, v6: mine?.attrs.BackendV6Data?.VtepMAC };
    });
    if (signal.aborted || !oldMacs) return 0;
    const oldMac = oldMacs.v4;
    let mac: string | undefined;
    let mac6: string | undefined;
    if (conf.backend.type === "vxlan") {
      this.#vxlan = {
        name: `flannel.${conf.backend.vni}`,
        vni: conf.backend.vni,
        local: this.#ext.ip,
        dev: this.#ext.name,
        port: conf.backend.port,
        gbp: conf.backend.gbp,
        mtu: (conf.backend.mtu ?? this.#ext.mtu) - VXLAN_OVERHEAD,
        ...(oldMac ? { mac: oldMac } : {}),
      };
      mac = this.#ensureDevice(this.#vxlan).mac;
      if (publicIpv6) {
        this.#vxlan6 = {
          ...this.#vxlan,
          name: `flannel-v6.${conf.backend.vni}`,
          local: publicIpv6,
          mtu: (conf.backend.mtu ?? this.#ext.mtu) - VXLAN6_OVERHEAD,
          ...(oldMacs.v6 ? { mac: oldMacs.v6 } : {}),
        };
        if (!oldMacs.v6) delete this.#vxlan6.mac;
        mac6 = this.#ensureDevice(this.#vxlan6).mac;
      }
    }
    // flanneld's key order: PublicIP, PublicIPv6, BackendType, BackendData, BackendV6Data
    this.#attrs = {
      PublicIP: publicIp,
      PublicIPv6: publicIpv6 ?? null,
      BackendType: conf.backend.type,
      ...(mac ? { BackendData: { VNI: conf.backend.vni, VtepMAC: mac } } : {}),
      ...(mac6 ? { BackendV6Data: { VNI: conf.backend.vni, VtepMAC: mac6 } } : {}),
    };
    const got = await this.#retry(signal, () => acquireLease({ store, conf, attrs: this.#attrs, previous, log: (m) => this.log("info", m) }));
    if (!got) return 0;
    this.#own = got.subnet;
    this.#own6 = got.ipv6Subnet;
    this.#expiresAt = got.expiresAt;
    this.log("info", `lease acquired: ${leaseName(got)} (${got.how}), expires ${new Date(got.expiresAt).toISOString()}`);
    this.#afterLease();
    this.#ready = true;

    // one reconcile queue: every trigger marks the state dirty; the loop below runs reconcile() at most once at a time
    let dirty = true;
    let wakeLoop: (() => void) | undefined;
    const kick = () => {
      dirty = true;
      wakeLoop?.();
    };
    const devices = [this.#vxlan, this.#vxlan6].flatMap((d) => (d ? [d.name] : []));
    const stopMonitor =
      devices.length > 0
        ? kernel.monitorLinks((line) => {
            if (devices.some((n) => line.includes(` ${n}:`) || line.includes(` ${n}@`))) kick();
          })
        : () => {};
    const watchDone = store.watchLeases(
      (leases) => {
        this.#onLeases(leases, store, signal);
        kick();
      },
      (e) => this.log("warn", `watching leases: ${e.message}; retrying`),
      signal,
    );
    let nextRules = Date.now() + f.iptablesResync * 1000;
    let nextReconcile = Date.now() + f.reconcileInterval * 1000;
    try {
      while (!signal.aborted) {
        const now = Date.now();
        if (now >= nextReconcile) {
          dirty = true;
          nextReconcile = now + f.reconcileInterval * 1000;
        }
        if (dirty) {
          dirty = false;
          this.#safe("reconcile", () => this.reconcile());
        }
        if (now >= nextRules) {
          this.#safe("iptables", () => this.#ensureRules());
          nextRules = now + f.iptablesResync * 1000;
        }
        if (now >= this.#expiresAt - f.subnetLeaseRenewMargin * 60_000) await this.#renew(store);
        const s = sleep(Math.max(0, Math.min(nextRules, nextReconcile) - Date.now()), signal);
        wakeLoop = s.wake;
        if (!dirty) await s;
        wakeLoop = undefined;
      }
    } finally {
      stopMonitor();
      await watchDone;
    }
    this.log("info", "stopping; the lease and the data plane are left in place");
    return 0;
  }

  /** Retries `fn` while the store is unavailable, logging each failure; undefined when aborted. */
  async #retry<T>(signal: AbortSignal, fn: () => Promise<T>): Promise<T | undefined> {
    const backoff = new Backoff(1000, 10_000);
    while (!signal.aborted) {
      try {
        return await fn();
      } catch (e) {
        const wait = backoff.next();
        this.log("error", `${(e as Error).message}; retrying in ${wait / 1000}s`);
        await sleep(wait, signal);
      }
    }
    return undefined;
  }

  #safe(what: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.log("error", `${what}: ${(e as Error).message}`);
    }
  }

  /** `--public-ipv6`, else the external interface's first global IPv6 address. @throws {Error} when there is none */
  #publicIpv6(): string {
    const want = this.flags.publicIpv6;
    if (want !== undefined) {
      const n = tryParseIp6(want);
      if (n === undefined) throw new Error(`Invalid --public-ipv6 "${want}": it must be an IPv6 address`);
      return formatIp6(n);
    }
    if (!this.#ext.ip6) {
      throw new Error(
        `Cannot use the dual-stack network (EnableIPv6): interface ${this.#ext.name} has no global IPv6 address; add one, or pass --public-ipv6`,
      );
    }
    this.log("info", `public IPv6 ${this.#ext.ip6}`);
    return this.#ext.ip6;
  }

  /** Our lease's key in the store. */
  #key(): LeaseKey {
    return this.#own6 ? { subnet: this.#own, ipv6Subnet: this.#own6 } : { subnet: this.#own };
  }

  /** The VXLAN device exists and matches the spec: reused, or (re)created with the MAC we publish. */
  #ensureDevice(spec: kernel.VxlanSpec): kernel.LinkInfo {
    let l = kernel.findLink(spec.name);
    if (l && !kernel.vxlanMatches(l, spec)) {
      this.log("warn", `${spec.name} exists with other settings (VNI, local IP, uplink or port): recreating it`);
      kernel.deleteLink(spec.name);
      l = undefined;
    }
    if (!l) {
      kernel.createVxlan(spec);
      l = kernel.findLink(spec.name);
      if (!l) throw new Error(`Cannot find ${spec.name} right after creating it`);
      this.log("info", `created ${spec.name} (VNI ${spec.vni}, local ${spec.local}, dev ${spec.dev}, mtu ${spec.mtu}, mac ${l.mac})`);
    }
    spec.mac = l.mac;
    return l;
  }

  /** Address, rules and subnet.env for the current lease. */
  #afterLease(): void {
    if (this.#vxlan) this.#ensureDeviceAddress(this.#ensureDevice(this.#vxlan));
    if (this.#vxlan6) this.#ensureDeviceAddress6(this.#ensureDevice(this.#vxlan6));
    this.#safe("iptables", () => this.#ensureRules());
    const c6 = this.#conf.ipv6;
    // pods share one MTU for both families: the smaller of the two devices' (flannel-v6 carries 20 bytes more)
    const vxlanMtu = Math.min(...[this.#vxlan, this.#vxlan6].flatMap((d) => (d ? [d.mtu] : [])));
    writeSubnetEnv(this.flags.subnetFile, {
      network: this.#conf.network,
      subnet: this.#own,
      ...(c6 && this.#own6 ? { ipv6: { network: c6.network, subnet: this.#own6 } } : {}),
      mtu: this.#vxlan ? vxlanMtu : (this.#conf.backend.mtu ?? this.#ext.mtu),
      ipMasq: this.flags.ipMasq,
    });
    this.log("info", `wrote ${this.flags.subnetFile} (subnet ${leaseName(this.#key())})`);
  }

  #ensureDeviceAddress(l: kernel.LinkInfo): void {
    const want = `${formatIp4(this.#own.ip)}/32`;
    const remove = l.addrs.filter((a) => a !== want && containsIp(this.#conf.network, tryParseIp4(a.split("/")[0]!) ?? 0));
    if (l.addrs.includes(want) && remove.length === 0 && l.up && l.mtu === this.#vxlan!.mtu) return;
    kernel.ensureAddrAndUp({ name: l.name, address: want, remove, mtu: this.#vxlan!.mtu });
  }

  /** `<IPv6 subnet>::/128` on flannel-v6.<VNI>, other addresses inside IPv6Network removed (EnsureV6AddressOnLink). */
  #ensureDeviceAddress6(l: kernel.LinkInfo): void {
    const want = `${formatIp6(this.#own6!.ip)}/128`;
    const net = this.#conf.ipv6!.network;
    const remove = l.addrs6.filter((a) => a !== want && containsIp6(net, tryParseIp6(a.split("/")[0]!) ?? -1n));
    if (l.addrs6.includes(want) && remove.length === 0 && l.up && l.mtu === this.#vxlan6!.mtu) return;
    kernel.ensureAddrAndUp({ name: l.name, address: want, remove, mtu: this.#vxlan6!.mtu, family: 6 });
  }

  #ensureRules(): void {
    const f = this.flags;
    const fixed = ensureRules(desiredChains({ network: this.#conf.network, subnet: this.#own, ipMasq: f.ipMasq, forward: f.iptablesForwardRules }));
    if (fixed.length > 0) this.log("info", `iptables: wrote ${fixed.join(", ")}`);
    const c6 = this.#conf.ipv6;
    if (!c6 || !this.#own6) return;
    const fixed6 = ensureRules(desiredChains6({ network: c6.network, subnet: this.#own6, ipMasq: f.ipMasq, forward: f.iptablesForwardRules }), 6);
    if (fixed6.length > 0) this.log("info", `ip6tables: wrote ${fixed6.join(", ")}`);
  }

  #onLeases(leases: Lease[], store: Store, signal: AbortSignal): void {
    const key = (l: Lease) => leaseName(l);
    const before = new Map(this.#leases.map((l) => [key(l), l]));
    const after = new Map(leases.map((l) => [key(l), l]));
    for (const [k, l] of after) {
      const old = before.get(k);
      const mac = l.attrs.BackendData?.VtepMAC;
      const mac6 = l.attrs.BackendV6Data?.VtepMAC;
      const v6 = l.attrs.PublicIPv6 ? `, PublicIPv6 ${l.attrs.PublicIPv6}${mac6 ? `, v6 VtepMAC ${mac6}` : ""}` : "";
      const what = `${k} of ${l.attrs.PublicIP} (${l.attrs.BackendType}${mac ? `, VtepMAC ${mac}` : ""}${v6})`;
      if (!old) this.log("info", `lease added: ${what}`);
      else if (JSON.stringify(old.attrs) !== JSON.stringify(l.attrs)) this.log("info", `lease changed: ${what}`);
    }
    for (const [k, l] of before) if (!after.has(k)) this.log("info", `lease removed: ${k} of ${l.attrs.PublicIP}`);
    this.#leases = leases;
    if (!holdsLease(leases, this.#key(), this.#attrs.PublicIP) && !this.#reacquiring) {
      // flanneld shuts down here ("Lease has been revoked"); weft takes a lease again and reprograms
      this.#reacquiring = true;
      this.log("warn", `our lease ${leaseName(this.#key())} is gone from the store: acquiring one again`);
      void this.#reacquire(store, signal).finally(() => {
        this.#reacquiring = false;
      });
    }
  }

  async #reacquire(store: Store, signal: AbortSignal): Promise<void> {
    const got = await this.#retry(signal, () =>
      acquireLease({ store, conf: this.#conf, attrs: this.#attrs, previous: this.#key(), log: (m) => this.log("info", m) }),
    );
    if (!got) return;
    const changed = !sameCidr(got.subnet, this.#own) || !sameCidr6(got.ipv6Subnet, this.#own6);
    this.#own = got.subnet;
    this.#own6 = got.ipv6Subnet;
    this.#expiresAt = got.expiresAt;
    this.log("info", `lease acquired: ${leaseName(got)} (${got.how})${changed ? "; the subnet changed: pods must be recreated" : ""}`);
    this.#safe("lease", () => this.#afterLease());
  }

  async #renew(store: Store): Promise<void> {
    try {
      this.#expiresAt = await store.putLease(this.#key(), this.#attrs, 24 * 3600);
      this.log("info", `lease renewed: ${leaseName(this.#key())}, expires ${new Date(this.#expiresAt).toISOString()}`);
    } catch (e) {
      // retry in a minute, as flanneld does
      this.#expiresAt = Date.now() + this.flags.subnetLeaseRenewMargin * 60_000 + 60_000;
      this.log("error", `Cannot renew lease ${leaseName(this.#key())}: ${(e as Error).message}; retrying in 1 minute`);
    }
  }

  /** The plan context for the current lease. */
  context(): PlanContext {
    return {
      conf: this.#conf,
      own: this.#own,
      publicIp: this.#attrs.PublicIP,
      extDev: this.#ext.name,
      ...(this.#vxlan ? { vxlanDev: this.#vxlan.name } : {}),
      direct: (ip) => this.#conf.backend.directRouting && kernel.isDirect(ip),
    };
  }

  /** The IPv6 plan context on a dual-stack network. */
  context6(): PlanContext6 | undefined {
    const c6 = this.#conf.ipv6;
    const pub6 = this.#attrs.PublicIPv6;
    if (!c6 || !this.#own6 || !pub6) return undefined;
    return {
      conf: c6,
      backend: this.#conf.backend,
      own: this.#own6,
      publicIp: this.#attrs.PublicIP,
      publicIpv6: pub6,
      extDev: this.#ext.name,
      ...(this.#vxlan6 ? { vxlanDev: this.#vxlan6.name } : {}),
      direct: (ip) => this.#conf.backend.directRouting && kernel.isDirect(ip),
    };
  }

  /** Makes the kernel match the leases (IPv4, then IPv6 on a dual-stack network); returns the number of changes applied. */
  reconcile(): number {
    for (const [spec, ensureAddr] of [
      [this.#vxlan, (l: kernel.LinkInfo) => this.#ensureDeviceAddress(l)],
      [this.#vxlan6, (l: kernel.LinkInfo) => this.#ensureDeviceAddress6(l)],
    ] as const) {
      if (!spec) continue;
      const existed = kernel.findLink(spec.name);
      const l = this.#ensureDevice(spec);
      if (!existed) this.log("warn", `${spec.name} was missing: recreated it; programming every peer again`);
      ensureAddr(l);
    }
    const ctx = this.context();
    const { peers } = peerLeases(ctx, this.#leases);
    let n = this.#sync(4, peers.length, ctx.vxlanDev, desiredState(ctx, peers), (r) => ownedRoute(ctx, r));
    const ctx6 = this.context6();
    if (ctx6) {
      const v6 = peerLeases6(ctx6, this.#leases).peers;
      n += this.#sync(6, v6.length, ctx6.vxlanDev, desiredState6(ctx6, v6), (r) => ownedRoute6(ctx6, r));
    }
    return n;
  }

  /** Applies the diff between `want` and the kernel's state of one family; returns the number of changes. */
  #sync(family: 4 | 6, peers: number, vxlanDev: string | undefined, want: KernelState, owned: (r: KernelState["routes"][number]) => boolean): number {
    const t0 = performance.now();
    const have = kernel.readState(vxlanDev, family);
    const changes: Changes = diffState(want, { routes: have.routes.filter(owned), neighs: have.neighs, fdb: have.fdb });
    const n = changeCount(changes);
    if (n > 0) {
      kernel.applyChanges(changes, vxlanDev, family);
      this.log(
        "info",
        `data plane${family === 6 ? " (IPv6)" : ""}: ${peers} peers; added ${changes.addRoutes.length} routes, ${changes.addNeighs.length} neighbours, ${changes.addFdb.length} FDB entries; ` +
          `removed ${changes.delRoutes.length} routes, ${changes.delNeighs.length} neighbours, ${changes.delFdb.length} FDB entries ` +
          `(${(performance.now() - t0).toFixed(1)} ms)`,
      );
    }
    return n;
  }
}
