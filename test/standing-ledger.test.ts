/**
 * The path another selling mode (auctions) takes through the sales machinery: a standing ledger of
 * kind 'auction' with one unit granted as a hold to a winner at the winning price, checked out
 * into an order of that kind in the room's orders stream, readable by the order routes; retries
 * give the same hold and order; nobody else gets the unit; the ledger balances; the flash-sale
 * events refuse the ledger's ids.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SalesDomain } from '../src/commerce/sales/sales-domain.js';
import { StandingLedgers, standingLedgerId, type StandingLedgerFields } from '../src/commerce/sales/standing-ledger.js';
import { roomKey } from '../src/core/keys.js';
import type { RedisClient } from '../src/core/redis-client.js';
import { closeAllSockets, connect, devUser, http, liveRoom, ok, request } from './helpers/clients.js';
import { auditSale } from './helpers/sale-audit.js';
import { startStack, type Stack } from './helpers/stack.js';

let stack: Stack;
let redis: RedisClient;
let ledgers: StandingLedgers;
let sales: SalesDomain;
beforeAll(async () => {
  stack = await startStack();
  redis = stack.redis.client();
  sales = stack.servers[0]!.domains.find((d) => d.name === 'sales') as SalesDomain;
  ledgers = new StandingLedgers(stack.servers[0]!.redis, sales.store);
});
afterAll(async () => {
  closeAllSockets();
  redis.disconnect();
  await stack.stop();
});

describe('a standing ledger of kind auction', () => {
  it('grants the winner one hold at the winning price; checkout makes an auction order', async () => {
    const { host, roomId, productId } = await liveRoom(stack.url, 'Host');
    const [winner, loser] = await Promise.all([devUser(stack.url, 'Wyn'), devUser(stack.url, 'Lou')]);
    const lotId = randomUUID();
    const ledgerId = standingLedgerId('lot', lotId);
    expect(ledgerId).toMatch(/^s_lot-[A-Za-z0-9_-]{22}$/);
    const fields: StandingLedgerFields = {
      kind: 'auction', roomId, productId, title: 'Silk scarf', imageUrl: null, price: 4200, currency: 'USD',
      perUserLimit: 1, holdMs: 60_000, createdBy: host.id,
    };
    const lots = roomKey(roomId, 'auction:lots');

    const hold = await ledgers.grantHold(roomId, ledgerId, lots, fields, winner.id, `lot:${lotId}`);
    expect(hold.answer).toMatchObject({ ok: true, qty: 1, remaining: 0 });
    // a retried grant is the same hold; the unit is nobody else's
    const again = await ledgers.grantHold(roomId, ledgerId, lots, fields, winner.id, `lot:${lotId}`);
    expect(again.answer).toEqual(hold.answer);
    expect((await ledgers.grantHold(roomId, ledgerId, lots, fields, loser.id, `lot:${lotId}`)).answer).toMatchObject({ ok: false, code: 'SOLD_OUT' });
    if (!hold.answer.ok) throw new Error('no hold');
    expect(await ledgers.holdPrices(roomId, ledgerId, [hold.answer.holdId])).toEqual([{ price: 4200, currency: 'USD' }]);

    // the winner checks out through the same path as a sale's hold
    const user = { id: winner.id, name: winner.name };
    const requestId = randomUUID();
    const order = await sales.store.checkout(roomId, user, hold.answer.holdId, requestId);
    expect(order.answer).toMatchObject({ ok: true, qty: 1, unitPrice: 4200, amount: 4200, currency: 'USD' });
    expect((await sales.store.checkout(roomId, user, hold.answer.holdId, requestId)).answer).toEqual(order.answer);
    if (!order.answer.ok) throw new Error('no order');
    const read = await http(stack.url, 'GET', `/api/orders/${order.answer.orderId}`, winner.token);
    expect(read.body.order).toMatchObject({ kind: 'auction', ledgerId, saleId: null, userId: winner.id, amount: 4200 });
    expect((await http(stack.url, 'GET', `/api/rooms/${roomId}/orders`, host.token)).body.orders).toEqual([read.body.order]);

    const ledger = (await http(stack.url, 'GET', `/api/rooms/${roomId}/sales/${ledgerId}/ledger`, host.token)).body.ledger;
    expect(ledger).toMatchObject({ initial: 1, added: 0, available: 0, held: 0, sold: 1, ok: true });
    expect((await auditSale(redis, roomId, ledgerId, 60_000)).problems).toEqual([]);

    // not a flash sale: the sale events refuse its ids
    const socket = await connect(stack.url, winner);
    await ok(socket, 'room:join', { roomId });
    expect(await request(socket, 'sale:checkout', { holdId: hold.answer.holdId, requestId: randomUUID() })).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    const hostSocket = await connect(stack.url, host);
    await ok(hostSocket, 'room:join', { roomId });
    expect(await request(hostSocket, 'sale:stop', { saleId: ledgerId })).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
  });
});
