// Validation of the identifiers the spec constrains (Go pkg/utils/utils.go): container IDs, interface names,
// network names and plugin names. Each returns a message a person can act on, or undefined when valid.

const ID_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const MAX_ID_BYTES = 1024;

export function containerIdProblem(id: string): string | undefined {
  if (id === "") return "the container ID is empty";
  if (Buffer.byteLength(id) > MAX_ID_BYTES) return `the container ID is longer than ${MAX_ID_BYTES} bytes`;
  if (!ID_RE.test(id)) return `invalid characters in containerID "${printable(id)}" (allowed: letters, digits, "_", ".", "-", not first)`;
  return undefined;
}

/** Linux IFNAMSIZ is 16 including the NUL: at most 15 bytes. */
export function ifnameProblem(name: string): string | undefined {
  if (name === "") return "the interface name is empty";
  if (Buffer.byteLength(name) > 15) return `interface name "${printable(name)}" is too long (at most 15 bytes)`;
  if (name === "." || name === "..") return `interface name "${name}" is not allowed`;
  if (/[/:\s\0]/.test(name)) return `interface name "${printable(name)}" contains / or : or whitespace characters`;
  return undefined;
}

export function networkNameProblem(name: string): string | undefined {
  if (name === "") return "missing network name";
  if (Buffer.byteLength(name) > 1024) return "network name is longer than 1024 bytes";
  if (!ID_RE.test(name) || name === "." || name === "..") return `invalid characters found in network name "${printable(name)}"`;
  return undefined;
}

/** Control characters shown escaped, so a message stays one readable line. */
export function printable(s: string): string {
  const t = s.length > 80 ? `${s.slice(0, 77)}...` : s;
  return JSON.stringify(t).slice(1, -1);
}
