// Loaded before every test file (bunfig.toml). A test that times out is abandoned without running its `using`
// disposals, so namespaces it made would leak: remove whatever this process made and did not delete, after
// each file and at exit, and say so on stderr.
import { afterAll } from "bun:test";
import { deleteLeftoverTestNetns } from "./netns.ts";

function sweep(when: string): void {
  const left = deleteLeftoverTestNetns();
  if (left.length) process.stderr.write(`test cleanup (${when}): removed namespaces a test left behind: ${left.join(" ")}\n`);
}

afterAll(() => sweep("after the file"));
process.on("exit", () => sweep("at exit"));
