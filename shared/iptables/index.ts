// shared/iptables: the only way weft touches iptables. Binaries run with argument arrays (never a shell) and
// `-w`; changes go in as one iptables-restore --noflush transaction; chain names hash like the reference's.
// ipmasq.ts (bridge's masquerade rules) lives beside this module and is exported from its own file.
export { IptablesError, EXIT_NOT_FOUND, binaryName, chainExists, iptables, restore, save, saveAsync, type Family } from "./exec.ts";
export { HASHED_CHAIN_LENGTH, hashedChainName } from "./hash.ts";
export { IPTABLES_LOCK_PATH, withIptablesLock } from "./lock.ts";
export { parseSave, quoteRuleArg, ruleLine, splitRuleArgs, type SavedRule, type SavedTable } from "./rules.ts";
