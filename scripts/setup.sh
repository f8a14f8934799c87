#!/usr/bin/env bash
# Installs what berth and its tests need on Debian 12, as root. Idempotent:
# only what is missing is installed.
set -euo pipefail
cd "$(dirname "$0")/.."

DENO_VERSION=2.9.6
APT_PACKAGES=(
  runc containernetworking-plugins iptables protobuf-compiler
  containerd docker-registry skopeo umoci busybox-static curl
  apache2-utils openssl iproute2 strace docker.io stress-ng
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# The Debian containerd package enables its own daemon; berth never needs it
# and tests must not share its paths.
if systemctl is-enabled containerd >/dev/null 2>&1; then
  systemctl disable --now containerd >/dev/null 2>&1 || true
fi

if ! command -v deno >/dev/null 2>&1 || [ "$(deno --version | head -n1 | cut -d' ' -f2)" != "$DENO_VERSION" ]; then
  echo "setup: installing deno $DENO_VERSION from the npm registry"
  npm install -g --silent "deno@$DENO_VERSION"
fi

unset RUST_BACKTRACE
deno install --frozen >/dev/null
