// `weft node`: the flanneld role (flannel-io/flannel main.go). Start-up is config → external interface → VXLAN
// device → lease → address, rules, subnet.env → ready; then one loop reacts to lease changes, link events and
// timers, and always reconciles the kernel with the leases (plan.ts) instead of replaying events.
import type { NetConf } from "./config.ts";
import { NetConfError, parseNetConf } from "./config.ts";
import type { NodeFlags } from "./flags.ts";
import { type Cidr4, containsIp, formatCidr4, formatIp4, sameCidr, tryParseIp4 } from "./ip4.ts";
import * as kernel from "./kernel.ts";
import { acquireLease, holdsLease } from "./lease.ts";
import { type PlanContext, changeCount, desiredState, diffState, ownedRoute, peerLeases } from "./plan.ts";
import { type Lease, type LeaseAttrs, type Store, openStore } from "./store/store.ts";
import { readPreviousSubnet, writeSubnetEnv } from "./subnet-env.ts";
import { desiredChains, ensureRules } from "./traffic.ts";
import { Backoff, type Logger, sleep } from "./util.ts";

/** VXLAN header overhead on an IPv4 underlay (flannel uses 50 for both families; IPv6 needs 70). */
const VXLAN_OVERHEAD = 50;

export interface ExternalIface {
  name: string;
  ip: string;
  mtu: number;
}

/** flannel pkg/ipmatch: `--iface` names or IPs in order, else the default-route interface. @throws {Error} */
export function pickExternal(ifaces: readonly string[]): ExternalIface {
  const links = kernel.listLinks();
  const firstV4 = (l: kernel.LinkInfo) => l.addrs[0]?.split("/")[0];
  for (const want of ifaces) {
    const byIp = tryParseIp4(want) !== undefined;
    const l = links.find((x) => (byIp ? x.addrs.some((a) => a.split("/")[0] === want) : x.name === want));
    if (!l) continue;
    const ip = byIp ? want : firstV4(l);
    if (ip) return { name: l.name, ip, mtu: l.mtu };
  }
  if (ifaces.length > 0) throw new Error(`Cannot use --iface ${ifaces.join(",")}: no such interface with an IPv4 address`);
  const dev = kernel.defaultRouteDev();
  const l = dev ? links.find((x) => x.name === dev) : undefined;
  const ip = l && firstV4(l);
  if (!l || !ip) throw new Error("Cannot pick the external interface: there is no default route with an IPv4 address; pass --iface");
  return { name: l.name, ip, mtu: l.mtu };
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
  #expiresAt = 0;
  #attrs!: LeaseAttrs;
  #conf!: NetConf;
  #ext!: ExternalIface;
  #vxlan: kernel.VxlanSpec | undefined;
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

    // the lease must publish the VTEP's MAC, so the device comes first (as flanneld); reuse the MAC our old lease
    // published, so that peers' ARP/FDB entries stay valid across a reboot (flannel#1795)
    const previous = readPreviousSubnet(f.subnetFile);
    const oldMac = await this.#retry(signal, async () => {
      const mine = (await store.listLeases()).find((l) => l.attrs.PublicIP === publicIp);
      return mine?.attrs.BackendData?.VtepMAC;
    });
    if (signal.aborted) return 0;
    let mac: string | undefined;
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
      mac = this.#ensureDevice().mac;
    }
    this.#attrs = {
      PublicIP: publicIp,
      PublicIPv6: null,
      BackendType: conf.backend.type,
      ...(mac ? { BackendData: { VNI: conf.backend.vni, VtepMAC: mac } } : {}),
    };
    const got = await this.#retry(signal, () =>
      acquireLease({ store, conf, attrs: this.#attrs, ...(previous ? { previous } : {}), log: (m) => this.log("info", m) }),
    );
    if (!got) return 0;
    this.#own = got.subnet;
    this.#expiresAt = got.expiresAt;
    this.log("info", `lease acquired: ${formatCidr4(got.subnet)} (${got.how}), expires ${new Date(got.expiresAt).toISOString()}`);
    this.#afterLease();
    this.#ready = true;

    // one reconcile queue: every trigger marks the state dirty; the loop below runs reconcile() at most once at a time
    let dirty = true;
    let wakeLoop: (() => void) | undefined;
    const kick = () => {
      dirty = true;
      wakeLoop?.();
    };
    const stopMonitor = this.#vxlan
      ? kernel.monitorLinks((line) => {
          if (line.includes(` ${this.#vxlan!.name}:`) || line.includes(` ${this.#vxlan!.name}@`)) kick();
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

  /** The VXLAN device exists and matches the spec: reused, or (re)created with the MAC we publish. */
  #ensureDevice(): kernel.LinkInfo {
    const spec = this.#vxlan!;
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
    if (this.#vxlan) this.#ensureDeviceAddress(this.#ensureDevice());
    this.#safe("iptables", () => this.#ensureRules());
    writeSubnetEnv(this.flags.subnetFile, {
      network: this.#conf.network,
      subnet: this.#own,
      mtu: this.#vxlan ? this.#vxlan.mtu : (this.#conf.backend.mtu ?? this.#ext.mtu),
      ipMasq: this.flags.ipMasq,
    });
    this.log("info", `wrote ${this.flags.subnetFile} (subnet ${formatCidr4(this.#own)})`);
  }

  #ensureDeviceAddress(l: kernel.LinkInfo): void {
    const want = `${formatIp4(this.#own.ip)}/32`;
    const remove = l.addrs.filter((a) => a !== want && containsIp(this.#conf.network, tryParseIp4(a.split("/")[0]!) ?? 0));
    if (l.addrs.includes(want) && remove.length === 0 && l.up && l.mtu === this.#vxlan!.mtu) return;
    kernel.ensureAddrAndUp({ name: l.name, address: want, remove, mtu: this.#vxlan!.mtu });
  }

  #ensureRules(): void {
    const fixed = ensureRules(
      desiredChains({ network: this.#conf.network, subnet: this.#own, ipMasq: this.flags.ipMasq, forward: this.flags.iptablesForwardRules }),
    );
    if (fixed.length > 0) this.log("info", `iptables: wrote ${fixed.join(", ")}`);
  }

  #onLeases(leases: Lease[], store: Store, signal: AbortSignal): void {
    const key = (l: Lease) => formatCidr4(l.subnet);
    const before = new Map(this.#leases.map((l) => [key(l), l]));
    const after = new Map(leases.map((l) => [key(l), l]));
    for (const [k, l] of after) {
      const old = before.get(k);
      const mac = l.attrs.BackendData?.VtepMAC;
      const what = `${k} of ${l.attrs.PublicIP} (${l.attrs.BackendType}${mac ? `, VtepMAC ${mac}` : ""})`;
      if (!old) this.log("info", `lease added: ${what}`);
      else if (JSON.stringify(old.attrs) !== JSON.stringify(l.attrs)) this.log("info", `lease changed: ${what}`);
    }
    for (const [k, l] of before) if (!after.has(k)) this.log("info", `lease removed: ${k} of ${l.attrs.PublicIP}`);
    this.#leases = leases;
    if (!holdsLease(leases, this.#own, this.#attrs.PublicIP) && !this.#reacquiring) {
      // flanneld shuts down here ("Lease has been revoked"); weft takes a lease again and reprograms
      this.#reacquiring = true;
      this.log("warn", `our lease ${formatCidr4(this.#own)} is gone from the store: acquiring one again`);
      void this.#reacquire(store, signal).finally(() => {
        this.#reacquiring = false;
      });
    }
  }

  async #reacquire(store: Store, signal: AbortSignal): Promise<void> {
    const got = await this.#retry(signal, () =>
      acquireLease({ store, conf: this.#conf, attrs: this.#attrs, previous: this.#own, log: (m) => this.log("info", m) }),
    );
    if (!got) return;
    const changed = !sameCidr(got.subnet, this.#own);
    this.#own = got.subnet;
    this.#expiresAt = got.expiresAt;
    this.log("info", `lease acquired: ${formatCidr4(got.subnet)} (${got.how})${changed ? "; the subnet changed: pods must be recreated" : ""}`);
    this.#safe("lease", () => this.#afterLease());
  }

  async #renew(store: Store): Promise<void> {
    try {
      this.#expiresAt = await store.putLease(this.#own, this.#attrs, 24 * 3600);
      this.log("info", `lease renewed: ${formatCidr4(this.#own)}, expires ${new Date(this.#expiresAt).toISOString()}`);
    } catch (e) {
      // retry in a minute, as flanneld does
      this.#expiresAt = Date.now() + this.flags.subnetLeaseRenewMargin * 60_000 + 60_000;
      this.log("error", `Cannot renew lease ${formatCidr4(this.#own)}: ${(e as Error).message}; retrying in 1 minute`);
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

  /** Makes the kernel match the leases; returns the number of changes applied. */
  reconcile(): number {
    if (this.#vxlan) {
      const existed = kernel.findLink(this.#vxlan.name);
      const l = this.#ensureDevice();
      if (!existed) this.log("warn", `${this.#vxlan.name} was missing: recreated it; programming every peer again`);
      this.#ensureDeviceAddress(l);
    }
    const t0 = performance.now();
    const ctx = this.context();
    const { peers } = peerLeases(ctx, this.#leases);
    const have = kernel.readState(ctx.vxlanDev);
    const owned = {
      routes: have.routes.filter((r) => ownedRoute(ctx, r)),
      neighs: have.neighs,
      fdb: have.fdb,
    };
    const changes = diffState(desiredState(ctx, peers), owned);
    const n = changeCount(changes);
    if (n > 0) {
      kernel.applyChanges(changes, ctx.vxlanDev);
      this.log(
        "info",
        `data plane: ${peers.length} peers; added ${changes.addRoutes.length} routes, ${changes.addNeighs.length} neighbours, ${changes.addFdb.length} FDB entries; ` +
          `removed ${changes.delRoutes.length} routes, ${changes.delNeighs.length} neighbours, ${changes.delFdb.length} FDB entries ` +
          `(${(performance.now() - t0).toFixed(1)} ms)`,
      );
    }
    return n;
  }
}
