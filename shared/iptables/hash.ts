// Chain names derived from a hash, identical to the reference's (containernetworking/plugins
// pkg/utils/utils.go MustFormatHashWithPrefix): prefix + lowercase hex SHA-512, cut to 28 characters, the
// longest name iptables accepts with room to spare. DEL finds a container's chains by recomputing the name.

/** Length of every hashed chain name (Go maxChainLength). */
export const HASHED_CHAIN_LENGTH = 28;

/**
 * `prefix` + hex SHA-512 of the concatenated `parts`, truncated to 28 characters:
 * `hashedChainName("CNI-DN-", "cbr0", "0123456789abcdef")` → `CNI-DN-8cbe06c6d4b297670ecbf`.
 * @throws {RangeError} when the prefix leaves no room for the hash
 */
export function hashedChainName(prefix: string, ...parts: string[]): string {
  if (prefix.length >= HASHED_CHAIN_LENGTH) throw new RangeError(`chain prefix "${prefix}" is too long`);
  const hex = new Bun.CryptoHasher("sha512").update(parts.join("")).digest("hex");
  return (prefix + hex).slice(0, HASHED_CHAIN_LENGTH);
}
