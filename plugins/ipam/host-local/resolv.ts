// resolvConf → the result's `dns`, parsed as plugins/ipam/host-local/dns.go does: `nameserver`, `domain`,
// `search` and `options` lines; comments (# ;) and lines with fewer than two fields are skipped.
import { readFileSync } from "node:fs";
import { CniCode, CniError } from "../../../shared/cni/errors.ts";
import type { DNS } from "../../../shared/cni/result.ts";

/** @throws {CniError} code 5 when the file cannot be read */
export function readResolvConf(path: string): DNS {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new CniError(CniCode.IoFailure, `Cannot read resolvConf "${path}"`, (e as Error).message);
  }
  return parseResolvConf(text);
}

export function parseResolvConf(text: string): DNS {
  const dns: DNS = {};
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const [key, ...rest] = line.split(/\s+/);
    if (rest.length === 0) continue;
    switch (key) {
      case "nameserver":
        (dns.nameservers ??= []).push(rest[0]!);
        break;
      case "domain":
        dns.domain = rest[0]!;
        break;
      case "search":
        (dns.search ??= []).push(...rest);
        break;
      case "options":
        (dns.options ??= []).push(...rest);
        break;
    }
  }
  return dns;
}
