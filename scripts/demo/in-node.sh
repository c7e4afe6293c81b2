#!/usr/bin/env bash
# The part of `make demo` that runs inside the node's private mount namespace (scripts/demo.sh starts it with
# `unshare --mount`): bind-mounts the demo's directories over /run/flannel, /var/lib/cni and /etc/cni/net.d,
# then drives the stock conflist with `weft add`/`weft del` inside the node's netns, as kubelet's runtime would,
# checks the pods' connectivity and hostPort, and shows that DEL leaves nothing behind.
# Inputs (environment): DEMO, NODE, CLIENT, PODS_LIST, UPLINK, ROOT.
set -Eeuo pipefail

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
info() { printf '    %s\n' "$*"; }
die() { printf '\033[31mdemo failed: %s\033[0m\n' "$*" >&2; exit 1; }
read -r -a PODS <<<"$PODS_LIST"
BIN="$DEMO/bin"
SERVER_PID=""
stop_server() { if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""; fi; }
trap stop_server EXIT

mount --bind "$DEMO/run-flannel" /run/flannel
mount --bind "$DEMO/var-lib-cni" /var/lib/cni
mount --bind "$DEMO/etc-cni-net.d" /etc/cni/net.d
info "/run/flannel, /var/lib/cni and /etc/cni/net.d are the demo's directories (private to this mount namespace)"

# Everything CNI runs in the node's netns, with the plugins from the demo's bin dir and the stock paths.
node() { ip netns exec "$NODE" env CNI_PATH="$BIN" "$@"; }
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
if command -v ping >/dev/null; then PING=(ping); elif command -v busybox >/dev/null; then PING=(busybox ping); else die "neither ping nor busybox is installed"; fi
ip_of() { in_ns "$1" ip -4 -o addr show dev eth0 | awk '{print $4}'; }

HOSTPORT=8080
say "Adding the pods with the stock conflist (flannel -> bridge -> host-local, then portmap)"
for i in "${!PODS[@]}"; do
  pod=${PODS[$i]}
  cap='{}'
  [ "$i" = 0 ] && cap="{\"portMappings\":[{\"hostPort\":$HOSTPORT,\"containerPort\":80,\"protocol\":\"tcp\"}]}"
  t0=$(date +%s%N)
  node "$BIN/weft" add cbr0 "/run/netns/$pod" --cap "$cap" >/dev/null || die "weft add failed for $pod"
  info "$pod: eth0 $(ip_of "$pod") ($(ms_since "$t0") ms)$([ "$i" = 0 ] && echo ", hostPort $HOSTPORT -> 80")"
done
info "node: cni0 $(in_ns "$NODE" ip -4 -o addr show dev cni0 | awk '{print $4}'), saved flannel configs: $(ls /var/lib/cni/flannel | wc -l), reservations: $(ls /var/lib/cni/networks/cbr0 | grep -c '^10\.')"

say "Checking connectivity"
POD1_IP=$(ip_of "${PODS[0]}"); POD1_IP=${POD1_IP%/*}
POD2_IP=$(ip_of "${PODS[1]}"); POD2_IP=${POD2_IP%/*}
in_ns "${PODS[0]}" "${PING[@]}" -c 1 -W 2 "$POD2_IP" >/dev/null || die "${PODS[0]} cannot ping ${PODS[1]} ($POD2_IP)"
info "${PODS[0]} -> ${PODS[1]} ($POD2_IP): ping ok"
in_ns "${PODS[2]}" "${PING[@]}" -c 1 -W 2 "$POD1_IP" >/dev/null || die "${PODS[2]} cannot ping ${PODS[0]} ($POD1_IP)"
info "${PODS[2]} -> ${PODS[0]} ($POD1_IP): ping ok"
in_ns "${PODS[1]}" "${PING[@]}" -c 1 -W 2 10.244.1.1 >/dev/null || die "${PODS[1]} cannot ping its gateway 10.244.1.1"
info "${PODS[1]} -> gateway 10.244.1.1: ping ok"

say "Serving TCP in ${PODS[0]} and reaching it through hostPort $HOSTPORT from $CLIENT"
echo "hello from ${PODS[0]}" >"$DEMO/www/index.html"
# Started with `ip netns exec` directly (it execs the server), so $! is the server itself and can be stopped.
if command -v busybox >/dev/null; then
  ip netns exec "${PODS[0]}" busybox httpd -f -p 80 -h "$DEMO/www" </dev/null >/dev/null 2>&1 &
else
  ip netns exec "${PODS[0]}" "$ROOT/node_modules/.bin/bun" -e "Bun.serve({port:80,hostname:'0.0.0.0',fetch:()=>new Response(require('fs').readFileSync('$DEMO/www/index.html'))})" </dev/null >/dev/null 2>&1 &
fi
SERVER_PID=$!
for _ in $(seq 1 100); do in_ns "${PODS[0]}" ss -Hltn 'sport = :80' | grep -q . && break; sleep 0.02; done
in_ns "${PODS[0]}" ss -Hltn 'sport = :80' | grep -q . || die "the server in ${PODS[0]} did not start"
fetch() { in_ns "$CLIENT" curl --noproxy '*' -s --max-time 3 "$1" 2>/dev/null || in_ns "$CLIENT" busybox wget -q -T 3 -O- "$1"; }
reply=$(fetch "http://192.168.77.1:$HOSTPORT/") || die "no answer from 192.168.77.1:$HOSTPORT (node) in $CLIENT"
[ "$reply" = "hello from ${PODS[0]}" ] || die "unexpected answer through the hostPort: '$reply'"
info "$CLIENT -> node 192.168.77.1:$HOSTPORT -> ${PODS[0]}:80 answered '$reply'"
info "portmap rules in the node: $(in_ns "$NODE" iptables -t nat -S | grep -c 'CNI-DN-') (CNI-DN-* chain and rules)"
stop_server

say "Deleting every pod (DEL through the conflist in reverse: portmap, then flannel -> bridge -> host-local)"
for pod in "${PODS[@]}"; do
  t0=$(date +%s%N)
  node "$BIN/weft" del cbr0 "/run/netns/$pod" | sed 's/^/    weft: /' || die "weft del failed for $pod"
  info "$pod deleted ($(ms_since "$t0") ms)"
done

say "Showing that nothing is left"
left=0
report() { if [ -n "$2" ]; then info "LEFT OVER $1: $2"; left=1; else info "no $1"; fi; }
report "pod interfaces" "$(for pod in "${PODS[@]}"; do in_ns "$pod" ip -o link show dev eth0 2>/dev/null | awk -v p="$pod" '{print p": "$2}'; done)"
report "veths on the node's bridge" "$(in_ns "$NODE" ip -o link show master cni0 2>/dev/null | awk '{print $2}' | tr '\n' ' ')"
report "veths on the node besides its uplink" "$(in_ns "$NODE" ip -o link show type veth 2>/dev/null | awk '{print $2}' | grep -v "^$UPLINK@" | tr '\n' ' ')"
report "host-local reservations" "$(ls /var/lib/cni/networks/cbr0 2>/dev/null | grep '^[0-9a-f:.]*$' | tr '\n' ' ')"
report "saved flannel configs" "$(ls -A /var/lib/cni/flannel 2>/dev/null | tr '\n' ' ')"
report "cached results" "$(ls -A /var/lib/cni/results 2>/dev/null | tr '\n' ' ')"
report "per-pod iptables chains or rules" "$(in_ns "$NODE" iptables -t nat -S | grep -E 'CNI-DN-|dnat name' | tr '\n' ' ')"
info "(the shared CNI-HOSTPORT-* chains stay, as the reference portmap leaves them; the node's netns goes next)"
[ "$left" = 0 ] || die "DEL left state behind"
