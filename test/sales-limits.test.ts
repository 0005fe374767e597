/**
 * The edges of flash sales: a banned user is refused by every sale action, even on a connection
 * the ban has not reached yet; a room runs at most SALE_MAX_RUNNING_PER_ROOM sales at once; and
 * ids that could name one of a sale's own Redis sub-keys are BAD_REQUEST at the boundary (socket
 * events and the HTTP ledger route), never an INTERNAL from a confused script.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeAllSockets, connect, devUser, http, liveRoom, ok, request, requestRaw } from './helpers/clients.js';
import { startStack, type Stack } from './helpers/stack.js';
import type { RedisClient } from '../src/core/redis-client.js';

const MAX_RUNNING = 2;
let stack: Stack;
let redis: RedisClient;
beforeAll(async () => {
  stack = await startStack({ config: { SALE_MAX_RUNNING_PER_ROOM: String(MAX_RUNNING) } });
  redis = stack.redis.client();
});
afterAll(async () => {
  closeAllSockets();
  redis.disconnect();
  await stack.stop();
});

const rid = () => randomUUID();

async function roomWithBuyer(name: string) {
  const { host, roomId, productId } = await liveRoom(stack.url, 'Host');
  const hostSocket = await connect(stack.url, host);
  await ok(hostSocket, 'room:join', { roomId });
  const user = await devUser(stack.url, name);
  const socket = await connect(stack.url, user);
  await ok(socket, 'room:join', { roomId });
  return { host, hostSocket, roomId, productId, user, socket };
}

describe('bans in flash sales', () => {
  it('refuses reserve, checkout and release of a banned user still on a connection in the room', async () => {
    const { host, hostSocket, roomId, productId, user, socket } = await roomWithBuyer('Mallory');
    const sale = await ok(hostSocket, 'sale:start', { productId, price: 500, quantity: 10, perUserLimit: 5, durationSec: 600 });
    const toBuy = await ok(socket, 'sale:reserve', { saleId: sale.id, qty: 1, requestId: rid() });
    const toRelease = await ok(socket, 'sale:reserve', { saleId: sale.id, qty: 1, requestId: rid() });
    const reserveId = rid();

    // The ban is recorded, but this connection has not been evicted yet: the window in which a
    // user rejoining from many sockets kept one in the room. The sale scripts read the ban set.
    await redis.sadd(`{room:${roomId}}:bans`, user.id);
    for (const res of [
      await request(socket, 'sale:reserve', { saleId: sale.id, qty: 1, requestId: reserveId }),
      await request(socket, 'sale:checkout', { holdId: toBuy.holdId, requestId: rid() }),
      await request(socket, 'sale:release', { holdId: toRelease.holdId }),
    ]) {
      expect(res).toMatchObject({ ok: false, error: { code: 'BANNED' } });
    }
    // nothing was bought or given back, and the refusal was not stored as the request's answer
    const ledger = await http(stack.url, 'GET', `/api/rooms/${roomId}/sales/${sale.id}/ledger`, host.token);
    expect(ledger.body.ledger).toMatchObject({ available: 8, held: 2, sold: 0, ok: true });

    await redis.srem(`{room:${roomId}}:bans`, user.id);
    expect(await ok(socket, 'sale:reserve', { saleId: sale.id, qty: 1, requestId: reserveId })).toMatchObject({ remaining: 7 });
    expect(await ok(socket, 'sale:checkout', { holdId: toBuy.holdId, requestId: rid() })).toMatchObject({ qty: 1 });
  });

  it('a ban through mod:ban takes the user out of the room, and a way back in is refused', async () => {
    const { hostSocket, roomId, productId, user, socket } = await roomWithBuyer('Trudy');
    const sale = await ok(hostSocket, 'sale:start', { productId, price: 500, quantity: 10, durationSec: 600 });
    const hold = await ok(socket, 'sale:reserve', { saleId: sale.id, qty: 1, requestId: rid() });
    await ok(hostSocket, 'mod:ban', { userId: user.id });
    expect(await request(socket, 'sale:checkout', { holdId: hold.holdId, requestId: rid() })).toMatchObject({ ok: false });
    const again = await connect(stack.url, user);
    expect(await request(again, 'room:join', { roomId })).toMatchObject({ ok: false, error: { code: 'BANNED' } });
    expect(await request(again, 'sale:checkout', { holdId: hold.holdId, requestId: rid() })).toMatchObject({ ok: false, error: { code: 'NOT_IN_ROOM' } });
  });
});

describe('running sales per room', () => {
  it(`allows ${MAX_RUNNING} sales at once, refuses one more with LIMIT_EXCEEDED, and counts a stopped one out`, async () => {
    const { hostSocket, productId } = await roomWithBuyer('Rob');
    const start = () => request(hostSocket, 'sale:start', { productId, price: 100, quantity: 5, startInSec: 60, durationSec: 600 });
    const running = [];
    for (let i = 0; i < MAX_RUNNING; i++) {
      const res = await start();
      expect(res.ok).toBe(true);
      if (res.ok) running.push(res.data);
    }
    expect(await start()).toMatchObject({ ok: false, error: { code: 'LIMIT_EXCEEDED' } });
    await ok(hostSocket, 'sale:stop', { saleId: running[0]!.id });
    expect((await start()).ok).toBe(true);
  });
});

describe('sale and hold ids', () => {
  it("are BAD_REQUEST when they could name a sale's own sub-keys, on sockets and over HTTP", async () => {
    const { host, hostSocket, roomId, productId, socket } = await roomWithBuyer('Eve');
    const sale = await ok(hostSocket, 'sale:start', { productId, price: 100, quantity: 5, perUserLimit: 2, durationSec: 600 });
    const hold = await ok(socket, 'sale:reserve', { saleId: sale.id, qty: 1, requestId: rid() });
    const subKeys = ['holds', 'quota', 'held-by', 'expiries', 'requests', 'bought', 'frame', 'rl', 'rl:u_1'];

    for (const part of subKeys) {
      const saleId = `${sale.id}:${part}`;
      for (const [event, payload] of [
        ['sale:reserve', { saleId, qty: 1, requestId: rid() }],
        ['sale:stop', { saleId }],
        ['sale:restock', { saleId, quantity: 1 }],
        ['sale:checkout', { holdId: `${saleId}.${hold.holdId.split('.')[1]}`, requestId: rid() }],
        ['sale:release', { holdId: `${saleId}.x` }],
      ] as const) {
        expect(await requestRaw(hostSocket, event, payload), `${event} ${saleId}`).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
      }
      const ledger = await http(stack.url, 'GET', `/api/rooms/${roomId}/sales/${encodeURIComponent(saleId)}/ledger`, host.token);
      expect(ledger.status, saleId).toBe(400);
      expect(ledger.body.error.code).toBe('BAD_REQUEST');
    }
    // a dot in a sale id would make a hold id ambiguous
    expect(await requestRaw(socket, 'sale:reserve', { saleId: `${sale.id}.x`, qty: 1, requestId: rid() })).toMatchObject({
      ok: false,
      error: { code: 'BAD_REQUEST' },
    });
    // the sale itself is untouched and its ledger still balances
    const ledger = await http(stack.url, 'GET', `/api/rooms/${roomId}/sales/${sale.id}/ledger`, host.token);
    expect(ledger.body.ledger).toMatchObject({ initial: 5, available: 4, held: 1, ok: true });
  });
});

