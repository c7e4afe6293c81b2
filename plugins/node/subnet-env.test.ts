import { expect, test } from "bun:test";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../test/helpers/plugin.ts";
import { tryParseCidr4 } from "./ip4.ts";
import { formatSubnetEnv, readPreviousSubnet, writeSubnetEnv } from "./subnet-env.ts";

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
