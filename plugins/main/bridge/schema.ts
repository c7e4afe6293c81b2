// JSON schema of the bridge plugin's network config (keys of containernetworking/plugins v1.9.1
// plugins/main/bridge/bridge.go NetConf). Compiled into shared/config/gen/bridge.js by scripts/gen-validators.ts.
// Only types are checked here; ranges, defaults and cross-key rules live in config.ts.
import type { JSONSchemaType } from "ajv";
import { netConfKeys, optBool, optInt, optStr, optStrList } from "../../../shared/config/schema-parts.ts";
import type { BridgeNetConf } from "./config.ts";


const bridge: JSONSchemaType<BridgeNetConf> = {
  type: "object",
  required: ["name"],
  properties: {
    ...netConfKeys,
    bridge: optStr,
    isGateway: optBool,
    isDefaultGateway: optBool,
    forceAddress: optBool,
    ipMasq: optBool,
    ipMasqBackend: optStr,
    mtu: optInt,
    hairpinMode: optBool,
    promiscMode: optBool,
    vlan: optInt,
    vlanTrunk: {
      type: "array",
      nullable: true,
      items: {
        type: "object",
        properties: { id: optInt, minID: optInt, maxID: optInt },
      },
    },
    preserveDefaultVlan: optBool,
    enabledad: optBool,
    macspoofchk: optBool,
    disableContainerInterface: optBool,
    portIsolation: optBool,
    ipam: {
      type: "object",
      nullable: true,
      properties: { type: optStr },
    },
    dns: {
      type: "object",
      nullable: true,
      properties: { nameservers: optStrList, domain: optStr, search: optStrList, options: optStrList },
    },
    args: {
      type: "object",
      nullable: true,
      properties: {
        cni: { type: "object", nullable: true, properties: { mac: optStr } },
      },
    },
    runtimeConfig: {
      type: "object",
      nullable: true,
      properties: { mac: optStr },
    },
  },
};

export const schemas = { bridge };
