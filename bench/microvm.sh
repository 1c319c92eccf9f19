#!/usr/bin/env bash
# Measures the microVM's boot to first exec against raw QEMU booting the
# same kernel (to an init that reboots at once) in one run, and attach +
# exec, and prints the ratio. Usage: bench/microvm.sh [count]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
count=${1:-3}
out=$(go test -run '^$' -bench 'Boot|AttachExec' -benchtime "${count}x" ./internal/sandbox/microvm/)
echo "$out" | grep -E '^Benchmark' || { echo "$out"; exit 1; }
echo "$out" | awk '
  /^BenchmarkBoot\/raw-qemu/ { raw = $3 }
  /^BenchmarkBoot\/ralph-[0-9]/ { ralph = $3; rss = $5 }
  /^BenchmarkBoot\/ralph-whole/ { whole = $3; wrss = $5 }
  /^BenchmarkAttachExec/     { exec = $3 }
  END {
    printf "microvm: ralph boot to first exec %.0f ms vs raw QEMU boot to init %.0f ms: %.2fx (QEMU RSS %s MiB; init ralph-helper)\n", ralph/1e6, raw/1e6, ralph/raw, rss
    printf "microvm: with ralph whole as the init %.0f ms: %.2fx (QEMU RSS %s MiB)\n", whole/1e6, whole/raw, wrss
    printf "microvm: attach + exec %.0f ms\n", exec/1e6
  }'
