#!/usr/bin/env bash
# `make demo-cluster`: three "nodes" on this host, each a network namespace on a private underlay bridge, each
# running `weft node` (the flanneld role) against one embedded lease store (--store file:<dir>); a pod on every
# node; cross-node ping (when ping is installed) and a TCP request; the routing table and the lease list printed;
# then everything removed (also on failure or Ctrl-C). No traffic leaves the demo's namespaces.
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUN="$ROOT/node_modules/.bin/bun"
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
info() { printf '    %s\n' "$*"; }
die() { printf '\033[31mdemo failed: %s\033[0m\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (it creates network namespaces)"
for tool in ip iptables; do command -v "$tool" >/dev/null || die "'$tool' is not installed ('make deps' installs it)"; done
# `weft node` from the built binary once it answers to it, else from the sources
if [ -x "$ROOT/build/bin/weft" ] && "$ROOT/build/bin/weft" node --help 2>/dev/null | grep -q "usage: weft node"; then
  NODE_CMD=("$ROOT/build/bin/weft" node)
else
  NODE_CMD=("$BUN" "$ROOT/plugins/node/dev.ts")
fi

ID="wdc$$"
UL="$ID-underlay"
DEMO=$(mktemp -d "/tmp/weft-demo-cluster.XXXXXX")
PIDS=()
NSES=("$UL")

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  say "Cleaning up"
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  for ns in "${NSES[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$DEMO"
  [ "$rc" = 0 ] && say "Done: every namespace, process and file of the demo is gone"
  exit "$rc"
}
trap cleanup EXIT INT TERM

say "Underlay: bridge br0 in namespace $UL"
ip netns add "$UL"; ip -n "$UL" link add br0 type bridge; ip -n "$UL" link set br0 up

mkdir -p "$DEMO/store"
echo '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}' > "$DEMO/store/config"
info "network config: $(cat "$DEMO/store/config")"

for i in 1 2 3; do
  n="$ID-node$i"; NSES+=("$n")
  ip netns add "$n"
  ip -n "$UL" link add "$ID-u$i" type veth peer name eth0 netns "$n"
  ip -n "$UL" link set "$ID-u$i" master br0 up
  ip -n "$n" addr add "192.0.2.$i/24" dev eth0
  ip -n "$n" link set eth0 up; ip -n "$n" link set lo up
  ip netns exec "$n" sysctl -qw net.ipv4.ip_forward=1
  say "node$i (192.0.2.$i): starting weft node"
  ip netns exec "$n" "${NODE_CMD[@]}" --store "file:$DEMO/store" --iface eth0 --subnet-file "$DEMO/subnet$i.env" \
    --ip-masq --healthz-port 8471 >"$DEMO/node$i.log" 2>&1 &
  PIDS+=($!)
done

for i in 1 2 3; do
  for _ in $(seq 100); do [ -s "$DEMO/subnet$i.env" ] && break; sleep 0.05; done
  [ -s "$DEMO/subnet$i.env" ] || { cat "$DEMO/node$i.log" >&2; die "node$i wrote no subnet.env"; }
done

say "Pods: one per node, on cni0 with the node's FLANNEL_SUBNET"
for i in 1 2 3; do
  n="$ID-node$i"; p="$ID-pod$i"; NSES+=("$p")
  # shellcheck disable=SC1090
  source "$DEMO/subnet$i.env"
  gw=${FLANNEL_SUBNET%/*}; len=${FLANNEL_SUBNET#*/}; pip="${gw%.*}.2"
  ip netns add "$p"
  ip -n "$n" link add cni0 mtu "$FLANNEL_MTU" type bridge
  ip -n "$n" addr add "$FLANNEL_SUBNET" dev cni0; ip -n "$n" link set cni0 up
  ip -n "$n" link add "veth$i" mtu "$FLANNEL_MTU" type veth peer name eth0 mtu "$FLANNEL_MTU" netns "$p"
  ip -n "$n" link set "veth$i" master cni0 up
  ip -n "$p" addr add "$pip/$len" dev eth0; ip -n "$p" link set eth0 up; ip -n "$p" link set lo up
  ip -n "$p" route add default via "$gw"
  info "pod$i: $pip (node$i subnet $FLANNEL_SUBNET, mtu $FLANNEL_MTU)"
  eval "POD$i=$pip"
done

say "TCP servers in every pod (port 8080)"
for i in 1 2 3; do
  ip_var="POD$i"
  ip netns exec "$ID-pod$i" "$BUN" -e "Bun.listen({hostname:'0.0.0.0',port:8080,socket:{open(s){s.end('hello from pod$i (${!ip_var})\n')},data(){}}})" &
  PIDS+=($!)
done
sleep 0.5

for _ in $(seq 100); do
  ok=1
  for i in 1 2 3; do [ "$(ip -n "$ID-node$i" route show | grep -c 'dev flannel.1')" = 2 ] || ok=0; done
  [ "$ok" = 1 ] && break; sleep 0.05
done

say "Cross-node traffic"
for pair in "1 2" "2 3" "3 1"; do
  set -- $pair; dst_var="POD$2"; dst=${!dst_var}
  if command -v ping >/dev/null; then
    ip netns exec "$ID-pod$1" ping -c 2 -W 1 "$dst" | sed -n '/packets transmitted/p' | sed "s/^/    ping pod$1 -> pod$2: /"
  fi
  reply=$(ip netns exec "$ID-pod$1" "$BUN" -e "let b='';await Bun.connect({hostname:'$dst',port:8080,socket:{data(s,d){b+=d},close(){console.log(b.trim());process.exit(0)},connectError(s,e){console.log('FAILED '+e.message);process.exit(1)}}});setTimeout(()=>{console.log('FAILED timeout');process.exit(1)},2000)")
  info "TCP pod$1 -> pod$2 ($dst:8080): $reply"
  [[ "$reply" == hello* ]] || die "pod$1 cannot reach pod$2"
done

say "Routing table of node1"
ip -n "$ID-node1" route show | sed 's/^/    /'
say "VXLAN neighbours and FDB of node1"
ip -n "$ID-node1" neigh show dev flannel.1 | sed 's/^/    neigh /'
bridge -n "$ID-node1" fdb show dev flannel.1 | grep dst | sed 's/^/    fdb /'
say "Leases ($DEMO/store/subnets)"
for f in "$DEMO"/store/subnets/*; do info "$(basename "$f"): $(cat "$f")"; done
say "weft node status on node1"
ip netns exec "$ID-node1" "${NODE_CMD[@]}" status --store "file:$DEMO/store" --iface eth0 | sed 's/^/    /' || true
say "node1's log"
sed 's/^/    /' "$DEMO/node1.log"
