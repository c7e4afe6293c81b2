// The embedded lease store: a directory shared by every `weft node` on one machine (demo, tests). Layout:
// `<dir>/config` (the network config, as etcd's `<prefix>/config`), `<dir>/subnets/<a.b.c.d>-<len>` (one file per
// lease, named as flannel's etcd key, `…&<v6>-<len>` on a dual-stack network: `{"Subnet","IPv6Subnet"?,"Attrs",
// "Expiration"}`, no Expiration = a reservation), `<dir>/lock` (flock(2) taken around every
// change, so expired-lease cleanup never races a create). A lease file is made by link(2) of a complete temp file:
// it is absent or whole, never empty.
import { closeSync, linkSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, watch, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LOCK_EX, LOCK_UN, flock } from "../../../shared/sys/libc.ts";
import { formatCidr4 } from "../ip4.ts";
import { type LeaseKey, formatCidr6, leaseKey, overlaps6, sameKey, tryParseLeaseKey } from "../ip6.ts";
import { sleep } from "../util.ts";
import { type Lease, type LeaseAttrs, type Store, StoreUnavailableError } from "./store.ts";

interface LeaseFile {
  Subnet: string;
  IPv6Subnet?: string;
  Attrs: LeaseAttrs;
  Expiration?: string;
}

const POLL_MS = 1000;

export class FileStore implements Store {
  readonly description: string;
  readonly #dir: string;
  readonly #subnets: string;

  constructor(dir: string) {
    if (!dir.startsWith("/")) throw new Error(`Invalid --store "file:${dir}": the directory must be an absolute path`);
    this.#dir = dir;
    this.#subnets = join(dir, "subnets");
    this.description = `file store ${dir}`;
  }

  #ensureDirs(): void {
    try {
      mkdirSync(this.#subnets, { recursive: true, mode: 0o755 });
    } catch (e) {
      throw new StoreUnavailableError(`Cannot create the lease directory "${this.#subnets}": ${(e as Error).message}`);
    }
  }

  #locked<T>(fn: () => T): T {
    this.#ensureDirs();
    const fd = openSync(join(this.#dir, "lock"), "a", 0o644);
    try {
      flock(fd, LOCK_EX);
      try {
        return fn();
      } finally {
        flock(fd, LOCK_UN);
      }
    } finally {
      closeSync(fd);
    }
  }

  async getConfig(): Promise<string | undefined> {
    try {
      return readFileSync(join(this.#dir, "config"), "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new StoreUnavailableError(`Cannot read "${join(this.#dir, "config")}": ${(e as Error).message}`);
    }
  }

  #read(name: string): Lease | undefined {
    const k = tryParseLeaseKey(name);
    if (!k) return undefined;
    let f: LeaseFile;
    try {
      f = JSON.parse(readFileSync(join(this.#subnets, name), "utf8")) as LeaseFile;
    } catch {
      return undefined; // vanished between readdir and read, or not ours
    }
    if (typeof f !== "object" || f === null || typeof f.Attrs !== "object" || f.Attrs === null) return undefined;
    const expiresAt = f.Expiration === undefined ? undefined : Date.parse(f.Expiration);
    return { ...k, attrs: f.Attrs, ...(expiresAt === undefined ? {} : { expiresAt }) };
  }

  #list(now: number): { live: Lease[]; expired: Lease[] } {
    let names: string[];
    try {
      names = readdirSync(this.#subnets);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return { live: [], expired: [] };
      throw new StoreUnavailableError(`Cannot list "${this.#subnets}": ${(e as Error).message}`);
    }
    const live: Lease[] = [];
    const expired: Lease[] = [];
    for (const n of names.sort()) {
      const l = this.#read(n);
      if (!l) continue;
      // NaN (a garbled date) counts as expired
      if (l.expiresAt !== undefined && !(l.expiresAt > now)) expired.push(l);
      else live.push(l);
    }
    return { live, expired };
  }

  async listLeases(): Promise<Lease[]> {
    const { live, expired } = this.#list(Date.now());
    if (expired.length > 0) {
      this.#locked(() => {
        for (const l of this.#list(Date.now()).expired) rmSync(join(this.#subnets, leaseKey(l)), { force: true });
      });
    }
    return live;
  }

  #writeTemp(k: LeaseKey, attrs: LeaseAttrs, expiresAt: number): string {
    const tmp = join(this.#subnets, `.${leaseKey(k)}.${process.pid}.tmp`);
    const body: LeaseFile = {
      Subnet: formatCidr4(k.subnet),
      ...(k.ipv6Subnet ? { IPv6Subnet: formatCidr6(k.ipv6Subnet) } : {}),
      Attrs: attrs,
      Expiration: new Date(expiresAt).toISOString(),
    };
    writeFileSync(tmp, JSON.stringify(body), { mode: 0o644 });
    return tmp;
  }

  async createLease(k: LeaseKey, attrs: LeaseAttrs, ttlSec: number): Promise<number | undefined> {
    return this.#locked(() => {
      const path = join(this.#subnets, leaseKey(k));
      const now = Date.now();
      // taken: a live lease with our IPv4 subnet (whatever its IPv6 part) or an overlapping IPv6 subnet
      const { live, expired } = this.#list(now);
      const clash = (l: Lease) =>
        (l.subnet.ip === k.subnet.ip && l.subnet.len === k.subnet.len) || (!!k.ipv6Subnet && !!l.ipv6Subnet && overlaps6(k.ipv6Subnet, l.ipv6Subnet));
      if (live.some(clash)) return undefined;
      for (const l of expired) if (clash(l) || sameKey(l, k)) rmSync(join(this.#subnets, leaseKey(l)), { force: true });
      rmSync(path, { force: true });
      const expiresAt = now + ttlSec * 1000;
      const tmp = this.#writeTemp(k, attrs, expiresAt);
      try {
        linkSync(tmp, path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "EEXIST") return undefined;
        throw e;
      } finally {
        rmSync(tmp, { force: true });
      }
      return expiresAt;
    });
  }

  async putLease(k: LeaseKey, attrs: LeaseAttrs, ttlSec: number): Promise<number> {
    return this.#locked(() => {
      const expiresAt = Date.now() + ttlSec * 1000;
      renameSync(this.#writeTemp(k, attrs, expiresAt), join(this.#subnets, leaseKey(k)));
      return expiresAt;
    });
  }

  async deleteLease(k: LeaseKey): Promise<void> {
    this.#locked(() => rmSync(join(this.#subnets, leaseKey(k)), { force: true }));
  }

  async watchLeases(onLeases: (leases: Lease[]) => void, onError: (e: Error) => void, signal: AbortSignal): Promise<void> {
    this.#ensureDirs();
    let last = "";
    let pending: ReturnType<typeof sleep> | undefined;
    // inotify makes a change visible at once; the poll catches expiry and anything inotify missed
    let dirty = false;
    const watcher = watch(this.#subnets, () => {
      dirty = true;
      pending?.wake();
    });
    try {
      while (!signal.aborted) {
        dirty = false;
        try {
          const leases = await this.listLeases();
          // IPv6 subnets hold bigints, which JSON cannot write: compare them as text
          const text = JSON.stringify(leases, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
          if (text !== last) {
            last = text;
            onLeases(leases);
          }
        } catch (e) {
          onError(e as Error);
        }
        pending = sleep(dirty ? 0 : POLL_MS, signal);
        await pending;
        pending = undefined;
        // let a burst of renames settle into one listing
        if (!signal.aborted) await sleep(5, signal);
      }
    } finally {
      watcher.close();
    }
  }
}
