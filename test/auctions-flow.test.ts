/**
 * A lot end to end through real sockets and Redis: the host starts it, viewers bid (plain and
 * maximum bids, a retry, refusals), the room hears auction:state, the outbid bidder hears it,
 * the lot closes by Redis's clock, the winner gets a hold at the winning price and checks it out
 * into the flash sales' orders stream; a muted or banned user cannot bid; a moderator cancels a
 * lot (in the audit log); ending the live ends the running lot; an unpaid win becomes unsold.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamFields } from '../src/core/redis-util.js';
import type { RedisClient } from '../src/core/redis-client.js';
import { orderStreamKey } from '../src/commerce/sales/sale-keys.js';
import { closeAllSockets, connect, devUser, http, liveRoom, nextEvent, ok, request, type TestSocket, type TestUser } from './helpers/clients.js';
import { startStack, type Stack } from './helpers/stack.js';

let stack: Stack;
let redis: RedisClient;
beforeAll(async () => {
  stack = await startStack({ config: { AUCTION_CLOSE_TICK_MS: '50' } });
  redis = stack.redis.client();
});
afterAll(async () => {
  closeAllSockets();
  redis.disconnect();
  await stack.stop();
});

const rid = () => randomUUID();
type Bidder = { user: TestUser; socket: TestSocket };

async function roomWithBidders(names: string[]) {
  const { host, roomId, productId } = await liveRoom(stack.url, 'Host');
  const hostSocket = await connect(stack.url, host);
  await ok(hostSocket, 'room:join', { roomId });
  const bidders = await Promise.all(
    names.map(async (name) => {
      const user = await devUser(stack.url, name);
      const socket = await connect(stack.url, user);
      await ok(socket, 'room:join', { roomId });
      return { user, socket };
    }),
  );
  return { host, hostSocket, roomId, productId, bidders };
}

describe('auction flow', () => {
  it('bids, maximums, retries and refusals; close by time; the winner pays through the orders stream', async () => {
    const { host, hostSocket, roomId, productId, bidders } = await roomWithBidders(['Alice', 'Bob', 'Cleo']);
    const [alice, bob, cleo] = bidders as [Bidder, Bidder, Bidder];

    const started = nextEvent(alice.socket, 'auction:started');
    const lot = await ok(hostSocket, 'auction:start', { productId, startPrice: 1500, durationSec: 6, mode: 'sudden-death' });
    expect(lot).toMatchObject({ status: 'open', price: 1500, nextMin: 1500, bidCount: 0, leader: null, mode: 'sudden-death', listPrice: 2999 });
    expect(lot.increments).toEqual([{ from: 0, step: 100 }, { from: 2000, step: 200 }, { from: 10_000, step: 500 }]);
    expect((await started).lot.lotId).toBe(lot.lotId);
    // one lot at a time
    expect(await request(hostSocket, 'auction:start', { productId, startPrice: 100, durationSec: 60 })).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });

    // below the start price
    expect(await request(alice.socket, 'auction:bid', { lotId: lot.lotId, amount: 1400, requestId: rid() })).toMatchObject({
      ok: false,
      error: { code: 'BID_TOO_LOW', message: 'bid at least 1,500' },
    });
    // Alice sets a maximum of 3000: alone, she leads at the start price
    const aMax = await ok(alice.socket, 'auction:bid', { lotId: lot.lotId, amount: 3000, max: true, requestId: rid() });
    expect(aMax).toMatchObject({ seq: 1, price: 1500, leading: true, max: true, nextMin: 1600 });
    // a plain bid from Alice now would outbid herself
    expect(await request(alice.socket, 'auction:bid', { lotId: lot.lotId, amount: 1600, requestId: rid() })).toMatchObject({
      ok: false,
      error: { code: 'ALREADY_LEADING' },
    });
    // Bob bids 2000: Alice's maximum answers one increment above (2000 is in the $2 band → 2200)
    const bobId = rid();
    const bBid = await ok(bob.socket, 'auction:bid', { lotId: lot.lotId, amount: 2000, requestId: bobId });
    expect(bBid).toMatchObject({ seq: 2, price: 2200, leading: false, nextMin: 2400 });
    // the same requestId again: the stored answer, nothing new
    expect(await ok(bob.socket, 'auction:bid', { lotId: lot.lotId, amount: 2000, requestId: bobId })).toEqual(bBid);
    // Cleo's maximum ties Alice's: the earlier maximum wins, the price is the tie
    expect(await ok(cleo.socket, 'auction:bid', { lotId: lot.lotId, amount: 3000, max: true, requestId: rid() })).toMatchObject({ seq: 3, price: 3000, leading: false });
    // Bob's maximum of 5000 takes the lead at one increment above Alice's maximum: 3200
    const outbid = nextEvent(alice.socket, 'auction:outbid');
    const state = nextEvent(cleo.socket, 'auction:state', (s) => s.bidCount === 4);
    expect(await ok(bob.socket, 'auction:bid', { lotId: lot.lotId, amount: 5000, max: true, requestId: rid() })).toMatchObject({ seq: 4, price: 3200, leading: true });
    expect(await outbid).toEqual({ lotId: lot.lotId, price: 3200, nextMin: 3400 });
    expect(await state).toMatchObject({ lotId: lot.lotId, price: 3200, leader: 'B***b', status: 'open', nextMin: 3400 });
    // the host cannot bid on their own lot
    expect(await request(hostSocket, 'auction:bid', { lotId: lot.lotId, amount: 9000, requestId: rid() })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });

    // staff see the bids, newest first, maximums' amounts hidden
    const bids = await ok(hostSocket, 'auction:bids', { lotId: lot.lotId, limit: 10 });
    expect(bids.map((b) => [b.seq, b.bidder.name, b.amount, b.price])).toEqual([
      [4, 'Bob', null, 3200],
      [3, 'Cleo', null, 3000],
      [2, 'Bob', 2000, 2200],
      [1, 'Alice', null, 1500],
    ]);

    // sudden death: closes on time by Redis's clock, no extension
    const won = nextEvent(bob.socket, 'auction:won', () => true, 15_000);
    const closed = nextEvent(alice.socket, 'auction:state', (s) => s.status !== 'open', 15_000);
    const frame = await closed;
    expect(frame).toMatchObject({ status: 'awaiting-payment', price: 3200, leader: 'B***b', endReason: 'time', endsAt: lot.endsAt });
    expect(Date.now()).toBeGreaterThanOrEqual(lot.endsAt - 50);
    expect(await request(cleo.socket, 'auction:bid', { lotId: lot.lotId, amount: 9000, requestId: rid() })).toMatchObject({
      ok: false,
      error: { code: 'AUCTION_ENDED' },
    });
    const win = await won;
    expect(win).toMatchObject({ lotId: lot.lotId, price: 3200, currency: 'USD' });

    // only the winner may pay
    expect(await request(alice.socket, 'auction:checkout', { lotId: lot.lotId, requestId: rid() })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    const sold = nextEvent(alice.socket, 'auction:state', (s) => s.status === 'sold');
    const order = await ok(bob.socket, 'auction:checkout', { lotId: lot.lotId, requestId: rid() });
    expect(order).toMatchObject({ lotId: lot.lotId, holdId: win.holdId, saleId: win.saleId, amount: 3200, currency: 'USD' });
    await sold;
    const stream = (await redis.xrange(orderStreamKey(roomId), '-', '+')).map(([, f]) => streamFields(f));
    expect(stream).toEqual([expect.objectContaining({ orderId: order.orderId, holdId: win.holdId, userId: bob.user.id, qty: '1', amount: '3200' })]);
    // the order's ledger is the flash sales' own
    const ledger = (await http(stack.url, 'GET', `/api/rooms/${roomId}/sales/${win.saleId}/ledger`, host.token)).body.ledger;
    expect(ledger).toMatchObject({ initial: 1, available: 0, held: 0, sold: 1, ok: true });
    // a join snapshot shows how the lot ended
    const late = await connect(stack.url, await devUser(stack.url, 'Late'));
    const snap = await ok(late, 'room:join', { roomId });
    expect(snap.auctions.current).toMatchObject({ lotId: lot.lotId, status: 'sold', price: 3200 });
  }, 30_000);

  it('extend mode: a bid in the last extendSec seconds sets the time left back to extendSec', async () => {
    const { hostSocket, productId, bidders } = await roomWithBidders(['Dan', 'Eve']);
    const [dan, eve] = bidders as [Bidder, Bidder];
    const lot = await ok(hostSocket, 'auction:start', { productId, startPrice: 100, durationSec: 5, mode: 'extend', extendSec: 3 });
    // more than 3 s left: no extension
    const early = await ok(dan.socket, 'auction:bid', { lotId: lot.lotId, amount: 100, requestId: rid() });
    expect(early).toMatchObject({ extended: false, endsAt: lot.endsAt });
    // wait for the last 3 seconds by the server's own frames: a state frame carries serverTime
    await new Promise((r) => setTimeout(r, Math.max(0, lot.endsAt - Date.now() - 2500)));
    const extensionFrame = nextEvent(dan.socket, 'auction:state', (s) => s.extended);
    const sentAt = Date.now();
    const late = await ok(eve.socket, 'auction:bid', { lotId: lot.lotId, amount: 200, requestId: rid() });
    const answeredAt = Date.now();
    expect(late.extended).toBe(true);
    expect(late.endsAt).toBeGreaterThan(lot.endsAt);
    const frame = await extensionFrame;
    expect(frame.endsAt).toBe(late.endsAt);
    // the new end is 3 s after the moment Redis took the bid (Redis's clock is this machine's),
    // which lies between sending it and its answer, however slow the round trip was
    expect(late.endsAt - 3000).toBeGreaterThanOrEqual(sentAt - 5);
    expect(late.endsAt - 3000).toBeLessThanOrEqual(answeredAt + 5);
    const closed = await nextEvent(dan.socket, 'auction:state', (s) => s.status !== 'open', 10_000);
    expect(closed).toMatchObject({ status: 'awaiting-payment', endsAt: late.endsAt, price: 200 });
  }, 30_000);

  it('muted and banned users cannot bid; guests neither; a moderator cancels (audited); ending the live ends the lot', async () => {
    const { host, hostSocket, roomId, productId, bidders } = await roomWithBidders(['Fay', 'Gus', 'Mod']);
    const [fay, gus, mod] = bidders as [Bidder, Bidder, Bidder];
    await http(stack.url, 'PUT', `/api/rooms/${roomId}/moderators/${mod.user.id}`, host.token);
    const lot = await ok(hostSocket, 'auction:start', { productId, startPrice: 100, durationSec: 60 });
    await ok(hostSocket, 'mod:mute', { userId: fay.user.id, seconds: 60 });
    expect(await request(fay.socket, 'auction:bid', { lotId: lot.lotId, amount: 100, requestId: rid() })).toMatchObject({ ok: false, error: { code: 'MUTED' } });
    await ok(hostSocket, 'mod:unmute', { userId: fay.user.id });
    expect((await ok(fay.socket, 'auction:bid', { lotId: lot.lotId, amount: 100, requestId: rid() })).leading).toBe(true);
    const guest = await connect(stack.url, null);
    await ok(guest, 'room:join', { roomId });
    expect(await request(guest, 'auction:bid', { lotId: lot.lotId, amount: 500, requestId: rid() })).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
    // a bid from a socket of a user banned meanwhile: the script reads the ban set
    await redis.sadd(`{room:${roomId}}:bans`, gus.user.id);
    expect(await request(gus.socket, 'auction:bid', { lotId: lot.lotId, amount: 500, requestId: rid() })).toMatchObject({ ok: false, error: { code: 'BANNED' } });
    await redis.srem(`{room:${roomId}}:bans`, gus.user.id);

    const cancelled = nextEvent(fay.socket, 'auction:state', (s) => s.status === 'cancelled');
    const after = await ok(mod.socket, 'auction:cancel', { lotId: lot.lotId, reason: 'wrong item' });
    expect(after).toMatchObject({ status: 'cancelled', endReason: 'cancelled' });
    await cancelled;
    expect(await request(mod.socket, 'auction:cancel', { lotId: lot.lotId })).toMatchObject({ ok: false, error: { code: 'AUCTION_ENDED' } });
    expect(await request(gus.socket, 'auction:bid', { lotId: lot.lotId, amount: 900, requestId: rid() })).toMatchObject({ ok: false, error: { code: 'AUCTION_ENDED' } });
    const audit = await ok(hostSocket, 'mod:audit', { limit: 10 });
    expect(audit[0]).toMatchObject({ action: 'auction-cancel', actor: { id: mod.user.id, name: 'Mod' }, detail: { lotId: lot.lotId, price: 100, bids: 1, reason: 'cancelled', note: 'wrong item' } });

    // a new lot, then the host ends the live
    const second = await ok(hostSocket, 'auction:start', { productId, startPrice: 100, durationSec: 60 });
    expect((await http(stack.url, 'POST', `/api/rooms/${roomId}/end`, host.token)).status).toBe(200);
    // (The room is evicted as it ends, so it hears no frame: the lot's record says it.)
    expect(await redis.hmget(`{room:${roomId}}:auction:${second.lotId}`, 'status', 'endReason')).toEqual(['cancelled', 'room-ended']);
    const [[, last]] = (await redis.xrevrange(`{room:${roomId}}:audit`, '+', '-', 'COUNT', 1)) as [[string, string[]]];
    expect(streamFields(last)).toMatchObject({ action: 'auction-cancel', actorId: host.id, detail: expect.stringContaining('"reason":"room-ended"') });
  }, 30_000);

  it('an unpaid win expires: the lot becomes unsold and the unit is back in no one\'s hands', async () => {
    const { hostSocket, roomId, productId, bidders } = await roomWithBidders(['Hal']);
    const [hal] = bidders as [Bidder];
    const lot = await ok(hostSocket, 'auction:start', { productId, startPrice: 700, durationSec: 5, mode: 'sudden-death', holdSec: 10 });
    await ok(hal.socket, 'auction:bid', { lotId: lot.lotId, amount: 700, requestId: rid() });
    const win = await nextEvent(hal.socket, 'auction:won', () => true, 15_000);
    expect(win.expiresAt - lot.endsAt).toBeGreaterThanOrEqual(10_000);
    const unsold = await nextEvent(hal.socket, 'auction:state', (s) => s.status === 'unsold', 25_000);
    expect(unsold).toMatchObject({ endReason: 'unpaid' });
    expect(await request(hal.socket, 'auction:checkout', { lotId: lot.lotId, requestId: rid() })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    expect(await request(hal.socket, 'sale:checkout', { holdId: win.holdId, requestId: rid() })).toMatchObject({ ok: false, error: { code: 'HOLD_EXPIRED' } });
    const sale = (await http(stack.url, 'GET', `/api/rooms/${roomId}/sales`, null)).body.sales.find((s: { id: string }) => s.id === win.saleId);
    expect(sale).toMatchObject({ status: 'ended', endReason: 'auction', initial: 1, available: 1, held: 0, sold: 0 });
  }, 40_000);
});
