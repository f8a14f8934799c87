#!/usr/bin/env bash
# Runs berth's whole test suite (unit and integration) after setting up the
# machine. Prints `N passed, M failed` last; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
unset RUST_BACKTRACE
export NO_COLOR=1

log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Mounts the suite makes live under temporary berth-* / containerd-test-*
# directories; any left afterwards is a leak, and fails the run.
test_mounts() { awk '$5 ~ /berth|containerd-test/ { print $5 }' /proc/self/mountinfo | sort; }
mounts_before=$(test_mounts)
# So do the cgroups of the tests' namespaces (`bt-…`, see tests/_harness.ts):
# ctr puts a container in /NAMESPACE/ID of every hierarchy.
test_cgroups() { find /sys/fs/cgroup -maxdepth 2 -type d -name 'bt-*' | sort; }
cgroups_before=$(test_cgroups)
# One test file at a time: the integration tests start daemons, registries
# and containers, and on two cores parallel files make their timings flaky.
deno test -A "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
leaked=$(comm -13 <(echo "$mounts_before") <(test_mounts))
if [ -n "$leaked" ]; then
  echo "mounts leaked by the suite:"
  echo "$leaked"
  status=1
fi
leaked_cgroups=$(comm -13 <(echo "$cgroups_before") <(test_cgroups))
if [ -n "$leaked_cgroups" ]; then
  echo "cgroups leaked by the suite:"
  echo "$leaked_cgroups"
  status=1
fi

summary=$(grep -E '^(ok|FAILED) \| [0-9]+ passed' "$log" | tail -n1)
passed=$(sed -nE 's/.*\| ([0-9]+) passed.*/\1/p' <<<"$summary")
failed=$(sed -nE 's/.*\| ([0-9]+) failed.*/\1/p' <<<"$summary")
if [ -z "$passed" ]; then
  # The runner died before its summary: count that as a failure.
  passed=0
  failed=$((${failed:-0} + 1))
  status=1
fi
[ -n "$leaked" ] && failed=$((failed + 1))
[ -n "$leaked_cgroups" ] && failed=$((failed + 1))
echo "$passed passed, $failed failed"
exit "$status"
