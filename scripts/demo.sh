#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine, as root: install what berth
# needs, start the daemon with the embedded defaults (unless one already
# answers on /run/berth/berth.sock) and drive it with berth's client and the
# real ctr. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
unset RUST_BACKTRACE

berth() { deno run -A "$PWD/mod.ts" "$@"; }
SOCK=/run/berth/berth.sock

if ! berth ctr --address "$SOCK" --timeout 2s version >/dev/null 2>&1; then
  mkdir -p /run/berth
  echo "demo: starting berth daemon (log: /run/berth/daemon.log)"
  nohup deno run -A "$PWD/mod.ts" daemon >>/run/berth/daemon.log 2>&1 &
  echo $! >/run/berth/daemon.pid
  for _ in $(seq 1 100); do
    [ -S "$SOCK" ] && break
    sleep 0.1
  done
fi

echo "== berth ctr version"
berth ctr version
echo "== the demo image: busybox-static built offline into an OCI archive"
deno run -A scripts/build_test_images.ts busybox --archive /var/tmp/berth-demo-busybox.tar \
  --ref docker.io/library/busybox:latest
echo "== ctr (containerd's client) imports and unpacks it into berth"
ctr --address "$SOCK" images import /var/tmp/berth-demo-busybox.tar
ctr --address "$SOCK" images ls
ctr --address "$SOCK" images check
ctr --address "$SOCK" snapshots ls
ctr --address "$SOCK" plugins ls
