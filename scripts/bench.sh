#!/usr/bin/env bash
# Runs scripts/bench.ts inside a private "bench host" network namespace, removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
ns="weft-b-host-$$"
cleanup() {
  for n in $(ip netns list | awk '{print $1}' | grep "^weft-b-" || true); do ip netns del "$n" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM
ip netns add "$ns"
ip -n "$ns" link set lo up
ip netns exec "$ns" node_modules/.bin/bun scripts/bench.ts
