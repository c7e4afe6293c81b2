// The multi-call entry point: one compiled binary installed as bridge, host-local, flannel, portmap, loopback
// and weft; the basename it was invoked by picks the role. Under `bun plugins/main.ts NAME …` (development and
// tests) the first argument picks it instead. Everything a role needs is imported lazily.
import { readFileSync, writeSync } from "node:fs";
import { basename } from "node:path";
import { PLUGIN_NAMES, isPluginName, loadPlugin } from "./registry.ts";

const SELF_NAMES = ["bun", "main.ts", "weft-dev"];

function write(fd: number, text: string): void {
  const buf = Buffer.from(text);
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off);
}

async function main(): Promise<number> {
  let name = basename(process.argv0);
  let rest = process.argv.slice(2);
  if (SELF_NAMES.includes(name) || name.startsWith("bun-")) {
    name = rest[0] ?? "";
    rest = rest.slice(1);
  }
  if (name === "weft") {
    if (rest[0] === "node") {
      const { runNode } = await import("./node/main.ts");
      return runNode(rest.slice(1));
    }
    const { runCli } = await import("./weft/main.ts");
    return runCli(rest);
  }
  if (!isPluginName(name)) {
    write(2, `weft: unknown role "${name}": this binary answers to ${[...PLUGIN_NAMES, "weft"].join(", ")} (install it under one of those names)\n`);
    return 1;
  }
  const [{ dispatch }, { setInProcessLoader }] = await Promise.all([
    import("../shared/cni/skel.ts"),
    import("../shared/delegate/inprocess.ts"),
  ]);
  setInProcessLoader(loadPlugin);
  return dispatch(
    {
      env: process.env,
      readStdin: () => readFileSync(0),
      stdout: (t) => write(1, t),
      stderr: (t) => write(2, t),
    },
    { name, load: async () => (await loadPlugin(name))! },
  );
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    write(1, `${JSON.stringify({ cniVersion: "1.1.0", code: 999, msg: `weft failed unexpectedly: ${(e as Error)?.message ?? String(e)}` })}\n`);
    if (process.env.WEFT_DEBUG) write(2, `${(e as Error)?.stack ?? e}\n`);
    process.exit(1);
  },
);
