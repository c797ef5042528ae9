#!/usr/bin/env bash
# The cluster lab's other images, built here with no network (after image/build.sh, whose
# runtime base and Podman storage they share), saved as OCI archives for `ctr images import`:
#   registry.k8s.io/pause:3.10   the Pod sandbox: images/pause/pause.c, static, FROM scratch
#   docker.io/ikubernetes/myapp:v1   a stand-in answering like the original (images/myapp)
# The names are the ones containerd's sandbox_image and the seed's Deployment ask for, so
# nothing is pulled. Prints the directory holding the archives on its last line.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${BEACON_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/beacon}/image
out="$cache/cluster-images"
mkdir -p "$out"
# shellcheck source=../../image/podman-env.sh
. "$here/../../image/podman-env.sh"
base=$(cat "$cache/runtime-base.ref")

build() { # build <name> <context> <archive> [build args]
  local name=$1 ctx=$2 archive=$3; shift 3
  local key
  key=$(cd "$ctx" && cat ./* | cat - <(echo "$*") | sha256sum | cut -c1-16)
  if [ -s "$out/$archive" ] && [ "$(cat "$out/$archive.key" 2>/dev/null)" = "$key" ]; then return; fi
  podman build --quiet --network=none --pull=never "$@" --tag "$name" --file "$ctx/Containerfile" "$ctx" >/dev/null
  rm -f "$out/$archive"
  podman save --quiet --format oci-archive --output "$out/$archive" "$name"
  echo "$key" >"$out/$archive.key"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$here/images/pause/Containerfile" "$here/images/pause/pause.c" "$tmp/"
if [ ! -s "$out/pause" ] || [ "$here/images/pause/pause.c" -nt "$out/pause" ]; then
  gcc -static -Os -s -o "$out/pause" "$here/images/pause/pause.c"
fi
cp "$out/pause" "$tmp/pause"
build registry.k8s.io/pause:3.10 "$tmp" pause.oci.tar
build docker.io/ikubernetes/myapp:v1 "$here/images/myapp" myapp.oci.tar --build-arg BASE="$base"
echo "$out"
