// host-local's on-disk store, byte-compatible with plugins/ipam/host-local/backend/disk/{backend,lock}.go:
// `<dir>/<ip>` holding "<containerID>\r\n<ifname>", `<dir>/last_reserved_ip.<set>`, and `<dir>/lock` taken with
// flock(2). Unlike the reference (O_EXCL create, then write), a reservation is written to a temporary file and
// link(2)ed into place, so it is either absent or complete; temporaries left by a killed process are removed
// under the lock. Empty files (a reference process killed between its create and its write) stay reserved.
import { closeSync, linkSync, mkdirSync, openSync, readFileSync, readdirSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import { CniCode, CniError } from "../../../shared/cni/errors.ts";
import { acquireFileLock, type FileLock } from "../../../shared/lock/index.ts";
import { bigIntToIp, ipToBigInt, tryParseIp, type IpFamily } from "../../../shared/ip/index.ts";
import { ownerContent, parseOwner, type Reservation, type Snapshot } from "./allocator.ts";

const LAST_RESERVED = "last_reserved_ip.";
const TEMP_PREFIX = ".weft-reserve-";

/** Why a file-system call failed, for a person: "EACCES: permission denied, open '/x'" → kept as is. */
function ioError(what: string, e: unknown): CniError {
  const err = e as NodeJS.ErrnoException;
  return new CniError(CniCode.IoFailure, what, err?.message ?? String(e));
}

export interface StoreSnapshot extends Snapshot {
  /** Reservation files with no owner (empty), reported to stderr by the caller. */
  orphans: readonly Reservation[];
}

export class Store {
  readonly dir: string;
  private constructor(dir: string) {
    this.dir = dir;
  }

  /**
   * The store in `dir`, created (mode 0755, as the reference) when `create` is set.
   * @throws {CniError} code 5 when the directory cannot be created
   */
  static open(dir: string, create: boolean): Store {
    if (create) {
      try {
        mkdirSync(dir, { recursive: true, mode: 0o755 });
      } catch (e) {
        throw ioError(`Cannot create the host-local data directory "${dir}"`, e);
      }
    }
    return new Store(dir);
  }

  /** Takes the reference-compatible flock on `<dir>/lock`. @throws {CniError} code 5 */
  lock(): FileLock {
    try {
      return acquireFileLock(`${this.dir}/lock`);
    } catch (e) {
      throw ioError(`Cannot lock the host-local store "${this.dir}"`, e);
    }
  }

  /**
   * Reads every reservation with one directory scan, and removes temporaries left by a killed weft process
   * (call it with the lock held). A missing directory is an empty store.
   * @throws {CniError} code 5 when the directory cannot be read
   */
  scan(): StoreSnapshot {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") names = [];
      else throw ioError(`Cannot read the host-local data directory "${this.dir}"`, e);
    }
    const reservations: Reservation[] = [];
    const taken = { 4: new Set<bigint>(), 6: new Set<bigint>() };
    for (const name of names) {
      if (name.startsWith(TEMP_PREFIX)) {
        tryUnlink(`${this.dir}/${name}`);
        continue;
      }
      const ip = tryParseIp(name);
      if (!ip || ip.address !== name) continue; // lock, last_reserved_ip.*, anything foreign
      let content: string;
      try {
        content = readFileSync(`${this.dir}/${name}`, "latin1");
      } catch {
        continue; // a directory or an unreadable file: the reference skips it too
      }
      const value = ipToBigInt(name);
      const owner = parseOwner(content);
      reservations.push({ ip: name, value, family: ip.family, ...(owner ? { owner } : {}) });
      taken[ip.family].add(value);
    }
    return {
      reservations,
      orphans: reservations.filter((r) => !r.owner),
      isTaken: (value: bigint, family: IpFamily) => taken[family].has(value),
    };
  }

  /** The last address reserved in range set `index`, or undefined (absent, empty or unparsable: no hint). */
  lastReserved(index: number): bigint | undefined {
    let text: string;
    try {
      text = readFileSync(`${this.dir}/${LAST_RESERVED}${index}`, "latin1");
    } catch {
      return undefined;
    }
    const ip = tryParseIp(text);
    return ip ? ipToBigInt(ip.address) : undefined;
  }

  /**
   * Creates the reservation file for the address if it does not exist: false when it does. Also records it as
   * range set `index`'s last reserved address (a hint: a failure there is reported, not fatal).
   * @throws {CniError} code 5 when the file cannot be written (ENOSPC, EROFS, …); nothing is left behind
   */
  reserve(o: { value: bigint; family: IpFamily; containerId: string; ifname: string; index: number; warn: (m: string) => void }): boolean {
    const ip = bigIntToIp(o.value, o.family);
    const target = `${this.dir}/${ip}`;
    const temp = `${this.dir}/${TEMP_PREFIX}${process.pid}`;
    try {
      const fd = openSync(temp, "w", 0o600);
      try {
        const data = Buffer.from(ownerContent(o.containerId, o.ifname), "latin1");
        let off = 0;
        while (off < data.length) off += writeSync(fd, data, off);
      } finally {
        closeSync(fd);
      }
      linkSync(temp, target);
    } catch (e) {
      tryUnlink(temp);
      if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw ioError(`Cannot write the reservation of ${ip} in "${this.dir}"`, e);
    }
    tryUnlink(temp);
    try {
      writeFileSync(`${this.dir}/${LAST_RESERVED}${o.index}`, ip, { mode: 0o600 });
    } catch (e) {
      o.warn(`host-local: cannot record ${ip} as the last reserved address: ${(e as Error).message}`);
    }
    return true;
  }

  /** Removes a reservation file; absent is fine. @throws {CniError} code 5 */
  release(ip: string): void {
    try {
      unlinkSync(`${this.dir}/${ip}`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw ioError(`Cannot release ${ip} in "${this.dir}"`, e);
    }
  }
}

function tryUnlink(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
