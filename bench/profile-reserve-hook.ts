/**
 * Private profiling aid for the reserve path (issue 10). Preloaded into the flash-sale server
 * process, it CPU-profiles exactly the measured burst: from the bench's `usage-start` message to
 * its `usage-stop` (the same window as the CPU-per-tap figure), and writes the profile to
 * $RESERVE_PROF_DIR (default /tmp/reserve-prof).
 *
 *   BENCH_SERVER_NODE_ARGS="--import ./bench/profile-reserve-hook.ts" npm run bench:flash-sale
 *   npx tsx bench/profile-reserve-summary.ts /tmp/reserve-prof/<file>.cpuprofile 5000
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

const dir = process.env.RESERVE_PROF_DIR ?? '/tmp/reserve-prof';
const intervalUs = Number(process.env.RESERVE_PROF_INTERVAL_US ?? 100);
const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: intervalUs });

process.on('message', (msg: { type?: string }) => {
  if (msg.type === 'usage-start') void session.post('Profiler.start');
  if (msg.type === 'usage-stop') {
    void session.post('Profiler.stop').then(({ profile }) => {
      mkdirSync(dir, { recursive: true });
      const file = `${dir}/reserve-${process.pid}-${Date.now()}.cpuprofile`;
      writeFileSync(file, JSON.stringify(profile));
      console.log(`  profile of the burst: ${file}`);
    });
  }
});
