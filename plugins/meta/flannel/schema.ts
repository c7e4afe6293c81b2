// JSON schema of the flannel plugin's network config (flannel-io/cni-plugin flannel.go NetConf, and Go's
// types.Route for `ipam.routes`). Compiled into shared/config/gen/flannel.js by scripts/gen-validators.ts.
// Only types are checked here; defaults and the `delegate` rules live in config.ts and delegate-conf.ts.
import type { JSONSchemaType } from "ajv";
import type { FlannelNetConf } from "./config.ts";

const optInt = { type: "integer", nullable: true } as const;
const optStr = { type: "string", nullable: true } as const;
const anyObject = { type: "object", nullable: true, required: [] } as const;

const flannel: JSONSchemaType<FlannelNetConf> = {
  type: "object",
  required: ["name"],
  properties: {
    cniVersion: optStr,
    name: { type: "string" },
    type: optStr,
    subnetFile: optStr,
    dataDir: optStr,
    delegate: anyObject,
    ipam: {
      type: "object",
      nullable: true,
      required: [],
      properties: {
        type: optStr,
        routes: {
          type: "array",
          nullable: true,
          items: {
            type: "object",
            required: ["dst"] as const,
            properties: { dst: { type: "string" }, gw: optStr, mtu: optInt, advmss: optInt, priority: optInt, table: optInt, scope: optInt },
          },
        },
      },
    },
    runtimeConfig: anyObject,
  },
};

export const schemas = { flannel };
