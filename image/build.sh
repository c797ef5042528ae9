#!/usr/bin/env bash
# Builds Beacon's image from the repository's Dockerfile with no network access during the
# build, as `make image` does:
#   1. two Debian trixie bases are bootstrapped with mmdebstrap (once; cached): the build base
#      with nodejs, npm, node-gyp, the Node headers, g++, make and python3; the runtime base with
#      nodejs only. Their package lists are exactly what the Dockerfile would apt-get install on
#      a stock debian:trixie-slim, so its install steps find everything present and do nothing;
#   2. `podman import` makes them images (localhost/beacon-build-base, localhost/beacon-runtime-base);
#   3. `podman build --network=none` runs the Dockerfile against them; `npm ci` reads only the
#      npm cache of this machine (mounted read-write at /root/.npm, `npm_config_offline=true`).
# No step creates a network: --network=none means no bridge and no iptables rule on the host.
#
# Podman runs with its own configuration and storage under the cache directory (podman-env.sh).
#
# Output: the image in that storage, an OCI archive for `ctr images import` and, on the last
# line, the archive's path. Usage: image/build.sh [image-name]   (default localhost/beacon:<version>)
set -euo pipefail
# A failure inside $(base ...) must stop the build, not hand on the name of an image that
# was never made.
shopt -s inherit_errexit
root=$(cd "$(dirname "$0")/.." && pwd)
version=$(node -p "require('$root/package.json').version")
image=${1:-localhost/beacon:$version}
cache=${BEACON_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/beacon}/image
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=trixie
# Keep in step with the Dockerfile's apt-get lines.
# (The Dockerfile also installs ca-certificates, for npm's HTTPS: offline, npm needs none.)
build_pkgs=nodejs,npm,node-gyp,libnode-dev,g++,make,python3
runtime_pkgs=nodejs
mkdir -p "$cache"

# shellcheck source=podman-env.sh
. "$root/image/podman-env.sh"

# --- Bases: bootstrapped once per package list ----------------------------------------------
base() { # base <name> <packages> -> image name on stdout
  local name=$1 pkgs=$2 key tar ref
  key=$(echo "$suite $pkgs" | sha256sum | cut -c1-12)
  ref="localhost/beacon-$name-base:$suite-$key"
  tar="$cache/$name-base-$suite-$key.tar"
  if ! podman image exists "$ref"; then
    # A non-empty regular file; anything else there (a directory an older build left) goes.
    if [ ! -f "$tar" ] || [ ! -s "$tar" ]; then
      rm -rf "$tar" "$tar.tmp"
      echo "bootstrapping the $name base (Debian $suite: $pkgs); first time only" >&2
      # --format: mmdebstrap picks the format from the target's name, and "*.tar.tmp" would
      # be taken for a directory.
      mmdebstrap --quiet --format=tar --variant=essential --include="$pkgs" "$suite" "$tar.tmp" "$mirror" >&2
      mv "$tar.tmp" "$tar"
    fi
    podman import --quiet "$tar" "$ref" >/dev/null
  fi
  echo "$ref"
}
build_base=$(base build "$build_pkgs")
runtime_base=$(base runtime "$runtime_pkgs")
# For images built on the same base (the cluster lab's stand-in app).
echo "$runtime_base" >"$cache/runtime-base.ref"

# --- The image ------------------------------------------------------------------------------
# Rebuilt only when an input changed: the hash of every file the build stage copies.
inputs=$(cd "$root" && find Dockerfile .dockerignore package.json package-lock.json tsconfig.json \
  tsconfig.build.json lib controller speaker -type f ! -path 'speaker/native/build/*' \
  ! -name '*.test.ts' | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16)
archive="$cache/beacon-$version.oci.tar"
have=$(podman image inspect --format '{{index .Labels "beacon.inputs"}}' "$image" 2>/dev/null || true)
if [ "$have" = "$inputs" ] && [ -s "$archive" ]; then
  size=$(podman image inspect --format '{{.Size}}' "$image")
  echo "image $image is up to date: $(( size / 1000000 )) MB" >&2
  echo "$archive"; exit 0
fi
# npm ci must find every package of package-lock.json in the cache: `make deps` ran it here.
npm_cache=$(npm config get cache)
start=$(date +%s)
podman build --quiet --network=none --pull=never \
  --build-arg BUILD_BASE="$build_base" --build-arg RUNTIME_BASE="$runtime_base" \
  --build-arg npm_config_offline=true --volume "$npm_cache:/root/.npm" \
  --label beacon.inputs="$inputs" --tag "$image" --file "$root/Dockerfile" "$root" >/dev/null
# The build stage stays cached as an unnamed image for the next build; dangling layers of
# earlier builds of this tag go.
podman image prune --force >/dev/null
rm -f "$archive"
podman save --quiet --format oci-archive --output "$archive" "$image"
size=$(podman image inspect --format '{{.Size}}' "$image")
echo "image $image built in $(( $(date +%s) - start ))s: $(( size / 1000000 )) MB" \
  "(archive $(( $(stat -c %s "$archive") / 1000000 )) MB)" >&2
echo "$archive"
