// Shared by the weft CLI process tests: run build/bin/weft (make build) with explicit state dirs, optionally
// inside a test "host" netns, and write a bridge+host-local+portmap conflist into a temp conf dir.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { WEFT_BIN } from "../helpers/plugin.ts";

export interface WeftRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface WeftDirs {
  conf: string;
  cache: string;
  ipam: string;
  cniPath: string;
}

/** Runs `weft <argv>` with the dirs as flags; `hostNetns` runs it under `ip netns exec`. */
export function weft(argv: string[], o: { dirs?: WeftDirs; hostNetns?: string; stdin?: string; env?: Record<string, string> } = {}): WeftRun {
  const flags = o.dirs ? ["--conf-dir", o.dirs.conf, "--cni-path", o.dirs.cniPath, "--cache-dir", o.dirs.cache] : [];
  const exe = [join(WEFT_BIN, "weft"), ...flags, ...argv];
  const cmd = o.hostNetns ? ["ip", "netns", "exec", o.hostNetns, ...exe] : exe;
  const p = Bun.spawnSync(cmd, {
    env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", ...o.env },
    stdin: o.stdin === undefined ? "ignore" : Buffer.from(o.stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  return { exitCode: p.exitCode ?? -1, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

export function makeDirs(root: string, cniPath: string): WeftDirs {
  const d = { conf: join(root, "conf"), cache: join(root, "cache"), ipam: join(root, "ipam"), cniPath };
  mkdirSync(d.conf, { recursive: true });
  return d;
}

/** A bridge → host-local, portmap conflist (the shape of the stock flannel delegate chain). */
export function bridgeList(o: { name: string; bridge: string; subnet: string; ipamDir: string; cniVersion: string }): Record<string, unknown> {
  return {
    cniVersion: o.cniVersion,
    name: o.name,
    plugins: [
      {
        type: "bridge",
        bridge: o.bridge,
        isGateway: true,
        ipam: { type: "host-local", dataDir: o.ipamDir, ranges: [[{ subnet: o.subnet }]], routes: [{ dst: "0.0.0.0/0" }] },
      },
      { type: "portmap", capabilities: { portMappings: true } },
    ],
  };
}

export function writeConf(dir: string, file: string, value: unknown): string {
  const p = join(dir, file);
  writeFileSync(p, typeof value === "string" ? value : `${JSON.stringify(value, null, 2)}\n`);
  return p;
}
