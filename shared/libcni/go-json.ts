// JSON encoded as Go's encoding/json encodes a map[string]interface{}: object keys sorted at every level, no
// spaces, and <, >, &, U+2028, U+2029 escaped. libcni re-marshals every plugin config this way before a plugin
// sees it (libcni/conf.go InjectConf, ConfListFromConf), so weft's CLI sends the same bytes as cnitool.

function sortDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortDeep);
  if (typeof v !== "object" || v === null) return v;
  const src = v as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(src).sort()) out[k] = sortDeep(src[k]);
  return out;
}

/** `value` as Go's json.Marshal would print the same value decoded into interface{}. */
export function goJson(value: unknown): string {
  return JSON.stringify(sortDeep(value)).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** True when two JSON values are equal regardless of key order. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(sortDeep(a)) === JSON.stringify(sortDeep(b));
}
