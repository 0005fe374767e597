/**
 * The server on a real 3-master Redis Cluster (whatever TEST_REDIS says): a room's keys all carry
 * its hash tag and so share one slot, two rooms' keys sit in different slots, and a chat and
 * sale round trip works across two server nodes (stores, scripts and the Socket.IO adapter on
 * an ioredis Cluster, no CROSSSLOT anywhere).
 */
import { randomUUID } from 'node:crypto';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderStreamKey } from '../src/commerce/sales/sale-keys.js';
import { streamFields } from '../src/core/redis-util.js';
import { closeAllSockets, connect, devUser, http, liveRoom, nextEvent, ok } from './helpers/clients.js';
import { startStack, type Stack } from './helpers/stack.js';

let stack: Stack;
let redis: Cluster;

beforeAll(async () => {
  stack = await startStack({ nodes: 2, topology: 'cluster' });
  const client = stack.redis.client();
  if (!(client instanceof Cluster)) throw new Error('expected a Cluster client');
  redis = client;
});
afterAll(async () => {
  closeAllSockets();
  redis?.disconnect();
  await stack?.stop();
});

/** Every key in the cluster (test data only: KEYS on each master). */
async function allKeys(): Promise<string[]> {
  const perNode = await Promise.all(redis.nodes('master').map((n) => n.keys('*')));
  return perNode.flat();
}

const slotOf = (key: string): Promise<number> => redis.cluster('KEYSLOT', key) as Promise<number>;

/** A live room with a chat message, hearts, a pin, a sale with a reservation and an order. */
async function busyRoom(name: string) {
  const [a, b] = stack.servers.map((s) => s.url) as [string, string];
  const { host, roomId, productId } = await liveRoom(a, name);
  const hostSocket = await connect(a, host);
  await ok(hostSocket, 'room:join', { roomId });
  const buyer = await devUser(b, `${name}'s buyer`);
  const viewer = await connect(b, buyer); // on the other node: fan-out goes through the adapter
  await ok(viewer, 'room:join', { roomId });

  const heard = nextEvent(viewer, 'chat:message', (m) => m.text === `hello from ${name}`);
  const sent = await ok(hostSocket, 'chat:send', { text: `hello from ${name}` });
  expect(await heard).toEqual(sent);
  await ok(viewer, 'heart:tap', { count: 2 });
  await ok(hostSocket, 'pin:set', { productId });

  const sale = await ok(hostSocket, 'sale:start', { productId, price: 1500, quantity: 5, perUserLimit: 2, durationSec: 600 });
  const stockOnA = nextEvent(hostSocket, 'sale:stock', (s) => s.saleId === sale.id && s.available === 3);
  const hold = await ok(viewer, 'sale:reserve', { saleId: sale.id, qty: 2, requestId: randomUUID() });
  expect(hold).toMatchObject({ qty: 2, remaining: 3 });
  await stockOnA;
  const order = await ok(viewer, 'sale:checkout', { holdId: hold.holdId, requestId: randomUUID() });
  const ledger = (await http(a, 'GET', `/api/rooms/${roomId}/sales/${sale.id}/ledger`, host.token)).body.ledger;
  expect(ledger).toMatchObject({ initial: 5, available: 3, held: 0, sold: 2, ok: true });
  return { roomId, order, buyer };
}

describe('on a Redis Cluster', () => {
  it('keeps each room in its own slot, and chat and sales work end to end', async () => {
    const one = await busyRoom('Ana');
    const two = await busyRoom('Bea');

    // The order reached the room's order stream, read straight from the cluster.
    const entries = await redis.xrange(orderStreamKey(one.roomId), '-', '+');
    expect(entries.map(([, f]) => streamFields(f))).toEqual([expect.objectContaining({ orderId: one.order.orderId, userId: one.buyer.id })]);

    // Both rooms are listed (the global index, written after the record, is readable).
    const listed = (await http(stack.url, 'GET', '/api/rooms?status=live', null)).body.rooms.map((r: { id: string }) => r.id);
    expect(listed).toEqual(expect.arrayContaining([one.roomId, two.roomId]));

    const keys = await allKeys();
    const slotsOf = async (roomId: string) => {
      const mine = keys.filter((k) => k.includes(roomId));
      // Every key naming the room carries its hash tag: nothing of a room lives outside its slot.
      expect(mine.filter((k) => !k.includes(`{room:${roomId}}`))).toEqual([]);
      return { count: mine.length, slots: new Set(await Promise.all(mine.map(slotOf))) };
    };
    const [a, b] = [await slotsOf(one.roomId), await slotsOf(two.roomId)];
    // Records, chat, stats, bag, pin, sale hashes, holds, orders...: many keys, one slot per room.
    expect(a.count).toBeGreaterThan(10);
    expect(b.count).toBeGreaterThan(10);
    expect(a.slots.size).toBe(1);
    expect(b.slots.size).toBe(1);
    // Random ids make a shared slot a 1-in-16,384 event; different slots show the tag is the room's.
    expect([...a.slots][0]).not.toBe([...b.slots][0]);
    expect([...a.slots][0]).toBe(await slotOf(`{room:${one.roomId}}`));
  });
});
