// CNI_ARGS: "K=V;K=V" (CONVENTIONS.md). Parsed as Go's types.LoadArgs does: each piece must hold exactly one
// "=", keys are case-sensitive field names, and a key the plugin does not know is an error unless
// IgnoreUnknown is "1" or "true" (any case).
import { CniCode, CniError } from "./errors.ts";

/** @throws {CniError} code 4 for a malformed pair */
export function parseCniArgs(raw: string): Map<string, string> {
  const out = new Map<string, string>();
  if (raw === "") return out;
  for (const pair of raw.split(";")) {
    const kv = pair.split("=");
    if (kv.length !== 2) throw new CniError(CniCode.InvalidEnv, `ARGS: invalid pair "${pair}"`);
    out.set(kv[0]!, kv[1]!);
  }
  return out;
}

/**
 * The values of `known` keys from CNI_ARGS.
 * @throws {CniError} for a malformed pair, or an unknown key without IgnoreUnknown
 */
export function loadCniArgs<K extends string>(raw: string, known: readonly K[]): Partial<Record<K, string>> {
  const pairs = parseCniArgs(raw);
  const ignore = /^(1|true)$/i.test(pairs.get("IgnoreUnknown") ?? "");
  const out: Partial<Record<K, string>> = {};
  const unknown: string[] = [];
  for (const [k, v] of pairs) {
    if (k === "IgnoreUnknown") continue;
    if ((known as readonly string[]).includes(k)) out[k as K] = v;
    else unknown.push(k);
  }
  if (unknown.length && !ignore) {
    throw new CniError(CniCode.InvalidEnv, `ARGS: unknown args [${unknown.join(" ")}]`, "add IgnoreUnknown=1 to CNI_ARGS to ignore them");
  }
  return out;
}
