import { expect, test } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../../test/helpers/plugin.ts";
import { removeStaleTemporaries } from "./saved-conf.ts";

test("removeStaleTemporaries() removes this container's temporaries whose writer is gone, and nothing else", () => {
  using dir = tempDir("fl-tmp");
  mkdirSync(dir.path, { recursive: true });
  const deadPid = 4_194_304 + 1; // above pid_max's ceiling: never a live process
  const files = {
    stale: `.cid1.tmp-${deadPid}-abc`,
    live: `.cid1.tmp-${process.ppid}-def`,
    other: `.cid2.tmp-${deadPid}-abc`,
    saved: "cid1",
  };
  for (const f of Object.values(files)) writeFileSync(join(dir.path, f), "x");
  removeStaleTemporaries(dir.path, "cid1");
  expect(existsSync(join(dir.path, files.stale))).toBe(false);
  expect(existsSync(join(dir.path, files.live))).toBe(true);
  expect(existsSync(join(dir.path, files.other))).toBe(true);
  expect(existsSync(join(dir.path, files.saved))).toBe(true);
  removeStaleTemporaries(join(dir.path, "missing"), "cid1"); // a missing directory is fine
});
