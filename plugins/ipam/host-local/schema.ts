// JSON schema of host-local's network config (containernetworking/plugins v1.9.1
// plugins/ipam/host-local/backend/allocator/config.go `Net`/`IPAMConfig`/`Range`). Compiled into
// shared/config/gen/host-local.js by scripts/gen-validators.ts. Only types are checked here; address syntax,
// ranges, defaults and path rules live in config.ts. Optional keys are nullable: Go treats null as absent.
import type { JSONSchemaType } from "ajv";
import { optStr, optStrList, route as routeSchema } from "../../../shared/config/schema-parts.ts";
import type { RawNetConf, RawRange, RawRoute } from "./config.ts";


const range: JSONSchemaType<RawRange> = {
  type: "object",
  required: ["subnet"],
  properties: { subnet: { type: "string" }, rangeStart: optStr, rangeEnd: optStr, gateway: optStr },
};

const rangeSets = { type: "array", nullable: true, items: { type: "array", items: range } } as const;

const route: JSONSchemaType<RawRoute> = routeSchema;

const hostLocal: JSONSchemaType<RawNetConf> = {
  type: "object",
  required: ["name", "ipam"],
  properties: {
    name: { type: "string" },
    cniVersion: optStr,
    ipam: {
      type: "object",
      properties: {
        type: optStr,
        subnet: optStr,
        rangeStart: optStr,
        rangeEnd: optStr,
        gateway: optStr,
        ranges: rangeSets,
        routes: { type: "array", nullable: true, items: route },
        dataDir: optStr,
        resolvConf: optStr,
      },
    },
    runtimeConfig: {
      type: "object",
      nullable: true,
      properties: { ips: optStrList, ipRanges: rangeSets },
    },
    args: {
      type: "object",
      nullable: true,
      properties: {
        cni: { type: "object", nullable: true, properties: { ips: optStrList } },
      },
    },
  },
};

export const schemas = { "host-local": hostLocal };
