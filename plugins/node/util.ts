// Small helpers of the node daemon: an abortable sleep that can be cut short, exponential backoff, and the log
// line format (one line per event on stderr, `<ISO time> <level> <message>`).
import { writeSync } from "node:fs";

/** Resolves after `ms`, when `signal` aborts, or when the returned `wake()` is called — whichever comes first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> & { wake: () => void } {
  let wake = () => {};
  const p = new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const t = setTimeout(done, ms);
    wake = done;
    if (signal?.aborted) done();
    else signal?.addEventListener("abort", done, { once: true });
  });
  return Object.assign(p, { wake: () => wake() });
}

/** Backoff delays: `initialMs`, doubling up to `maxMs`; `reset()` after a success. */
export class Backoff {
  #next: number;
  constructor(
    readonly initialMs: number,
    readonly maxMs: number,
  ) {
    this.#next = initialMs;
  }
  next(): number {
    const d = this.#next;
    this.#next = Math.min(this.#next * 2, this.maxMs);
    return d;
  }
  reset(): void {
    this.#next = this.initialMs;
  }
}

export type Logger = (level: "info" | "warn" | "error", msg: string) => void;

/** A logger writing one line per call to fd 2. */
export function stderrLogger(): Logger {
  return (level, msg) => {
    writeSync(2, `${new Date().toISOString()} ${level} ${msg}\n`);
  };
}
