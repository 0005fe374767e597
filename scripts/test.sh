#!/usr/bin/env bash
# The README's test command: set up (idempotent), then type-check and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/node24.sh
npm test
