// Spec versions and the capability predicates that are the only way code asks about version behaviour.
// Versions: SPEC.md "Released versions" plus 1.1.0 (STATUS, GC); 0.4.0 added CHECK.

export const SPEC_VERSIONS = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] as const;
export type SpecVersion = (typeof SPEC_VERSIONS)[number];
/** The newest version weft speaks; VERSION reports it as `cniVersion`. */
export const CURRENT_VERSION: SpecVersion = "1.1.0";

/** Result families: one TypeScript shape each. */
export type ResultFamily = "020" | "04x" | "1x";

export function isSpecVersion(v: string): v is SpecVersion {
  return (SPEC_VERSIONS as readonly string[]).includes(v);
}

/** Compares dotted versions numerically: -1, 0 or 1. A part that is not a number counts as 0. */
export function compareVersions(a: string, b: string): -1 | 0 | 1 {
  const pa = a.split(".").map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split(".").map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < 3; i++) {
    const x = pa[i] ?? 0;
    const y = pb[i] ?? 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

export function resultFamily(v: string): ResultFamily {
  if (v === "" || compareVersions(v, "0.3.0") < 0) return "020";
  if (compareVersions(v, "1.0.0") < 0) return "04x";
  return "1x";
}

export const hasCheck = (v: string): boolean => compareVersions(v, "0.4.0") >= 0;
export const hasGc = (v: string): boolean => compareVersions(v, "1.1.0") >= 0;
export const hasStatus = (v: string): boolean => compareVersions(v, "1.1.0") >= 0;
export const hasInterfaces = (v: string): boolean => resultFamily(v) !== "020";
export const hasIpVersionField = (v: string): boolean => resultFamily(v) === "04x";
/** prevResult is delivered to DEL from 0.4.0 on. */
export const hasPrevResultOnDel = (v: string): boolean => compareVersions(v, "0.4.0") >= 0;
