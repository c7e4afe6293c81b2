// Config validation at run time: validators are generated at build time by scripts/gen-validators.ts from each
// plugin's schema.ts (ajv standalone code, no schema compiled at run time). Keys are first normalised to the
// schema's spelling case-insensitively, as Go's encoding/json matches them in the reference plugins.
import { CniCode, CniError } from "../cni/errors.ts";

/** A generated validator module: ajv's standalone function plus the schema's key tree. */
export interface GeneratedValidator {
  validate: ((data: unknown) => boolean) & { errors?: AjvError[] | null };
  keys: KeyTree;
}
export interface AjvError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}
/** For an object schema: lower-case key → [canonical key, subtree]; for arrays: the items' tree. */
export interface KeyTree {
  p?: Record<string, [string, KeyTree]>;
  i?: KeyTree;
  a?: KeyTree;
}

/**
 * Returns a copy of `value` whose object keys are spelled as in the schema (`HostPort` → `hostPort`).
 * Keys the schema does not name are kept as they are. When two spellings of one key are present, the exact
 * one wins (Go keeps the last match; exact-first is the predictable choice).
 */
export function normalizeKeys(value: unknown, tree: KeyTree | undefined): unknown {
  if (!tree) return value;
  if (Array.isArray(value)) return tree.i ? value.map((v) => normalizeKeys(v, tree.i)) : value;
  if (typeof value !== "object" || value === null) return value;
  const out: Record<string, unknown> = {};
  const src = value as Record<string, unknown>;
  for (const [k, v] of Object.entries(src)) {
    const hit = tree.p?.[k.toLowerCase()];
    if (!hit) {
      out[k] = tree.a ? normalizeKeys(v, tree.a) : v;
      continue;
    }
    const [canonical, sub] = hit;
    if (canonical !== k && Object.hasOwn(src, canonical)) continue;
    out[canonical] = normalizeKeys(v, sub);
  }
  return out;
}

/** "/ipam/ranges/0/1/subnet" → "ipam.ranges[0][1].subnet" */
export function keyPath(instancePath: string, extra?: string): string {
  const parts = instancePath.split("/").slice(1).map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
  if (extra !== undefined) parts.push(extra);
  let out = "";
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out === "" ? p : `.${p}`;
  return out === "" ? "(the config)" : out;
}

function describe(e: AjvError): string {
  const p = e.params;
  switch (e.keyword) {
    case "required":
      return `"${keyPath(e.instancePath, String(p.missingProperty))}" is required`;
    case "type":
      return `"${keyPath(e.instancePath)}" must be ${article(String(p.type))}`;
    case "enum":
      return `"${keyPath(e.instancePath)}" must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
    case "minimum":
    case "maximum":
    case "exclusiveMinimum":
    case "exclusiveMaximum":
      return `"${keyPath(e.instancePath)}" ${e.message ?? "is out of range"}`;
    default:
      return `"${keyPath(e.instancePath)}" ${e.message ?? `fails ${e.keyword}`}`;
  }
}

function article(type: string): string {
  if (type.includes(",")) return `one of: ${type}`;
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** Every problem ajv found, one human sentence each. */
export function describeErrors(errors: readonly AjvError[] | null | undefined): string[] {
  return (errors ?? []).map(describe);
}

/**
 * Normalises key spelling, then validates.
 * @throws {CniError} code 7 naming the first bad key path (details lists every problem)
 */
export function parseConfig<T>(gen: GeneratedValidator, raw: unknown, what = "network config"): T {
  const value = normalizeKeys(raw, gen.keys);
  if (!gen.validate(value)) {
    const problems = describeErrors(gen.validate.errors);
    throw new CniError(CniCode.InvalidConfig, `Invalid ${what}: ${problems[0] ?? "unknown problem"}`, problems.slice(1).join("; "));
  }
  return value as T;
}
