#!/usr/bin/env bash
# The README's test command: set up (idempotent), then type-check and run the whole suite
# (unit, integration against real Redis and mediasoup, end-to-end in Chromium) on one Redis, then
# the room, chat, sale, multi-node and recovery tests again on a real 3-master Redis Cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/node24.sh
mkdir -p test-artifacts
rm -f test-artifacts/vitest.json test-artifacts/vitest-cluster.json
rc=0
npm test -- --reporter=default --reporter=json --outputFile.json=test-artifacts/vitest.json || rc=$?

# The same files on a Redis Cluster: every command must stay in one slot (test/redis-cluster.test.ts
# runs on a cluster in the pass above already).
CLUSTER_FILES=(
  test/live-room-flow.test.ts test/rooms-http.test.ts test/moderation.test.ts test/permissions.test.ts
  test/membership.test.ts test/sales-flow.test.ts test/sales-expiry.test.ts test/sales-property.test.ts
  test/sales-permissions.test.ts test/sales-limits.test.ts test/sales-two-nodes.test.ts test/sales-kill.test.ts
  test/multi-node.test.ts test/reconnect.test.ts test/rolling-restart.test.ts test/presence-nodes.test.ts
  test/sales-sweeper.test.ts test/sales-retry.test.ts test/caps.test.ts test/sales-waitlist.test.ts test/sales-waitlist-model.test.ts test/buy-now-waitlist.test.ts
  test/buy-now-flow.test.ts test/buy-now-two-nodes.test.ts test/orders-http.test.ts test/webhooks.test.ts test/standing-ledger.test.ts
  test/auctions-flow.test.ts test/auctions-model.test.ts test/auctions-two-nodes.test.ts
  test/media-cascade.test.ts test/media-whip-nodes.test.ts test/media-node-bus.test.ts test/giveaways.test.ts test/giveaway-two-nodes.test.ts test/giveaway-prizes.test.ts
  test/giveaway-entry-batch.test.ts test/webhook-handover.test.ts
  test/vouchers.test.ts test/vouchers-two-nodes.test.ts test/redis-timeout.test.ts test/heart-tap-batcher.test.ts
)
TEST_REDIS=cluster npx vitest run "${CLUSTER_FILES[@]}" --reporter=default --reporter=json \
  --outputFile.json=test-artifacts/vitest-cluster.json || rc=$?

# One plain closing line that any CI can read, whatever the runner prints above it: both runs.
node -e '
const fs = require("node:fs");
let passed = 0, failed = 0, skipped = 0;
for (const f of process.argv.slice(1)) {
  if (!fs.existsSync(f)) { console.log(`(no report: ${f})`); continue; }
  const r = JSON.parse(fs.readFileSync(f, "utf8"));
  passed += r.numPassedTests; failed += r.numFailedTests; skipped += r.numPendingTests + r.numTodoTests;
  // Name every failure here too: a CI log is often read from its tail only.
  for (const file of r.testResults ?? []) {
    for (const t of file.assertionResults ?? []) {
      if (t.status !== "failed") continue;
      console.log(`FAILED ${f.endsWith("cluster.json") ? "[cluster] " : ""}${file.name.replace(process.cwd() + "/", "")} > ${t.fullName}`);
      for (const m of (t.failureMessages ?? []).slice(0, 1)) console.log("  " + m.split("\n").slice(0, 6).join("\n  "));
    }
  }
}
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
' "$PWD/test-artifacts/vitest.json" "$PWD/test-artifacts/vitest-cluster.json"
exit "$rc"
