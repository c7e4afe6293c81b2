#!/bin/sh
# Runs a command in a private "node" mount namespace (started as `unshare -m --propagation private`) where ctr's and
# go-cni's fixed paths are the test's directories: /etc/cni/net.d, /opt/cni/bin, /run/flannel, /var/lib/cni.
# /run, /opt and /var/lib get a tmpfs and /etc an overlay, so no directory is created on the machine itself.
# Everything mounted here disappears with the namespace when its last process exits.
# usage: containerd-node.sh <test dir> <cni bin dir> <command...>
set -eu
T=$1
BIN=$2
shift 2
mount --make-rprivate /
mount -t tmpfs -o mode=0755 weft-run /run
mkdir -p /run/containerd /run/flannel
mount --bind "$T/run-flannel" /run/flannel
mount -t tmpfs -o mode=0755 weft-opt /opt
mkdir -p /opt/cni/bin
mount --bind "$BIN" /opt/cni/bin
mount -t tmpfs -o mode=0755 weft-varlib /var/lib
mkdir -p /var/lib/cni
mount --bind "$T/var-lib-cni" /var/lib/cni
mkdir -p "$T/ovl"
mount -t tmpfs weft-ovl "$T/ovl"
mkdir "$T/ovl/up" "$T/ovl/work"
mount -t overlay weft-etc -o "lowerdir=/etc,upperdir=$T/ovl/up,workdir=$T/ovl/work" /etc
mkdir -p /etc/cni/net.d
mount --bind "$T/conf" /etc/cni/net.d
exec "$@"
