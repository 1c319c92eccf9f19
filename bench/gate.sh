#!/usr/bin/env bash
# Issue 21's gate rows: a 64 MiB download direct on loopback, through the
# gate, and through the whole path (in-sandbox forwarder, Unix socket,
# gate); and the time to an open tunnel (p50) vs a direct connect, all in
# one run. Usage: bench/gate.sh [downloads] [connects]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
downloads=${1:-20}
connects=${2:-2000}
out=$(go test -run '^$' -bench 'Download' -benchtime "${downloads}x" ./internal/netgate/)
out+=$'\n'$(go test -run '^$' -bench 'ConnectLatency' -benchtime "${connects}x" ./internal/netgate/)
echo "$out" | grep -E '^Benchmark' || { echo "$out"; exit 1; }
echo "$out" | awk '
  /^BenchmarkDownload\/direct/         { d = $5 }
  /^BenchmarkDownload\/gate/           { g = $5 }
  /^BenchmarkDownload\/forwarder\+gate/ { f = $5 }
  /^BenchmarkConnectLatency\/direct/   { cd = $5 }
  /^BenchmarkConnectLatency\/gate/     { cg = $5 }
  END {
    printf "gate download: %.0f MB/s vs direct %.0f MB/s: %.0f %%; forwarder + gate %.0f MB/s: %.0f %% (goal 90 %%)\n", g, d, 100*g/d, f, 100*f/d
    printf "gate CONNECT p50: %d µs vs direct connect %d µs: %.2fx (goal 2x)\n", cg, cd, cg/cd
  }'
