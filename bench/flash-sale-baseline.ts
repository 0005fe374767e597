/**
 * The baseline of bench/flash-sale.ts: redis-benchmark sends EVALSHA of the server's own
 * reserve script, with the same keys and arguments the server would pass, to a private
 * redis-server started the same way (embedded-redis.ts). Each run gets a fresh sale of UNITS
 * units, so the mix of answers (UNITS holds, the rest SOLD_OUT) matches the socket run.
 * `__rand_int__` gives every request its own user, requestId and holdId.
 */
import { spawn, spawnSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { loadConfig } from '../src/config.js';
import { startEmbeddedRedis } from '../src/core/embedded-redis.js';
import { roomBansKey } from '../src/core/keys.js';
import { saleKeys, saleRateLimitKey } from '../src/commerce/sales/sale-keys.js';
import { SWEEP_BATCH } from '../src/commerce/sales/sale-model.js';
import { RESERVE_SCRIPT } from '../src/commerce/sales/sale-scripts.js';
import { SaleStore } from '../src/commerce/sales/sale-store.js';

export interface BaselineResult {
  /** Median EVALSHA/s over the runs. */
  perSec: number;
  runs: number[];
  p50Ms: number;
  p99Ms: number;
  heldUnits: number;
}

function findRedisBenchmark(): string {
  const found = spawnSync('sh', ['-c', 'command -v redis-benchmark'], { encoding: 'utf8' });
  if (found.status === 0 && found.stdout.trim()) return found.stdout.trim();
  throw new Error('redis-benchmark was not found on PATH; it is the baseline of this benchmark. Install it: apt-get install redis-tools');
}

function runBenchmark(bin: string, args: string[]): Promise<{ rps: number; p50: number; p99: number }> {
  return new Promise((ok, fail) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.once('error', fail);
    child.once('exit', (code) => {
      // --csv: a header line, then "EVALSHA ...","rps","avg","min","p50","p95","p99","max"
      const row = out.trim().split('\n').find((line) => line.startsWith('"EVALSHA'));
      const cells = row?.slice(1, -1).split('","');
      if (code !== 0 || !cells || cells.length < 7) return fail(new Error(`redis-benchmark failed (${code}): ${out}${err}`));
      ok({ rps: Number(cells[1]), p50: Number(cells[4]), p99: Number(cells[6]) });
    });
  });
}

export async function runRedisBaseline(opts: { requests: number; units: number; clients: number; runs: number }): Promise<BaselineResult> {
  const bin = findRedisBenchmark();
  const server = await startEmbeddedRedis({ persist: false });
  const redis = new Redis(server.url);
  let store: SaleStore | undefined;
  try {
    // The server's own settings: the rate-limit argument is part of "the same script call".
    const config = loadConfig({}, { JWT_SECRET: 'baseline-only-not-a-secret' });
    store = new SaleStore(redis, { reservesPerSecond: config.SALE_RESERVE_RATE_PER_SEC, ordersGroup: config.SALE_ORDERS_GROUP, maxRunningPerRoom: config.SALE_MAX_RUNNING_PER_ROOM });
    const sha = (await redis.script('LOAD', RESERVE_SCRIPT)) as string;
    const results: { rps: number; p50: number; p99: number; held: number }[] = [];
    for (let run = 0; run < opts.runs; run++) {
      const roomId = `r_baseline_${run}`;
      const product = { id: 'p_bench', title: 'Scarf', imageUrl: null, price: 2999, currency: 'USD', merchant: null, brand: null };
      const { sale } = await store.create(roomId, product, { productId: product.id, price: 1999, quantity: opts.units, perUserLimit: 1, startInSec: 0, durationSec: 600, holdSec: 120 }, 'host');
      const k = saleKeys(roomId, sale.id);
      const user = 'u__rand_int__';
      const args = [
        '-h', '127.0.0.1', '-p', String(server.port), '-c', String(opts.clients), '-n', String(opts.requests),
        '-r', '2000000000', '--csv',
        // One reservation per call (a batch of one): see RESERVE_SCRIPT for the argument layout.
        'EVALSHA', sha, '8', k.sale, k.holds, k.quota, k.heldBy, k.expiries, k.requests, roomBansKey(roomId), saleRateLimitKey(k, user),
        '', String(config.SALE_RESERVE_RATE_PER_SEC), '1000', String(SWEEP_BATCH), user, 'req-__rand_int__', '1', `${sale.id}.h__rand_int__`,
      ];
      const r = await runBenchmark(bin, args);
      // Proof the script really ran (a NOSCRIPT or argument error would leave the sale untouched).
      const [available, held] = (await redis.hmget(k.sale, 'available', 'held')).map(Number) as [number, number];
      if (held <= 0 || available < 0 || available + held !== opts.units) {
        throw new Error(`baseline did not reserve as expected: available ${available}, held ${held}`);
      }
      results.push({ ...r, held });
    }
    const sorted = [...results].sort((a, b) => a.rps - b.rps);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    return { perSec: median.rps, runs: results.map((r) => r.rps), p50Ms: median.p50, p99Ms: median.p99, heldUnits: median.held };
  } finally {
    redis.disconnect();
    await server.stop();
  }
}
