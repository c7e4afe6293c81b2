// JSON schema of the portmap plugin's network config (keys of containernetworking/plugins v1.9.1
// plugins/meta/portmap/main.go PortMapConf). Compiled into shared/config/gen/portmap.js by scripts/gen-validators.ts.
// Only types are checked here; ranges, defaults and cross-key rules live in config.ts.
import type { JSONSchemaType } from "ajv";
import { netConfKeys, optBool, optInt, optStr, optStrList } from "../../../shared/config/schema-parts.ts";
import type { PortmapNetConf } from "./config.ts";


const portmap: JSONSchemaType<PortmapNetConf> = {
  type: "object",
  required: ["name"],
  properties: {
    ...netConfKeys,
    backend: optStr,
    snat: optBool,
    masqAll: optBool,
    markMasqBit: optInt,
    externalSetMarkChain: optStr,
    conditionsV4: optStrList,
    conditionsV6: optStrList,
    runtimeConfig: {
      type: "object",
      nullable: true,
      properties: {
        portMappings: {
          type: "array",
          nullable: true,
          items: {
            type: "object",
            required: ["hostPort", "containerPort"],
            properties: {
              hostPort: { type: "integer" },
              containerPort: { type: "integer" },
              protocol: optStr,
              hostIP: optStr,
            },
          },
        },
      },
    },
  },
};

export const schemas = { portmap };
