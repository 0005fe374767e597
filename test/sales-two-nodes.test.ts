/**
 * The rush, across two server processes on one Redis: 500 sockets fire 2,000 reserves at 100
 * units at once. Exactly 100 units end up held, the ledger balances, nobody exceeds the limit.
 * Then retries: the same requestId sent many times at once through both processes makes one
 * hold, and the same checkout makes one order and one record in the orders stream.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisClient } from '../src/core/redis-client.js';
import { streamFields } from '../src/core/redis-util.js';
import { orderStreamKey } from '../src/commerce/sales/sale-keys.js';
import type { ErrorCode } from '../src/protocol/index.js';
import { connect, devUser, http, liveRoom, nextEvent, ok, request, type TestSocket, type TestUser } from './helpers/clients.js';
import { type ServerProcess } from './helpers/stack.js';
import { startServerProcesses, stopServerProcesses } from './helpers/server-processes.js';
import { type TestRedis } from './helpers/test-redis.js';

let redisServer: TestRedis;
let redis: RedisClient;
let nodes: ServerProcess[] = [];

beforeAll(async () => ({ redisServer, redis, nodes } = await startServerProcesses(2, { MEDIA_ENABLED: 'false' })), 120_000);
afterAll(() => stopServerProcesses({ redisServer, redis, nodes }));

const USERS = 250;
const UNITS = 100;
const LIMIT = 3;
const ATTEMPTS_PER_SOCKET = 4;

/** One socket per user on each process, all joined to the room. */
async function crowd(roomId: string, users: TestUser[]): Promise<{ user: TestUser; socket: TestSocket }[]> {
  const out: { user: TestUser; socket: TestSocket }[] = [];
  for (let i = 0; i < users.length; i += 50) {
    const batch = users.slice(i, i + 50).flatMap((user) => nodes.map((n) => ({ user, url: n.url })));
    out.push(
      ...(await Promise.all(
        batch.map(async ({ user, url }) => {
          const socket = await connect(url, user);
          await ok(socket, 'room:join', { roomId });
          return { user, socket };
        }),
      )),
    );
  }
  return out;
}

describe('flash sale across two processes', () => {
  it('2,000 reserves from 500 sockets on 100 units: exactly 100 held, ledger balanced, nobody over the limit', async () => {
    const [a] = nodes.map((n) => n.url) as [string];
    const { host, roomId, productId } = await liveRoom(a, 'Host');
    const hostSocket = await connect(a, host);
    await ok(hostSocket, 'room:join', { roomId });
    const users = await Promise.all(Array.from({ length: USERS }, (_, i) => devUser(a, `Buyer ${i}`)));
    const sockets = await crowd(roomId, users);
    expect(sockets).toHaveLength(500);

    const sale = await ok(hostSocket, 'sale:start', { productId, price: 999, quantity: UNITS, perUserLimit: LIMIT, durationSec: 600 });
    const soldOutSeen = Promise.all([nextEvent(sockets[0]!.socket, 'sale:sold-out'), nextEvent(sockets[1]!.socket, 'sale:sold-out')]);

    // everyone at once
    const attempts = sockets.flatMap(({ user, socket }) =>
      Array.from({ length: ATTEMPTS_PER_SOCKET }, () =>
        request(socket, 'sale:reserve', { saleId: sale.id, qty: 1, requestId: randomUUID() }).then((res) => ({ user, res })),
      ),
    );
    const results = await Promise.all(attempts);
    expect(results).toHaveLength(2000);

    const held = results.flatMap(({ user, res }) => (res.ok ? [{ user: user.id, ...res.data }] : []));
    const refusals = new Map<ErrorCode, number>();
    for (const { res } of results) if (!res.ok) refusals.set(res.error.code, (refusals.get(res.error.code) ?? 0) + 1);
    expect(held.reduce((sum, h) => sum + h.qty, 0)).toBe(UNITS);
    expect(new Set(held.map((h) => h.holdId)).size).toBe(held.length);
    expect([...refusals.keys()].filter((c) => !["SOLD_OUT", "LIMIT_EXCEEDED", "RATE_LIMITED"].includes(c))).toEqual([]);
    expect(refusals.get('SOLD_OUT')).toBeGreaterThan(0);
    const perUser = new Map<string, number>();
    for (const h of held) perUser.set(h.user, (perUser.get(h.user) ?? 0) + h.qty);
    expect(Math.max(...perUser.values())).toBeLessThanOrEqual(LIMIT);
    await soldOutSeen; // both processes told their sockets

    const ledger = (await http(a, 'GET', `/api/rooms/${roomId}/sales/${sale.id}/ledger`, host.token)).body.ledger;
    expect(ledger).toMatchObject({ initial: UNITS, added: 0, available: 0, held: UNITS, sold: 0, ok: true });
    expect(ledger.recount).toMatchObject({ held: UNITS, activeHolds: held.length });
    expect(ledger.maxUnitsPerUser).toBeLessThanOrEqual(LIMIT);
  }, 120_000); // 500 joins and 2,000 reserves on a shared 2-core machine: ~20 s alone, more beside other files

  it('retries with one requestId, sent at once through both processes, make one hold and one order', async () => {
    const [a, b] = nodes.map((n) => n.url) as [string, string];
    const { host, roomId, productId } = await liveRoom(a, 'Host');
    const hostSocket = await connect(a, host);
    await ok(hostSocket, 'room:join', { roomId });
    const sale = await ok(hostSocket, 'sale:start', { productId, price: 1250, quantity: 10, perUserLimit: 5, durationSec: 600 });
    const buyer = await devUser(a, 'Rita');
    const mine = [await connect(a, buyer), await connect(b, buyer)];
    for (const s of mine) await ok(s, 'room:join', { roomId });

    const reserveId = randomUUID();
    const reserves = await Promise.all(
      Array.from({ length: 30 }, (_, i) => request(mine[i % 2]!, 'sale:reserve', { saleId: sale.id, qty: 2, requestId: reserveId })),
    );
    const holdIds = new Set(reserves.map((r) => (r.ok ? r.data.holdId : r.error.code)));
    expect(holdIds.size).toBe(1);
    const holdId = [...holdIds][0]!;
    expect(holdId.startsWith(`${sale.id}.`)).toBe(true);

    const checkoutId = randomUUID();
    const checkouts = await Promise.all([
      ...Array.from({ length: 20 }, (_, i) => request(mine[i % 2]!, 'sale:checkout', { holdId, requestId: checkoutId })),
      // other requestIds for the same hold: still the one order
      ...Array.from({ length: 6 }, (_, i) => request(mine[i % 2]!, 'sale:checkout', { holdId, requestId: randomUUID() })),
    ]);
    const orderIds = new Set(checkouts.map((r) => (r.ok ? r.data.orderId : r.error.code)));
    expect(orderIds.size).toBe(1);
    const orderId = [...orderIds][0]!;
    expect(orderId.startsWith('o_')).toBe(true);

    const ledger = (await http(b, 'GET', `/api/rooms/${roomId}/sales/${sale.id}/ledger`, host.token)).body.ledger;
    expect(ledger).toMatchObject({ available: 8, held: 0, sold: 2, ok: true, recount: { sold: 2, bought: 2 } });
    const stream = await redis.xrange(orderStreamKey(roomId), '-', '+');
    const forSale = stream.map(([, f]) => streamFields(f)).filter((f) => f.saleId === sale.id);
    expect(forSale).toEqual([expect.objectContaining({ orderId, holdId, userId: buyer.id, qty: '2', amount: '2500' })]);
    const figures = await ok(hostSocket, 'sale:stats', {});
    expect(figures.sales[0]).toMatchObject({ orders: 1, unitsSold: 2, gmv: 2500, buyers: 1 });
  });
});
