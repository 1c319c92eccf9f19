#!/usr/bin/env bash
# Runs ralph's whole test suite against the real engines: installs and
# starts them first (scripts/engines.sh, needs root), then makes every
# engine test mandatory, so nothing that should run is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
bash scripts/engines.sh
export CONTAINERS_CONF=/etc/containers/ralph-ci.conf
export RALPH_REQUIRE_ENGINES=1
go vet ./...
go test -count=1 -timeout 20m ./... "$@"

# The attack battery on every real backend, as users run it (the Go tests
# above run it too and check each row; this prints the table in the log).
CGO_ENABLED=0 go build -o /tmp/ralph-ci ./cmd/ralph
/tmp/ralph-ci selftest --sandbox all
