#!/usr/bin/env bash
# The README's run command: set up (idempotent), build the demo pages, then run the server from its
# TypeScript sources (tsx, the development path; production is `npm run build && npm start`) with
# them, an embedded redis-server (data in ./var/redis) and development tokens on.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/node24.sh
export DEV_TOKENS="${DEV_TOKENS:-true}"
export JWT_SECRET="${JWT_SECRET:-dev-only-secret-change-me-in-production}"
export PORT="${PORT:-3000}"
# The pages at `/`: built fresh each run (about a second), so they always match the server's protocol.
npm run --silent build:demo
export DEMO_DIR="${DEMO_DIR:-dist/demo}"
exec npm run --silent dev
