/**
 * Buy-now under a rush, across two server processes on one Redis (either topology): 500 buyers,
 * each tapping Buy twice at once with one requestId (a retry), on 50 units; like real clients,
 * they send a request answered UNAVAILABLE again with the same requestId. Exactly 50 units are
 * held, then sold through checkouts retried on both processes: 50 orders of kind buy-now, one per
 * hold, the ledger balanced by the server's recount and by an independent audit of the records.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisClient } from '../src/core/redis-client.js';
import type { ClientPayload } from '../src/protocol/index.js';
import { streamFields } from '../src/core/redis-util.js';
import { offerIdFor } from '../src/commerce/buy-now/buy-now-model.js';
import { orderStreamKey } from '../src/commerce/sales/sale-keys.js';
import { connect, devUser, http, liveRoom, nextEvent, ok, request, type TestSocket, type TestUser } from './helpers/clients.js';
import { ONE_ADDRESS_CROWD } from './helpers/lifted-limits.js';
import { auditSale } from './helpers/sale-audit.js';
import { type ServerProcess } from './helpers/stack.js';
import { startServerProcesses, stopServerProcesses } from './helpers/server-processes.js';
import { type TestRedis } from './helpers/test-redis.js';

let redisServer: TestRedis;
let redis: RedisClient;
let nodes: ServerProcess[] = [];

beforeAll(async () => ({ redisServer, redis, nodes } = await startServerProcesses(2, { ...ONE_ADDRESS_CROWD })), 120_000);
afterAll(() => stopServerProcesses({ redisServer, redis, nodes }));

/**
 * What a client does: a request answered UNAVAILABLE (Redis too slow on a busy machine) is sent
 * again with the same payload, hence the same requestId, until it gets a real answer. Each retry
 * is safe by the protocol: it returns the first answer instead of acting twice.
 */
async function settle<E extends 'buy:reserve' | 'buy:checkout'>(socket: TestSocket, event: E, payload: ClientPayload<E>) {
  for (let attempt = 0; ; attempt++) {
    const res = await request(socket, event, payload);
    if (res.ok || res.error.code !== 'UNAVAILABLE' || attempt === 30) return res;
    await pause(100 * (attempt + 1)); // back off like a client; not a synchronisation
  }
}
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

const BUYERS = 500;
const UNITS = 50;

describe('buy now across two processes', () => {
  it('500 buyers on 50 units: exactly 50 sold, one order per hold, retries change nothing, ledger balanced', async () => {
    const urls = nodes.map((n) => n.url) as [string, string];
    const { host, roomId, productId } = await liveRoom(urls[0], 'Host');
    expect((await http(urls[0], 'PATCH', `/api/rooms/${roomId}/products/${productId}`, host.token, { stock: UNITS, perUserLimit: 1 })).status).toBe(200);
    const offerId = offerIdFor(productId);

    const users: TestUser[] = [];
    for (let i = 0; i < BUYERS; i += 100) users.push(...(await Promise.all(Array.from({ length: 100 }, (_, j) => devUser(urls[0], `Buyer ${i + j}`)))));
    const crowd: { user: TestUser; socket: TestSocket; node: number }[] = [];
    for (let i = 0; i < BUYERS; i += 50) {
      crowd.push(
        ...(await Promise.all(
          users.slice(i, i + 50).map(async (user, j) => {
            const node = (i + j) % 2;
            const socket = await connect(urls[node]!, user);
            await ok(socket, 'room:join', { roomId });
            return { user, socket, node };
          }),
        )),
      );
    }
    const soldOutSeen = Promise.all([0, 1].map((n) => nextEvent(crowd.find((c) => c.node === n)!.socket, 'buy:sold-out', (s) => s.productId === productId, 30_000)));

    // Everyone at once, each tap sent twice with one requestId (the client retried it).
    const taps = await Promise.all(
      crowd.map(async (c) => {
        const requestId = randomUUID();
        const [first, retry] = await Promise.all([
          settle(c.socket, 'buy:reserve', { productId, requestId }),
          settle(c.socket, 'buy:reserve', { productId, requestId }),
        ]);
        return { ...c, first, retry };
      }),
    );
    for (const t of taps) expect(t.retry).toEqual(t.first);
    const winners = taps.flatMap((t) => (t.first.ok ? [{ ...t, hold: t.first.data }] : []));
    expect(winners).toHaveLength(UNITS);
    expect(new Set(winners.map((w) => w.hold.holdId)).size).toBe(UNITS);
    const codes = new Set(taps.flatMap((t) => (t.first.ok ? [] : [t.first.error.code])));
    expect([...codes]).toEqual(['SOLD_OUT']);
    await soldOutSeen; // both processes told their sockets at once

    // Checkout, each retried on the buyer's socket and through the other process.
    const orders = await Promise.all(
      winners.map(async (w) => {
        const requestId = randomUUID();
        const elsewhere = await connect(urls[1 - w.node]!, w.user);
        await ok(elsewhere, 'room:join', { roomId });
        const answers = await Promise.all([
          settle(w.socket, 'buy:checkout', { holdId: w.hold.holdId, requestId }),
          settle(w.socket, 'buy:checkout', { holdId: w.hold.holdId, requestId }),
          settle(elsewhere, 'buy:checkout', { holdId: w.hold.holdId, requestId }),
        ]);
        for (const a of answers) expect(a).toEqual(answers[0]);
        if (!answers[0]!.ok) throw new Error(`checkout refused: ${answers[0]!.error.code}`);
        return { userId: w.user.id, order: answers[0]!.data };
      }),
    );
    expect(new Set(orders.map((o) => o.order.orderId)).size).toBe(UNITS);
    expect(orders.every((o) => o.order.kind === 'buy-now' && o.order.qty === 1 && o.order.amount === 2999)).toBe(true);

    const ledger = (await http(urls[1], 'GET', `/api/rooms/${roomId}/sales/${offerId}/ledger`, host.token)).body.ledger;
    expect(ledger).toMatchObject({ initial: UNITS, available: 0, held: 0, sold: UNITS, ok: true, recount: { sold: UNITS, bought: UNITS } });
    const audit = await auditSale(redis, roomId, offerId, 60_000);
    expect(audit.problems).toEqual([]);
    expect(audit.orders).toHaveLength(UNITS);
    const stream = (await redis.xrange(orderStreamKey(roomId), '-', '+')).map(([, f]) => streamFields(f));
    expect(stream.filter((f) => f.kind === 'buy-now' && f.saleId === offerId)).toHaveLength(UNITS);
    expect(new Set(stream.map((f) => f.userId)).size).toBe(UNITS);
    // the orders route lists exactly these
    const listed = (await http(urls[0], 'GET', `/api/rooms/${roomId}/orders?limit=100`, host.token)).body.orders as { orderId: string }[];
    expect(new Set(listed.map((o) => o.orderId))).toEqual(new Set(orders.map((o) => o.order.orderId)));
  }, 180_000);
});
