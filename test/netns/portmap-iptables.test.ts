// shared/iptables against the real binaries, inside a throwaway namespace: the functions run in a child bun
// process started with `ip netns exec`, because iptables acts on the caller's netns and tests never touch the
// machine's own.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ROOT } from "../helpers/plugin.ts";
import { createTestNetns, runIn } from "../helpers/netns.ts";

const BUN = join(ROOT, "node_modules/.bin/bun");
const MOD = join(ROOT, "shared/iptables/index.ts");

/** Runs `body` (with the module's exports in scope) in `ns` and returns what it printed as JSON. */
function inNetns(ns: string, body: string, env: Record<string, string> = {}): Record<string, unknown> {
  const code = `import { iptables, restore, save, saveAsync, chainExists, parseSave, quoteRuleArg, splitRuleArgs, IptablesError } from ${JSON.stringify(MOD)};
    const out = {};
    const fail = (f) => { try { f(); return null; } catch (e) { return { name: e.name, exitCode: e.exitCode, argv: e.argv, stderr: e.stderr, message: e.message }; } };
    ${body}
    console.log(JSON.stringify(out));`;
  const r = runIn(ns, [BUN, "-e", code], { env });
  if (r.exitCode !== 0) throw new Error(`child failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

describe("shared/iptables with the real binaries", () => {
  test("restore() applies a transaction whose quoted arguments survive the round trip through iptables-save", () => {
    using ns = createTestNetns("ipt-rt");
    const comment = 'dnat name: "a b" id: "x\\\\y"';
    const out = inNetns(
      ns.name,
      `const comment = ${JSON.stringify(comment)};
       restore(4, "*nat\\n-N WEFT-T\\n-A WEFT-T -m comment --comment " + quoteRuleArg(comment) + " -j RETURN\\nCOMMIT\\n");
       const rule = parseSave(save(4, "nat"), "nat").rules.find((r) => r.chain === "WEFT-T");
       const args = splitRuleArgs(rule.spec);
       out.comment = args[args.indexOf("--comment") + 1];
       out.target = rule.target;
       out.exists = chainExists(4, "nat", "WEFT-T");
       out.missing = chainExists(4, "nat", "NOPE");
       out.v6 = chainExists(6, "nat", "WEFT-T");
       out.listed = iptables(4, ["-t", "nat", "-S", "WEFT-T"]);
       out.async = (await saveAsync(4, "nat")).includes(":WEFT-T ");`,
    );
    expect(out).toEqual({ comment, target: "RETURN", exists: true, missing: false, v6: false, listed: expect.stringContaining("-A WEFT-T -m comment"), async: true });
  });

  test("a failing command is an IptablesError with argv, exit code and stderr; a failed transaction changes nothing", () => {
    using ns = createTestNetns("ipt-err");
    const out = inNetns(
      ns.name,
      `out.cmd = fail(() => iptables(4, ["-t", "nat", "-A", "NOPE", "-j", "RETURN"]));
       out.tx = fail(() => restore(4, "*nat\\n-N HALF\\n-A NOPE -j RETURN\\nCOMMIT\\n"));
       out.half = chainExists(4, "nat", "HALF");`,
    );
    const cmd = out.cmd as Record<string, unknown>;
    expect(cmd.name).toBe("IptablesError");
    expect(cmd.argv).toEqual(["iptables", "-w", "-t", "nat", "-A", "NOPE", "-j", "RETURN"]);
    expect(cmd.exitCode).not.toBe(0);
    expect(String(cmd.stderr).length).toBeGreaterThan(0);
    expect(String((out.tx as Record<string, unknown>).message)).toContain("line 3 failed");
    expect(out.half).toBe(false);
  });

  test("a missing binary is an IptablesError with exit code 127 and a message saying what to install", () => {
    using ns = createTestNetns("ipt-nobin");
    const out = inNetns(ns.name, `out.err = fail(() => save(4, "nat"));`, { PATH: "/usr/bin:/bin" });
    const err = out.err as Record<string, unknown>;
    expect(err.exitCode).toBe(127);
    expect(String(err.message)).toContain("iptables-save: not found in PATH");
    expect(String(err.message)).toContain("install the iptables package");
  });
});
