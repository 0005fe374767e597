/**
 * The sweeper with many sales, on two nodes sweeping every 20 ms:
 * - sales created while sweeps run are never lost (issue 8: the index entry used to exist before
 *   the sale hash, and a sweep in that gap dropped it for good: no end, no expiry, no TTL);
 * - its work follows what is due, not how many sales exist: hundreds of long sales with nothing
 *   pending cost no sweep script at all.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlashSale, Product } from '../src/protocol/index.js';
import type { RedisClient } from '../src/core/redis-client.js';
import { DUE_INDEX, LEGACY_SWEEP_SET, saleRef } from '../src/commerce/sales/sale-keys.js';
import { INDEX_LEASE_MS } from '../src/commerce/sales/sale-model.js';
import { SaleStore } from '../src/commerce/sales/sale-store.js';
import { closeAllSockets, connect, devUser, liveRoom, nextEvent, ok, type TestSocket } from './helpers/clients.js';
import { NO_CLIENT_LIMITS } from './helpers/lifted-limits.js';
import { startStack, type Stack } from './helpers/stack.js';
import { startTestRedis } from './helpers/test-redis.js';

let stack: Stack;
let redis: RedisClient;
beforeAll(async () => {
  // One host socket starts hundreds of sales as fast as it can: the per-socket limits (tested on
  // their own) would only answer RATE_LIMITED here.
  stack = await startStack({ nodes: 2, config: { SALE_SWEEP_MS: '20', SALE_MAX_RUNNING_PER_ROOM: '1000', ...NO_CLIENT_LIMITS } });
  redis = stack.redis.client();
}, 120_000);
afterAll(async () => {
  closeAllSockets();
  redis.disconnect();
  await stack.stop();
});

async function hostedRoom(): Promise<{ hostSocket: TestSocket; watcher: TestSocket; productId: string; roomId: string }> {
  const [a, b] = stack.servers.map((s) => s.url) as [string, string];
  const { host, roomId, productId } = await liveRoom(a, 'Host');
  const hostSocket = await connect(a, host);
  await ok(hostSocket, 'room:join', { roomId });
  const watcher = await connect(b, await devUser(b, 'Watcher'));
  await ok(watcher, 'room:join', { roomId });
  return { hostSocket, watcher, productId, roomId };
}

/** Sales started by the host, `parallel` at a time, as fast as the server takes them. */
async function startMany(hostSocket: TestSocket, count: number, parallel: number, input: Record<string, unknown>): Promise<FlashSale[]> {
  const sales: FlashSale[] = [];
  for (let i = 0; i < count; i += parallel) {
    const n = Math.min(parallel, count - i);
    sales.push(...(await Promise.all(Array.from({ length: n }, () => ok(hostSocket, 'sale:start', input as never)))));
  }
  return sales;
}

/** Evalsha calls Redis has run so far (the sweep and claim scripts are evalsha): on a cluster,
 * summed over its masters. */
async function evalshaCalls(): Promise<number> {
  const servers = 'nodes' in redis ? redis.nodes('master') : [redis];
  const infos = await Promise.all(servers.map((r) => r.info('commandstats')));
  return infos.reduce((sum, info) => sum + Number(/cmdstat_evalsha:calls=(\d+)/.exec(info)?.[1] ?? 0), 0);
}

describe('sale sweeper', () => {
  it('announces the end of every one of 240 short sales created while sweeps run, and retires each', async () => {
    const { hostSocket, watcher, productId, roomId } = await hostedRoom();
    const COUNT = 240;
    const ended = new Set<string>();
    let allEnded!: () => void;
    const done = new Promise<void>((resolve) => (allEnded = resolve));
    const ids = new Set<string>();
    watcher.on('sale:ended', ({ saleId, reason }) => {
      if (reason === 'time') ended.add(saleId);
      if (ids.size === COUNT && [...ids].every((id) => ended.has(id))) allEnded();
    });

    const sales = await startMany(hostSocket, COUNT, 24, { productId, price: 100, quantity: 3, durationSec: 1, holdSec: 1 });
    for (const s of sales) ids.add(s.id);
    if ([...ids].every((id) => ended.has(id))) allEnded();
    const timeout = setTimeout(() => allEnded(), 90_000);
    await done;
    clearTimeout(timeout);

    const lost = sales.filter((s) => !ended.has(s.id)).map((s) => s.id);
    expect(lost, 'sales whose end was never announced').toEqual([]);
    // each one retired: its keys got their retention TTL in the same sweep that announced the end
    const ttls = await Promise.all(sales.map((s) => redis.pttl(`{room:${roomId}}:sale:${s.id}`)));
    expect(ttls.filter((t) => t <= 0)).toEqual([]);
  }, 150_000);

  it('sweeps by what is due: 300 long sales with nothing pending run no sweeps while a 1 s hold expires', async () => {
    const { hostSocket, watcher, productId } = await hostedRoom();
    await startMany(hostSocket, 300, 30, { productId, price: 100, quantity: 3, durationSec: 7 * 24 * 3600 });
    // none of them is due before its end, a week away
    expect(await redis.zcount(DUE_INDEX, '-inf', Date.now() + 24 * 3600_000)).toBe(0);
    const short = await ok(hostSocket, 'sale:start', { productId, price: 100, quantity: 1, durationSec: 7 * 24 * 3600, holdSec: 1 });
    expect(short).toMatchObject({ available: 1 });

    const before = await evalshaCalls();
    const back = nextEvent(watcher, 'sale:stock', (s) => s.saleId === short.id && s.available === 1 && s.held === 0, 30_000);
    await ok(watcher, 'sale:reserve', { saleId: short.id, qty: 1, requestId: randomUUID() });
    await back; // the hold expired by itself: at least a second of sweeper ticks on both nodes
    const calls = (await evalshaCalls()) - before;
    // Each tick of each node is one claim (about 100 in that second or so), plus the reserve and
    // the short sale's sweeps. Sweeping every sale each tick, as before, is 301 scripts per tick:
    // two ticks of one node would pass this bound.
    expect(calls).toBeLessThan(600);
  }, 120_000);
});

describe('due index rules (store level, virtual clock, a Redis of its own, of the run\'s topology)', () => {
  const product: Product = { id: 'p1', title: 'Scarf', imageUrl: null, price: 3000, currency: 'USD', merchant: null, brand: null };
  const input = { productId: 'p1', price: 100, quantity: 5, perUserLimit: 5, startInSec: 0, durationSec: 3600, holdSec: 10 };

  it('a reserve during a claimed sweep keeps its hold due; a stale lease never pushes it later', async () => {
    const own = await startTestRedis();
    const r = own.client();
    let clock = 1_000_000;
    const store = new SaleStore(r, { reservesPerSecond: 1000, ordersGroup: 'merchant', maxRunningPerRoom: 10, clock: () => clock });
    try {
      const { sale } = await store.create('r1', product, input, 'host');
      const ref = saleRef('r1', sale.id);
      // due at its end, an hour away: nothing else is pending
      expect(Number(await r.zscore(DUE_INDEX, ref))).toBe(sale.endsAt);
      // a reserve's guard brings it forward before the hold exists; the hold's sweep finds nothing due
      await store.reserve('r1', sale.id, 'u0', 1, 'req-00000000');
      expect(Number(await r.zscore(DUE_INDEX, ref))).toBeLessThanOrEqual(clock + 10_000);

      clock += 5_000;
      const { lease, refs } = await store.claimDue(100);
      expect(refs).toEqual([ref]);
      expect(lease).toBe(clock + INDEX_LEASE_MS);
      const swept = await store.sweep('r1', sale.id);
      expect(swept.nextDue).toBe(1_000_000 + 10_000); // u0's hold

      // a reserve lands between the sweep script and the reschedule: its hold expires in 10 s
      const hold = await store.reserve('r1', sale.id, 'u1', 1, 'req-00000001');
      expect(hold.answer.ok).toBe(true);
      await store.reschedule(ref, lease, swept.nextDue);
      const score = Number(await r.zscore(DUE_INDEX, ref));
      expect(score).toBeLessThanOrEqual(clock + 10_000); // not the end an hour away

      // both holds expire on the sweeps that claim them
      clock += 10_000;
      const second = await store.claimDue(100);
      expect(second.refs).toEqual([ref]);
      expect((await store.sweep('r1', sale.id)).unitsReturned).toBe(2);

      // a claimer whose lease is nearly over leaves the entry early instead of guessing
      const again = await store.claimDue(100);
      expect(again.refs).toEqual([]); // leased above
      clock += INDEX_LEASE_MS - 1000;
      const before = await r.zscore(DUE_INDEX, ref);
      await store.reschedule(ref, second.lease, sale.endsAt);
      expect(await r.zscore(DUE_INDEX, ref)).toBe(before);
    } finally {
      store.close();
      r.disconnect();
      await own.stop();
    }
  }, 90_000); // a Redis Cluster of its own takes a while to start on a busy machine

  it('moves sales of the old index (a set swept whole) into the due index, due at once', async () => {
    const own = await startTestRedis();
    const r = own.client();
    const store = new SaleStore(r, { reservesPerSecond: 1000, ordersGroup: 'merchant', maxRunningPerRoom: 10 });
    try {
      await r.sadd(LEGACY_SWEEP_SET, 'r1/s_old1', 'r2/s_old2');
      expect(await store.migrateLegacyIndex()).toBe(2);
      expect(await r.exists(LEGACY_SWEEP_SET)).toBe(0);
      expect((await store.claimDue(100)).refs.sort()).toEqual(['r1/s_old1', 'r2/s_old2']);
    } finally {
      store.close();
      r.disconnect();
      await own.stop();
    }
  }, 90_000); // a Redis Cluster of its own takes a while to start on a busy machine
});
