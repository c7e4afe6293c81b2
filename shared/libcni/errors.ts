// Errors of the libcni-style runner. A plugin's CNI error keeps the plugin's name, the operation, and the
// code/msg/details it printed (Go pkg/invoke passes the code through unchanged); everything else is a
// LibcniError whose message is one sentence a person can act on.

/** A failure that is not a plugin's own CNI error: config not found, plugin binary missing, bad cache dir... */
export class LibcniError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LibcniError";
  }
}

export type Op = "ADD" | "DEL" | "CHECK" | "GC" | "STATUS" | "VERSION";

/** A plugin answered an operation with a CNI error (or with no parsable answer, then code 999). */
export class PluginError extends Error {
  readonly plugin: string;
  readonly op: Op;
  readonly code: number;
  readonly msg: string;
  readonly details: string;
  constructor(o: { plugin: string; op: Op; code: number; msg: string; details?: string }) {
    const details = o.details ?? "";
    super(`plugin "${o.plugin}" failed (${o.op.toLowerCase()}): code ${o.code}: ${o.msg}${details ? `: ${details}` : ""}`);
    this.name = "PluginError";
    this.plugin = o.plugin;
    this.op = o.op;
    this.code = o.code;
    this.msg = o.msg;
    this.details = details;
  }
}
