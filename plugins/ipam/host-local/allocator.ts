// host-local's allocation rules as pure functions over a snapshot of the store: the reference's round-robin
// iterator (plugins/ipam/host-local/backend/allocator/allocator.go RangeIter), the duplicate-allocation rule,
// requested addresses, and who owns a reservation (backend/disk/backend.go's "<id>\r\n<ifname>" match).
import { CniCode, CniError } from "../../../shared/cni/errors.ts";
import { bigIntToIp, type IpFamily } from "../../../shared/ip/index.ts";
import { contains, rangeFor, rangeSetText, type Range, type RangeSet, type RequestedIp } from "./config.ts";

/** A reservation file as read from disk. `owner` is undefined for an empty file (a crash of the reference). */
export interface Reservation {
  /** The file name: the address's canonical text. */
  ip: string;
  value: bigint;
  family: IpFamily;
  /** `ifname` is undefined for legacy files, which hold only the container ID. */
  owner?: { containerId: string; ifname?: string };
}

/** Parses a reservation file's content as the reference compares it (trimmed; "<id>\r\n<ifname>" or "<id>"). */
export function parseOwner(content: string): Reservation["owner"] {
  const text = content.trim();
  if (text === "") return undefined;
  const crlf = text.indexOf("\r\n");
  if (crlf < 0) return { containerId: text };
  return { containerId: text.slice(0, crlf), ifname: text.slice(crlf + 2) };
}

/** The file content the reference writes for a reservation. */
export function ownerContent(containerId: string, ifname: string): string {
  return `${containerId.trim()}\r\n${ifname}`;
}

/** Exact owner match, or (with `legacy`) a legacy file of this container. */
export function isOwnedBy(r: Reservation, containerId: string, ifname: string, legacy: boolean): boolean {
  const o = r.owner;
  if (!o || o.containerId !== containerId) return false;
  return legacy ? o.ifname === undefined || o.ifname === ifname : o.ifname === ifname;
}

/**
 * The reservations DEL removes: those of (containerId, ifname); only when there are none, the legacy files of
 * the container (backend.go ReleaseByID).
 */
export function reservationsToRelease(all: readonly Reservation[], containerId: string, ifname: string): Reservation[] {
  const exact = all.filter((r) => isOwnedBy(r, containerId, ifname, false));
  return exact.length ? exact : all.filter((r) => r.owner?.containerId === containerId && r.owner.ifname === undefined);
}

/** Addresses never handed out: each range's gateway, the subnet's network address and IPv4 broadcast. */
function isReservedForNetwork(r: Range, v: bigint): boolean {
  return v === r.gateway || v === r.network || (r.family === 4 && v === r.last);
}

/**
 * Every address of the set once, in the reference's order: from the one after `lastReserved` (when it lies in
 * the set; else from the first range's start), through the ranges in order, wrapping, skipping the gateway
 * (and, unlike the reference, the network and IPv4 broadcast addresses, should a range include them).
 */
export function* candidates(set: RangeSet, lastReserved?: bigint): Generator<{ value: bigint; range: Range }> {
  const n = set.ranges.length;
  let ri = 0;
  let first: bigint | undefined;
  if (lastReserved !== undefined) {
    const i = set.ranges.findIndex((r) => contains(r, lastReserved, set.family));
    if (i >= 0) {
      ri = i;
      first = lastReserved + 1n;
      if (first > set.ranges[i]!.end) {
        ri = (i + 1) % n;
        first = undefined;
      }
    }
  }
  // Walk: the rest of range ri from `first`, then every other range, then range ri up to `first` - 1.
  const passes = first === undefined ? n : n + 1;
  for (let k = 0; k < passes; k++) {
    const r = set.ranges[(ri + k) % n]!;
    const from = k === 0 && first !== undefined ? first : r.start;
    const to = k === n ? first! - 1n : r.end;
    for (let v = from; v <= to; v++) if (!isReservedForNetwork(r, v)) yield { value: v, range: r };
  }
}

/** What the store looks like to the allocator. */
export interface Snapshot {
  reservations: readonly Reservation[];
  isTaken(value: bigint, family: IpFamily): boolean;
}

/**
 * The duplicate-allocation rule (allocator.go Get): a container interface may hold one dynamic address per
 * range set. Returns the message when it already holds one in `set`.
 */
export function duplicateProblem(set: RangeSet, snap: Snapshot, containerId: string, ifname: string): string | undefined {
  const held = snap.reservations.find((r) => isOwnedBy(r, containerId, ifname, true) && rangeFor(set, r.value, r.family));
  return held ? `${held.ip} has been allocated to ${containerId}, duplicate allocation is not allowed` : undefined;
}

/** The first free address of the set in round-robin order, or undefined when the set is exhausted. */
export function nextFree(set: RangeSet, snap: Snapshot, lastReserved?: bigint): { value: bigint; range: Range } | undefined {
  for (const c of candidates(set, lastReserved)) if (!snap.isTaken(c.value, set.family)) return c;
  return undefined;
}

/**
 * Assigns each requested address to the first range set containing it (config.go + main.go cmdAdd) and
 * checks it can be handed out. Nothing is read from disk; availability is checked against `snap`.
 * @throws {CniError} naming the address and why it cannot be had
 */
export function assignRequested(sets: readonly RangeSet[], requested: readonly RequestedIp[], snap: Snapshot, network: string): Map<number, { value: bigint; range: Range }> {
  const out = new Map<number, { value: bigint; range: Range }>();
  const left: RequestedIp[] = [];
  for (const req of requested) {
    const set = sets.find((s) => !out.has(s.index) && rangeFor(s, req.value, req.family));
    const range = set && rangeFor(set, req.value, req.family);
    if (!set || !range) {
      left.push(req);
      continue;
    }
    const fail = (msg: string) => new CniError(CniCode.Internal, `failed to allocate for range ${set.index}: ${msg}`, `network "${network}"`);
    if (req.value === range.gateway) throw fail(`requested ip ${req.text} is subnet's gateway`);
    if (req.value === range.network) throw fail(`requested ip ${req.text} is the network address of ${range.subnet}`);
    if (range.family === 4 && req.value === range.last) throw fail(`requested ip ${req.text} is the broadcast address of ${range.subnet}`);
    if (snap.isTaken(req.value, req.family)) {
      throw fail(`requested IP address ${req.text} is not available in range set ${rangeSetText(set)}`);
    }
    out.set(set.index, { value: req.value, range });
  }
  if (left.length) {
    const where = sets.map((s) => rangeSetText(s)).join("; ");
    throw new CniError(
      CniCode.Internal,
      `failed to allocate all requested IPs: ${left.map((r) => r.text).join(" ")}`,
      `network "${network}" can give one address per range set, each within a range (${where})`,
    );
  }
  return out;
}

/** "10.244.1.5/24" for a result. */
export function addressWithPrefix(value: bigint, range: Range): string {
  return `${bigIntToIp(value, range.family)}/${range.prefix}`;
}
