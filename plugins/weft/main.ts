// Placeholder until the weft CLI lands.
export async function runCli(_argv: string[]): Promise<number> {
  process.stderr.write("weft: the CLI is not part of this build yet\n");
  return 2;
}
