// Hostile input, property-based (issue 9): fast-check generates random and mutated configs, CNI_* environments
// and prevResults for every plugin and command, and each case runs the built binary under strace in a sandbox
// (hostile.ts). Properties: one JSON result or one CNI error object on stdout, never exit 0 with an error, nothing
// left after a failure (nor after ADD + DEL), no write outside the run's directories. The cases in
// regressions.json (failures found earlier) are replayed first; a new failure is written to
// /tmp/weft-reliability/hostile-failure-<plugin>.json, ready to be added there.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { count, refuseLeftovers, STRESS, Trial, writeOutput } from "./harness.ts";
import { check, makeSandbox, type Case, type PluginName, type Sandbox } from "./hostile.ts";
import { PLUGINS } from "./node.ts";

beforeAll(refuseLeftovers);

const RUNS = count(20, 300);
const VERSIONS = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];
const PREV = {
  cniVersion: "1.0.0",
  interfaces: [{ name: "eth0", sandbox: "@POD@", mac: "0a:58:0a:61:00:05" }],
  ips: [{ address: "10.97.0.5/24", gateway: "10.97.0.1", interface: 0 }],
  routes: [{ dst: "0.0.0.0/0" }],
};

/** A valid config per plugin; all state under @ROOT@/data. */
const BASES: Record<PluginName, Record<string, unknown>> = {
  loopback: { cniVersion: "1.0.0", name: "lo", type: "loopback" },
  "host-local": { cniVersion: "1.0.0", name: "hl", type: "host-local", ipam: { type: "host-local", subnet: "10.99.0.0/24", dataDir: "@ROOT@/data/ipam", routes: [{ dst: "0.0.0.0/0" }] } },
  bridge: { cniVersion: "1.0.0", name: "br", type: "bridge", bridge: "hbr0", isGateway: true, ipMasq: true, hairpinMode: true, ipam: { type: "host-local", subnet: "10.98.0.0/24", dataDir: "@ROOT@/data/ipam" } },
  flannel: { cniVersion: "1.0.0", name: "cbr0", type: "flannel", subnetFile: "@ROOT@/subnet.env", dataDir: "@ROOT@/data/flannel", ipam: { dataDir: "@ROOT@/data/ipam" }, delegate: { hairpinMode: true, isDefaultGateway: true, bridge: "fbr0" } },
  portmap: { cniVersion: "1.0.0", name: "pm", type: "portmap", runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }, { hostPort: 8053, containerPort: 53, protocol: "udp", hostIP: "0.0.0.0" }] }, prevResult: PREV },
};

type Path = Array<string | number>;
function paths(v: unknown, prefix: Path = []): Path[] {
  if (typeof v !== "object" || v === null) return [prefix];
  const keys: Array<string | number> = Array.isArray(v) ? v.map((_, i) => i) : Object.keys(v);
  return [prefix, ...keys.flatMap((k) => paths((v as Record<string | number, unknown>)[k], [...prefix, k]))];
}

/** Values that tend to break parsers and path handling; absolute paths are always under the run's root. */
const nasty = fc.constantFrom<unknown>(
  "", " ", "../../../etc", "..", ".", "@ROOT@/../escape", "@ROOT@/data/x/../../../escape", "a\u0000b", "a\nb", "x".repeat(1024), "é\u202e", "0x0a.1.1.1",
  "10.0.0.0/33", "10.1.1.1.", " 10.1.1.1", "::ffff:10.1.1.1", "10.99.0.0/32", "10.99.0.0/0", "fd00::/129", "-1", -1, 0, 65536, 2 ** 31, 1.5, 1e308,
  null, true, false, [], {}, [null], { dst: null }, "tcp", "sctp", "eth0", "lo", "1.0.0", "1.1.0", "0.1.0", "99.0.0",
);
const anyJson = fc.jsonValue({ maxDepth: 2 });
const value = fc.oneof({ weight: 3, arbitrary: nasty }, { weight: 2, arbitrary: anyJson }, { weight: 1, arbitrary: fc.string({ maxLength: 40 }) });

type Mutation = { op: "delete"; at: number } | { op: "set"; at: number; value: unknown } | { op: "case"; at: number } | { op: "extra"; key: string; value: unknown };
const mutation = fc.oneof(
  fc.record({ op: fc.constant("delete" as const), at: fc.nat() }),
  fc.record({ op: fc.constant("set" as const), at: fc.nat(), value }),
  fc.record({ op: fc.constant("case" as const), at: fc.nat() }),
  fc.record({ op: fc.constant("extra" as const), key: fc.constantFrom("prevResult", "runtimeConfig", "args", "capabilities", "cni.dev/valid-attachments", "dns", "ipam", "unknownKey", "CNIVERSION", "Name"), value }),
);

/** Any string that starts with "/" and is not one of the read-only probes is moved under the run's root. */
function confine(v: unknown): unknown {
  if (typeof v === "string") return v.startsWith("/") && !v.startsWith("/proc/") && v !== "/nonexistent" ? `@ROOT@/abs${v}` : v;
  if (Array.isArray(v)) return v.map(confine);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, confine(x)]));
  return v;
}

function mutate(base: Record<string, unknown>, muts: Mutation[]): unknown {
  let root: unknown = structuredClone(base);
  for (const m of muts) {
    if (m.op === "extra") {
      if (root && typeof root === "object" && !Array.isArray(root)) (root as Record<string, unknown>)[m.key] = confine(m.value);
      continue;
    }
    const all = paths(root);
    const path = all[m.at % all.length]!;
    if (path.length === 0) {
      if (m.op === "set") root = confine(m.value);
      continue;
    }
    const parent = path.slice(0, -1).reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], root) as Record<string | number, unknown>;
    const key = path.at(-1)!;
    if (m.op === "delete") {
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete parent[key];
    } else if (m.op === "set") parent[key] = confine(m.value);
    else if (typeof key === "string" && !Array.isArray(parent)) {
      const v = parent[key];
      delete parent[key];
      parent[key === key.toUpperCase() ? key.toLowerCase() : key.toUpperCase()] = v;
    }
  }
  return root;
}

const envString = (a: fc.Arbitrary<string>) => a.map((s) => s.replaceAll("\0", ""));
const hostile = envString(fc.constantFrom("../../etc/passwd", "/abs/path", "a\nb", "a b", "x".repeat(1024), ".", "..", "-rf", "a/b", "$(id)", "é"));
const stdinFor = (plugin: PluginName) =>
  fc.oneof(
    { weight: 8, arbitrary: fc.tuple(fc.constantFrom(...VERSIONS, "", "9.9.9"), fc.array(mutation, { maxLength: 4 }), fc.boolean()).map(([v, muts, withPrev]) => {
      const base = { ...BASES[plugin], cniVersion: v } as Record<string, unknown>;
      if (withPrev && !base.prevResult) base.prevResult = { ...PREV, cniVersion: v || "0.1.0" };
      return JSON.stringify(mutate(base, muts));
    }) },
    { weight: 1, arbitrary: fc.tuple(fc.nat(), fc.constantFrom(...VERSIONS)).map(([cut, v]) => { const t = JSON.stringify({ ...BASES[plugin], cniVersion: v }); return t.slice(0, cut % t.length); }) },
    { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 64 }), anyJson.map((j) => JSON.stringify(confine(j)) ?? "null")) },
  );

const caseFor = (plugin: PluginName): fc.Arbitrary<Case> =>
  fc.record({
    stdin: stdinFor(plugin),
    command: fc.oneof({ weight: 12, arbitrary: fc.constantFrom("ADD", "ADD", "ADD", "DEL", "DEL", "CHECK", "GC", "STATUS", "VERSION") }, { weight: 1, arbitrary: envString(fc.constantFrom("", "add", "DELETE", "ADD ", "x".repeat(300))) }),
    cid: fc.oneof({ weight: 16, arbitrary: fc.constantFrom("c1", "0123456789abcdef", "a.b_c-d") }, { weight: 2, arbitrary: hostile }, { weight: 1, arbitrary: fc.constant(undefined) }),
    ifname: fc.oneof({ weight: 16, arbitrary: fc.constantFrom("eth0", "net1") }, { weight: 2, arbitrary: hostile }, { weight: 1, arbitrary: fc.constantFrom("lo", "sixteen-chars-xx", undefined) }),
    netns: fc.oneof({ weight: 16, arbitrary: fc.constant("@POD@") }, { weight: 1, arbitrary: fc.constantFrom("", "/nonexistent", "/proc/self/ns/net", "@ROOT@/subnet.env", "@ROOT@", undefined) }),
    path: fc.oneof({ weight: 16, arbitrary: fc.constant("@BIN@") }, { weight: 1, arbitrary: fc.constantFrom("", "/nonexistent", "/nonexistent:@BIN@", "@ROOT@/cwd", undefined) }),
    args: fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: envString(fc.constantFrom("IgnoreUnknown=1", "IP=10.99.0.9", "IP=10.98.0.9", "IP=garbage", "K8S_POD_NAME=x", "=;;=", "IgnoreUnknown=1;IP=10.99.0.300", "MAC=zz")) }),
  }).map(({ stdin, command, cid, ifname, netns, path, args }) => {
    const env: Record<string, string> = { CNI_COMMAND: command };
    if (cid !== undefined) env.CNI_CONTAINERID = cid;
    if (ifname !== undefined) env.CNI_IFNAME = ifname;
    if (netns !== undefined) env.CNI_NETNS = netns;
    if (path !== undefined) env.CNI_PATH = path;
    if (args !== undefined) env.CNI_ARGS = args;
    return { plugin, stdin, env };
  });

interface Regression extends Case {
  note: string;
  /** The exit code the case must have, when the fix it guards is about success or failure itself. */
  expectExit?: number;
}
const REGRESSIONS = JSON.parse(readFileSync(join(import.meta.dir, "regressions.json"), "utf8")) as Regression[];

describe.each([...PLUGINS])("hostile input: %s", (plugin) => {
  let trial: Trial;
  let sb: Sandbox;
  beforeAll(() => {
    trial = new Trial(`hostile-${plugin}`);
    sb = makeSandbox(trial, plugin.slice(0, 6));
  });
  afterAll(() => trial?.[Symbol.dispose]());

  const recorded = REGRESSIONS.filter((r) => r.plugin === plugin);
  test(`regressions.json: ${recorded.length} recorded case(s) hold the properties`, async () => {
    expect(recorded.length).toBeGreaterThan(0); // every plugin keeps at least one case
    const failures: string[] = [];
    for (const r of recorded) {
      const o = await check(sb, r);
      if (r.expectExit !== undefined && o.proc.exitCode !== r.expectExit) o.problems.push(`exit ${o.proc.exitCode}, expected ${r.expectExit}: ${o.proc.stdout.trim()}`);
      if (o.problems.length) failures.push(`${r.note}: ${o.problems.join(" | ")}`);
    }
    expect(failures).toEqual([]);
  }, 120_000);

  test(`${RUNS} generated cases: one JSON document out, no error with exit 0, nothing left, no write outside`, async () => {
    const stats = { runs: 0, exit0: 0, errors: new Map<number, number>(), known: new Map<string, number>(), internal: new Set<string>() };
    const result = await fc.check(
      fc.asyncProperty(caseFor(plugin), async (c) => {
        const o = await check(sb, c);
        stats.runs++;
        for (const k of o.known) stats.known.set(k, (stats.known.get(k) ?? 0) + 1);
        if (o.proc.exitCode === 0) stats.exit0++;
        else if (typeof o.proc.json?.code === "number") stats.errors.set(o.proc.json.code, (stats.errors.get(o.proc.json.code) ?? 0) + 1);
        if (o.proc.json?.code === 999) stats.internal.add(String(o.proc.json.msg).slice(0, 120));
        if (o.problems.length) throw new Error(o.problems.join("\n"));
      }),
      { numRuns: RUNS, endOnFailure: false, maxSkipsPerRun: 0, interruptAfterTimeLimit: STRESS ? 1_500_000 : 240_000 },
    );
    const codes = Object.fromEntries([...stats.errors].sort((a, b) => a[0] - b[0]));
    console.log(`hostile ${plugin}: ${stats.runs} runs (incl. shrinking), exit 0: ${stats.exit0}, error codes: ${JSON.stringify(codes)}${stats.known.size ? `, known issues hit: ${JSON.stringify(Object.fromEntries(stats.known))}` : ""}`);
    // Code 999 is "internal": each message is listed so a missing specific code stands out.
    if (stats.internal.size) console.log(`hostile ${plugin}: code 999 messages: ${JSON.stringify([...stats.internal])}`);
    writeOutput(`hostile-${plugin}.json`, JSON.stringify({ runs: stats.runs, exit0: stats.exit0, codes, known: Object.fromEntries(stats.known), internal: [...stats.internal] }, null, 2));
    if (result.failed) {
      const counterexample = result.counterexample?.[0] as Case | undefined;
      const file = writeOutput(`hostile-failure-${plugin}.json`, JSON.stringify({ seed: result.seed, path: result.counterexamplePath, case: counterexample, error: String(result.errorInstance) }, null, 2));
      throw new Error(`property failed (seed ${result.seed}, path ${result.counterexamplePath}); the case is in ${file}, add it to test/reliability/regressions.json once fixed:\n${JSON.stringify(counterexample)}\n${String(result.errorInstance)}`);
    }
    expect(stats.runs).toBeGreaterThanOrEqual(RUNS);
  }, STRESS ? 1_600_000 : 300_000);
});
