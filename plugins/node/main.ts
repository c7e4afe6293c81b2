// Entry of `weft node` (the flanneld role) and `weft node status`. Flags and FLANNELD_* variables in flags.ts, the
// daemon in daemon.ts. SIGTERM/SIGINT stop the daemon cleanly (the lease and the data plane stay, as with flanneld).
import { FlagError, type NodeFlags, parseFlags, usage } from "./flags.ts";
import { NodeDaemon } from "./daemon.ts";
import { stderrLogger } from "./util.ts";

/** Serves /healthz (alive) and /readyz (lease held, data plane up) on the given address only. */
function serveHealth(flags: NodeFlags, isReady: () => boolean): { stop(): void } {
  const server = Bun.serve({
    hostname: flags.healthzIp,
    port: flags.healthzPort,
    fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/healthz") return new Response("ok\n");
      if (path === "/readyz") return isReady() ? new Response("ok\n") : new Response("not ready\n", { status: 503 });
      return new Response("not found\n", { status: 404 });
    },
  });
  return { stop: () => void server.stop(true) };
}

/**
 * `weft node [flags]` runs the daemon in the foreground; `weft node status [flags]` prints this node's lease, its
 * peers and any difference between the leases and the kernel. Returns the exit status.
 */
export async function runNode(argv: string[], env: Record<string, string | undefined> = process.env): Promise<number> {
  const log = stderrLogger();
  const sub = argv[0] === "status" ? "status" : "run";
  let flags: NodeFlags;
  try {
    flags = parseFlags(sub === "status" ? argv.slice(1) : argv, env);
  } catch (e) {
    if (!(e instanceof FlagError)) throw e;
    process.stderr.write(`weft node: ${e.message}\n`);
    return 2;
  }
  if (flags.help) {
    process.stdout.write(usage());
    return 0;
  }
  if (sub === "status") {
    const { printStatus } = await import("./status.ts");
    return printStatus(flags);
  }
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  const daemon = new NodeDaemon(flags, log);
  const health = flags.healthzPort > 0 ? serveHealth(flags, () => daemon.ready) : undefined;
  try {
    return await daemon.run(ac.signal);
  } catch (e) {
    log("error", `${(e as Error).message}; exiting`);
    if (env.WEFT_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    return 1;
  } finally {
    health?.stop();
    process.off("SIGTERM", stop);
    process.off("SIGINT", stop);
  }
}
