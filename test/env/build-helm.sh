#!/usr/bin/env bash
# Builds helm from the pinned Go module in helmbin/ (helm.sh/helm/v3, the release whose
# Kubernetes libraries match the control plane's 1.34) and caches it outside the repo, keyed by
# the hash of go.mod and go.sum. Prints the binary's path on its last line.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mod="$here/helmbin"
version=$(sed -n 's|^\thelm.sh/helm/v3 \(v[^ ]*\).*|\1|p' "$mod/go.mod")
# The Kubernetes version `helm template` and `helm lint` assume when there is no cluster: the one
# of the client-go helm is built with (as helm's own Makefile sets it), not helm's v1.20 default.
k8s_minor=$(sed -n 's|^\tk8s.io/client-go v0\.\([0-9]*\)\..*|\1|p' "$mod/go.mod")
key=$(cat "$0" "$mod/go.mod" "$mod/go.sum" | sha256sum | cut -c1-12)
cache=${BEACON_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/beacon}
out="$cache/helm/$version-$key"
if [ -x "$out/helm" ]; then
  echo "$out/helm"; exit 0
fi
command -v go >/dev/null || { echo "build-helm: Go is required (go 1.24 or newer) to build helm" >&2; exit 1; }
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
tmp="$out.tmp.$$"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp"
cd "$mod"
echo "building helm $version into $out (first time only)" >&2
go build -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$version \
  -X helm.sh/helm/v3/internal/version.gitTreeState=clean \
  -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$k8s_minor \
  -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$k8s_minor" -o "$tmp/helm" helm.sh/helm/v3/cmd/helm
rm -rf "$out"; mv "$tmp" "$out"
echo "$out/helm"
