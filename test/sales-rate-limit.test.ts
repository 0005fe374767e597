/**
 * The reserve rate limit (SALE_RESERVE_RATE_PER_SEC attempts per user per sale per second), which
 * the reserve script checks itself: per user and per sale, the same within one batch as across
 * batches, never stored as a request's answer, and over when the window is. At the store level on
 * a virtual clock (windows end without waiting), and once through a real socket.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saleKeys } from '../src/commerce/sales/sale-keys.js';
import type { SaleStartInput } from '../src/commerce/sales/sale-model.js';
import { SaleQueries } from '../src/commerce/sales/sale-queries.js';
import { SaleStore } from '../src/commerce/sales/sale-store.js';
import type { RedisClient } from '../src/core/redis-client.js';
import type { Product } from '../src/protocol/index.js';
import { closeAllSockets, connect, devUser, liveRoom, ok, request } from './helpers/clients.js';
import { startStack } from './helpers/stack.js';
import { startTestRedis, type TestRedis } from './helpers/test-redis.js';

const RATE = 3;
const ROOM = 'r_rate';
const product: Product = { id: 'p1', title: 'Scarf', imageUrl: null, price: 3000, currency: 'USD', merchant: null, brand: null };
const input: SaleStartInput = { productId: product.id, price: 1500, quantity: 100, perUserLimit: 100, startInSec: 0, durationSec: 600, holdSec: 60 };

let server: TestRedis;
let redis: RedisClient;
let store: SaleStore;
let queries: SaleQueries;
let clock = 1_800_000_000_000;

beforeAll(async () => {
  server = await startTestRedis();
  redis = server.client();
  store = new SaleStore(redis, { reservesPerSecond: RATE, ordersGroup: 'merchant', maxRunningPerRoom: 100, clock: () => clock });
  queries = new SaleQueries(redis, () => clock);
});
afterAll(async () => {
  store.close();
  redis.disconnect();
  await server.stop();
});

const codeOf = async (saleId: string, user: string, requestId = randomUUID()) => {
  const { answer } = await store.reserve(ROOM, saleId, user, 1, requestId);
  return answer.ok ? 'ok' : answer.code;
};

describe('reserve rate limit (store, virtual clock)', () => {
  it('allows RATE attempts per user per sale per window, refuses the rest without storing them', async () => {
    const { sale } = await store.create(ROOM, product, input, 'host');
    const { sale: other } = await store.create(ROOM, product, input, 'host');

    for (let i = 0; i < RATE; i++) expect(await codeOf(sale.id, 'u1')).toBe('ok');
    const refusedId = randomUUID();
    expect(await codeOf(sale.id, 'u1', refusedId)).toBe('RATE_LIMITED');
    // Per user and per sale: others are not held back.
    expect(await codeOf(sale.id, 'u2')).toBe('ok');
    expect(await codeOf(other.id, 'u1')).toBe('ok');
    // Refused before deciding: the ledger did not move, and nothing was remembered for the request.
    expect(await queries.ledger(ROOM, sale.id)).toMatchObject({ held: RATE + 1, available: 100 - RATE - 1, ok: true });

    clock += 999;
    expect(await codeOf(sale.id, 'u1', refusedId)).toBe('RATE_LIMITED'); // still the same window
    clock += 1;
    // A new window: the same requestId now gets decided (a retry after RATE_LIMITED is fine).
    const retried = await store.reserve(ROOM, sale.id, 'u1', 1, refusedId);
    expect(retried).toMatchObject({ answer: { ok: true }, fresh: true });
    // ...and is stored from then on: a replay answers the hold again.
    expect(await store.reserve(ROOM, sale.id, 'u1', 1, refusedId)).toMatchObject({ answer: retried.answer, fresh: false });
  });

  it('counts taps of one batch (one event-loop turn) one after the other, like separate calls', async () => {
    const { sale } = await store.create(ROOM, product, input, 'host');
    const codes = await Promise.all(Array.from({ length: RATE + 2 }, () => codeOf(sale.id, 'u_batch')));
    expect(codes).toEqual([...Array<string>(RATE).fill('ok'), 'RATE_LIMITED', 'RATE_LIMITED']);
    // The counts live in one hash per sale that is gone a window after its last write.
    const ttl = await redis.pttl(saleKeys(ROOM, sale.id).rateLimits);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(1000);
  });

  it('answers a replay before the limit: retries of a decided tap are never refused', async () => {
    const { sale } = await store.create(ROOM, product, input, 'host');
    const first = randomUUID();
    expect(await codeOf(sale.id, 'u3', first)).toBe('ok');
    for (let i = 1; i < RATE; i++) expect(await codeOf(sale.id, 'u3')).toBe('ok');
    expect(await codeOf(sale.id, 'u3')).toBe('RATE_LIMITED');
    expect(await codeOf(sale.id, 'u3', first)).toBe('ok');
  });
});

describe('reserve rate limit (socket)', () => {
  it('taps over SALE_RESERVE_RATE_PER_SEC are RATE_LIMITED for that user only', async () => {
    const stack = await startStack({ config: { SALE_RESERVE_RATE_PER_SEC: '2' } });
    try {
      const { host, roomId, productId } = await liveRoom(stack.url, 'Host');
      const hostSocket = await connect(stack.url, host);
      await ok(hostSocket, 'room:join', { roomId });
      const sale = await ok(hostSocket, 'sale:start', { productId, price: 500, quantity: 10, perUserLimit: 5, durationSec: 600 });
      const [alice, bob] = await Promise.all(['Alice', 'Bob'].map(async (name) => connect(stack.url, await devUser(stack.url, name))));
      for (const s of [alice!, bob!]) await ok(s, 'room:join', { roomId });
      // Sent together, so they reach the server within the same window (one batch, one clock).
      const taps = await Promise.all([alice, alice, alice, bob].map((s) => request(s!, 'sale:reserve', { saleId: sale.id, qty: 1, requestId: randomUUID() })));
      expect(taps.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual(['ok', 'ok', 'RATE_LIMITED', 'ok']);
      expect(taps[2]).toEqual({ ok: false, error: { code: 'RATE_LIMITED', message: 'too many attempts; slow down' } });
    } finally {
      closeAllSockets();
      await stack.stop();
    }
  });
});
