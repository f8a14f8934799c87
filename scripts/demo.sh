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
IMAGE=docker.io/library/busybox:latest
echo "== berth ctr runs a container from it: output, then container and snapshot removed (--rm)"
berth ctr --address "$SOCK" run --rm "$IMAGE" "demo-$$" echo hello from a berth container
echo "== so does containerd's ctr (its FIFOs in berth's state directory)"
ctr --address "$SOCK" run --rm --fifo-dir /run/berth/fifo "$IMAGE" "demo-ctr-$$" \
  echo hello from ctr, through berth
echo "== a detached container: listed, its processes shown, then killed and removed"
berth ctr --address "$SOCK" run -d "$IMAGE" "demo-bg-$$" sleep 300
berth ctr --address "$SOCK" tasks ls
berth ctr --address "$SOCK" tasks ps "demo-bg-$$"
berth ctr --address "$SOCK" tasks rm -f "demo-bg-$$" # kills it (exit 137) first
berth ctr --address "$SOCK" containers rm "demo-bg-$$"
berth ctr --address "$SOCK" containers ls
