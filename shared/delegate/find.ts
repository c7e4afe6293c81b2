// Finding a delegate plugin in CNI_PATH, as Go's pkg/invoke/find.go FindInPath does: the first *regular file*
// named like the plugin wins, without an exec-bit check (decisions.md "Delegate lookup"); a found file that
// cannot be executed fails later, when it is run.
import { statSync } from "node:fs";
import { join } from "node:path";
import { CniCode, CniError } from "../cni/errors.ts";
import { printable } from "../cni/names.ts";

/**
 * The full path of plugin `name` in the first directory of `paths` holding a regular file of that name.
 * @throws {CniError} code 7 for an empty name or one containing "/" or NUL, code 999 when no directory has it
 */
export function findInPath(name: string, paths: readonly string[]): string {
  if (name === "") {
    throw new CniError(CniCode.InvalidConfig, "no plugin name provided", `the delegate's "type" is empty: set it to the plugin to run, e.g. "bridge"`);
  }
  if (name.includes("/") || name.includes("\0")) {
    throw new CniError(CniCode.InvalidConfig, `invalid plugin name: ${printable(name)}`, `a plugin "type" is a file name looked up in CNI_PATH and must not contain "/"`);
  }
  const dirs = paths.filter((p) => p !== "");
  if (dirs.length === 0) {
    throw new CniError(CniCode.InvalidEnv, "no paths provided", `CNI_PATH is empty: cannot look up plugin "${printable(name)}"`);
  }
  for (const dir of dirs) {
    const full = join(dir, name);
    try {
      if (statSync(full).isFile()) return full;
    } catch {
      // absent or unreadable here: try the next directory, as Go does
    }
  }
  throw new CniError(
    CniCode.Internal,
    `failed to find plugin "${printable(name)}" in path [${dirs.join(" ")}]`,
    `install the "${printable(name)}" plugin into one of the CNI_PATH directories, or fix the "type" that names it`,
  );
}
