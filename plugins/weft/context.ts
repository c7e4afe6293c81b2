// What every `weft` command shares: where state lives (flags over environment over defaults, so tests use temp
// dirs), output that never mixes data (stdout) with diagnostics (stderr), and the two error kinds behind the
// documented exit codes: UsageError → 2, anything else that fails → 1.
import { writeSync } from "node:fs";
import { DEFAULT_CACHE_DIR, type RunnerOptions } from "../../shared/libcni/index.ts";

export const DEFAULT_CONF_DIR = "/etc/cni/net.d";
export const DEFAULT_CNI_PATH = "/opt/cni/bin";
export const DEFAULT_IPAM_DIR = "/var/lib/cni/networks";

/** The command line itself is wrong (exit 2). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** A failure with a message for a person (exit 1). */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CliError";
  }
}

export interface GlobalOptions {
  confDir?: string;
  cniPath?: string;
  cacheDir?: string;
}

export interface Ctx {
  env: Readonly<Record<string, string | undefined>>;
  confDir: string;
  cniPath: string[];
  cacheDir: string;
  out(text: string): void;
  err(text: string): void;
  /** A "weft: warning: …" line on stderr. */
  warn(text: string): void;
  runner(): RunnerOptions;
}

function write(fd: number, text: string): void {
  const buf = Buffer.from(text);
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off);
}

export function makeCtx(g: GlobalOptions, env: Readonly<Record<string, string | undefined>>): Ctx {
  const confDir = g.confDir ?? (env.NETCONFPATH || DEFAULT_CONF_DIR);
  const cniPath = (g.cniPath ?? (env.CNI_PATH || DEFAULT_CNI_PATH)).split(":").filter((p) => p !== "");
  const cacheDir = g.cacheDir ?? (env.WEFT_CACHE_DIR || DEFAULT_CACHE_DIR);
  const ctx: Ctx = {
    env,
    confDir,
    cniPath,
    cacheDir,
    out: (t) => write(1, t.endsWith("\n") ? t : `${t}\n`),
    err: (t) => write(2, t.endsWith("\n") ? t : `${t}\n`),
    warn: (t) => write(2, `weft: warning: ${t}\n`),
    runner: () => ({ cniPath, cacheDir, env, stderr: (t) => write(2, t) }),
  };
  return ctx;
}

export function printJson(ctx: Ctx, value: unknown): void {
  ctx.out(JSON.stringify(value, null, 2));
}
