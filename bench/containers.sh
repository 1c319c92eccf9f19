#!/usr/bin/env bash
# Measures ralph's sandbox lifecycle against the raw engine in one run and
# prints the ratios. Usage: bench/containers.sh [docker|gvisor|podman] [count]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
export CONTAINERS_CONF=${CONTAINERS_CONF:-/etc/containers/ralph-ci.conf}
engine=${1:-docker}
count=${2:-10}
out=$(go test -run '^$' -bench "Lifecycle/$engine/" -benchtime "${count}x" ./internal/sandbox/container/)
echo "$out" | grep -E '^Benchmark' || { echo "$out"; exit 1; }
echo "$out" | awk -v e="$engine" '
  /^BenchmarkLifecycle/ { split($1, p, "/"); sub(/-[0-9]+$/, "", p[3]); t[p[3]] = $3 }
  END {
    printf "%s: ralph create+exec+stop %.0f ms vs raw run --rm %.0f ms: %.2fx\n", e, t["ralph-create"]/1e6, t["raw-run-rm"]/1e6, t["ralph-create"]/t["raw-run-rm"]
    printf "%s: ralph create+exec+stop %.0f ms vs the same run -d + exec + stop by hand %.0f ms: %.2fx\n", e, t["ralph-create"]/1e6, t["raw-lifecycle"]/1e6, t["ralph-create"]/t["raw-lifecycle"]
    printf "%s: ralph attach+exec      %.0f ms vs raw exec     %.0f ms: %.2fx\n", e, t["ralph-exec"]/1e6, t["raw-exec"]/1e6, t["ralph-exec"]/t["raw-exec"]
    printf "%s: ralph attach+exec, gated (the loop'"'"'s path) %.0f ms vs raw exec %.0f ms: %.2fx\n", e, t["ralph-exec-gated"]/1e6, t["raw-exec"]/1e6, t["ralph-exec-gated"]/t["raw-exec"]
  }'
