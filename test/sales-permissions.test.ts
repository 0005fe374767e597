/**
 * Who may manage a sale: only the room's host starts, stops and restocks; staff (host and
 * moderators) see figures and the ledger. Viewers, guests and the host of another room cannot.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeAllSockets, connect, devUser, http, liveRoom, ok, request } from './helpers/clients.js';
import { startStack, type Stack } from './helpers/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  closeAllSockets();
  await stack.stop();
});

describe('flash sale permissions', () => {
  it('only the host manages sales; staff see figures and the ledger', async () => {
    const { host, roomId, productId } = await liveRoom(stack.url, 'Mia');
    const other = await liveRoom(stack.url, 'Otto'); // hosts a different room
    const viewer = await devUser(stack.url, 'Vera');
    const mod = await devUser(stack.url, 'Max');
    await http(stack.url, 'PUT', `/api/rooms/${roomId}/moderators/${mod.id}`, host.token);

    const hostSocket = await connect(stack.url, host);
    const viewerSocket = await connect(stack.url, viewer);
    const modSocket = await connect(stack.url, mod);
    const otherHostSocket = await connect(stack.url, other.host);
    const guest = await connect(stack.url, null);
    for (const s of [hostSocket, viewerSocket, modSocket, otherHostSocket, guest]) await ok(s, 'room:join', { roomId });

    const start = { productId, price: 100, quantity: 5, durationSec: 600 };
    const sale = await ok(hostSocket, 'sale:start', start);

    const refused = async (socket: typeof guest, code: string) => {
      expect(await request(socket, 'sale:start', start)).toMatchObject({ ok: false, error: { code } });
      expect(await request(socket, 'sale:stop', { saleId: sale.id })).toMatchObject({ ok: false, error: { code } });
      expect(await request(socket, 'sale:restock', { saleId: sale.id, quantity: 100 })).toMatchObject({ ok: false, error: { code } });
    };
    await refused(viewerSocket, 'FORBIDDEN');
    await refused(modSocket, 'FORBIDDEN');
    await refused(otherHostSocket, 'FORBIDDEN');
    await refused(guest, 'UNAUTHORIZED');

    // the other host, back in their own room, cannot reach this room's sale either
    await ok(otherHostSocket, 'room:join', { roomId: other.roomId });
    expect(await request(otherHostSocket, 'sale:stop', { saleId: sale.id })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    expect(await request(otherHostSocket, 'sale:restock', { saleId: sale.id, quantity: 100 })).toMatchObject({
      ok: false,
      error: { code: 'NOT_FOUND' },
    });

    // nothing changed: the stock is what the host set
    const ledgerPath = `/api/rooms/${roomId}/sales/${sale.id}/ledger`;
    const ledger = await http(stack.url, 'GET', ledgerPath, host.token);
    expect(ledger.body.ledger).toMatchObject({ initial: 5, added: 0, available: 5, ok: true });

    // figures and ledger: host and moderators only
    expect((await request(modSocket, 'sale:stats', {})).ok).toBe(true);
    expect(await request(viewerSocket, 'sale:stats', {})).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(await request(guest, 'sale:stats', {})).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
    expect((await http(stack.url, 'GET', ledgerPath, mod.token)).status).toBe(200);
    expect((await http(stack.url, 'GET', ledgerPath, viewer.token)).body).toMatchObject({ error: { code: 'FORBIDDEN' } });
    expect((await http(stack.url, 'GET', ledgerPath, other.host.token)).status).toBe(403);
    expect((await http(stack.url, 'GET', ledgerPath, null)).status).toBe(401);

    // guests watch but cannot buy
    expect(await request(guest, 'sale:reserve', { saleId: sale.id, qty: 1, requestId: randomUUID() })).toMatchObject({
      ok: false,
      error: { code: 'UNAUTHORIZED' },
    });
    // and a sale needs a live room and a product from its bag
    expect(await request(hostSocket, 'sale:start', { ...start, productId: 'not-in-bag' })).toMatchObject({
      ok: false,
      error: { code: 'NOT_FOUND' },
    });
  });

  it('a sale can only start while the room is live', async () => {
    const host = await devUser(stack.url, 'Sam');
    const created = await http(stack.url, 'POST', '/api/rooms', host.token, { title: 'later' });
    const roomId = created.body.room.id as string;
    const product = await http(stack.url, 'POST', `/api/rooms/${roomId}/products`, host.token, { title: 'Mug', price: 900, currency: 'EUR' });
    const socket = await connect(stack.url, host);
    await ok(socket, 'room:join', { roomId });
    expect(await request(socket, 'sale:start', { productId: product.body.product.id, price: 500, quantity: 1, durationSec: 60 })).toMatchObject({
      ok: false,
      error: { code: 'ROOM_NOT_LIVE' },
    });
  });
});
