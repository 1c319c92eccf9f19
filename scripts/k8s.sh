#!/usr/bin/env bash
# A real single-node Kubernetes on loopback for ralph fleet's tests, from
# scripts/k8s (etcd, API server, controller manager, scheduler, kubelet with
# a private containerd; built from the Go module proxy, ~13 min the first
# time on 2 cores, seconds after). As root.
#
#   scripts/k8s.sh tools        print the k8s tools folder in use
#   scripts/k8s.sh deps         apt-get install what it needs
#   scripts/k8s.sh build        build (or check) the binaries
#   scripts/k8s.sh up DIR       start a cluster in DIR (prints DIR)
#   scripts/k8s.sh down DIR     stop it and undo its host changes
#
# The tools are this repository's scripts/k8s (a copy of the workplace's
# shared/k8s, so a clone alone runs the tests), or $K8S_TOOLS when set.
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH
here=$(cd "$(dirname "$0")/.." && pwd)
tools=${K8S_TOOLS:-}
for d in "$tools" "$here/scripts/k8s"; do
  if [ -n "$d" ] && [ -x "$d/up" ]; then tools=$d; break; fi
done
[ -x "$tools/up" ] || { echo "k8s.sh: scripts/k8s not found; set K8S_TOOLS" >&2; exit 1; }

deps() {
need=()
for p in curl openssl busybox-static containerd runc containernetworking-plugins iproute2 iptables git; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "[k8s] apt-get install ${need[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
}

case "${1:-}" in
  tools) echo "$tools" ;;
  deps)  deps ;;
  build) "$tools/build" >/dev/null ;;
  up)    "$tools/build" >/dev/null && "$tools/up" "$2" --kubelet >/dev/null && echo "$2" ;;
  down)  "$tools/down" "$2" ;;
  *)     echo "usage: k8s.sh tools | deps | build | up DIR | down DIR" >&2; exit 2 ;;
esac
