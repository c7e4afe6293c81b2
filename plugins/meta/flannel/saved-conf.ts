// The delegate config flannel saves at ADD and reads back at DEL/CHECK: `<dataDir>/<containerID>` (dir 0700,
// file 0600), the reference's location and format (flannel.go saveScratchNetConf/consumeScratchNetConf), so
// weft and the reference can take over each other's pods. Written atomically (temp file, fsync, rename, fsync
// of the directory): after a crash the file is either the old one, absent, or complete (flannel#1662).
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, unlinkSync, writeSync } from "node:fs";
import { basename, join } from "node:path";
import { CniCode, CniError } from "../../../shared/cni/errors.ts";
import { containerIdProblem } from "../../../shared/cni/names.ts";

/**
 * The saved file's path; the container ID is checked again so nothing can escape `dataDir`.
 * @throws {CniError} code 4 for an ID that is not a plain file name
 */
export function savedConfPath(dataDir: string, containerId: string): string {
  const problem = containerIdProblem(containerId);
  if (problem || containerId === "." || containerId === "..") throw new CniError(CniCode.InvalidEnv, problem ?? `invalid container ID "${containerId}"`);
  return join(dataDir, containerId);
}

/**
 * Writes `bytes` to `path` atomically and durably, creating its directory (0700) when needed.
 * @throws {CniError} code 5 naming the path
 */
export function saveDelegateConf(path: string, dir: string, bytes: string): void {
  // A leading dot: no container ID starts with one, so a temp file left by a crash never looks like a saved config.
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const fd = openSync(tmp, "wx", 0o600);
    try {
      const buf = Buffer.from(bytes);
      for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    const dfd = openSync(dir, "r");
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch (e) {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // the file system refuses even that (read-only, name too long): there is no temporary to remove
    }
    throw new CniError(CniCode.IoFailure, `Cannot save the delegate config to "${path}"`, `${(e as Error).message}; flannel needs it to delete the pod later: check that ${dir} is writable`);
  }
}

/**
 * The saved config's bytes, or undefined when there is none.
 * @throws {CniError} code 5 when it exists but cannot be read
 */
export function readSavedConf(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new CniError(CniCode.IoFailure, `Cannot read the saved delegate config "${path}"`, (e as Error).message);
  }
}

/**
 * Removes the temporaries a killed flannel left for this container (`.<cid>.tmp-<pid>-<rand>`), when their
 * writer is gone. Best effort: a failure here never fails the command.
 */
export function removeStaleTemporaries(dir: string, containerId: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  const prefix = `.${containerId}.tmp-`;
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number.parseInt(name.slice(prefix.length), 10);
    if (Number.isInteger(pid) && pid !== process.pid && existsSync(`/proc/${pid}`)) continue; // still being written
    try {
      unlinkSync(join(dir, name));
    } catch {
      // gone already, or not ours to remove
    }
  }
}

/** Removes the saved config; absence is success. @throws {CniError} code 5 for other failures */
export function removeSavedConf(path: string): void {
  try {
    unlinkSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
    throw new CniError(CniCode.IoFailure, `Cannot remove the saved delegate config "${path}"`, (e as Error).message);
  }
}
