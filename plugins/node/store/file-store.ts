// The embedded lease store: a directory shared by every `weft node` on one machine (demo, tests). Layout:
// `<dir>/config` (the network config, as etcd's `<prefix>/config`), `<dir>/subnets/<a.b.c.d>-<len>` (one file per
// lease: `{"Subnet","Attrs","Expiration"}`, no Expiration = a reservation), `<dir>/lock` (flock(2) taken around every
// change, so expired-lease cleanup never races a create). A lease file is made by link(2) of a complete temp file:
// it is absent or whole, never empty.
import { closeSync, linkSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, watch, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LOCK_EX, LOCK_UN, flock } from "../../../shared/sys/libc.ts";
import { type Cidr4, formatCidr4, subnetKey, tryParseSubnetKey } from "../ip4.ts";
import { sleep } from "../util.ts";
import { type Lease, type LeaseAttrs, type Store, StoreUnavailableError } from "./store.ts";

interface LeaseFile {
  Subnet: string;
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
    const subnet = tryParseSubnetKey(name);
    if (!subnet) return undefined;
    let f: LeaseFile;
    try {
      f = JSON.parse(readFileSync(join(this.#subnets, name), "utf8")) as LeaseFile;
    } catch {
      return undefined; // vanished between readdir and read, or not ours
    }
    if (typeof f !== "object" || f === null || typeof f.Attrs !== "object" || f.Attrs === null) return undefined;
    const expiresAt = f.Expiration === undefined ? undefined : Date.parse(f.Expiration);
    return { subnet, attrs: f.Attrs, ...(expiresAt === undefined ? {} : { expiresAt }) };
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
        for (const l of this.#list(Date.now()).expired) rmSync(join(this.#subnets, subnetKey(l.subnet)), { force: true });
      });
    }
    return live;
  }

  #writeTemp(subnet: Cidr4, attrs: LeaseAttrs, expiresAt: number): string {
    const tmp = join(this.#subnets, `.${subnetKey(subnet)}.${process.pid}.tmp`);
    const body: LeaseFile = { Subnet: formatCidr4(subnet), Attrs: attrs, Expiration: new Date(expiresAt).toISOString() };
    writeFileSync(tmp, JSON.stringify(body), { mode: 0o644 });
    return tmp;
  }

  async createLease(subnet: Cidr4, attrs: LeaseAttrs, ttlSec: number): Promise<number | undefined> {
    return this.#locked(() => {
      const path = join(this.#subnets, subnetKey(subnet));
      const now = Date.now();
      const existing = this.#read(subnetKey(subnet));
      if (existing && (existing.expiresAt === undefined || existing.expiresAt > now)) return undefined;
      rmSync(path, { force: true });
      const expiresAt = now + ttlSec * 1000;
      const tmp = this.#writeTemp(subnet, attrs, expiresAt);
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

  async putLease(subnet: Cidr4, attrs: LeaseAttrs, ttlSec: number): Promise<number> {
    return this.#locked(() => {
      const expiresAt = Date.now() + ttlSec * 1000;
      renameSync(this.#writeTemp(subnet, attrs, expiresAt), join(this.#subnets, subnetKey(subnet)));
      return expiresAt;
    });
  }

  async deleteLease(subnet: Cidr4): Promise<void> {
    this.#locked(() => rmSync(join(this.#subnets, subnetKey(subnet)), { force: true }));
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
          const text = JSON.stringify(leases);
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
