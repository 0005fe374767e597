/**
 * Buy-now end to end through real sockets, HTTP and Redis: a bag product given stock is bought at
 * its price through reserve → hold → checkout → order; the per-person limit, idempotent
 * requestIds, sold-out, restock by PATCH, hold expiry through the shared sweeper, the order's
 * kind in the stream and the order routes, and the end of the live stopping the offer.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamFields } from '../src/core/redis-util.js';
import { orderStreamKey } from '../src/commerce/sales/sale-keys.js';
import { offerIdFor } from '../src/commerce/buy-now/buy-now-model.js';
import type { RedisClient } from '../src/core/redis-client.js';
import { closeAllSockets, connect, devUser, http, liveRoom, nextEvent, ok, request } from './helpers/clients.js';
import { auditSale } from './helpers/sale-audit.js';
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

async function roomWith(names: string[], stock: number | null, perUserLimit?: number, on: Stack = stack) {
  const { host, roomId, productId } = await liveRoom(on.url, 'Host');
  if (stock !== null) {
    const patched = await http(on.url, 'PATCH', `/api/rooms/${roomId}/products/${productId}`, host.token, { stock, ...(perUserLimit ? { perUserLimit } : {}) });
    expect(patched.status).toBe(200);
  }
  const hostSocket = await connect(on.url, host);
  await ok(hostSocket, 'room:join', { roomId });
  const viewers = await Promise.all(
    names.map(async (name) => {
      const user = await devUser(on.url, name);
      const socket = await connect(on.url, user);
      const snapshot = await ok(socket, 'room:join', { roomId });
      return { user, socket, snapshot };
    }),
  );
  return { host, hostSocket, roomId, productId, viewers };
}

describe('buy now', () => {
  it('reserve, limit, retries, checkout, sold-out, order kind and lookup, restock by PATCH, ledger', async () => {
    const { host, roomId, productId, viewers } = await roomWith(['Alice', 'Bob'], 3, 2);
    const [alice, bob] = viewers as [(typeof viewers)[0], (typeof viewers)[0]];
    expect(alice.snapshot.buyNow).toEqual({ stock: [{ productId, available: 3, held: 0, sold: 0 }], myHolds: [], myWaitlist: [] });

    const reserveId = rid();
    const hold = await ok(alice.socket, 'buy:reserve', { productId, qty: 2, requestId: reserveId });
    expect(hold).toMatchObject({ productId, qty: 2, unitPrice: 2999, currency: 'USD', remaining: 1 });
    expect(hold.holdId.startsWith(`${offerIdFor(productId)}.`)).toBe(true);
    // a retry is the first answer, not a second hold
    expect(await ok(alice.socket, 'buy:reserve', { productId, qty: 2, requestId: reserveId })).toEqual(hold);
    // the per-person limit counts what is held
    expect(await request(alice.socket, 'buy:reserve', { productId, qty: 1, requestId: rid() })).toMatchObject({ ok: false, error: { code: 'LIMIT_EXCEEDED' } });

    // the last unit: sold-out at once, to everyone
    const soldOut = nextEvent(alice.socket, 'buy:sold-out', (s) => s.productId === productId);
    const bobHold = await ok(bob.socket, 'buy:reserve', { productId, requestId: rid() });
    expect(bobHold.remaining).toBe(0);
    expect(await soldOut).toEqual({ productId, available: 0, held: 3, sold: 0 });
    expect(await request(bob.socket, 'buy:reserve', { productId, requestId: rid() })).toMatchObject({ ok: false, error: { code: 'SOLD_OUT' } });

    // checkout: one order of kind buy-now, however often retried
    const bought = nextEvent(bob.socket, 'buy:bought', (b) => b.productId === productId);
    const checkoutId = rid();
    const order = await ok(alice.socket, 'buy:checkout', { holdId: hold.holdId, requestId: checkoutId });
    expect(order).toMatchObject({ kind: 'buy-now', productId, holdId: hold.holdId, qty: 2, unitPrice: 2999, amount: 5998, currency: 'USD' });
    expect(order.orderId.startsWith(`o_${roomId}.`)).toBe(true);
    expect(await ok(alice.socket, 'buy:checkout', { holdId: hold.holdId, requestId: checkoutId })).toEqual(order);
    expect(await ok(alice.socket, 'buy:checkout', { holdId: hold.holdId, requestId: rid() })).toEqual(order);
    expect(await bought).toEqual({ productId, name: 'A***e', qty: 2 });
    // someone else's hold is not theirs to check out
    expect(await request(alice.socket, 'buy:checkout', { holdId: bobHold.holdId, requestId: rid() })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });

    const entries = (await redis.xrange(orderStreamKey(roomId), '-', '+')).map(([, f]) => streamFields(f));
    expect(entries).toEqual([expect.objectContaining({ orderId: order.orderId, kind: 'buy-now', saleId: offerIdFor(productId), userId: alice.user.id, qty: '2', amount: '5998' })]);
    const looked = await http(stack.url, 'GET', `/api/orders/${order.orderId}`, alice.user.token);
    expect(looked.status).toBe(200);
    expect(looked.body.order).toMatchObject({ orderId: order.orderId, kind: 'buy-now', ledgerId: offerIdFor(productId), saleId: null, userId: alice.user.id, userName: 'Alice', amount: 5998, requestId: checkoutId });

    // restock: the units available now become 5; held and sold stay
    const stock = nextEvent(bob.socket, 'buy:stock', (s) => s.productId === productId && s.available === 5);
    expect((await http(stack.url, 'PATCH', `/api/rooms/${roomId}/products/${productId}`, host.token, { stock: 5 })).status).toBe(200);
    expect(await stock).toEqual({ productId, available: 5, held: 1, sold: 2 });

    // A price edit applies to holds taken from now on; a hold taken before checks out at its price.
    expect((await http(stack.url, 'PATCH', `/api/rooms/${roomId}/products/${productId}`, host.token, { price: 1500 })).status).toBe(200);
    const cheaper = await ok(bob.socket, 'buy:reserve', { productId, requestId: rid() });
    expect(cheaper).toMatchObject({ unitPrice: 1500, remaining: 4 });
    const snap = await ok(await connect(stack.url, bob.user), 'room:join', { roomId });
    expect(snap.buyNow.myHolds.map((h) => [h.holdId, h.unitPrice])).toEqual([[bobHold.holdId, 2999], [cheaper.holdId, 1500]]);
    const oldPrice = await ok(bob.socket, 'buy:checkout', { holdId: bobHold.holdId, requestId: rid() });
    expect(oldPrice).toMatchObject({ unitPrice: 2999, amount: 2999 });
    expect(await ok(bob.socket, 'buy:checkout', { holdId: cheaper.holdId, requestId: rid() })).toMatchObject({ unitPrice: 1500, amount: 1500 });
    // later, under another requestId, the first hold's order is still the one made, at its price
    expect((await http(stack.url, 'PATCH', `/api/rooms/${roomId}/products/${productId}`, host.token, { price: 100 })).status).toBe(200);
    expect(await ok(bob.socket, 'buy:checkout', { holdId: bobHold.holdId, requestId: rid() })).toEqual(oldPrice);
    const listed = (await http(stack.url, 'GET', `/api/rooms/${roomId}/orders`, host.token)).body.orders;
    expect(listed.map((o: { unitPrice: number }) => o.unitPrice)).toEqual([1500, 2999, 2999]);

    const ledger = (await http(stack.url, 'GET', `/api/rooms/${roomId}/sales/${offerIdFor(productId)}/ledger`, host.token)).body.ledger;
    expect(ledger).toMatchObject({ initial: 3, added: 5, available: 4, held: 0, sold: 4, ok: true });
    const audit = await auditSale(redis, roomId, offerIdFor(productId), 60_000);
    expect(audit.problems).toEqual([]);
  });

  it('a product without stock is not for sale; stock null takes it off sale', async () => {
    const { host, roomId, productId, viewers } = await roomWith(['Carol'], null);
    const [carol] = viewers as [(typeof viewers)[0]];
    expect(carol.snapshot.buyNow).toEqual({ stock: [], myHolds: [], myWaitlist: [] });
    expect(await request(carol.socket, 'buy:reserve', { productId, requestId: rid() })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    expect(await request(carol.socket, 'buy:reserve', { productId: 'no-such-product', requestId: rid() })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });

    expect((await http(stack.url, 'PATCH', `/api/rooms/${roomId}/products/${productId}`, host.token, { stock: 2 })).status).toBe(200);
    const hold = await ok(carol.socket, 'buy:reserve', { productId, requestId: rid() });
    expect((await http(stack.url, 'PATCH', `/api/rooms/${roomId}/products/${productId}`, host.token, { stock: null })).body.product.stock).toBeNull();
    expect(await request(carol.socket, 'buy:reserve', { productId, requestId: rid() })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    // off sale: no longer in the snapshot's stock, though the hold shows among the buyer's holds
    const again = await ok(await connect(stack.url, carol.user), 'room:join', { roomId });
    expect(again.buyNow).toEqual({ stock: [], myHolds: [expect.objectContaining({ holdId: hold.holdId, productId })], myWaitlist: [] });
    // a hold taken before can still be checked out
    expect(await ok(carol.socket, 'buy:checkout', { holdId: hold.holdId, requestId: rid() })).toMatchObject({ qty: 1, kind: 'buy-now' });
    // and a product added with stock is for sale at once
    const added = await http(stack.url, 'POST', `/api/rooms/${roomId}/products`, host.token, { title: 'Mug', price: 800, currency: 'EUR', stock: 1 });
    expect(added.status).toBe(201);
    expect(await ok(carol.socket, 'buy:reserve', { productId: added.body.product.id, requestId: rid() })).toMatchObject({ unitPrice: 800, currency: 'EUR', remaining: 0 });
  });

  it('an unpaid hold expires back to stock (the shared sweeper), and the room hears it', async () => {
    // Holds of 1 s and a fast sweeper, so expiry is seen within the test.
    const quick = await startStack({ config: { BUY_NOW_HOLD_SEC: '1', SALE_SWEEP_MS: '50' } });
    try {
      await expiresBack(quick);
    } finally {
      await quick.stop();
    }
  });

  async function expiresBack(on: Stack) {
    const { productId, viewers } = await roomWith(['Dan'], 1, undefined, on);
    const [dan] = viewers as [(typeof viewers)[0]];
    const back = nextEvent(dan.socket, 'buy:stock', (s) => s.productId === productId && s.available === 1 && s.held === 0);
    const hold = await ok(dan.socket, 'buy:reserve', { productId, requestId: rid() });
    expect(hold.remaining).toBe(0);
    await back;
    expect(await request(dan.socket, 'buy:checkout', { holdId: hold.holdId, requestId: rid() })).toMatchObject({ ok: false, error: { code: 'HOLD_EXPIRED' } });
  }

  it('release gives the units back; the end of the live stops the offer', async () => {
    const { host, roomId, productId, viewers } = await roomWith(['Eve'], 2);
    const [eve] = viewers as [(typeof viewers)[0]];
    const hold = await ok(eve.socket, 'buy:reserve', { productId, qty: 2, requestId: rid() });
    expect(await ok(eve.socket, 'buy:release', { holdId: hold.holdId })).toEqual({ holdId: hold.holdId, released: true, remaining: 2 });
    expect(await ok(eve.socket, 'buy:release', { holdId: hold.holdId })).toEqual({ holdId: hold.holdId, released: false, remaining: 2 });
    const kept = await ok(eve.socket, 'buy:reserve', { productId, requestId: rid() });
    const snap = await ok(await connect(stack.url, eve.user), 'room:join', { roomId });
    expect(snap.buyNow.myHolds).toEqual([{ holdId: kept.holdId, productId, qty: 1, unitPrice: 2999, currency: 'USD', expiresAt: kept.expiresAt }]);

    expect((await http(stack.url, 'POST', `/api/rooms/${roomId}/end`, host.token)).status).toBe(200);
    const ledger = (await http(stack.url, 'GET', `/api/rooms/${roomId}/sales/${offerIdFor(productId)}/ledger`, host.token)).body.ledger;
    expect(ledger).toMatchObject({ ok: true, held: 1, available: 1 });
    // the offer is over for good: a reserve is refused (straight at the ledger: the room takes no joins)
    expect(await redis.hget(`{room:${roomId}}:sale:${offerIdFor(productId)}`, 'ended')).toBe('1');
    // and editing the bag after the live still works; it sells nothing
    expect((await http(stack.url, 'PATCH', `/api/rooms/${roomId}/products/${productId}`, host.token, { stock: 9 })).status).toBe(200);
    expect(await redis.hget(`{room:${roomId}}:sale:${offerIdFor(productId)}`, 'available')).toBe('1');
    const added = await http(stack.url, 'POST', `/api/rooms/${roomId}/products`, host.token, { title: 'Late lamp', price: 10, currency: 'USD', stock: 3 });
    expect(added.status).toBe(201);
    expect(await redis.exists(`{room:${roomId}}:sale:${offerIdFor(added.body.product.id)}`)).toBe(0);
  });
});
