// flannel's network config (flannel-io/cni-plugin flannel.go NetConf; cni-notes §3.1): types, parsing and the
// defaults, in one place. The delegate's own keys are not checked here (DEL must work with any of them); the
// rules about `delegate` live in delegate-conf.ts, which only ADD, GC and STATUS use.
import { isAbsolute } from "node:path";
import { CniCode, CniError } from "../../../shared/cni/errors.ts";
import { parseConfig } from "../../../shared/config/index.ts";
import gen from "../../../shared/config/gen/flannel.js";

/** A route in `ipam.routes`, as Go's types.Route decodes it. */
export interface RouteConf {
  dst: string;
  gw?: string | null;
  mtu?: number | null;
  advmss?: number | null;
  priority?: number | null;
  table?: number | null;
  scope?: number | null;
}

/** The IPAM base block: `type` and `routes` are read; every other key (not typed here) goes to the delegate as it is. */
export interface IpamConf {
  type?: string | null;
  routes?: RouteConf[] | null;
}

/** The config as received (keys already in canonical spelling). */
export interface FlannelNetConf {
  cniVersion?: string;
  name: string;
  type?: string;
  /** @default "/run/flannel/subnet.env" */
  subnetFile?: string | null;
  /** @default "/var/lib/cni/flannel" */
  dataDir?: string | null;
  /** The base of the delegate's config. @default {} */
  delegate?: Record<string, unknown> | null;
  ipam?: IpamConf | null;
  runtimeConfig?: Record<string, unknown> | null;
}

/** The resolved config: defaults applied. */
export interface FlannelConfig {
  name: string;
  /** The config's own cniVersion, undefined when it has none (then the delegate's is left alone). */
  cniVersion: string | undefined;
  subnetFile: string;
  dataDir: string;
  delegate: Record<string, unknown>;
  ipam: IpamConf | undefined;
  runtimeConfig: Record<string, unknown> | undefined;
  /** The whole config as received (keys normalised), for keys forwarded verbatim (GC's attachments). */
  raw: Readonly<Record<string, unknown>>;
}

export const DEFAULT_SUBNET_FILE = "/run/flannel/subnet.env";
export const DEFAULT_DATA_DIR = "/var/lib/cni/flannel";

/**
 * Validates the config (raw stdin JSON, so a missing cniVersion stays missing) and applies the defaults. An empty
 * `subnetFile`/`dataDir` counts as unset.
 * @throws {CniError} code 7 naming the bad key
 */
export function parseFlannelConfig(raw: unknown): FlannelConfig {
  const c = parseConfig<FlannelNetConf>(gen, raw, "flannel config");
  const dataDir = c.dataDir || DEFAULT_DATA_DIR;
  if (!isAbsolute(dataDir) || dataDir.includes("\0") || dataDir.split("/").includes("..")) {
    throw new CniError(CniCode.InvalidConfig, `Invalid flannel config: "dataDir" must be an absolute path without ".." segments`, `got ${JSON.stringify(dataDir)}`);
  }
  const subnetFile = c.subnetFile || DEFAULT_SUBNET_FILE;
  if (subnetFile.includes("\0")) throw new CniError(CniCode.InvalidConfig, `Invalid flannel config: "subnetFile" contains a NUL character`);
  return {
    name: c.name,
    cniVersion: c.cniVersion || undefined,
    subnetFile,
    dataDir,
    delegate: c.delegate ?? {},
    ipam: c.ipam ?? undefined,
    runtimeConfig: c.runtimeConfig ?? undefined,
    raw: c as unknown as Record<string, unknown>,
  };
}
