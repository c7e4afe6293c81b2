// host-local on a data directory that fills up (ENOSPC) or is read-only (EROFS). The small tmpfs is mounted
// inside a private mount namespace (`unshare -m`) of a child shell, so the machine's mounts never change and
// the mount disappears with the child.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { createTestNetns } from "../helpers/netns.ts";
import { WEFT_BIN, tempDir } from "../helpers/plugin.ts";
import { NETWORK, hostLocalConf } from "./host-local-helpers.ts";

interface Step {
  out: Record<string, unknown> | undefined;
  rc: number;
  ls: string[];
}

/** Runs `setup` (shell) on a fresh 4 KiB tmpfs at `dir`, then each ADD; returns each ADD's output and the store's listing. */
function inTinyTmpfs(dir: string, netns: string, setup: string, steps: Array<{ id: string; before?: string }>): Step[] {
  const conf = JSON.stringify(hostLocalConf(dir));
  const store = join(dir, NETWORK);
  const lines = [
    "set -u",
    `mount -t tmpfs -o size=4k,mode=0755 weft-t-hl ${dir} || exit 90`,
    `mkdir -p ${store}`,
    setup,
    ...steps.flatMap((s) => [
      s.before ?? ":",
      `printf '%s' '${conf}' | CNI_COMMAND=ADD CNI_CONTAINERID=${s.id} CNI_IFNAME=eth0 CNI_NETNS=${netns} CNI_PATH=${WEFT_BIN} ${WEFT_BIN}/host-local > ${"$"}TMPOUT; rc=$?`,
      `printf '@@%s@@' "$rc"; cat "$TMPOUT"; printf '@@'; ls -A ${store} | tr '\\n' ' '; printf '@@\\n'`,
    ]),
    'rm -f "$TMPOUT"',
  ];
  const p = Bun.spawnSync(["unshare", "-m", "--propagation", "private", "sh", "-c", lines.join("\n")], {
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", TMPOUT: `/dev/shm/weft-t-hl-${process.pid}-${Math.random().toString(36).slice(2)}` },
    stdout: "pipe",
    stderr: "pipe",
  });
  expect(p.exitCode).not.toBe(90);
  const text = p.stdout.toString();
  return [...text.matchAll(/@@(\d+)@@([\s\S]*?)@@([^@]*)@@/g)].map((m) => ({
    rc: Number(m[1]),
    out: m[2]!.trim() ? (JSON.parse(m[2]!) as Record<string, unknown>) : undefined,
    ls: m[3]!.trim().split(/\s+/).filter(Boolean).sort(),
  }));
}

describe("host-local on a failing file system", () => {
  test("ENOSPC while writing a reservation: a clear code-5 error, no file left; works once space is freed", () => {
    using ns = createTestNetns("hlnospc");
    using dir = tempDir("hlnospc");
    const steps = inTinyTmpfs(dir.path, ns.path, `head -c 4096 /dev/zero > ${dir.path}/fill 2>/dev/null; true`, [
      { id: "full" },
      { id: "later", before: `rm -f ${dir.path}/fill` },
    ]);
    expect(steps).toHaveLength(2);
    const [full, later] = steps as [Step, Step];
    expect(full.rc).toBe(1);
    expect(full.out?.code).toBe(5);
    expect(full.out?.msg).toBe(`Cannot write the reservation of 10.77.1.2 in "${join(dir.path, NETWORK)}"`);
    expect(String(full.out?.details)).toContain("ENOSPC");
    expect(full.ls).toEqual(["lock"]); // no reservation, no temporary
    expect(later.rc).toBe(0);
    expect(later.ls).toEqual(["10.77.1.2", "last_reserved_ip.0", "lock"]);
  });

  test("read-only data directory: a clear code-5 error and nothing half-made", () => {
    using ns = createTestNetns("hlrofs");
    using dir = tempDir("hlrofs");
    const steps = inTinyTmpfs(dir.path, ns.path, `: > ${join(dir.path, NETWORK, "lock")}; mount -o remount,ro ${dir.path}`, [{ id: "ro" }]);
    expect(steps).toHaveLength(1);
    const [ro] = steps as [Step];
    expect(ro.rc).toBe(1);
    expect(ro.out?.code).toBe(5);
    expect(String(ro.out?.msg)).toStartWith("Cannot write the reservation of 10.77.1.2");
    expect(String(ro.out?.details)).toContain("EROFS");
    expect(ro.ls).toEqual(["lock"]);
  });
});
