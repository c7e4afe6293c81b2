// `weft validate <file>`: a conf/conflist checked with the validators the plugins themselves use (generated from
// plugins/**/schema.ts into shared/config/gen/ by `make gen`), plus the list-level rules libcni and the spec
// impose. Every problem is printed with its key path and a hint; an unknown plugin type or key is a warning.
import { networkNameProblem } from "../../shared/cni/names.ts";
import { isSpecVersion, SPEC_VERSIONS } from "../../shared/cni/version.ts";
import { type AjvError, type GeneratedValidator, type KeyTree, keyPath, normalizeKeys } from "../../shared/config/index.ts";
import { findPlugin, loadNetworkFile, type NetworkList } from "../../shared/libcni/index.ts";
import { type Ctx, printJson } from "./context.ts";

/** Plugin type → its generated validator (loaded lazily: only the types a file uses are imported). */
const VALIDATORS: Record<string, () => Promise<{ default: GeneratedValidator }>> = {
  bridge: () => import("../../shared/config/gen/bridge.js"),
  "host-local": () => import("../../shared/config/gen/host-local.js"),
  flannel: () => import("../../shared/config/gen/flannel.js"),
  portmap: () => import("../../shared/config/gen/portmap.js"),
};
/** Plugins weft knows that take no config keys of their own. */
const KEYLESS = new Set(["loopback"]);
/** Keys the spec defines for every plugin config (SPEC §1, CONVENTIONS): never "unknown". */
const GENERIC_KEYS = new Set(["cniversion", "name", "type", "capabilities", "runtimeconfig", "args", "prevresult", "ipmasq", "ipam", "dns", "cni.dev/valid-attachments", "cni.dev/attachments"]);

export interface Problem {
  level: "error" | "warning";
  /** Key path in the file, e.g. `plugins[0].ipam.ranges[0][0].subnet`. */
  path: string;
  message: string;
  hint: string;
}

function hintFor(e: AjvError): string {
  switch (e.keyword) {
    case "required":
      return `add "${String(e.params.missingProperty)}"`;
    case "type":
      return `write it as ${String(e.params.type)} (JSON ${String(e.params.type) === "string" ? 'in "quotes"' : "without quotes"})`;
    case "enum":
      return `use one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
    default:
      return "see the plugin's documentation for this key";
  }
}

function messageFor(e: AjvError): string {
  const p = e.params;
  switch (e.keyword) {
    case "required":
      return "is required";
    case "type":
      return `must be ${String(p.type)}`;
    default:
      return e.message ?? `fails ${e.keyword}`;
  }
}

function join(prefix: string, path: string): string {
  if (path === "(the config)") return prefix;
  return path.startsWith("[") ? `${prefix}${path}` : `${prefix}.${path}`;
}

/** Keys of `value` its schema's key tree does not name (recursing into named objects). */
function unknownKeys(value: unknown, tree: KeyTree | undefined, path: string, top: boolean, out: string[]): void {
  if (!tree || typeof value !== "object" || value === null) return;
  if (Array.isArray(value)) {
    if (tree.i) value.forEach((v, i) => unknownKeys(v, tree.i, `${path}[${i}]`, false, out));
    return;
  }
  if (!tree.p) return;
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (top && k.toLowerCase() === "ipam") continue; // checked against the IPAM plugin's own schema
    const hit = tree.p[k.toLowerCase()];
    if (hit) unknownKeys(v, hit[1], `${path}.${k}`, false, out);
    else if (!(top && GENERIC_KEYS.has(k.toLowerCase()))) out.push(`${path}.${k}`);
  }
}

async function checkPlugin(raw: Record<string, unknown>, where: string, out: Problem[]): Promise<void> {
  const type = String(raw.type);
  const load = VALIDATORS[type];
  if (!load) {
    if (!KEYLESS.has(type)) out.push({ level: "warning", path: `${where}.type`, message: `plugin type "${type}" is not one of weft's: its keys were not checked`, hint: `weft checks ${[...Object.keys(VALIDATORS), ...KEYLESS].join(", ")}` });
    return;
  }
  const gen = (await load()).default;
  const value = normalizeKeys(raw, gen.keys);
  if (!gen.validate(value)) {
    for (const e of gen.validate.errors ?? []) {
      const extra = e.keyword === "required" ? String(e.params.missingProperty) : undefined;
      out.push({ level: "error", path: join(where, keyPath(e.instancePath, extra)), message: messageFor(e), hint: hintFor(e) });
    }
  }
  const unknown: string[] = [];
  unknownKeys(raw, gen.keys, where, true, unknown);
  for (const u of unknown) out.push({ level: "warning", path: u, message: `unknown key for a "${type}" plugin: it is ignored`, hint: "check the spelling (keys match case-insensitively)" });
  // A plugin that delegates IPAM hands its whole config to the IPAM plugin: check it with that schema too.
  const ipam = raw.ipam as { type?: unknown } | undefined;
  if (typeof ipam?.type === "string" && ipam.type !== type && VALIDATORS[ipam.type]) {
    const ig = (await VALIDATORS[ipam.type]!()).default;
    if (!ig.validate(normalizeKeys(raw, ig.keys))) {
      for (const e of ig.validate.errors ?? []) {
        const extra = e.keyword === "required" ? String(e.params.missingProperty) : undefined;
        const path = join(where, keyPath(e.instancePath, extra));
        if (!out.some((p) => p.path === path && p.level === "error")) out.push({ level: "error", path, message: `${messageFor(e)} (for the "${ipam.type}" IPAM plugin)`, hint: hintFor(e) });
      }
    }
    const ipamKeys: string[] = [];
    unknownKeys(raw.ipam, ig.keys.p?.ipam?.[1], `${where}.ipam`, false, ipamKeys);
    for (const u of ipamKeys) out.push({ level: "warning", path: u, message: `unknown key for the "${ipam.type}" IPAM plugin: it is ignored`, hint: "check the spelling (keys match case-insensitively)" });
  }
}

export async function validateList(list: NetworkList, cniPath: string[] | undefined): Promise<Problem[]> {
  const out: Problem[] = [];
  const np = networkNameProblem(list.name);
  if (np) out.push({ level: "error", path: "name", message: np, hint: "use letters, digits, _ . - (not first)" });
  if (list.cniVersion === "") out.push({ level: "warning", path: "cniVersion", message: "no cniVersion: plugins assume 0.1.0 (no CHECK, no prevResult on DEL)", hint: 'set "cniVersion": "1.0.0" (or "0.3.1" for older runtimes)' });
  else if (!isSpecVersion(list.cniVersion)) out.push({ level: "error", path: "cniVersion", message: `"${list.cniVersion}" is not a CNI spec version`, hint: `use one of ${SPEC_VERSIONS.join(", ")}` });
  const base = list.plugins.length === 1 && list.source !== "-" && !list.source.endsWith(".conflist") ? "" : "plugins";
  for (const [i, p] of list.plugins.entries()) {
    const where = base ? `${base}[${i}]` : "(the config)";
    const pre = base ? where : "";
    // The plugin gets name and cniVersion from the list, as a runtime injects them (libcni buildOneConfig).
    await checkPlugin({ ...p.raw, name: list.name, cniVersion: list.cniVersion }, pre || "", out);
    if (cniPath) {
      try {
        findPlugin(p.type, cniPath);
      } catch (e) {
        out.push({ level: "warning", path: `${pre ? `${pre}.` : ""}type`, message: (e as Error).message, hint: "install the plugin or fix CNI_PATH" });
      }
    }
  }
  for (const p of out) if (p.path.startsWith(".")) p.path = p.path.slice(1);
  return out;
}

export async function cmdValidate(ctx: Ctx, file: string, o: { json?: boolean; checkPath?: boolean }): Promise<number> {
  let list: NetworkList;
  try {
    list = loadNetworkFile(file);
  } catch (e) {
    const problem: Problem = { level: "error", path: "(the file)", message: (e as Error).message, hint: "fix the JSON; a .conflist needs name and plugins, a .conf needs name and type" };
    if (o.json) printJson(ctx, { file, valid: false, problems: [problem] });
    else ctx.out(`${file}: error: ${problem.message}`);
    return 1;
  }
  const problems = await validateList(list, o.checkPath ? ctx.cniPath : undefined);
  const errors = problems.filter((p) => p.level === "error").length;
  if (o.json) {
    printJson(ctx, { file, network: list.name, valid: errors === 0, problems });
  } else {
    for (const p of problems) ctx.out(`${file}: ${p.level}: ${p.path}: ${p.message} (hint: ${p.hint})`);
    ctx.out(`${file}: network "${list.name}", ${list.plugins.length} plugin(s): ${errors} error(s), ${problems.length - errors} warning(s)`);
  }
  return errors ? 1 : 0;
}
