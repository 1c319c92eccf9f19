#!/usr/bin/env bash
# Runs ralph's whole test suite against the real engines: installs and
# starts them first (scripts/engines.sh, needs root), brings up a real
# single-node Kubernetes for ralph fleet (scripts/k8s.sh), then makes every
# engine test mandatory, so nothing that should run is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH

# The Kubernetes build (13 minutes the first time) runs while the engines
# install (each installs its packages first, one apt at a time).
mkdir -p /tmp/ralph-test
bash scripts/k8s.sh deps
bash scripts/k8s.sh build >/tmp/ralph-test/k8s-build.log 2>&1 &
k8s_build=$!
bash scripts/engines.sh
if ! wait "$k8s_build"; then
  tail -40 /tmp/ralph-test/k8s-build.log >&2
  exit 1
fi
export K8S_LOCAL_DIR=/tmp/ralph-test/k8s
K8S_TOOLS=$(bash scripts/k8s.sh tools)  # mkimage, for the fleet tests
export K8S_TOOLS
bash scripts/k8s.sh down "$K8S_LOCAL_DIR" >/dev/null 2>&1 || true
rm -rf "$K8S_LOCAL_DIR"
trap 'bash scripts/k8s.sh down "$K8S_LOCAL_DIR" >/dev/null 2>&1 || true' EXIT
bash scripts/k8s.sh up "$K8S_LOCAL_DIR" >/dev/null

# The real agent CLIs (pinned), which the real-agent tests drive through
# the loop against scripted APIs on loopback (cmd/ralph/real*_e2e_test.go).
CLAUDE_VERSION=2.1.332
CODEX_VERSION=0.171.0
GEMINI_VERSION=0.61.0
OPENCODE_VERSION=1.18.33
COPILOT_VERSION=1.0.102
agents=/tmp/ralph-test/agents
if [ ! -x $agents/node_modules/.bin/claude ] || [ ! -x $agents/node_modules/.bin/codex ] || [ ! -e $agents/node_modules/.bin/gemini ] \
  || [ ! -e $agents/node_modules/.bin/opencode ] || [ ! -e $agents/node_modules/.bin/copilot ]; then
  npm install --silent --no-audit --no-fund --prefix $agents \
    "@anthropic-ai/claude-code@$CLAUDE_VERSION" "@openai/codex@$CODEX_VERSION" "@google/gemini-cli@$GEMINI_VERSION" \
    "opencode-ai@$OPENCODE_VERSION" "@github/copilot@$COPILOT_VERSION" >/dev/null
fi
RALPH_REAL_CLAUDE=$agents/node_modules/.bin/claude
for p in $agents/node_modules/@anthropic-ai/claude-code-linux-*/claude; do
  [ -x "$p" ] && RALPH_REAL_CLAUDE=$p && break
done
# codex's npm package wraps a static binary; the tests copy it into sandboxes.
RALPH_REAL_CODEX=$(ls $agents/node_modules/@openai/codex-linux-*/vendor/*/bin/codex 2>/dev/null | head -1)
# gemini is a Node bundle (one folder), run by the host's /usr/bin/node.
RALPH_REAL_GEMINI=$agents/node_modules/@google/gemini-cli/bundle
# opencode's npm package wraps a native binary per platform.
RALPH_REAL_OPENCODE=$(ls $agents/node_modules/opencode-linux-x64/bin/opencode 2>/dev/null | head -1)
# copilot's too (a Node single-executable).
RALPH_REAL_COPILOT=$(ls $agents/node_modules/@github/copilot-linux-x64/copilot 2>/dev/null | head -1)
export RALPH_REAL_CLAUDE RALPH_REAL_CODEX RALPH_REAL_GEMINI RALPH_REAL_OPENCODE RALPH_REAL_COPILOT

export CONTAINERS_CONF=/etc/containers/ralph-ci.conf
export RALPH_REQUIRE_ENGINES=1
go vet ./...
# ralph builds for the other platforms it supports (Linux-only backends
# sit behind build tags there), through the release path: six archives,
# their checksums, a formula, and a binary that knows its version.
if ! bash scripts/release.sh >/tmp/ralph-test/release.log 2>&1; then
  tail -30 /tmp/ralph-test/release.log >&2
  exit 1
fi
(cd dist && sha256sum --check --quiet SHA256SUMS)
[ "$(ls dist/*.tar.gz dist/*.zip | wc -l)" = 6 ] || { echo "release: want 6 archives" >&2; ls dist >&2; exit 1; }
grep -q 'sha256 "[0-9a-f]\{64\}"' dist/ralph.rb
rm -rf /tmp/ralph-test/release && mkdir -p /tmp/ralph-test/release
tar -xzf dist/ralph_*_linux_"$(go env GOARCH)".tar.gz -C /tmp/ralph-test/release --strip-components=1
release_version=$(/tmp/ralph-test/release/ralph version)
case $release_version in
  *-snapshot\ *) ;;
  *) echo "release: the Linux binary says: $release_version" >&2; exit 1 ;;
esac
# Its ralph-helper is of the same build: ralph puts it into sandboxes.
case $release_version in
  *"sandbox helper: /tmp/ralph-test/release/ralph-helper ("*"; the same build)"*) ;;
  *) echo "release: ralph does not take its ralph-helper: $release_version" >&2; exit 1 ;;
esac
# On macOS and Windows, ralph-helper is the Linux build docker and podman
# need in their VM (decision 014): of the same build as that ralph.
for target in darwin_arm64 darwin_amd64 windows_amd64; do
  mkdir -p "/tmp/ralph-test/release/$target"
  case $target in
    windows*) python3 -m zipfile -e dist/ralph_*_"$target".zip "/tmp/ralph-test/release/$target" ;;
    *) tar -xzf dist/ralph_*_"$target".tar.gz -C "/tmp/ralph-test/release/$target" ;;
  esac
done
RALPH_RELEASE_DIRS="$(ls -d /tmp/ralph-test/release/*_*/ralph_*)" go test -count=1 -run TestReleaseHelpers ./internal/helperbin/
rm -rf dist
# Every package and its tests type-check for macOS and Windows (each
# per-OS file's other variant is compiled, not only written).
# and the test binary of every package links there (go test -c).
for os in darwin windows; do
  GOOS=$os CGO_ENABLED=0 go vet ./...
  rm -rf /tmp/ralph-test/testbin && mkdir -p /tmp/ralph-test/testbin
  GOOS=$os CGO_ENABLED=0 go test -c -o /tmp/ralph-test/testbin/ ./... >/dev/null
done
rm -rf /tmp/ralph-test/testbin
# Data races, in the packages that need no engine: the loop, the gate and
# its policy, the parsers of hostile input, the fake backend, the CLI.
go test -race -count=1 -timeout 10m ./internal/loop/ ./internal/netgate/... ./internal/promise/ ./internal/tasks/ \
  ./internal/termsafe/ ./internal/wsfile/ ./internal/gitignore/ ./internal/agent/ ./internal/audit/ ./internal/lock/ \
  ./internal/sandbox/sandboxtest/ ./internal/cli/
go test -count=1 -timeout 40m ./... "$@"

# Every benchmark once, small (-short), so each keeps compiling and
# working; the figures are bench/'s job (bench/README.md).
if ! go test -short -count=1 -run '^$' -bench . -benchtime 1x ./... >/tmp/ralph-test/bench.log 2>&1; then
  grep -B3 -A12 -E '^(--- FAIL|FAIL)' /tmp/ralph-test/bench.log | head -60 >&2
  exit 1
fi

# The attack battery on every real backend, as users run it (the Go tests
# above run it too and check each row; this prints the table in the log).
CGO_ENABLED=0 go build -o /tmp/ralph-test/ralph ./cmd/ralph
/tmp/ralph-test/ralph selftest --sandbox all

# Nothing of ralph's is left behind by the suite: no microVM, no sandbox
# container on either engine, no gVisor sandbox process.
left=$(pgrep -af 'qemu-system-x86_64 -M microvm' | grep ralph || true)
left+=$(docker ps -aq --filter label=ralph.managed=true)
left+=$(CONTAINERS_CONF=$CONTAINERS_CONF podman ps -aq --filter label=ralph.managed=true 2>/dev/null || true)
if [ -n "$left" ]; then
  echo "test.sh: the suite left ralph's VMs or sandboxes behind:" >&2
  pgrep -af 'qemu-system-x86_64 -M microvm' | grep ralph >&2 || true
  docker ps -a --filter label=ralph.managed=true >&2
  podman ps -a --filter label=ralph.managed=true >&2 || true
  exit 1
fi
