import { expect, test } from "bun:test";
import { FlagError, defaultFlags, parseFlags } from "./flags.ts";

test("parseFlags() takes Go's spellings and repeated --iface", () => {
  const f = parseFlags(["--etcd-endpoints=http://a:1,http://b:2", "-ip-masq", "--iface", "eth1", "--iface=10.0.0.1", "--healthz-port", "8471", "--iptables-forward-rules=false"], {});
  expect(f.etcdEndpoints).toEqual(["http://a:1", "http://b:2"]);
  expect(f.ipMasq).toBe(true);
  expect(f.iface).toEqual(["eth1", "10.0.0.1"]);
  expect(f.healthzPort).toBe(8471);
  expect(f.iptablesForwardRules).toBe(false);
});

test("FLANNELD_* variables apply unless the flag is given", () => {
  const env = { FLANNELD_ETCD_PREFIX: "/x/network", FLANNELD_IP_MASQ: "true", FLANNELD_SUBNET_FILE: "/env.env" };
  const f = parseFlags(["--subnet-file", "/flag.env"], env);
  expect([f.etcdPrefix, f.ipMasq, f.subnetFile]).toEqual(["/x/network", true, "/flag.env"]);
  expect(parseFlags([], {}).etcdPrefix).toBe(defaultFlags().etcdPrefix);
});

test.each([
  { argv: ["--nope"], msg: 'Unknown flag "--nope"' },
  { argv: ["--iface"], msg: "needs a value" },
  { argv: ["--healthz-port", "x"], msg: "not a non-negative integer" },
  { argv: ["--subnet-lease-renew-margin", "1440"], msg: "between 1 and 1439" },
  { argv: ["--ip-masq=yes"], msg: "not a boolean" },
  { argv: ["stray"], msg: "Unexpected argument" },
])("parseFlags() rejects $argv", ({ argv, msg }) => {
  expect(() => parseFlags(argv, {})).toThrow(FlagError);
  expect(() => parseFlags(argv, {})).toThrow(msg);
});
