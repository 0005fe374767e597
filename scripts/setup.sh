#!/usr/bin/env bash
# Idempotent setup shared by the demo run, the test run, CI and the Dockerfile:
# Node 24, system packages (when root), npm dependencies, the mediasoup worker built from
# source. Each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/node24.sh

# System packages the server and tests need at run time.
need=()
command -v redis-server >/dev/null || need+=(redis-server)
# The e2e tests drive Debian's chromium (playwright-core, no bundled browser download).
command -v chromium >/dev/null || need+=(chromium)
# Media tests and the RTP ingest example send test video with ffmpeg.
command -v ffmpeg >/dev/null || need+=(ffmpeg)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "[setup] apt-get install ${need[*]}" >&2
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >&2
  else
    echo "[setup] missing: ${need[*]} — install them (apt-get install ${need[*]}) and rerun" >&2
    exit 1
  fi
fi

# npm dependencies; skipped when node_modules matches the lockfile.
if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.lc-lock-stamp; then
  echo "[setup] npm ci" >&2
  # --ignore-scripts: mediasoup's postinstall would try to download a worker from GitHub;
  # scripts/build-mediasoup-worker.sh builds it from source instead. No other dependency needs one.
  npm ci --ignore-scripts --no-audit --no-fund >&2
  cp package-lock.json node_modules/.lc-lock-stamp
fi

# The mediasoup worker, built from the npm package's own sources against Debian's libraries and
# cached outside the clone (keyed by mediasoup version + OS release): minutes the first time,
# instant after. See scripts/build-mediasoup-worker.sh.
bash scripts/build-mediasoup-worker.sh >/dev/null
