#!/usr/bin/env bash
# Runs the whole suite with bun test and ends with the plain line "N passed, N failed" that CI reads.
# Refuses to start when a previous run left test namespaces behind, and checks again afterwards.
set -uo pipefail
cd "$(dirname "$0")/.."
BUN=node_modules/.bin/bun

# Test namespaces are named weft-t-<pid of the test process>-…; one whose process is gone is a leftover
# (a live one belongs to a run in progress elsewhere and is left alone).
leftovers() {
  local n pid
  for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^weft-t-' || true); do
    pid=${n#weft-t-}; pid=${pid%%-*}
    [ -d "/proc/$pid" ] || printf '%s ' "$n"
  done
}
left=$(leftovers)
if [ -n "$left" ]; then
  echo "refusing to run: a previous run left these test namespaces: $left" >&2
  echo "remove them with: for n in $left; do ip netns del \$n; done" >&2
  exit 1
fi

# What the machine's own namespace holds before the run: the suite must leave it exactly so.
host_state() {
  ip -o link show 2>/dev/null | awk -F': ' '{print "link " $2}' | cut -d@ -f1
  { iptables-save 2>/dev/null; ip6tables-save 2>/dev/null; } | grep -Eo '^:(CNI|FLANNEL)-[A-Za-z0-9-]+' | sed 's/^/chain /'
  find /var/lib/cni /run/flannel -type f 2>/dev/null | sed 's/^/file /'
}
before=$(host_state | sort -u)

log=$(mktemp /tmp/weft-test-XXXXXX.log)
trap 'rm -f "$log"' EXIT
$BUN test --timeout 120000 "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
pass=$(grep -aEo '^ *[0-9]+ pass' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
fail=$(grep -aEo '^ *[0-9]+ fail' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
left=$(leftovers)
if [ -n "$left" ]; then
  echo "the tests left namespaces behind: $left" >&2
  fail=$((fail + 1)); rc=1
fi
added=$(comm -13 <(echo "$before") <(host_state | sort -u))
if [ -n "$added" ]; then
  echo "the tests left this in the machine's own namespace (they must work only in namespaces they create):" >&2
  echo "$added" | sed 's/^/  /' >&2
  fail=$((fail + 1)); rc=1
fi
[ "$rc" -ne 0 ] && [ "$fail" -eq 0 ] && fail=1
echo "${pass} passed, ${fail} failed"
exit "$rc"
