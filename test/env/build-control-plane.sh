#!/usr/bin/env bash
# Builds kube-apiserver, etcd and kubectl from the pinned Go modules in kubebins/ and caches
# them outside the repo, keyed by version and by the hash of go.sum, so only the first build
# is slow. Prints the directory holding the binaries on its last line. With --with-nodes it
# also builds what the cluster lab (test/cluster/) runs: kubelet, kube-proxy,
# kube-controller-manager and kube-scheduler, into the same directory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mod="$here/kubebins"
K8S=v1.34.3
key=$(cat "$mod/go.mod" "$mod/go.sum" | sha256sum | cut -c1-12)
cache=${BEACON_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/beacon}
out="$cache/control-plane/$K8S-$key"
nodes=(kubelet kube-proxy kube-controller-manager kube-scheduler)
have_nodes() { for b in "${nodes[@]}"; do [ -x "$out/$b" ] || return 1; done; }
if [ -x "$out/kube-apiserver" ] && [ -x "$out/etcd" ] && [ -x "$out/kubectl" ]; then
  if [ "${1:-}" != --with-nodes ] || have_nodes; then echo "$out"; exit 0; fi
fi
command -v go >/dev/null || { echo "build-control-plane: Go is required (go 1.24 or newer) to build the control plane" >&2; exit 1; }
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
tmp="$out.tmp.$$"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp"
ver="-X k8s.io/component-base/version.gitVersion=$K8S -X k8s.io/component-base/version.gitMajor=1 \
 -X k8s.io/component-base/version.gitMinor=34 -X k8s.io/client-go/pkg/version.gitVersion=$K8S \
 -X k8s.io/component-base/version.gitTreeState=clean"
start=$(date +%s)
cd "$mod"
if [ -x "$out/kube-apiserver" ] && [ -x "$out/etcd" ] && [ -x "$out/kubectl" ]; then
  # Only the node components are missing.
  echo "building ${nodes[*]} $K8S into $out (first time only; several minutes)" >&2
  for b in "${nodes[@]}"; do
    go build -trimpath -ldflags "-s -w $ver" -o "$tmp/$b" "k8s.io/kubernetes/cmd/$b"
  done
  for b in "${nodes[@]}"; do mv "$tmp/$b" "$out/$b"; done
  echo "node components built in $(( $(date +%s) - start ))s" >&2
  echo "$out"; exit 0
fi
echo "building kube-apiserver $K8S, etcd and kubectl into $out (first time only; several minutes)" >&2
go build -trimpath -ldflags "-s -w $ver" -o "$tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
go build -trimpath -ldflags "-s -w $ver" -o "$tmp/kubectl" k8s.io/kubernetes/cmd/kubectl
go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3
if [ "${1:-}" = --with-nodes ]; then
  for b in "${nodes[@]}"; do
    go build -trimpath -ldflags "-s -w $ver" -o "$tmp/$b" "k8s.io/kubernetes/cmd/$b"
  done
fi
rm -rf "$out"; mv "$tmp" "$out"
echo "control plane built in $(( $(date +%s) - start ))s" >&2
echo "$out"
