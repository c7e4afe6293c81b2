// `weft`: the human entry point of the multi-call binary (issue 8). Commands run network config lists like
// cnitool (add/check/del/gc/status), inspect the node (ls, ipam ls/release), validate configs and install.
// One error boundary: exit 0 ok, 1 when a plugin or the operation failed (one line on stderr), 2 for usage errors.
import { Command, CommanderError, Option } from "commander";
import { LibcniError, PluginError } from "../../shared/libcni/index.ts";
import { cmdAdd, cmdCheck, cmdDel, cmdGc, cmdStatus, type AttachOptions } from "./attach.ts";
import { CliError, type Ctx, type GlobalOptions, UsageError, makeCtx } from "./context.ts";
import { cmdInstall, type InstallOptions } from "./install.ts";
import { cmdIpamLs, cmdIpamRelease, cmdLs } from "./inspect.ts";
import { cmdValidate } from "./validate.ts";

const EXIT_CODES = `
Exit codes: 0 ok; 1 a plugin or the operation failed (a plugin's CNI error is shown with its name, code and msg);
2 the command line is wrong.
Environment: NETCONFPATH (config dir, default /etc/cni/net.d), CNI_PATH (plugin dirs, default /opt/cni/bin),
WEFT_CACHE_DIR (result cache, default /var/lib/cni), CNI_ARGS, CAP_ARGS, CNI_IFNAME (as cnitool).`;

function example(cmd: Command, text: string): Command {
  return cmd.addHelpText("after", `\nExample:\n  ${text}`);
}

function build(ctxOf: (cmd: Command) => Ctx, setCode: (n: number) => void): Command {
  const program = new Command("weft")
    .description("Run, inspect, recover and install weft's CNI plugins (a cnitool for people)")
    .option("--conf-dir <dir>", "network config dir (env NETCONFPATH; default /etc/cni/net.d)")
    .option("--cni-path <dirs>", "plugin dirs, colon-separated (env CNI_PATH; default /opt/cni/bin)")
    .option("--cache-dir <dir>", "result cache root (env WEFT_CACHE_DIR; default /var/lib/cni)")
    .addHelpText("after", EXIT_CODES)
    .showHelpAfterError("(run with --help for usage)");
  example(program, "weft add cbr0 /run/netns/pod1 && weft ls");

  const attach = (name: "add" | "check" | "del", what: string) =>
    example(
      program
        .command(`${name} <network> <netns>`)
        .description(`${what}; <network> is a name looked up in the config dir, a file path, or - for stdin`)
        .option("--container-id <id>", "container ID (default: derived from the netns path, as cnitool does)")
        .option("--ifname <name>", "interface name in the container (env CNI_IFNAME; default eth0)")
        .option("--args <K=V;...>", "CNI_ARGS for the plugins (env CNI_ARGS)")
        .option("--cap <json>", "capability args as a JSON object, e.g. portMappings (env CAP_ARGS)"),
      `weft ${name} cbr0 /run/netns/pod1${name === "add" ? ` --cap '{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]}'` : ""}`,
    );
  attach("add", "Attach a network namespace to a network (ADD through the list, result cached)")
    .option("--json", "print the CNI result")
    .action((network: string, netns: string, o: AttachOptions, cmd: Command) => cmdAdd(ctxOf(cmd), network, netns, o));
  attach("check", "CHECK an attachment against its cached result").action((network: string, netns: string, o: AttachOptions, cmd: Command) => cmdCheck(ctxOf(cmd), network, netns, o));
  attach("del", "Detach (DEL through the list in reverse, with the cached result and, if the file changed, the cached config)").action(
    (network: string, netns: string, o: AttachOptions, cmd: Command) => cmdDel(ctxOf(cmd), network, netns, o),
  );

  example(
    program
      .command("gc <network>")
      .description("Spec 1.1 GC: DEL cached attachments that are not valid, then GC every plugin with the valid ones")
      .option("--valid <cid/ifname...>", "the valid attachments (default: cached ones whose netns still exists)")
      .option("--json", "print a JSON report"),
    "weft gc cbr0 --valid cnitool-0123abcd/eth0",
  ).action((network: string, o: { valid?: string[]; json?: boolean }, cmd: Command) => cmdGc(ctxOf(cmd), network, o));

  example(program.command("status <network>").description("Spec 1.1 STATUS of every plugin of the network").option("--json", "print JSON"), "weft status cbr0").action(
    (network: string, o: { json?: boolean }, cmd: Command) => cmdStatus(ctxOf(cmd), network, o),
  );

  example(program.command("ls").description("Every attachment in the result cache, with its IPs and whether it is still alive").option("--json", "print JSON"), "weft ls --json").action(
    (o: { json?: boolean }, cmd: Command) => cmdLs(ctxOf(cmd), o),
  );

  const ipam = program.command("ipam").description("host-local reservations: list, find stale ones, release");
  example(
    ipam
      .command("ls [network]")
      .description("Every host-local reservation, its owner, and whether it is stale (no cache entry and no live netns)")
      .option("--data-dir <dir>", "host-local dataDir (default /var/lib/cni/networks plus any ipam.dataDir in the configs)")
      .option("--stale", "only stale reservations")
      .option("--json", "print JSON"),
    "weft ipam ls cbr0 --stale",
  ).action((network: string | undefined, o: { json?: boolean; dataDir?: string; stale?: boolean }, cmd: Command) => cmdIpamLs(ctxOf(cmd), network, o));
  example(
    ipam
      .command("release <network> <ip>")
      .description("Free one reservation (refuses one that is in use unless --force)")
      .option("--data-dir <dir>", "host-local dataDir (default /var/lib/cni/networks)")
      .option("--force", "release even when the owner looks alive"),
    "weft ipam release cbr0 10.244.1.7",
  ).action((network: string, ip: string, o: { force?: boolean; dataDir?: string }, cmd: Command) => cmdIpamRelease(ctxOf(cmd), network, ip, o));

  example(
    program
      .command("validate <file>")
      .description("Check a .conf/.conflist with the plugins' own schemas: every problem with its key path and a hint")
      .option("--check-path", "also warn about plugin types missing from CNI_PATH")
      .option("--json", "print JSON"),
    "weft validate /etc/cni/net.d/10-flannel.conflist",
  ).action(async (file: string, o: { json?: boolean; checkPath?: boolean }, cmd: Command) => setCode(await cmdValidate(ctxOf(cmd), file, o)));

  example(
    program
      .command("install")
      .description("Install weft and its plugin links atomically (write beside, then rename); optionally the stock flannel conflist")
      .option("--bin-dir <dir>", "where the plugins go (default /opt/cni/bin)")
      .option("--flannel-conflist", "also install 10-flannel.conflist (kube-flannel's)")
      .option("--dry-run", "say what would be done, change nothing")
      .option("--force", "replace files of the same name that are not weft")
      .addOption(new Option("--from <file>", "binary to install (default: this one)").hideHelp())
      .option("--json", "print the plan as JSON"),
    "weft install --bin-dir /opt/cni/bin --flannel-conflist --dry-run",
  ).action((o: InstallOptions, cmd: Command) => {
    const ctx = ctxOf(cmd);
    cmdInstall(ctx, { ...o, confDir: ctx.confDir });
  });

  for (const c of [program, ...program.commands, ...program.commands.flatMap((c) => c.commands)]) {
    c.exitOverride().configureOutput({ writeOut: (t) => process.stdout.write(t), writeErr: (t) => process.stderr.write(t), outputError: (t, write) => write(`weft: ${t.replace(/^error: /, "")}`) });
  }
  return program;
}

/** Runs the CLI on `argv` (the arguments after `weft`); returns the exit code. */
export async function runCli(argv: string[]): Promise<number> {
  const env = process.env;
  let code = 0;
  const ctxOf = (cmd: Command): Ctx => makeCtx(cmd.optsWithGlobals<GlobalOptions>(), env);
  const program = build(ctxOf, (n) => (code = n));
  const errCtx = makeCtx({}, env);
  try {
    await program.parseAsync(argv, { from: "user" });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.exitCode === 0) return 0;
      return 2;
    }
    if (e instanceof UsageError) {
      errCtx.err(`weft: ${e.message}`);
      return 2;
    }
    if (e instanceof PluginError || e instanceof LibcniError || e instanceof CliError) {
      errCtx.err(`weft: ${e.message}`);
      return 1;
    }
    errCtx.err(`weft: ${(e as Error)?.message ?? String(e)}`);
    if (env.WEFT_DEBUG) errCtx.err(String((e as Error)?.stack ?? ""));
    return 1;
  }
}
