// Shared by the host-local process and conformance tests: a config builder, an async plugin runner (for many
// processes at once) and readers of the store directory. Plugins run without a host netns: host-local does no
// kernel work, and CNI_NETNS only has to name a real namespace (one made by the test).
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { REF_BIN, WEFT_BIN, type PluginRun } from "../helpers/plugin.ts";

export const NETWORK = "hl-net";

export function hostLocalConf(dataDir: string, ipam: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  return {
    cniVersion: "1.0.0",
    name: NETWORK,
    ...extra,
    ipam: { type: "host-local", dataDir, ranges: [[{ subnet: "10.77.1.0/24" }]], ...ipam },
  };
}

export interface AsyncRun {
  bin?: string;
  command: string;
  conf: unknown;
  containerId?: string;
  ifname?: string;
  netns?: string;
  args?: string;
}

/** Starts one plugin process; resolves when it exits. */
export async function spawnHostLocal(o: AsyncRun): Promise<PluginRun> {
  const env: Record<string, string> = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", CNI_COMMAND: o.command, CNI_PATH: o.bin ?? WEFT_BIN };
  if (o.containerId !== undefined) env.CNI_CONTAINERID = o.containerId;
  if (o.ifname !== undefined) env.CNI_IFNAME = o.ifname;
  if (o.netns !== undefined) env.CNI_NETNS = o.netns;
  if (o.args !== undefined) env.CNI_ARGS = o.args;
  const t0 = performance.now();
  const p = Bun.spawn([join(o.bin ?? WEFT_BIN, "host-local")], { env, stdin: Buffer.from(JSON.stringify(o.conf)), stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  let json: Record<string, unknown> | undefined;
  try {
    json = stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : undefined;
  } catch {
    json = undefined;
  }
  return { exitCode, stdout, stderr, json, ms: performance.now() - t0 };
}

export { REF_BIN, WEFT_BIN };

/** The store's files: name → content. */
export function storeFiles(dataDir: string): Record<string, string> {
  const dir = join(dataDir, NETWORK);
  const out: Record<string, string> = {};
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const n of names.sort()) out[n] = readFileSync(join(dir, n), "latin1");
  return out;
}

/** The reservation files only (names that are addresses). */
export function reservations(dataDir: string): Record<string, string> {
  return Object.fromEntries(Object.entries(storeFiles(dataDir)).filter(([n]) => /^[0-9a-f.:]+$/.test(n) && (n.includes(".") || n.includes(":"))));
}

/** The addresses of a 1.x result, without prefixes. */
export function resultIps(json: Record<string, unknown> | undefined): string[] {
  const ips = (json?.ips ?? []) as Array<{ address: string }>;
  return ips.map((i) => i.address.split("/")[0]!);
}
