// The iptables-restore text format, both ways: quoting arguments so iptables-restore splits them back exactly
// (its parser, xshared.c add_param_to_argv, knows double quotes with backslash escapes inside them and nothing
// else), and reading an iptables-save dump into chains and rules.

const PLAIN = /^[A-Za-z0-9_.:/,=+@%^!\-[\]]+$/;

/**
 * One argument as iptables-restore must see it: plain tokens unchanged, anything else double-quoted with `\`
 * and `"` escaped.
 * @throws {RangeError} for a newline or NUL, which the line-based format cannot carry
 */
export function quoteRuleArg(s: string): string {
  if (/[\n\r\0]/.test(s)) throw new RangeError(`iptables argument ${JSON.stringify(s)} contains a newline or NUL`);
  if (PLAIN.test(s)) return s;
  return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** A rule line for iptables-restore: `-A CHAIN arg…` with every argument quoted as needed. */
export function ruleLine(op: "-A" | "-D" | "-C" | "-I", chain: string, args: readonly string[], position?: number): string {
  const head = position === undefined ? [op, chain] : [op, chain, String(position)];
  return [...head, ...args].map(quoteRuleArg).join(" ");
}

/** Splits a rule as iptables-save prints it back into arguments (the inverse of quoteRuleArg). */
export function splitRuleArgs(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  let inToken = false;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === "\\" && i + 1 < line.length) cur += line[++i];
      else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') {
      quoted = true;
      inToken = true;
    } else if (c === " " || c === "\t") {
      if (inToken) out.push(cur);
      cur = "";
      inToken = false;
    } else {
      cur += c;
      inToken = true;
    }
  }
  if (inToken) out.push(cur);
  return out;
}

/** One `-A` line of a dump: its chain, the rule text after `-A CHAIN ` exactly as printed, and its target. */
export interface SavedRule {
  chain: string;
  spec: string;
  /** The `-j`/`-g` target, when the rule has one. */
  target?: string;
}

/** One table of an iptables-save dump. */
export interface SavedTable {
  /** Every chain of the table, built-in and user-defined. */
  chains: Set<string>;
  /** The rules in dump order (per chain, in chain order). */
  rules: SavedRule[];
}

/**
 * Reads the dump of `table` out of iptables-save output. A table absent from the dump reads as empty.
 */
export function parseSave(text: string, table: string): SavedTable {
  const out: SavedTable = { chains: new Set(), rules: [] };
  let inTable = false;
  for (const line of text.split("\n")) {
    if (line.startsWith("*")) {
      inTable = line.slice(1).trim() === table;
      continue;
    }
    if (!inTable) continue;
    if (line.startsWith(":")) {
      const name = line.slice(1).split(" ")[0];
      if (name) out.chains.add(name);
    } else if (line.startsWith("-A ")) {
      const m = /^-A (\S+) ?(.*)$/.exec(line);
      if (!m) continue;
      const spec = m[2] ?? "";
      const args = splitRuleArgs(spec);
      let target: string | undefined;
      for (let i = 0; i < args.length - 1; i++) if (args[i] === "-j" || args[i] === "-g") target = args[i + 1];
      out.rules.push(target === undefined ? { chain: m[1]!, spec } : { chain: m[1]!, spec, target });
    } else if (line === "COMMIT") {
      inTable = false;
    }
  }
  return out;
}
