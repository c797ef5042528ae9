# One image for both Beacon binaries: `node dist/controller/main.js` and
# `node dist/speaker/main.js` (the manifests and the Helm chart set the command).
#
#   docker build -t registry.example/beacon:0.1.0 .      (or: podman build ...)
#
# Two stages. The build stage has npm, a C++ compiler and the Node headers: `npm ci` (which also
# compiles raw-socket's addon), the speaker's own addon (speaker/native) and `tsc`; then the
# dev dependencies are pruned. The final stage has Node.js and nothing else from the build: no
# compiler, no npm, no sources. It runs with a read-only root filesystem (it writes nothing).
#
# Both stages use Debian trixie, whose nodejs package is 20.19 (package.json asks for >= 20.19;
# bookworm's is 18). Each stage installs its packages only when its base lacks them, so a base
# that already carries them (`make image` bootstraps such bases with mmdebstrap and builds with
# no network at all) goes through the same steps.
ARG BUILD_BASE=docker.io/library/debian:trixie-slim
ARG RUNTIME_BASE=docker.io/library/debian:trixie-slim

FROM ${BUILD_BASE} AS build
RUN if ! command -v npm >/dev/null || ! command -v g++ >/dev/null; then \
      apt-get update && \
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        nodejs npm node-gyp libnode-dev g++ make python3 ca-certificates && \
      rm -rf /var/lib/apt/lists/*; \
    fi
# Native addons compile against the installed headers (/usr/include/node) instead of
# downloading them. `npm_config_offline=true` (a build argument) makes npm use only its cache.
ENV npm_config_nodedir=/usr npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
ARG npm_config_offline=false
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY lib lib
COPY controller controller
COPY speaker speaker
RUN speaker/native/build.sh && \
    node node_modules/typescript/bin/tsc -p tsconfig.build.json && \
    npm prune --omit=dev

FROM ${RUNTIME_BASE}
RUN if ! command -v node >/dev/null; then \
      apt-get update && \
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs && \
      rm -rf /var/lib/apt/lists/*; \
    fi
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules node_modules
COPY --from=build /src/dist/lib dist/lib
COPY --from=build /src/dist/controller dist/controller
COPY --from=build /src/dist/speaker dist/speaker
COPY --from=build /src/speaker/native/build/Release/beacon_native.node speaker/native/build/Release/beacon_native.node
ENV NODE_ENV=production
# nobody: the controller needs no privilege. The speaker's Pod runs as UID 0 with every
# capability dropped but NET_RAW (see manifests/speaker.yaml for why).
USER 65534:65534
CMD ["node", "--max-semi-space-size=8", "dist/controller/main.js"]
