// Command-line flags of `weft node`, named as flanneld's (main.go) where they mean the same, each also settable
// as FLANNELD_<NAME> (upper case, "-" → "_"; a flag on the command line wins, as flagutil.SetFlagsFromEnv does).
// Accepts Go's spellings: `--flag=value`, `--flag value`, `-flag`, and bare `--bool-flag`.

export interface NodeFlags {
  /** @default ["http://127.0.0.1:4001", "http://127.0.0.1:2379"] */
  etcdEndpoints: string[];
  /** @default "/coreos.com/network" */
  etcdPrefix: string;
  /** weft: `file:<dir>` for the embedded store; etcd otherwise. */
  store?: string;
  /** @default "/run/flannel/subnet.env" */
  subnetFile: string;
  /** Interface names or IPs, in order of preference. */
  iface: string[];
  publicIp?: string;
  /** The IPv6 address other nodes reach this node at (dual stack); default: the interface's first global IPv6 address. */
  publicIpv6?: string;
  /** @default false */
  ipMasq: boolean;
  /** @default true */
  iptablesForwardRules: boolean;
  /** Seconds between iptables checks. @default 5 */
  iptablesResync: number;
  /** Minutes before expiry at which the lease is renewed. @default 60 */
  subnetLeaseRenewMargin: number;
  /** @default "127.0.0.1" (flanneld: 0.0.0.0; weft binds loopback unless told) */
  healthzIp: string;
  /** 0 = no health server. @default 0 */
  healthzPort: number;
  /** weft: seconds between full reconciles of the data plane with the leases. @default 10 */
  reconcileInterval: number;
  help: boolean;
}

type Kind = "string" | "list" | "bool" | "int";
interface FlagDef {
  name: string;
  key: keyof NodeFlags;
  kind: Kind;
  help: string;
}

const DEFS: FlagDef[] = [
  { name: "etcd-endpoints", key: "etcdEndpoints", kind: "list", help: "comma-separated etcd endpoints" },
  { name: "etcd-prefix", key: "etcdPrefix", kind: "string", help: "etcd prefix of the network config and leases" },
  { name: "store", key: "store", kind: "string", help: 'lease store: "file:<dir>" (one machine) or "etcd" (default)' },
  { name: "subnet-file", key: "subnetFile", kind: "string", help: "file the flannel CNI plugin reads" },
  { name: "iface", key: "iface", kind: "list", help: "interface (name or IP) for inter-node traffic; repeatable" },
  { name: "public-ip", key: "publicIp", kind: "string", help: "IP address other nodes reach this node at" },
  { name: "public-ipv6", key: "publicIpv6", kind: "string", help: "IPv6 address other nodes reach this node at (dual stack)" },
  { name: "ip-masq", key: "ipMasq", kind: "bool", help: "masquerade traffic leaving the pod network" },
  { name: "iptables-forward-rules", key: "iptablesForwardRules", kind: "bool", help: "accept forwarded pod traffic (FLANNEL-FWD)" },
  { name: "iptables-resync", key: "iptablesResync", kind: "int", help: "seconds between iptables checks" },
  { name: "subnet-lease-renew-margin", key: "subnetLeaseRenewMargin", kind: "int", help: "minutes before expiry to renew the lease (1-1439)" },
  { name: "healthz-ip", key: "healthzIp", kind: "string", help: "address of the /healthz and /readyz server" },
  { name: "healthz-port", key: "healthzPort", kind: "int", help: "port of the health server (0 = off)" },
  { name: "reconcile-interval", key: "reconcileInterval", kind: "int", help: "seconds between full data-plane reconciles" },
  { name: "help", key: "help", kind: "bool", help: "print this help" },
];

export class FlagError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = "FlagError";
  }
}

export function defaultFlags(): NodeFlags {
  return {
    etcdEndpoints: ["http://127.0.0.1:4001", "http://127.0.0.1:2379"],
    etcdPrefix: "/coreos.com/network",
    subnetFile: "/run/flannel/subnet.env",
    iface: [],
    ipMasq: false,
    iptablesForwardRules: true,
    iptablesResync: 5,
    subnetLeaseRenewMargin: 60,
    healthzIp: "127.0.0.1",
    healthzPort: 0,
    reconcileInterval: 10,
    help: false,
  };
}

export function usage(): string {
  const lines = DEFS.map((d) => `  --${d.name.padEnd(28)} ${d.help} (env FLANNELD_${d.name.toUpperCase().replace(/-/g, "_")})`);
  return `usage: weft node [flags]\n       weft node status [flags]\n${lines.join("\n")}\n`;
}

function setValue(out: NodeFlags, d: FlagDef, raw: string, from: string, append: boolean): void {
  const rec = out as unknown as Record<string, unknown>;
  switch (d.kind) {
    case "string":
      rec[d.key] = raw;
      break;
    case "list": {
      const items = raw.split(",").map((s) => s.trim()).filter((s) => s !== "");
      rec[d.key] = append ? [...(rec[d.key] as string[]), ...items] : items;
      break;
    }
    case "bool":
      if (!/^(1|0|t|f|true|false|TRUE|FALSE|True|False)$/.test(raw)) throw new FlagError(`Invalid ${from}: "${raw}" is not a boolean`);
      rec[d.key] = /^(1|t|true)$/i.test(raw);
      break;
    case "int":
      if (!/^\d+$/.test(raw)) throw new FlagError(`Invalid ${from}: "${raw}" is not a non-negative integer`);
      rec[d.key] = Number(raw);
      break;
  }
}

/**
 * Parses argv (after `weft node [status]`) and the FLANNELD_* variables of `env`.
 * @throws {FlagError} an unknown flag, a missing or malformed value, or a value out of range
 */
export function parseFlags(argv: readonly string[], env: Record<string, string | undefined>): NodeFlags {
  const out = defaultFlags();
  const byName = new Map(DEFS.map((d) => [d.name, d]));
  const seen = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const m = /^--?([a-z0-9-]+)(?:=(.*))?$/s.exec(a);
    if (!m) throw new FlagError(`Unexpected argument "${a}": flags start with "--" (see --help)`);
    const d = byName.get(m[1]!);
    if (!d) throw new FlagError(`Unknown flag "--${m[1]}" (see --help)`);
    let value = m[2];
    if (value === undefined) {
      if (d.kind === "bool") value = "true";
      else {
        value = argv[++i];
        if (value === undefined) throw new FlagError(`Flag "--${d.name}" needs a value`);
      }
    }
    // a repeated --iface adds to the list; the first occurrence replaces the default
    setValue(out, d, value, `--${d.name}`, d.name === "iface" && seen.has(d.name));
    seen.add(d.name);
  }
  for (const d of DEFS) {
    const envName = `FLANNELD_${d.name.toUpperCase().replace(/-/g, "_")}`;
    const v = env[envName];
    if (v !== undefined && !seen.has(d.name) && d.name !== "help") setValue(out, d, v, envName, false);
  }
  if (out.subnetLeaseRenewMargin < 1 || out.subnetLeaseRenewMargin > 1439) {
    throw new FlagError(`Invalid --subnet-lease-renew-margin ${out.subnetLeaseRenewMargin}: it must be between 1 and 1439 minutes`);
  }
  if (out.healthzPort > 65535) throw new FlagError(`Invalid --healthz-port ${out.healthzPort}: it must be at most 65535`);
  if (out.iptablesResync < 1) throw new FlagError("Invalid --iptables-resync: it must be at least 1 second");
  if (out.reconcileInterval < 1) throw new FlagError("Invalid --reconcile-interval: it must be at least 1 second");
  return out;
}
