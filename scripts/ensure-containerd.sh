#!/usr/bin/env bash
# Installs what the containerd integration tests need (containerd, runc, busybox-static) when missing.
# Works on Debian 12 and 13; runs apt-get update only when a first install attempt fails.
set -euo pipefail
missing=""
command -v containerd >/dev/null || missing="$missing containerd"
command -v ctr >/dev/null || missing="$missing containerd"
command -v runc >/dev/null || missing="$missing runc"
dpkg -s busybox-static >/dev/null 2>&1 || missing="$missing busybox-static"
[ -z "$missing" ] && exit 0
export DEBIAN_FRONTEND=noninteractive
echo "installing:$missing" >&2
apt-get install -y -qq --no-install-recommends $missing </dev/null >&2 ||
  { apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends $missing </dev/null >&2; }
