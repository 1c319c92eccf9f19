#!/usr/bin/env bash
# Builds ralph's release into dist/: an archive per target (linux, darwin,
# windows; amd64 and arm64) holding the static binary, ralph-helper (the
# slim Linux binary that goes into sandboxes, for every OS), the README and
# the shell completions; SHA256SUMS; and a Homebrew formula (ralph.rb) that
# points at the archives. The binaries carry the version, commit and the
# commit's date (ralph version); archives are reproducible (sorted, owner
# 0, the commit's time).
#
#   scripts/release.sh v0.9.0      # a release, from a tagged commit
#   scripts/release.sh             # a snapshot: <describe>-snapshot
#
# RALPH_RELEASE_URL is where the archives will be downloaded from (the
# formula's urls); default: the GitHub release of the version.
#
# (GoReleaser would do this; the Go module proxy this project builds from
# does not serve an approved release of it, so this script does the same
# steps: see README, Platforms.)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH

version=${1:-}
if [ -z "$version" ]; then
  version="$(git describe --tags --always --dirty 2>/dev/null || echo dev)-snapshot"
fi
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
date=$(git log -1 --format=%cI 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)
epoch=$(git log -1 --format=%ct 2>/dev/null || date +%s)
url=${RALPH_RELEASE_URL:-https://github.com/ralphloop/ralph/releases/download/$version}
pkg=github.com/ralphloop/ralph/internal/cli
ldflags="-s -w -X $pkg.releaseVersion=$version -X $pkg.releaseCommit=$commit -X $pkg.releaseDate=$date"

dist=$PWD/dist
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rm -rf "$dist"
mkdir -p "$dist" "$work/completions"

# The completions come from a build for this machine.
CGO_ENABLED=0 go build -o "$work/ralph" ./cmd/ralph
for sh in bash zsh fish; do
  "$work/ralph" completion $sh >"$work/completions/ralph.$sh"
done

for target in linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64; do
  os=${target%/*} arch=${target#*/}
  name=ralph_${version}_${os}_${arch}
  dir=$work/$name
  mkdir -p "$dir"
  exe=ralph
  [ "$os" = windows ] && exe=ralph.exe
  echo "release: $name" >&2
  GOOS=$os GOARCH=$arch CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$dir/$exe" ./cmd/ralph
  # ralph-helper runs inside the sandboxes, always Linux: on macOS and
  # Windows in Docker Desktop's or podman machine's VM, of the host's
  # architecture (decision 014).
  GOOS=linux GOARCH=$arch CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$dir/ralph-helper" ./cmd/ralph-helper
  cp README.md "$dir/"
  cp -r "$work/completions" "$dir/"
  find "$dir" -exec touch -h -d "@$epoch" {} +
  if [ "$os" = windows ]; then
    if command -v zip >/dev/null; then
      (cd "$work" && find "$name" | LC_ALL=C sort | zip -q -X -D "$dist/$name.zip" -@)
    else
      (cd "$work" && python3 -m zipfile -c "$dist/$name.zip" "$name")
    fi
  else
    tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" -C "$work" -cf - "$name" | gzip -n >"$dist/$name.tar.gz"
  fi
done

(cd "$dist" && sha256sum -- *.tar.gz *.zip >SHA256SUMS)

sum() { awk -v f="ralph_${version}_$1.tar.gz" '$2 == f { print $1 }' "$dist/SHA256SUMS"; }
cat >"$dist/ralph.rb" <<RUBY
# Homebrew formula for ralph $version (written by scripts/release.sh).
class Ralph < Formula
  desc "Runs AI coding agents in a loop inside a real isolation boundary"
  homepage "https://github.com/ralphloop/ralph"
  version "${version#v}"

  on_macos do
    on_arm do
      url "$url/ralph_${version}_darwin_arm64.tar.gz"
      sha256 "$(sum darwin_arm64)"
    end
    on_intel do
      url "$url/ralph_${version}_darwin_amd64.tar.gz"
      sha256 "$(sum darwin_amd64)"
    end
  end
  on_linux do
    on_arm do
      url "$url/ralph_${version}_linux_arm64.tar.gz"
      sha256 "$(sum linux_arm64)"
    end
    on_intel do
      url "$url/ralph_${version}_linux_amd64.tar.gz"
      sha256 "$(sum linux_amd64)"
    end
  end

  def install
    bin.install "ralph"
    bin.install "ralph-helper" # Linux: it runs in the sandboxes (in Docker Desktop's VM on macOS)
    bash_completion.install "completions/ralph.bash" => "ralph"
    zsh_completion.install "completions/ralph.zsh" => "_ralph"
    fish_completion.install "completions/ralph.fish"
  end

  test do
    assert_match version.to_s, shell_output("#{bin}/ralph version")
  end
end
RUBY
ls -l "$dist" >&2
