/**
 * Holds that run out go back to stock by themselves: the sweepers of two nodes run at once and
 * the units return exactly once; the room learns the stock; a late checkout is HOLD_EXPIRED.
 * And when Redis is unreachable, a reserve is refused with UNAVAILABLE, never guessed.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeAllSockets, connect, devUser, http, liveRoom, nextEvent, ok, request } from './helpers/clients.js';
import { startStack, type Stack } from './helpers/stack.js';

let stack: Stack;
beforeAll(async () => {
  // Two nodes, each with its own sweeper, on one Redis; a quick sweep keeps the test short.
  stack = await startStack({ nodes: 2, config: { SALE_SWEEP_MS: '50' } });
});
afterAll(async () => {
  closeAllSockets();
  await stack.stop();
});

describe('hold expiry', () => {
  it('returns expired holds to stock once, tells the room, and refuses the late checkout', async () => {
    const [a, b] = stack.servers.map((s) => s.url) as [string, string];
    const { host, roomId, productId } = await liveRoom(a, 'Host');
    const hostSocket = await connect(a, host);
    await ok(hostSocket, 'room:join', { roomId });
    const sale = await ok(hostSocket, 'sale:start', { productId, price: 700, quantity: 4, perUserLimit: 4, durationSec: 600, holdSec: 1 });

    const buyers = await Promise.all(['Ann', 'Ben'].map((n) => devUser(a, n)));
    const sockets = [await connect(a, buyers[0]!), await connect(b, buyers[1]!)];
    for (const s of sockets) await ok(s, 'room:join', { roomId });
    const watcher = sockets[1]!; // on the other node than the reserves below

    const h1 = await ok(sockets[0]!, 'sale:reserve', { saleId: sale.id, qty: 3, requestId: randomUUID() });
    const soldOut = nextEvent(watcher, 'sale:sold-out');
    const h2 = await ok(sockets[1]!, 'sale:reserve', { saleId: sale.id, qty: 1, requestId: randomUUID() });
    expect(h2.remaining).toBe(0);
    await soldOut;
    expect(h1.expiresAt - Date.now()).toBeLessThanOrEqual(1000);

    // No client does anything: the sweepers give all 4 units back and the room hears it.
    const back = await nextEvent(watcher, 'sale:stock', (s) => s.available === 4, 5000);
    expect(back).toEqual({ saleId: sale.id, available: 4, held: 0, sold: 0 });

    expect(await request(sockets[0]!, 'sale:checkout', { holdId: h1.holdId, requestId: randomUUID() })).toMatchObject({
      ok: false,
      error: { code: 'HOLD_EXPIRED' },
    });
    expect(await request(sockets[1]!, 'sale:release', { holdId: h2.holdId })).toMatchObject({ ok: false, error: { code: 'HOLD_EXPIRED' } });
    const snap = await ok(sockets[0]!, 'room:join', { roomId });
    expect(snap.sales.myHolds).toEqual([]);
    expect(snap.sales.active[0]).toMatchObject({ id: sale.id, available: 4, held: 0 });

    // both sweepers ran over the same holds; the units came back exactly once
    const ledger = await http(a, 'GET', `/api/rooms/${roomId}/sales/${sale.id}/ledger`, host.token);
    expect(ledger.body.ledger).toMatchObject({ initial: 4, available: 4, held: 0, sold: 0, ok: true, recount: { activeHolds: 0 } });

    // the stock is really back: the expired buyer can reserve again
    expect(await ok(sockets[0]!, 'sale:reserve', { saleId: sale.id, qty: 4, requestId: randomUUID() })).toMatchObject({ remaining: 0 });
  });
});

describe('Redis unreachable', () => {
  it('refuses a reserve with UNAVAILABLE', async () => {
    const own = await startStack();
    try {
      const { host, roomId, productId } = await liveRoom(own.url, 'Host');
      const hostSocket = await connect(own.url, host);
      await ok(hostSocket, 'room:join', { roomId });
      const sale = await ok(hostSocket, 'sale:start', { productId, price: 700, quantity: 4, durationSec: 600 });
      const buyer = await connect(own.url, await devUser(own.url, 'Una'));
      await ok(buyer, 'room:join', { roomId });
      expect((await ok(buyer, 'sale:reserve', { saleId: sale.id, qty: 1, requestId: randomUUID() })).remaining).toBe(3);

      await own.redis.stop();
      const res = await request(buyer, 'sale:reserve', { saleId: sale.id, qty: 1, requestId: randomUUID() });
      expect(res).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE' } });
      expect(await request(buyer, 'sale:checkout', { holdId: `${sale.id}.hx`, requestId: randomUUID() })).toMatchObject({
        ok: false,
        error: { code: 'UNAVAILABLE' },
      });
    } finally {
      await own.stop();
    }
  });
});
