// Schema fragments the plugins' schema.ts files share (compiled by scripts/gen-validators.ts at build time).
// Optional keys are nullable: Go treats null as absent. `route` is Go's types.Route as a network config
// writes it (`ipam.routes` items): dst required, the rest optional.

export const optStr = { type: "string", nullable: true } as const;
export const optInt = { type: "integer", nullable: true } as const;
export const optBool = { type: "boolean", nullable: true } as const;
export const optStrList = { type: "array", nullable: true, items: { type: "string" } } as const;
/** An object whose contents config.ts checks itself (or passes on untouched). */
export const anyObject = { type: "object", nullable: true, required: [] } as const;

/** The keys every plugin's network config starts with (CNI spec "Network configuration"), in this order. */
export const netConfKeys = { cniVersion: optStr, name: { type: "string" }, type: optStr } as const;

export const route = {
  type: "object",
  required: ["dst"],
  properties: { dst: { type: "string" }, gw: optStr, mtu: optInt, advmss: optInt, priority: optInt, table: optInt, scope: optInt },
} as const;
