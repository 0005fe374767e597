#!/usr/bin/env bash
# The README's test command: set up (idempotent), then type-check and run the whole suite
# (unit, integration against real Redis and mediasoup, end-to-end in Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/node24.sh
mkdir -p test-artifacts
rc=0
npm test -- --reporter=default --reporter=json --outputFile.json=test-artifacts/vitest.json || rc=$?
# One plain closing line that any CI can read, whatever the runner prints above it.
if [ -f test-artifacts/vitest.json ]; then
  node -e 'const r=require(process.argv[1]);console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests+r.numTodoTests} skipped`)' "$PWD/test-artifacts/vitest.json"
fi
exit "$rc"
