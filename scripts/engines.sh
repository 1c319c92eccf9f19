#!/usr/bin/env bash
# Installs and starts the real engines ralph's tests run against, on a
# Debian 12 machine without a service manager (as root). Idempotent: run
# it as often as you like. Used by .ci/run and by developers.
#
#   docker.io      the Docker engine (dockerd started here, no systemd)
#   podman         with runc and raised ulimits through CONTAINERS_CONF
#   runsc          gVisor, built from the Go module proxy (static, systrap)
#   bubblewrap, busybox-static, catatonit (podman's --init)
#   qemu-system-x86, linux-image-amd64 (the microvm backend)
#   mmdebstrap     (ralph image base: a Debian base without an image registry)
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH
# It installs packages and starts daemons: as root, or through sudo.
if [ "$(id -u)" != 0 ]; then
  exec sudo --preserve-env=PATH "$0" "$@"
fi

log() { printf '[engines] %s\n' "$*" >&2; }

need=()
# qemu-system-x86 and linux-image-amd64: the microvm backend (QEMU's
# microvm machine booting Debian's kernel; TCG where there is no KVM).
for p in docker.io podman busybox-static bubblewrap catatonit iproute2 nftables qemu-system-x86 linux-image-amd64 mmdebstrap; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  log "apt-get install ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# gVisor: Debian's runsc (2022) only runs with --network=none and ptrace;
# a current build supports systrap and networking, which the network gate
# needs. Build it once; the Go build cache makes later builds quick.
# --host-uds=open lets a sandbox connect to the network gate's Unix socket
# that ralph bind-mounts in (the only socket it ever mounts); --oci-seccomp
# makes runsc apply the container's seccomp profile (ralph's own) to the
# processes inside gVisor: without it the agent can create user namespaces
# there and leave its pids limit.
RUNSC=/usr/local/bin/runsc
# Pinned: the version CI and the README figures were measured with.
RUNSC_VERSION=v0.0.0-20260905035102-160fafc42237
if [ ! -x "$RUNSC" ]; then
  log "building runsc (about 5 minutes the first time)"
  GOBIN=/usr/local/bin CGO_ENABLED=0 GOFLAGS=-mod=mod go install "gvisor.dev/gvisor/runsc@$RUNSC_VERSION"
fi

mkdir -p /etc/docker
cat > /etc/docker/daemon.json <<JSON
{"runtimes": {"runsc": {"path": "$RUNSC", "runtimeArgs": ["--platform=systrap", "--host-uds=open", "--oci-seccomp"]}}}
JSON

if ! docker info >/dev/null 2>&1; then
  log "starting dockerd"
  rm -f /var/run/docker.pid   # a pid file left by a daemon that died
  nohup dockerd --config-file /etc/docker/daemon.json >/var/log/ralph-dockerd.log 2>&1 &
  echo $! > /run/ralph-dockerd.pid
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
fi
if ! docker info --format '{{json .Runtimes}}' | grep -q 'oci-seccomp'; then
  log "dockerd runs without the runsc runtime: reloading its configuration"
  kill -HUP "$(pidof dockerd)"
  sleep 1
fi
docker info >/dev/null

# Podman on this kind of machine: crun refuses hybrid cgroups, and root
# cannot raise rlimits past the hard limits, so pin runc and the ulimits.
mkdir -p /etc/containers
cat > /etc/containers/ralph-ci.conf <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
CONF
log "engines ready: docker $(docker version --format '{{.Server.Version}}'), podman $(podman version --format '{{.Version}}' 2>/dev/null || echo '?'), runsc $($RUNSC --version | head -1)"
log "export CONTAINERS_CONF=/etc/containers/ralph-ci.conf for podman"
