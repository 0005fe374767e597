/**
 * The like-for-like baseline of bench/flash-sale.ts, in its own process: the server's own reserve
 * path below Socket.IO — SaleStore.reserve, i.e. the same reserve script through the same
 * ReserveBatcher (one script call per event-loop turn's taps, up to RESERVE_BATCH_MAX each, calls
 * pipelined on one connection) — driven straight from Node against a private redis-server
 * started the same way as the server's. Two modes per run, each on a fresh sale of UNITS units:
 *   batched — every request issued at the scheduled instant, as a burst reaches the server: what
 *             Redis and the batched script can do at best (the ratio's denominator);
 *   single  — one call at a time (await each), the figure the old baseline reported.
 * Latency is from the scheduled instant; a sale is checked not to be oversold.
 */
import { Redis } from 'ioredis';
import { loadConfig } from '../src/config.js';
import { startEmbeddedRedis } from '../src/core/embedded-redis.js';
import { SaleStore } from '../src/commerce/sales/sale-store.js';
import { saleKeys } from '../src/commerce/sales/sale-keys.js';
import type { RedisClient } from '../src/core/redis-client.js';
import { Histogram, busyMeter, childPids, childSide, epochNow, openLoop, procCpuSeconds } from './bench-kit.js';
import type { FromRedisDriver, ToRedisDriver } from './flash-sale-protocol.js';

const side = childSide<unknown, ToRedisDriver, FromRedisDriver>();
const PRODUCT = { id: 'p_bench', title: 'Scarf', imageUrl: null, price: 2999, currency: 'USD', merchant: null, brand: null };

async function main(): Promise<void> {
  const server = await startEmbeddedRedis({ persist: false });
  const redisPid = childPids(process.pid)[0] ?? null;
  const redis = new Redis(server.url) as unknown as RedisClient;
  // The server's own settings: the rate-limit argument is part of "the same script call".
  const config = loadConfig({}, { JWT_SECRET: 'baseline-only-not-a-secret' });
  const store = new SaleStore(redis, { reservesPerSecond: config.SALE_RESERVE_RATE_PER_SEC, ordersGroup: config.SALE_ORDERS_GROUP, maxRunningPerRoom: config.SALE_MAX_RUNNING_PER_ROOM });
  let run = 0;

  side.on('run', async ({ mode, requests, units, at }) => {
    const roomId = `r_baseline_${run++}`;
    const { sale } = await store.create(roomId, PRODUCT, { productId: PRODUCT.id, price: 1999, quantity: units, perUserLimit: 1, startInSec: 0, durationSec: 600, holdSec: 120 }, 'host');
    const latency = new Histogram();
    let held = 0;
    let last = at;
    const reserve = async (i: number) => {
      const { answer } = await store.reserve(roomId, sale.id, `u_${run}_${i}`, 1, `req-${run}-${i}`);
      last = epochNow();
      latency.record(last - at);
      if (answer.ok) held++;
    };
    const redis0 = procCpuSeconds(redisPid);
    let read = busyMeter();
    let lateness: Histogram;
    if (mode === 'batched') {
      const answered: Promise<void>[] = [];
      lateness = await openLoop({ count: requests, at: () => at, slice: requests, send: (i) => {
        if (i === 0) read = busyMeter();
        answered.push(reserve(i));
      } });
      await Promise.all(answered);
    } else {
      lateness = new Histogram();
      await new Promise((r) => setTimeout(r, Math.max(0, at - epochNow())));
      read = busyMeter();
      lateness.record(epochNow() - at);
      for (let i = 0; i < requests; i++) await reserve(i);
    }
    const busy = read();
    const redis1 = procCpuSeconds(redisPid);
    const k = saleKeys(roomId, sale.id);
    const [available, heldInRedis] = (await (redis as unknown as Redis).hmget(k.sale, 'available', 'held')).map(Number) as [number, number];
    const oversold = Math.max(0, held - units, heldInRedis - units, -available);
    side.send({
      type: 'ran',
      mode,
      reservesPerSec: requests / ((last - at) / 1000),
      latency: latency.toJSON(),
      lateness: lateness.toJSON(),
      held,
      oversold,
      busy,
      redisCpuS: redis0 === null || redis1 === null ? null : redis1 - redis0,
    });
  });
  side.on('stop', async () => {
    store.close();
    redis.disconnect();
    await server.stop();
    process.exit(0);
  });
  side.send({ type: 'ready' });
}

main().catch(side.fail);
