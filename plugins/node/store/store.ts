// The lease store the node daemon talks to: one interface, two implementations (etcd v3 over its JSON gateway,
// and a directory on disk). Leases carry flanneld's value JSON (pkg/lease/lease.go LeaseAttrs) unchanged.
import type { Cidr4 } from "../ip4.ts";
import type { Cidr6, LeaseKey } from "../ip6.ts";

/**
 * flanneld's lease value, key for key and in its order: `{"PublicIP":…,"PublicIPv6":null,"BackendType":…,
 * "BackendData":{…}}`, plus `"BackendV6Data"` (the flannel-v6.<VNI> VTEP) on a dual-stack network.
 */
export interface LeaseAttrs {
  PublicIP: string;
  PublicIPv6?: string | null;
  BackendType: string;
  BackendData?: { VNI?: number; VtepMAC?: string } | null;
  BackendV6Data?: { VNI?: number; VtepMAC?: string } | null;
  [other: string]: unknown;
}

export interface Lease {
  subnet: Cidr4;
  /** The IPv6 half of a dual-stack lease (from the key's `&<v6>-<len>` part). */
  ipv6Subnet?: Cidr6;
  attrs: LeaseAttrs;
  /** ms since the epoch; undefined for a reservation (a key without a TTL), which never expires. */
  expiresAt?: number;
}

/** The store could not be reached or answered with an error; worth retrying. */
export class StoreUnavailableError extends Error {
  constructor(msg: string, options?: { cause?: unknown }) {
    super(msg, options);
    this.name = "StoreUnavailableError";
  }
}

export interface Store {
  /** For log lines: `etcd http://127.0.0.1:2379 prefix /coreos.com/network` or `file /var/lib/weft/leases`. */
  readonly description: string;
  /** The network config text, or undefined when it is absent. @throws {StoreUnavailableError} */
  getConfig(): Promise<string | undefined>;
  /** Every live lease and reservation. @throws {StoreUnavailableError} */
  listLeases(): Promise<Lease[]>;
  /**
   * Creates the lease only if no lease holds its IPv4 subnet (with or without an IPv6 part; atomically); returns its
   * expiry, or undefined when the subnet is taken. @throws {StoreUnavailableError}
   */
  createLease(key: LeaseKey, attrs: LeaseAttrs, ttlSec: number): Promise<number | undefined>;
  /** Writes the lease with a fresh TTL whatever is there (flanneld's updateSubnet). @throws {StoreUnavailableError} */
  putLease(key: LeaseKey, attrs: LeaseAttrs, ttlSec: number): Promise<number>;
  /** Deletes the lease; absent is fine. @throws {StoreUnavailableError} */
  deleteLease(key: LeaseKey): Promise<void>;
  /**
   * Calls `onLeases` with the full list of leases now and after every change until `signal` aborts. Connection
   * problems are retried with backoff and reported through `onError`; the promise settles when aborted.
   */
  watchLeases(onLeases: (leases: Lease[]) => void, onError: (e: Error) => void, signal: AbortSignal): Promise<void>;
}

export const SUBNET_TTL_SEC = 24 * 60 * 60;

/**
 * Chooses the store from `--store` and the etcd flags: `file:<dir>` is the embedded store; anything else (or nothing)
 * is etcd at `endpoints` under `prefix`.
 */
export async function openStore(o: { store?: string; endpoints: string[]; prefix: string }): Promise<Store> {
  if (o.store?.startsWith("file:")) {
    const { FileStore } = await import("./file-store.ts");
    return new FileStore(o.store.slice("file:".length));
  }
  if (o.store !== undefined && o.store !== "" && o.store !== "etcd") {
    throw new Error(`Invalid --store "${o.store}": use "file:<dir>" or "etcd"`);
  }
  const { EtcdStore } = await import("./etcd-store.ts");
  return new EtcdStore({ endpoints: o.endpoints, prefix: o.prefix });
}
