import { expect, test } from "bun:test";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../test/helpers/plugin.ts";
import { tryParseCidr4 } from "./ip4.ts";
import { tryParseCidr6 } from "./ip6.ts";
import { formatSubnetEnv, readPreviousSubnet, readPreviousSubnets, writeSubnetEnv } from "./subnet-env.ts";

const env = { network: tryParseCidr4("10.244.0.0/16")!, subnet: tryParseCidr4("10.244.1.0/24")!, mtu: 1450, ipMasq: true };

test("formatSubnetEnv() writes flanneld's exact lines", () => {
  expect(formatSubnetEnv(env)).toBe("FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n");
});

test("writeSubnetEnv() creates the directory, writes mode 0644 atomically, and readPreviousSubnet() reads it back", () => {
  using d = tempDir("subnetenv");
  const p = join(d.path, "run/flannel/subnet.env");
  writeSubnetEnv(p, env);
  expect(statSync(p).mode & 0o777).toBe(0o644);
  expect(readFileSync(p, "utf8")).toBe(formatSubnetEnv(env));
  expect(readPreviousSubnet(p)).toEqual(tryParseCidr4("10.244.1.0/24")!);
});

test("readPreviousSubnet(): missing file, a comma list, and garbage give undefined", () => {
  using d = tempDir("subnetenv");
  const p = join(d.path, "subnet.env");
  expect(readPreviousSubnet(p)).toBeUndefined();
  writeFileSync(p, "FLANNEL_SUBNET=10.1.1.1/24,10.1.2.1/24\n");
  expect(readPreviousSubnet(p)).toBeUndefined();
  writeFileSync(p, "FLANNEL_SUBNET=banana\n");
  expect(readPreviousSubnet(p)).toBeUndefined();
});

test("dual stack: formatSubnetEnv() puts the IPv6 lines after the IPv4 ones; readPreviousSubnets() reads both back", () => {
  using d = tempDir("subnetenv");
  const p = join(d.path, "subnet.env");
  const dual = { ...env, ipv6: { network: tryParseCidr6("fd00:10::/48")!, subnet: tryParseCidr6("fd00:10:0:1a::/64")! } };
  expect(formatSubnetEnv(dual)).toBe(
    "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_IPV6_NETWORK=fd00:10::/48\nFLANNEL_IPV6_SUBNET=fd00:10:0:1a::1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n",
  );
  writeSubnetEnv(p, dual);
  const prev = readPreviousSubnets(p);
  expect(prev).toEqual({ subnet: tryParseCidr4("10.244.1.0/24")!, ipv6Subnet: tryParseCidr6("fd00:10:0:1a::/64")! });
  writeSubnetEnv(p, env);
  expect(readPreviousSubnets(p)).toEqual({ subnet: tryParseCidr4("10.244.1.0/24")! });
  writeFileSync(p, "FLANNEL_IPV6_SUBNET=fd00::1/64,fd01::1/64\nFLANNEL_SUBNET=10.1.1.1/24\n");
  expect(readPreviousSubnets(p)).toEqual({ subnet: tryParseCidr4("10.1.1.0/24")! });
  expect(readPreviousSubnets(join(d.path, "missing"))).toEqual({});
});
