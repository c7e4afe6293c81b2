// The etcd v3 lease store, spoken through etcd's own JSON gateway (`/v3/kv/range`, `/v3/kv/txn`, `/v3/kv/put`,
// `/v3/lease/grant`, streaming `/v3/watch`) with fetch: no gRPC, nothing read from disk at run time, so it works in a
// compiled binary (the etcd3 npm package loads .proto files from node_modules; flannel-daemon.md §4.4). Keys and
// values as flanneld v0.18+ (pkg/subnet/etcd/registry.go). JSON gateway quirks: keys/values are base64, int64 fields
// are strings, proto3 defaults are omitted (no `succeeded` = false, no event `type` = PUT).
import { subnetKey } from "../ip4.ts";
import { type LeaseKey, leaseKey, tryParseLeaseKey } from "../ip6.ts";
import { Backoff, sleep } from "../util.ts";
import { type Lease, type LeaseAttrs, type Store, StoreUnavailableError } from "./store.ts";

interface Kv {
  key: string;
  value?: string;
  lease?: string;
}
interface Header {
  revision?: string;
}

const REQUEST_TIMEOUT_MS = 5000;

const b64 = (s: string) => Buffer.from(s).toString("base64");
const unb64 = (s: string | undefined) => Buffer.from(s ?? "", "base64").toString();

/** The key just past every key starting with `prefix` (etcd's range_end for a prefix). */
function prefixEnd(prefix: string): string {
  const b = Buffer.from(prefix);
  b[b.length - 1]! += 1;
  return b.toString("base64");
}

export class EtcdStore implements Store {
  readonly description: string;
  readonly #endpoints: string[];
  readonly #prefix: string;
  readonly #subnets: string;
  /** Index of the endpoint that answered last: tried first next time. */
  #current = 0;

  constructor(o: { endpoints: string[]; prefix: string }) {
    if (o.endpoints.length === 0) throw new Error("Invalid --etcd-endpoints: at least one endpoint is needed");
    this.#endpoints = o.endpoints.map((e) => e.replace(/\/+$/, ""));
    this.#prefix = o.prefix.replace(/\/+$/, "");
    this.#subnets = `${this.#prefix}/subnets/`;
    this.description = `etcd ${this.#endpoints.join(",")} prefix ${this.#prefix}`;
  }

  /** POSTs to the first endpoint that answers; a 4xx/5xx answer is an error too. */
  async #call<T>(path: string, body: unknown, signal?: AbortSignal): Promise<T> {
    const errors: string[] = [];
    for (let i = 0; i < this.#endpoints.length; i++) {
      const idx = (this.#current + i) % this.#endpoints.length;
      const ep = this.#endpoints[idx]!;
      try {
        const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
        const res = await fetch(`${ep}${path}`, {
          method: "POST",
          body: JSON.stringify(body),
          headers: { "content-type": "application/json" },
          signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        });
        const text = await res.text();
        if (!res.ok) {
          errors.push(`${ep}: HTTP ${res.status} ${text.trim().slice(0, 200)}`);
          continue;
        }
        this.#current = idx;
        return JSON.parse(text) as T;
      } catch (e) {
        errors.push(`${ep}: ${(e as Error).message}`);
      }
    }
    throw new StoreUnavailableError(`Cannot reach etcd (${path}): ${errors.join("; ")}`);
  }

  async getConfig(): Promise<string | undefined> {
    const r = await this.#call<{ kvs?: Kv[] }>("/v3/kv/range", { key: b64(`${this.#prefix}/config`) });
    const kv = r.kvs?.[0];
    return kv ? unb64(kv.value) : undefined;
  }

  async #range(): Promise<{ leases: Map<string, Lease>; revision: number }> {
    const r = await this.#call<{ header?: Header; kvs?: Kv[] }>("/v3/kv/range", {
      key: b64(this.#subnets),
      range_end: prefixEnd(this.#subnets),
    });
    const leases = new Map<string, Lease>();
    for (const kv of r.kvs ?? []) {
      const l = this.#toLease(kv);
      if (l) leases.set(unb64(kv.key), l);
    }
    return { leases, revision: Number(r.header?.revision ?? 0) };
  }

  #toLease(kv: Kv): Lease | undefined {
    const k = tryParseLeaseKey(unb64(kv.key).slice(this.#subnets.length));
    if (!k) return undefined;
    let attrs: LeaseAttrs;
    try {
      attrs = JSON.parse(unb64(kv.value)) as LeaseAttrs;
    } catch {
      return undefined;
    }
    if (typeof attrs !== "object" || attrs === null) return undefined;
    // etcd deletes leased keys itself, so the exact expiry is not needed: a key with an etcd lease is "live";
    // a key without one is a reservation (flannel#1329)
    const leased = kv.lease !== undefined && kv.lease !== "0";
    return { ...k, attrs, ...(leased ? { expiresAt: Number.POSITIVE_INFINITY } : {}) };
  }

  async listLeases(): Promise<Lease[]> {
    return [...(await this.#range()).leases.values()];
  }

  async #grant(ttlSec: number): Promise<string> {
    const r = await this.#call<{ ID?: string; error?: string }>("/v3/lease/grant", { TTL: String(ttlSec) });
    if (!r.ID) throw new StoreUnavailableError(`etcd did not grant a lease: ${r.error ?? JSON.stringify(r)}`);
    return r.ID;
  }

  async createLease(k: LeaseKey, attrs: LeaseAttrs, ttlSec: number): Promise<number | undefined> {
    const id = await this.#grant(ttlSec);
    const key = b64(this.#subnets + leaseKey(k));
    // no key for this IPv4 subnet, with or without an IPv6 part: the range [`<v4>-<len>`, `<v4>-<len>'`) holds
    // exactly `<v4>-<len>` and `<v4>-<len>&…` ("'" follows "&"), and a VERSION compare on an empty range holds
    const v4 = this.#subnets + subnetKey(k.subnet);
    const r = await this.#call<{ succeeded?: boolean }>("/v3/kv/txn", {
      compare: [{ target: "VERSION", key: b64(v4), range_end: b64(`${v4}'`), version: "0", result: "EQUAL" }],
      success: [{ request_put: { key, value: b64(JSON.stringify(attrs)), lease: id } }],
    });
    if (r.succeeded) return Date.now() + ttlSec * 1000;
    await this.#call("/v3/lease/revoke", { ID: id }).catch(() => undefined);
    return undefined;
  }

  async putLease(k: LeaseKey, attrs: LeaseAttrs, ttlSec: number): Promise<number> {
    // flanneld's renewal: a fresh lease and a put; the old lease expires with no key attached
    const id = await this.#grant(ttlSec);
    await this.#call("/v3/kv/put", { key: b64(this.#subnets + leaseKey(k)), value: b64(JSON.stringify(attrs)), lease: id });
    return Date.now() + ttlSec * 1000;
  }

  async deleteLease(k: LeaseKey): Promise<void> {
    await this.#call("/v3/kv/deleterange", { key: b64(this.#subnets + leaseKey(k)) });
  }

  async watchLeases(onLeases: (leases: Lease[]) => void, onError: (e: Error) => void, signal: AbortSignal): Promise<void> {
    const backoff = new Backoff(100, 5000);
    while (!signal.aborted) {
      try {
        // (re)start from a fresh listing: it also covers a compacted revision and everything missed while away
        const { leases, revision } = await this.#range();
        onLeases([...leases.values()]);
        backoff.reset();
        await this.#stream(leases, revision + 1, onLeases, signal);
      } catch (e) {
        if (signal.aborted) break;
        onError(e as Error);
      }
      await sleep(backoff.next(), signal);
    }
  }

  /** Follows one watch stream until it ends, applying its events to `leases`. */
  async #stream(leases: Map<string, Lease>, startRevision: number, onLeases: (l: Lease[]) => void, signal: AbortSignal): Promise<void> {
    const ep = this.#endpoints[this.#current]!;
    const res = await fetch(`${ep}/v3/watch`, {
      method: "POST",
      body: JSON.stringify({
        create_request: { key: b64(this.#subnets), range_end: prefixEnd(this.#subnets), start_revision: String(startRevision) },
      }),
      signal,
    });
    if (!res.ok || !res.body) throw new StoreUnavailableError(`Cannot watch etcd at ${ep}: HTTP ${res.status}`);
    const decoder = new TextDecoder();
    let buf = "";
    for await (const chunk of res.body) {
      buf += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        const msg = JSON.parse(line) as {
          result?: { events?: { type?: string; kv: Kv }[]; compact_revision?: string; canceled?: boolean };
          error?: { message?: string };
        };
        if (msg.error) throw new StoreUnavailableError(`etcd watch failed: ${msg.error.message ?? JSON.stringify(msg.error)}`);
        const r = msg.result;
        if (r?.compact_revision && r.compact_revision !== "0") {
          throw new StoreUnavailableError(`etcd watch revision ${startRevision} was compacted; listing again`);
        }
        if (r?.canceled) throw new StoreUnavailableError("etcd cancelled the watch");
        if (!r?.events?.length) continue;
        for (const ev of r.events) {
          const key = unb64(ev.kv.key);
          if (ev.type === "DELETE") leases.delete(key);
          else {
            const l = this.#toLease(ev.kv);
            if (l) leases.set(key, l);
            else leases.delete(key);
          }
        }
        onLeases([...leases.values()]);
      }
    }
    throw new StoreUnavailableError(`etcd watch stream from ${ep} ended`);
  }
}
