#!/usr/bin/env bash
# Builds speaker/native/build/Release/beacon_native.node with npm's bundled node-gyp against
# the local Node headers (/usr/include/node), so nothing is downloaded. Standalone node-gyp
# 13.x requires Node >= 22, which is why the bundled copy is used. Skips the build when the
# addon is newer than every source file.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"

out=build/Release/beacon_native.node
if [[ -f $out && -z "$(find binding.gyp build.sh src -newer "$out" -print -quit)" ]]; then
  exit 0
fi

npm_dir="$(dirname "$(readlink -f "$(command -v npm)")")/.."
node_gyp="$npm_dir/node_modules/node-gyp/bin/node-gyp.js"
if [[ ! -f $node_gyp ]] && command -v node-gyp >/dev/null; then
  # Debian's npm has no bundled copy; its node-gyp package provides one (the image's build stage).
  node_gyp=$(readlink -f "$(command -v node-gyp)")
fi
if [[ ! -f $node_gyp ]]; then
  echo "build.sh: npm's bundled node-gyp not found at $node_gyp" >&2
  exit 1
fi
node "$node_gyp" rebuild --nodedir=/usr --loglevel=warn
