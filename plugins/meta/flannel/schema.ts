// JSON schema of the flannel plugin's network config (flannel-io/cni-plugin flannel.go NetConf, and Go's
// types.Route for `ipam.routes`). Compiled into shared/config/gen/flannel.js by scripts/gen-validators.ts.
// Only types are checked here; defaults and the `delegate` rules live in config.ts and delegate-conf.ts.
import type { JSONSchemaType } from "ajv";
import { anyObject, netConfKeys, optStr, route } from "../../../shared/config/schema-parts.ts";
import type { FlannelNetConf } from "./config.ts";


const flannel: JSONSchemaType<FlannelNetConf> = {
  type: "object",
  required: ["name"],
  properties: {
    ...netConfKeys,
    subnetFile: optStr,
    dataDir: optStr,
    delegate: anyObject,
    ipam: {
      type: "object",
      nullable: true,
      required: [],
      properties: {
        type: optStr,
        routes: { type: "array", nullable: true, items: route },
      },
    },
    runtimeConfig: anyObject,
  },
};

export const schemas = { flannel };
