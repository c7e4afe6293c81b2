// `weft install`: the binary and its plugin names into a CNI bin dir, and optionally the stock flannel conflist
// (flannel-io/flannel Documentation/kube-flannel.yml `cni-conf.json`) into a conf dir. Plan first, then apply:
// every conflict is found before anything is written; each file is written beside its target and renamed over
// it, so a kubelet never execs a half-written binary; the plugin names are hard links of the one binary.
import { closeSync, copyFileSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, chmodSync } from "node:fs";
import { basename, join } from "node:path";
import { PLUGIN_NAMES } from "../registry.ts";
import { CliError, type Ctx, DEFAULT_CNI_PATH, DEFAULT_CONF_DIR, printJson } from "./context.ts";

export const FLANNEL_CONFLIST_NAME = "10-flannel.conflist";
/** The conflist kube-flannel installs, byte for byte in content (2-space JSON). */
export const STOCK_FLANNEL_CONFLIST = `${JSON.stringify(
  {
    name: "cbr0",
    cniVersion: "0.3.1",
    plugins: [
      { type: "flannel", delegate: { hairpinMode: true, isDefaultGateway: true } },
      { type: "portmap", capabilities: { portMappings: true } },
    ],
  },
  null,
  2,
)}\n`;

export interface InstallOptions {
  binDir?: string;
  confDir?: string;
  flannelConflist?: boolean;
  dryRun?: boolean;
  force?: boolean;
  json?: boolean;
  /** The binary to install (default: this process's executable). */
  from?: string;
}

type Action = "write" | "link" | "replace" | "upgrade" | "unchanged" | "conflict";

/** A string every weft build carries (plugins/main.ts's unknown-role message): marks a file as some weft. */
const WEFT_MARKER = Buffer.from("weft: unknown role");

function isWeft(path: string): boolean {
  try {
    return readFileSync(path).includes(WEFT_MARKER);
  } catch {
    return false;
  }
}
interface Step {
  action: Action;
  target: string;
  why: string;
}

function sameFile(a: string, b: string): boolean {
  try {
    const x = statSync(a);
    const y = statSync(b);
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}

/** Same bytes; `data` is read only when the sizes match (a binary is ~100 MB). */
function sameContent(path: string, data: () => Buffer, size: number): boolean {
  try {
    const st = statSync(path);
    return st.size === size && readFileSync(path).equals(data());
  } catch {
    return false;
  }
}

/** The executable to install: --from, or this compiled binary (refusing `bun` itself). */
function sourceBinary(o: InstallOptions): string {
  const src = o.from ?? process.execPath;
  const name = basename(src);
  if (!o.from && (name === "bun" || name.startsWith("bun-"))) {
    throw new CliError(`weft install copies the compiled binary, but this is ${src} (run build/bin/weft install after "make build", or pass --from)`);
  }
  if (!existsSync(src)) throw new CliError(`Cannot install ${src}: it does not exist`);
  return src;
}

function plan(o: InstallOptions, src: string, binDir: string, confDir: string): Step[] {
  const steps: Step[] = [];
  let cached: Buffer | undefined;
  const data = () => (cached ??= readFileSync(src));
  const size = statSync(src).size;
  const weft = join(binDir, "weft");
  const weftSame = existsSync(weft) && (sameFile(weft, src) || sameContent(weft, data, size));
  if (!existsSync(weft)) steps.push({ action: "write", target: weft, why: `copy of ${src}` });
  else if (weftSame) steps.push({ action: "unchanged", target: weft, why: "already this binary" });
  else if (isWeft(weft)) steps.push({ action: "upgrade", target: weft, why: "another weft build" });
  else steps.push({ action: o.force ? "replace" : "conflict", target: weft, why: "a different file of that name exists" });
  for (const name of PLUGIN_NAMES) {
    const t = join(binDir, name);
    if (!existsSync(t)) steps.push({ action: "link", target: t, why: "hard link to weft" });
    else if (weftSame && sameFile(t, weft)) steps.push({ action: "unchanged", target: t, why: "already a link to weft" });
    else if (sameContent(t, data, size) || isWeft(t)) steps.push({ action: "link", target: t, why: "weft under another inode, relinked" });
    else steps.push({ action: o.force ? "replace" : "conflict", target: t, why: "a different binary of that name exists (e.g. the reference plugin)" });
  }
  if (o.flannelConflist) {
    const t = join(confDir, FLANNEL_CONFLIST_NAME);
    if (!existsSync(t)) steps.push({ action: "write", target: t, why: "stock flannel conflist" });
    else if (sameContent(t, () => Buffer.from(STOCK_FLANNEL_CONFLIST), Buffer.byteLength(STOCK_FLANNEL_CONFLIST))) steps.push({ action: "unchanged", target: t, why: "already the stock flannel conflist" });
    else steps.push({ action: o.force ? "replace" : "conflict", target: t, why: "a different conflist of that name exists" });
  }
  return steps;
}

function fsErr(what: string, e: unknown): CliError {
  const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
  return new CliError(`Cannot ${what}: ${code}${code === "EACCES" || code === "EPERM" || code === "EROFS" ? " (run as root, or choose another directory)" : ""}`);
}

/** Writes `target` by creating a temporary file beside it and renaming it over the target. */
function writeBeside(target: string, fill: (tmp: string) => void): void {
  const tmp = join(target, "..", `.${basename(target)}.weft-new-${process.pid}`);
  try {
    fill(tmp);
    renameSync(tmp, target);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw fsErr(`write ${target}`, e);
  }
}

function fsyncPath(p: string): void {
  const fd = openSync(p, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function apply(steps: Step[], src: string, binDir: string): void {
  const weft = join(binDir, "weft");
  for (const s of steps) {
    if (s.action === "unchanged" || s.action === "conflict") continue;
    const dir = join(s.target, "..");
    try {
      mkdirSync(dir, { recursive: true, mode: 0o755 });
    } catch (e) {
      throw fsErr(`create ${dir}`, e);
    }
    if (s.target === weft) {
      writeBeside(weft, (tmp) => {
        copyFileSync(src, tmp);
        chmodSync(tmp, 0o755);
        fsyncPath(tmp);
      });
    } else if (s.target.startsWith(`${binDir}/`) && dir === binDir) {
      writeBeside(s.target, (tmp) => linkSync(weft, tmp));
    } else {
      writeBeside(s.target, (tmp) => writeFileSync(tmp, STOCK_FLANNEL_CONFLIST, { mode: 0o644 }));
    }
  }
}

export function cmdInstall(ctx: Ctx, o: InstallOptions): void {
  const binDir = o.binDir ?? DEFAULT_CNI_PATH;
  const confDir = o.confDir ?? DEFAULT_CONF_DIR;
  const src = sourceBinary(o);
  const steps = plan(o, src, binDir, confDir);
  const conflicts = steps.filter((s) => s.action === "conflict");
  if (o.json) printJson(ctx, { dryRun: !!o.dryRun, steps });
  else for (const s of steps) ctx.out(`${o.dryRun && s.action !== "unchanged" && s.action !== "conflict" ? "would " : ""}${s.action} ${s.target} (${s.why})`);
  if (conflicts.length) {
    throw new CliError(`Refusing to overwrite ${conflicts.map((c) => c.target).join(", ")}: ${conflicts.length === 1 ? "it is" : "they are"} not weft; pass --force to replace (nothing was written)`);
  }
  if (o.dryRun) return;
  apply(steps, src, binDir);
  if (!o.json) ctx.out(`installed weft and ${PLUGIN_NAMES.join(", ")} into ${binDir}${o.flannelConflist ? `, ${FLANNEL_CONFLIST_NAME} into ${confDir}` : ""}`);
}
