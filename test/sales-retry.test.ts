/**
 * The host's sale writes are safe to retry: a `sale:start` or `sale:restock` sent again with the
 * same requestId (after a timeout, say) gets the first answer and changes nothing — no second
 * sale, no doubled stock. Real server, real Redis.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeAllSockets, connect, devUser, http, liveRoom, nextEvent, ok } from './helpers/clients.js';
import { startStack, type Stack } from './helpers/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  closeAllSockets();
  await stack.stop();
});

async function hostAndViewer() {
  const { host, roomId, productId } = await liveRoom(stack.url, 'Host');
  const hostSocket = await connect(stack.url, host);
  await ok(hostSocket, 'room:join', { roomId });
  const viewer = await connect(stack.url, await devUser(stack.url, 'Vera'));
  await ok(viewer, 'room:join', { roomId });
  return { host, hostSocket, viewer, roomId, productId };
}

describe('retried host writes', () => {
  it('a restock sent twice with one requestId adds the units once; another requestId adds again', async () => {
    const { host, hostSocket, roomId, productId } = await hostAndViewer();
    const sale = await ok(hostSocket, 'sale:start', { productId, price: 500, quantity: 5, durationSec: 600, requestId: randomUUID() });

    const requestId = randomUUID();
    const first = await ok(hostSocket, 'sale:restock', { saleId: sale.id, quantity: 3, requestId });
    expect(first).toEqual({ saleId: sale.id, available: 8, added: 3, held: 0, sold: 0 });
    // The retry gets the stored first answer, even if its quantity differs.
    expect(await ok(hostSocket, 'sale:restock', { saleId: sale.id, quantity: 3, requestId })).toEqual(first);
    expect(await ok(hostSocket, 'sale:restock', { saleId: sale.id, quantity: 50, requestId })).toEqual(first);

    const ledger = await http(stack.url, 'GET', `/api/rooms/${roomId}/sales/${sale.id}/ledger`, host.token);
    expect(ledger.body.ledger).toMatchObject({ initial: 5, added: 3, available: 8, ok: true });

    const other = await ok(hostSocket, 'sale:restock', { saleId: sale.id, quantity: 3, requestId: randomUUID() });
    expect(other).toMatchObject({ available: 11, added: 6 });
    // Without a requestId every restock acts, as before.
    expect(await ok(hostSocket, 'sale:restock', { saleId: sale.id, quantity: 1 })).toMatchObject({ available: 12, added: 7 });
  });

  it('a start sent twice with one requestId makes one sale; another requestId makes another', async () => {
    const { hostSocket, viewer, roomId, productId } = await hostAndViewer();
    const start = { productId, price: 500, quantity: 5, durationSec: 600, requestId: randomUUID() };

    const announced = nextEvent(viewer, 'sale:started');
    const sale = await ok(hostSocket, 'sale:start', start);
    expect((await announced).sale.id).toBe(sale.id);

    // The retry answers the same sale (and announces it again: the first answer may have been lost
    // with the room never told; clients keep one entry per sale id).
    const reannounced = nextEvent(viewer, 'sale:started');
    const retried = await ok(hostSocket, 'sale:start', { ...start, quantity: 99 });
    expect(retried.id).toBe(sale.id);
    expect(retried.initial).toBe(5);
    expect((await reannounced).sale.id).toBe(sale.id);

    const listed = await http(stack.url, 'GET', `/api/rooms/${roomId}/sales`, null);
    expect(listed.body.sales.map((s: { id: string }) => s.id)).toEqual([sale.id]);

    const another = await ok(hostSocket, 'sale:start', { ...start, requestId: randomUUID() });
    expect(another.id).not.toBe(sale.id);
    const after = await http(stack.url, 'GET', `/api/rooms/${roomId}/sales`, null);
    expect(after.body.sales.map((s: { id: string }) => s.id).sort()).toEqual([sale.id, another.id].sort());
  });

  it("one host's requestId is not another host's: the same id in another room starts its own sale", async () => {
    const a = await hostAndViewer();
    const b = await hostAndViewer();
    const requestId = randomUUID();
    const saleA = await ok(a.hostSocket, 'sale:start', { productId: a.productId, price: 1, quantity: 1, durationSec: 600, requestId });
    const saleB = await ok(b.hostSocket, 'sale:start', { productId: b.productId, price: 1, quantity: 1, durationSec: 600, requestId });
    expect(saleB.id).not.toBe(saleA.id);
    expect(saleB.roomId).toBe(b.roomId);
  });
});
