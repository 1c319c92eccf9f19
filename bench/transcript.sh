#!/usr/bin/env bash
# Issue 21, first row: a claude stream-json transcript through `ralph -n 1`
# on the host backend, rendered to a pipe and with -q, against a plain pipe
# of the same bytes measured in the same run; peak memory with GNU time.
# Usage: bench/transcript.sh [MB] [count]   (defaults: 256 MB, 3 runs)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
mb=${1:-256}
count=${2:-3}
out=$(RALPH_BENCH_MB=$mb go test -run '^$' -bench 'Transcript' -benchtime "${count}x" ./cmd/ralph/)
echo "$out" | grep -E '^Benchmark' || { echo "$out"; exit 1; }
echo "$out" | awk -v mb="$mb" '
  /^BenchmarkTranscript/ { split($1, p, "/"); sub(/-[0-9]+$/, "", p[2]); s[p[2]] = $5; m[p[2]] = $7 }
  END {
    printf "transcript %d MB: rendered %.0f MB/s (%.2fx the pipe, %.0f MB/s), peak %.1f MiB; -q %.0f MB/s (%.2fx), peak %.1f MiB\n",
      mb, s["ralph-rendered"], s["ralph-rendered"]/s["limit-pipe"], s["limit-pipe"], m["ralph-rendered"], s["ralph-quiet"], s["ralph-quiet"]/s["limit-pipe"], m["ralph-quiet"]
    printf "goal: rendered >= 400 MB/s and <= 32 MiB: %s\n", (s["ralph-rendered"] >= 400 && m["ralph-rendered"] <= 32) ? "met" : "NOT met"
  }'
