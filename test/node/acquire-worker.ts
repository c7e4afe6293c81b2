// Child process for the multi-process lease test: acquires one lease for the public IP in argv and prints its subnet.
import { parseNetConf } from "../../plugins/node/config.ts";
import { formatCidr4 } from "../../plugins/node/ip4.ts";
import { acquireLease } from "../../plugins/node/lease.ts";
import { openStore } from "../../plugins/node/store/store.ts";

const [storeArg, endpoint, prefix, publicIp] = process.argv.slice(2) as [string, string, string, string];
const store = await openStore({ store: storeArg, endpoints: [endpoint], prefix: prefix || "/coreos.com/network" });
const conf = parseNetConf((await store.getConfig())!);
const got = await acquireLease({ store, conf, attrs: { PublicIP: publicIp, BackendType: "vxlan" } });
console.log(formatCidr4(got.subnet));
