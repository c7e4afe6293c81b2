// CNI error codes (SPEC §5 "Error") and the one error type that crosses the protocol boundary.
// Lower layers throw typed errors (SysError, NetlinkError, …); toCniError() maps them once, at the boundary.

/** The spec's well-known error codes; weft-specific codes start at 100. */
export const CniCode = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnv: 4,
  IoFailure: 5,
  DecodingFailure: 6,
  InvalidConfig: 7,
  InvalidNetns: 8,
  TryAgainLater: 11,
  NotAvailable: 50,
  LimitedConnectivity: 51,
  Internal: 999,
} as const;
export type CniCodeValue = (typeof CniCode)[keyof typeof CniCode] | number;

/** An error as the spec prints it: `{cniVersion, code, msg, details}`. */
export class CniError extends Error {
  readonly code: number;
  readonly msg: string;
  readonly details: string;
  constructor(code: CniCodeValue, msg: string, details = "") {
    super(details ? `${msg}: ${details}` : msg);
    this.name = "CniError";
    this.code = code;
    this.msg = msg;
    this.details = details;
  }

  /** The error with `prefix: ` before its message, code and details kept. */
  wrap(prefix: string): CniError {
    return new CniError(this.code, `${prefix}: ${this.msg}`, this.details);
  }

  toJSON(cniVersion: string): { cniVersion: string; code: number; msg: string; details?: string } {
    const out: { cniVersion: string; code: number; msg: string; details?: string } = {
      cniVersion,
      code: this.code,
      msg: this.msg,
    };
    if (this.details) out.details = this.details;
    return out;
  }
}

/** Maps any thrown value to a CniError: a CniError passes through unchanged, anything else is code 999. */
export function toCniError(e: unknown): CniError {
  if (e instanceof CniError) return e;
  if (e instanceof Error) {
    const code = (e as { cniCode?: unknown }).cniCode;
    return new CniError(typeof code === "number" ? code : CniCode.Internal, e.message);
  }
  return new CniError(CniCode.Internal, String(e));
}

/** Runs `fn`; a failure becomes a CniError whose message starts with `prefix` (the code is kept). */
export function withContext<T>(prefix: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw toCniError(e).wrap(prefix);
  }
}
