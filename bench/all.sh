#!/usr/bin/env bash
# Every row of issue 21, each against its limit measured in the same run,
# then the one-line summaries together (bench/README.md keeps the last
# figures). Needs the engines (scripts/engines.sh) for the container and
# microVM rows. Usage: bench/all.sh
set -euo pipefail
cd "$(dirname "$0")"
export PATH=/usr/local/go/bin:$PATH
export CONTAINERS_CONF=${CONTAINERS_CONF:-/etc/containers/ralph-ci.conf}
summary=()
row() {
  local out
  out=$("$@" 2>&1) || { echo "$out"; summary+=("$*: FAILED"); return; }
  echo "$out"
  while IFS= read -r l; do summary+=("$l"); done < <(echo "$out" | grep -v '^Benchmark')
}
row ./transcript.sh 256 3
row ./gate.sh 20 2000
for e in docker gvisor podman; do row ./containers.sh "$e" 5; done
row ./microvm.sh 2
snap=$(cd .. && go test -run '^$' -bench Snapshot -benchtime 5x ./internal/loop/ | awk '/^BenchmarkSnapshot/ { printf "%.0f", $3/1e6 }')
summary+=("snapshot of a 100k-file tree (90k ignored), unchanged: ${snap} ms per iteration (goal 50 ms)")
size=$(cd .. && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /tmp/ralph-helper.bench ./cmd/ralph-helper && stat -c %s /tmp/ralph-helper.bench)
summary+=("ralph-helper as released: $((size / 1000000)).$(((size % 1000000) / 100000)) MB (goal 8 MB)")
echo
printf '%s\n' "${summary[@]}"
