// Running the iptables family of binaries (iptables, ip6tables, *-save, *-restore) with argument arrays, never a
// shell. Every mutation passes `-w` (wait for the xtables lock) as the reference's go-iptables does; failures
// become IptablesError carrying argv, exit code and stderr so callers can branch and users can read them.

/** IPv4 or IPv6: which of iptables / ip6tables to run. */
export type Family = 4 | 6;

/** Exit code used when the binary itself cannot be found (the shell's convention). */
export const EXIT_NOT_FOUND = 127;

/** A failed (or missing) iptables binary. */
export class IptablesError extends Error {
  readonly argv: string[];
  readonly exitCode: number;
  readonly stderr: string;
  constructor(argv: string[], exitCode: number, stderr: string, message?: string) {
    const text = stderr.trim().split("\n").filter((l) => l !== "").join("; ");
    super(message ?? `${argv.join(" ")} failed with exit code ${exitCode}${text ? `: ${text}` : ""}`);
    this.name = "IptablesError";
    this.argv = argv;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }

  /** True when the binary was not found in PATH. */
  get notFound(): boolean {
    return this.exitCode === EXIT_NOT_FOUND;
  }
}

const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** `iptables` / `ip6tables` with an optional suffix (`-save`, `-restore`). */
export function binaryName(family: Family, suffix: "" | "-save" | "-restore"): string {
  return `${family === 6 ? "ip6tables" : "iptables"}${suffix}`;
}

function resolve(name: string, args: string[]): { exe: string; argv: string[] } {
  const pathVar = process.env.PATH || DEFAULT_PATH;
  const exe = Bun.which(name, { PATH: pathVar });
  const argv = [name, ...args];
  if (!exe) {
    throw new IptablesError(argv, EXIT_NOT_FOUND, "", `Cannot run ${name}: not found in PATH (${pathVar}); install the iptables package`);
  }
  return { exe, argv };
}

/**
 * Runs `name args…` found in PATH (as Go's exec.LookPath would) with `input` on stdin.
 * @throws {IptablesError} on a non-zero exit, or with exit code 127 when the binary is not in PATH
 */
export function run(name: string, args: string[], input?: string): string {
  const { exe, argv } = resolve(name, args);
  const p = Bun.spawnSync([exe, ...args], {
    stdin: input === undefined ? "ignore" : Buffer.from(input),
    stdout: "pipe",
    stderr: "pipe",
  });
  const stdout = p.stdout.toString();
  if (p.exitCode !== 0) throw new IptablesError(argv, p.exitCode ?? -1, p.stderr.toString());
  return stdout;
}

/**
 * Runs `iptables -w <args>` (or ip6tables) and returns its stdout.
 * @throws {IptablesError}
 */
export function iptables(family: Family, args: string[]): string {
  return run(binaryName(family, ""), ["-w", ...args]);
}

/**
 * Applies `text` (iptables-restore format: `*nat` … `COMMIT`) as one transaction without flushing the tables
 * it names: either every line applies or none does.
 * @throws {IptablesError} naming the failing line when the kernel or the parser rejects it
 */
export function restore(family: Family, text: string): void {
  run(binaryName(family, "-restore"), ["-w", "--noflush"], text);
}

/**
 * The iptables-save dump of one table (counters omitted).
 * @throws {IptablesError}
 */
export function save(family: Family, table: string): string {
  return run(binaryName(family, "-save"), ["-t", table]);
}

/**
 * iptables-save of one table without blocking, so both families can be read at once.
 * @throws {IptablesError} (the promise rejects)
 */
export async function saveAsync(family: Family, table: string): Promise<string> {
  const { exe, argv } = resolve(binaryName(family, "-save"), ["-t", table]);
  const p = Bun.spawn([exe, ...argv.slice(1)], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new IptablesError(argv, code, stderr);
  return stdout;
}

/**
 * Whether `chain` exists in `table` (read from iptables-save: `iptables -S <chain>` under nf_tables answers
 * "incompatible" rather than "no such chain" for a missing one).
 * @throws {IptablesError} when the table cannot be read at all
 */
export function chainExists(family: Family, table: string, chain: string): boolean {
  const prefix = `:${chain} `;
  return save(family, table).split("\n").some((l) => l.startsWith(prefix));
}
