#!/usr/bin/env bash
# Builds MetalLB's controller and speaker (go.universe.tf/metallb, the version pinned in
# metallb/go.mod) as a peer to benchmark and migrate against, and caches them outside the repo,
# keyed by version and by the hash of go.mod/go.sum, so only the first build is slow. MetalLB's
# code is never in the repo: metallb/ is a tools-style module that only requires it. Prints the
# directory holding the binaries on its last line.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mod="$here/metallb"
ver=$(awk '$1 == "go.universe.tf/metallb" { print $2 }' "$mod/go.mod")
key=$(cat "$mod/go.mod" "$mod/go.sum" | sha256sum | cut -c1-12)
cache=${BEACON_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/beacon}
out="$cache/metallb-$ver/$key"
if [ -x "$out/controller" ] && [ -x "$out/speaker" ]; then
  echo "$out"; exit 0
fi
command -v go >/dev/null || { echo "build-metallb: Go is required (go 1.24 or newer) to build MetalLB" >&2; exit 1; }
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
tmp="$out.tmp.$$"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp"
start=$(date +%s)
cd "$mod"
echo "building MetalLB $ver controller and speaker into $out (first time only; a few minutes)" >&2
go build -trimpath -ldflags "-s -w" -o "$tmp/controller" go.universe.tf/metallb/controller
go build -trimpath -ldflags "-s -w" -o "$tmp/speaker" go.universe.tf/metallb/speaker
rm -rf "$out"; mv "$tmp" "$out"
echo "MetalLB built in $(( $(date +%s) - start ))s" >&2
echo "$out"
