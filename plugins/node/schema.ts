// JSON schema of flanneld's network config (`<prefix>/config` in etcd, `<dir>/config` in the file store): the keys of
// flannel-io/flannel pkg/subnet/config.go Config and pkg/backend/vxlan VXLANConfig. Compiled by scripts/gen-validators.ts
// into shared/config/gen/node-netconf.js. Only types are checked here; defaults and ranges live in config.ts.
import type { JSONSchemaType } from "ajv";
import { optBool, optInt, optStr } from "../../shared/config/schema-parts.ts";
import type { NetConfRaw } from "./config.ts";

const netconf: JSONSchemaType<NetConfRaw> = {
  type: "object",
  properties: {
    Network: optStr,
    SubnetLen: optInt,
    SubnetMin: optStr,
    SubnetMax: optStr,
    EnableIPv4: optBool,
    EnableIPv6: optBool,
    IPv6Network: optStr,
    IPv6SubnetLen: optInt,
    IPv6SubnetMin: optStr,
    IPv6SubnetMax: optStr,
    EnableNFTables: optBool,
    Backend: {
      type: "object",
      nullable: true,
      properties: {
        Type: optStr,
        VNI: optInt,
        Port: optInt,
        MTU: optInt,
        GBP: optBool,
        Learning: optBool,
        DirectRouting: optBool,
      },
    },
  },
};

export const schemas = { "node-netconf": netconf };
