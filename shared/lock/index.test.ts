import { describe, expect, test } from "bun:test";
import { statSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../test/helpers/plugin.ts";
import { LockTimeoutError, acquireFileLock, tryAcquireFileLock } from "./index.ts";

describe("acquireFileLock()", () => {
  test("acquireFileLock() creates the lock file with go-filemutex's mode and excludes a second holder", () => {
    using dir = tempDir("lock");
    const path = join(dir.path, "lock");
    const first = acquireFileLock(path);
    expect(statSync(path).mode & 0o777).toBe(0o750 & ~process.umask());
    expect(tryAcquireFileLock(path)).toBeUndefined();
    first.release();
    const second = tryAcquireFileLock(path);
    expect(second).toBeDefined();
    second?.release();
  });

  test("acquireFileLock() with timeoutMs gives up with LockTimeoutError", () => {
    using dir = tempDir("lock");
    const path = join(dir.path, "lock");
    using _held = acquireFileLock(path);
    const t0 = performance.now();
    expect(() => acquireFileLock(path, { timeoutMs: 30 })).toThrow(LockTimeoutError);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(29);
  });

  test("acquireFileLock() release is idempotent and `using` releases", () => {
    using dir = tempDir("lock");
    const path = join(dir.path, "lock");
    {
      using l = acquireFileLock(path);
      l.release();
    }
    const again = acquireFileLock(path, { timeoutMs: 10 });
    again.release();
    again.release();
    const third = tryAcquireFileLock(path);
    expect(third).toBeDefined();
    third?.release();
  });

  test("acquireFileLock() shared holders coexist and exclude an exclusive one until all let go", () => {
    using dir = tempDir("lock");
    const path = join(dir.path, "net.lock");
    const a = acquireFileLock(path, { shared: true });
    const b = acquireFileLock(path, { shared: true, timeoutMs: 50 });
    expect(() => acquireFileLock(path, { timeoutMs: 30 })).toThrow(LockTimeoutError);
    a.release();
    expect(() => acquireFileLock(path, { timeoutMs: 30 })).toThrow(LockTimeoutError);
    b.release();
    using c = acquireFileLock(path, { timeoutMs: 50 });
    expect(() => acquireFileLock(path, { shared: true, timeoutMs: 30 })).toThrow(LockTimeoutError);
    expect(c.path).toBe(path);
  });

  test("acquireFileLock() reports a missing directory", () => {
    using dir = tempDir("lock");
    expect(() => acquireFileLock(join(dir.path, "nope", "lock"))).toThrow(/ENOENT/);
  });
});
