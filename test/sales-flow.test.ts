/**
 * A flash sale end to end through real sockets, HTTP and Redis: the host starts it, viewers
 * reserve, check out and release, the room hears stock, sold-out, "someone just bought" and the
 * end, the merchant reads the order from the stream with a consumer group, staff see figures.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamFields } from '../src/core/redis-util.js';
import { orderStreamKey } from '../src/commerce/sales/sale-keys.js';
import { closeAllSockets, connect, devUser, http, liveRoom, nextEvent, ok, request } from './helpers/clients.js';
import type { RedisClient } from '../src/core/redis-client.js';
import { startStack, type Stack } from './helpers/stack.js';

let stack: Stack;
let redis: RedisClient;
beforeAll(async () => {
  stack = await startStack();
  redis = stack.redis.client();
});
afterAll(async () => {
  closeAllSockets();
  redis.disconnect();
  await stack.stop();
});

const rid = () => randomUUID();

async function roomWithViewers(names: string[]) {
  const { host, roomId, productId } = await liveRoom(stack.url, 'Host');
  const hostSocket = await connect(stack.url, host);
  await ok(hostSocket, 'room:join', { roomId });
  const viewers = await Promise.all(
    names.map(async (name) => {
      const user = await devUser(stack.url, name);
      const socket = await connect(stack.url, user);
      await ok(socket, 'room:join', { roomId });
      return { user, socket };
    }),
  );
  return { host, hostSocket, roomId, productId, viewers };
}

describe('flash sale flow', () => {
  it('reserve, checkout, release, sold-out, bought, end, orders stream, figures, ledger', async () => {
    const { host, hostSocket, roomId, productId, viewers } = await roomWithViewers(['Alice', 'Bob']);
    const [alice, bob] = viewers as [(typeof viewers)[0], (typeof viewers)[0]];

    const started = nextEvent(alice.socket, 'sale:started');
    const sale = await ok(hostSocket, 'sale:start', { productId, price: 1999, quantity: 3, perUserLimit: 2, durationSec: 600 });
    expect(sale).toMatchObject({ productId, price: 1999, listPrice: 2999, initial: 3, available: 3, status: 'live', holdSeconds: 120 });
    expect((await started).sale.id).toBe(sale.id);

    // reserve: a hold with its expiry and the remaining stock
    const hold = await ok(alice.socket, 'sale:reserve', { saleId: sale.id, qty: 2, requestId: rid() });
    expect(hold).toMatchObject({ saleId: sale.id, qty: 2, remaining: 1 });
    expect(hold.expiresAt).toBeGreaterThan(Date.now() + 100_000);

    // the per-user limit counts what is held
    const over = await request(alice.socket, 'sale:reserve', { saleId: sale.id, qty: 1, requestId: rid() });
    expect(over).toMatchObject({ ok: false, error: { code: 'LIMIT_EXCEEDED' } });

    // the last unit: sold-out reaches the room at once
    const soldOut = nextEvent(alice.socket, 'sale:sold-out');
    const bobHold = await ok(bob.socket, 'sale:reserve', { saleId: sale.id, qty: 1, requestId: rid() });
    expect(bobHold.remaining).toBe(0);
    expect(await soldOut).toEqual({ saleId: sale.id, available: 0, held: 3, sold: 0 });
    const none = await request(bob.socket, 'sale:reserve', { saleId: sale.id, qty: 1, requestId: rid() });
    expect(none).toMatchObject({ ok: false, error: { code: 'SOLD_OUT' } });

    // a late joiner sees the sale with its stock; Alice's second connection sees her hold
    const again = await connect(stack.url, alice.user);
    const snap = await ok(again, 'room:join', { roomId });
    expect(snap.sales.active.map((s) => [s.id, s.available, s.held])).toEqual([[sale.id, 0, 3]]);
    expect(snap.sales.myHolds).toEqual([{ holdId: hold.holdId, saleId: sale.id, qty: 2, expiresAt: hold.expiresAt }]);

    // checkout: an order, "someone just bought" with the name shortened
    const bought = nextEvent(bob.socket, 'sale:bought');
    const order = await ok(alice.socket, 'sale:checkout', { holdId: hold.holdId, requestId: rid() });
    expect(order).toMatchObject({ saleId: sale.id, holdId: hold.holdId, productId, qty: 2, unitPrice: 1999, amount: 3998, currency: 'USD' });
    expect(await bought).toEqual({ saleId: sale.id, name: 'A***e', qty: 2 });

    // someone else's hold is not yours to check out or release
    expect(await request(alice.socket, 'sale:checkout', { holdId: bobHold.holdId, requestId: rid() })).toMatchObject({
      ok: false,
      error: { code: 'NOT_FOUND' },
    });
    expect(await request(alice.socket, 'sale:release', { holdId: bobHold.holdId })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });

    // release: the unit is back at once, and the room learns the stock
    const restocked = nextEvent(alice.socket, 'sale:stock', (s) => s.available === 1);
    expect(await ok(bob.socket, 'sale:release', { holdId: bobHold.holdId })).toEqual({ holdId: bobHold.holdId, released: true, remaining: 1 });
    expect(await restocked).toEqual({ saleId: sale.id, available: 1, held: 0, sold: 2 });
    expect(await ok(bob.socket, 'sale:release', { holdId: bobHold.holdId })).toMatchObject({ released: false });
    expect(await request(bob.socket, 'sale:checkout', { holdId: bobHold.holdId, requestId: rid() })).toMatchObject({
      ok: false,
      error: { code: 'NOT_FOUND' },
    });

    // the merchant's service reads the order with its consumer group
    const read = (await redis.xreadgroup('GROUP', 'merchant', 'orders-worker', 'COUNT', 10, 'STREAMS', orderStreamKey(roomId), '>')) as [
      string,
      [string, string[]][],
    ][];
    const entries = read[0]![1];
    expect(entries).toHaveLength(1);
    expect(streamFields(entries[0]![1])).toMatchObject({
      orderId: order.orderId,
      roomId,
      saleId: sale.id,
      holdId: hold.holdId,
      productId,
      userId: alice.user.id,
      userName: 'Alice',
      qty: '2',
      unitPrice: '1999',
      amount: '3998',
      currency: 'USD',
      createdAt: String(order.createdAt),
    });
    expect(await redis.xack(orderStreamKey(roomId), 'merchant', entries[0]![0])).toBe(1);

    // staff figures: 1 order, 2 units, GMV, 1 buyer of 2 viewers (staff don't count)
    const figures = await ok(hostSocket, 'sale:stats', {});
    expect(figures).toMatchObject({ roomId, uniqueViewers: 2, orders: 1, unitsSold: 2, gmv: 3998, buyers: 1, conversion: 0.5 });
    expect(figures.sales).toEqual([{ saleId: sale.id, orders: 1, unitsSold: 2, gmv: 3998, buyers: 1, conversion: 0.5, waitlist: { length: 0, offers: 0, conversions: 0, lapsed: 0 } }]);
    expect(await request(bob.socket, 'sale:stats', {})).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });

    // stop: the room hears the end, reservations are refused
    const ended = nextEvent(bob.socket, 'sale:ended');
    const stopped = await ok(hostSocket, 'sale:stop', { saleId: sale.id });
    expect(stopped.status).toBe('ended');
    expect(await ended).toEqual({ saleId: sale.id, reason: 'stopped', sold: 2 });
    expect(await request(bob.socket, 'sale:reserve', { saleId: sale.id, qty: 1, requestId: rid() })).toMatchObject({
      ok: false,
      error: { code: 'SALE_ENDED' },
    });

    // the ledger balances; only staff may read it
    const ledger = await http(stack.url, 'GET', `/api/rooms/${roomId}/sales/${sale.id}/ledger`, host.token);
    expect(ledger.status).toBe(200);
    expect(ledger.body.ledger).toMatchObject({ initial: 3, added: 0, available: 1, held: 0, sold: 2, ok: true });
    expect((await http(stack.url, 'GET', `/api/rooms/${roomId}/sales/${sale.id}/ledger`, bob.user.token)).status).toBe(403);
    const listed = await http(stack.url, 'GET', `/api/rooms/${roomId}/sales`, null);
    expect(listed.body.sales.map((s: { id: string; status: string }) => [s.id, s.status])).toEqual([[sale.id, 'ended']]);
  });

  it('counts down, opens on time, restocks, and ends by the clock', async () => {
    const { hostSocket, productId, viewers } = await roomWithViewers(['Carol']);
    const carol = viewers[0]!;
    const sale = await ok(hostSocket, 'sale:start', { productId, price: 500, quantity: 1, startInSec: 1, durationSec: 2 });
    expect(sale.status).toBe('scheduled');
    expect(sale.startsAt).toBeGreaterThan(Date.now());
    expect(await request(carol.socket, 'sale:reserve', { saleId: sale.id, qty: 1, requestId: rid() })).toMatchObject({
      ok: false,
      error: { code: 'SALE_NOT_STARTED' },
    });

    const restock = nextEvent(carol.socket, 'sale:stock', (s) => s.available === 3);
    expect(await ok(hostSocket, 'sale:restock', { saleId: sale.id, quantity: 2 })).toEqual({ saleId: sale.id, available: 3, added: 2, held: 0, sold: 0 });
    await restock;

    // the countdown ends: the room hears it and reservations succeed
    expect(await nextEvent(carol.socket, 'sale:opened', (e) => e.saleId === sale.id, 5000)).toEqual({ saleId: sale.id });
    expect(await ok(carol.socket, 'sale:reserve', { saleId: sale.id, qty: 1, requestId: rid() })).toMatchObject({ remaining: 2 });

    // the sweeper notices the end and tells the room (no client event involved)
    const ended = await nextEvent(carol.socket, 'sale:ended', (e) => e.saleId === sale.id, 8000);
    expect(ended).toEqual({ saleId: sale.id, reason: 'time', sold: 0 });
    expect(await request(carol.socket, 'sale:reserve', { saleId: sale.id, qty: 1, requestId: rid() })).toMatchObject({
      ok: false,
      error: { code: 'SALE_ENDED' },
    });
    expect(await request(hostSocket, 'sale:restock', { saleId: sale.id, quantity: 1 })).toMatchObject({ ok: false, error: { code: 'SALE_ENDED' } });
    expect(await request(hostSocket, 'sale:stop', { saleId: sale.id })).toMatchObject({ ok: false, error: { code: 'SALE_ENDED' } });
  });

  it('refuses bad payloads and unknown sales with an error ack', async () => {
    const { hostSocket, productId, viewers } = await roomWithViewers(['Dan']);
    const dan = viewers[0]!;
    const bad = [
      await request(hostSocket, 'sale:start', { productId, price: -1, quantity: 1, durationSec: 60 }),
      await request(hostSocket, 'sale:start', { productId, price: 1, quantity: 1 } as never),
      await request(hostSocket, 'sale:start', { productId, price: 1, quantity: 1, durationSec: 60, endsAt: Date.now() + 1000 } as never),
      await request(dan.socket, 'sale:reserve', { saleId: 'x', qty: 0, requestId: rid() }),
      await request(dan.socket, 'sale:reserve', { saleId: 'x', qty: 1, requestId: 'short' }),
      await request(dan.socket, 'sale:checkout', { holdId: 'h', requestId: rid(), extra: 1 } as never),
    ];
    for (const res of bad) expect(res).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    expect(await request(hostSocket, 'sale:start', { productId, price: 1, quantity: 1, endsAt: Date.now() - 1000 })).toMatchObject({
      ok: false,
      error: { code: 'BAD_REQUEST' },
    });
    // endsAt is bounded like durationSec: a sale lasts at most 7 days (the sweeper works for as long as it runs).
    expect(await request(hostSocket, 'sale:start', { productId, price: 1, quantity: 1, endsAt: Date.now() + 30 * 86_400_000 })).toMatchObject({
      ok: false,
      error: { code: 'BAD_REQUEST', message: expect.stringMatching(/at most 7 days/) },
    });
    expect(await request(hostSocket, 'sale:start', { productId: 'nope', price: 1, quantity: 1, durationSec: 60 })).toMatchObject({
      ok: false,
      error: { code: 'NOT_FOUND' },
    });
    expect(await request(dan.socket, 'sale:reserve', { saleId: 's_missing', qty: 1, requestId: rid() })).toMatchObject({
      ok: false,
      error: { code: 'NOT_FOUND' },
    });
    expect(await request(dan.socket, 'sale:checkout', { holdId: 's_missing.hX', requestId: rid() })).toMatchObject({
      ok: false,
      error: { code: 'NOT_FOUND' },
    });
    // not shaped like a hold id (`<saleId>.<random>`): refused by the schema, before any script
    expect(await request(dan.socket, 'sale:release', { holdId: 'no-dot' })).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
  });

  it('ending the live ends its running sales, and the ledger still balances', async () => {
    const { host, hostSocket, roomId, productId, viewers } = await roomWithViewers(['Eve']);
    const [eve] = viewers;
    const sale = await ok(hostSocket, 'sale:start', { productId, price: 900, quantity: 5, perUserLimit: 2, durationSec: 600 });
    await ok(eve!.socket, 'sale:reserve', { saleId: sale.id, qty: 1, requestId: rid() });

    expect((await http(stack.url, 'POST', `/api/rooms/${roomId}/end`, host.token)).status).toBe(200);
    const sales = (await http(stack.url, 'GET', `/api/rooms/${roomId}/sales`, host.token)).body.sales as { id: string; status: string; endReason: string }[];
    expect(sales.find((s) => s.id === sale.id)).toMatchObject({ status: 'ended', endReason: 'room-ended' });
    const ledger = await http(stack.url, 'GET', `/api/rooms/${roomId}/sales/${sale.id}/ledger`, host.token);
    expect(ledger.body.ledger).toMatchObject({ initial: 5, available: 4, held: 1, sold: 0, ok: true });
  });
});
