#!/usr/bin/env bash
# `make demo`: pods on a flannel network on this host, with weft's plugins and kube-flannel's stock conflist,
# inside a private "node" (decisions.md "flannel and the demo"): a network namespace for the node's host side,
# a private mount namespace where /run/flannel, /var/lib/cni and /etc/cni/net.d are the demo's own directories,
# three pod namespaces and a "client" namespace on the node's network. Nothing on the machine is touched, no
# traffic leaves the demo's namespaces, everything is removed on exit (also on failure or Ctrl-C).
# The steps that need the private mounts are in scripts/demo/in-node.sh.
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
info() { printf '    %s\n' "$*"; }
die() { printf '\033[31mdemo failed: %s\033[0m\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (it creates network namespaces and bind mounts)"
[ -x "$ROOT/build/bin/weft" ] || die "build/bin/weft is missing: run 'make build' (or 'make demo', which builds first)"
for tool in ip iptables unshare; do command -v "$tool" >/dev/null || die "'$tool' is not installed ('make deps' installs it)"; done

ID="weft-demo-$$"
NODE="$ID-node"
CLIENT="$ID-client"
PODS=("$ID-pod1" "$ID-pod2" "$ID-pod3")
DEMO=$(mktemp -d "/tmp/$ID.XXXXXX")
CREATED_DIRS=()

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  say "Cleaning up"
  for ns in "${PODS[@]}" "$CLIENT" "$NODE"; do
    [ -e "/run/netns/$ns" ] || continue
    # Processes the demo started inside (the pod's server after an interrupt) go first.
    ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
    ip netns del "$ns" && info "deleted netns $ns"
  done
  # Mount points this demo had to create (empty, in reverse order); a directory that existed is left alone.
  for ((i = ${#CREATED_DIRS[@]} - 1; i >= 0; i--)); do rmdir "${CREATED_DIRS[$i]}" 2>/dev/null || true; done
  rm -rf "$DEMO"
  if [ "$rc" = 0 ]; then
    if ip netns list 2>/dev/null | grep -q -- "$ID"; then die "namespaces are left over: $(ip netns list 2>/dev/null | grep -- "$ID" | tr '\n' ' ')"; fi
    info "no demo namespace, directory or mount is left"
    say "Demo finished: every step passed"
  else
    printf '\033[31mdemo failed (exit %s); everything it created was removed\033[0m\n' "$rc" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "Preparing the demo in $DEMO"
mkdir -p "$DEMO/bin" "$DEMO/run-flannel" "$DEMO/var-lib-cni" "$DEMO/etc-cni-net.d" "$DEMO/www"
"$ROOT/build/bin/weft" install --bin-dir "$DEMO/bin" | sed 's/^/    /'

# What flanneld would write for a node that leased 10.244.1.0/24 of the cluster network 10.244.0.0/16.
cat >"$DEMO/run-flannel/subnet.env" <<'EOF'
FLANNEL_NETWORK=10.244.0.0/16
FLANNEL_SUBNET=10.244.1.1/24
FLANNEL_MTU=1450
FLANNEL_IPMASQ=true
EOF
info "subnet.env: $(tr '\n' ' ' <"$DEMO/run-flannel/subnet.env")"

# kube-flannel's 10-flannel.conflist, unchanged (flannel-io/flannel Documentation/kube-flannel.yml).
cat >"$DEMO/etc-cni-net.d/10-flannel.conflist" <<'EOF'
{
  "name": "cbr0",
  "cniVersion": "0.3.1",
  "plugins": [
    {
      "type": "flannel",
      "delegate": {
        "hairpinMode": true,
        "isDefaultGateway": true
      }
    },
    {
      "type": "portmap",
      "capabilities": {
        "portMappings": true
      }
    }
  ]
}
EOF
info "conflist: the stock kube-flannel 10-flannel.conflist (flannel + portmap)"

# The private mounts need mount points; create the missing ones (empty) and remove them again at exit.
for dir in /run/flannel /var/lib/cni /etc/cni/net.d; do
  missing=()
  d=$dir
  while [ ! -e "$d" ]; do missing=("$d" "${missing[@]}"); d=$(dirname "$d"); done
  for m in "${missing[@]}"; do mkdir "$m" && CREATED_DIRS+=("$m"); done
done

say "Creating the node ($NODE), a client on the node's network ($CLIENT) and three pods"
ip netns add "$NODE"
ip -n "$NODE" link set lo up
ip netns add "$CLIENT"
ip -n "$CLIENT" link set lo up
# The node's "uplink": a veth to the client namespace, 192.168.77.1 (node) <-> 192.168.77.2 (client).
ip link add "wd$$n" netns "$NODE" type veth peer name "wd$$c" netns "$CLIENT"
ip -n "$NODE" addr add 192.168.77.1/24 dev "wd$$n"
ip -n "$NODE" link set "wd$$n" up
ip -n "$CLIENT" addr add 192.168.77.2/24 dev "wd$$c"
ip -n "$CLIENT" link set "wd$$c" up
info "node uplink 192.168.77.1/24, client 192.168.77.2/24"
for pod in "${PODS[@]}"; do
  ip netns add "$pod"
  info "netns $pod"
done

say "Entering the node's private mount namespace"
export DEMO NODE CLIENT ROOT UPLINK="wd$$n"
export PODS_LIST="${PODS[*]}"
unshare --mount --propagation private -- bash "$ROOT/scripts/demo/in-node.sh"

say "Deleting the pod namespaces"
for pod in "${PODS[@]}"; do ip netns del "$pod"; done
if ip netns list 2>/dev/null | grep -q -- "$ID-pod"; then die "pod namespaces are left over"; fi
info "no pod namespace left"
