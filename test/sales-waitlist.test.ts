/**
 * The sold-out waitlist end to end, on two nodes sharing one Redis: units that come back (released
 * holds, lapsed offers, a restock) are offered to the waitlist's head strictly in join order, each
 * offered user hears it on their own channel whatever node they are on, the others hear their new
 * position, an offer that lapses passes on, conversions and lapses are counted, and the ledger
 * (initial + added = available + held + offered + sold) stays exact.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeAllSockets, connect, devUser, http, liveRoom, nextEvent, ok, request, type TestSocket, type TestUser, joinedViewers, type JoinedViewer } from './helpers/clients.js';
import { startStack, type Stack } from './helpers/stack.js';
import { auditSale } from './helpers/sale-audit.js';

let stack: Stack;
let urls: [string, string];
beforeAll(async () => {
  // A three-second offer and a quick sweep keep the lapse short; the test waits for events, not time.
  stack = await startStack({ nodes: 2, config: { SALE_SWEEP_MS: '50', WAITLIST_OFFER_SEC: '3', MEDIA_ENABLED: 'false' } });
  urls = stack.servers.map((s) => s.url) as [string, string];
});
afterAll(async () => {
  closeAllSockets();
  await stack.stop();
});

type Viewer = JoinedViewer;
// Alternate nodes: offers and positions must cross them.
const viewers = (roomId: string, names: string[]) => joinedViewers(urls, roomId, names);

async function ledgerOf(roomId: string, saleId: string, token: string) {
  const res = await http(urls[0], 'GET', `/api/rooms/${roomId}/sales/${saleId}/ledger`, token);
  expect(res.status).toBe(200);
  return res.body.ledger;
}

describe('sold-out waitlist', () => {
  it('offers released units strictly in join order, passes a lapsed offer on, and counts conversions', async () => {
    const { host, roomId, productId } = await liveRoom(urls[0], 'Host');
    const hostSocket = await connect(urls[0], host);
    await ok(hostSocket, 'room:join', { roomId });
    const sale = await ok(hostSocket, 'sale:start', { productId, price: 500, quantity: 2, perUserLimit: 1, durationSec: 600, holdSec: 600 });
    const [ann, ben, cat, dan, eve, fay] = (await viewers(roomId, ['Ann', 'Ben', 'Cat', 'Dan', 'Eve', 'Fay'])) as [Viewer, Viewer, Viewer, Viewer, Viewer, Viewer];

    // Not sold out yet: reserve instead.
    expect(await request(cat.socket, 'sale:waitlist', { saleId: sale.id, action: 'join' })).toMatchObject({ ok: false, error: { code: 'WAITLIST_NOT_SOLD_OUT' } });
    const holdA = await ok(ann.socket, 'sale:reserve', { saleId: sale.id, qty: 1, requestId: randomUUID() });
    const holdB = await ok(ben.socket, 'sale:reserve', { saleId: sale.id, qty: 1, requestId: randomUUID() });
    expect(holdB.remaining).toBe(0);
    // Ann holds her one unit (limit 1): a seat on the list could never become a purchase.
    expect(await request(ann.socket, 'sale:waitlist', { saleId: sale.id, action: 'join' })).toMatchObject({ ok: false, error: { code: 'LIMIT_EXCEEDED' } });

    const lengthHeard = nextEvent(ann.socket, 'sale:waitlist-length', (p) => p.saleId === sale.id && p.length === 4);
    expect(await ok(cat.socket, 'sale:waitlist', { saleId: sale.id, action: 'join' })).toEqual({ saleId: sale.id, position: 1, length: 1, ticket: 1 });
    expect(await ok(dan.socket, 'sale:waitlist', { saleId: sale.id, action: 'join' })).toEqual({ saleId: sale.id, position: 2, length: 2, ticket: 2 });
    expect(await ok(eve.socket, 'sale:waitlist', { saleId: sale.id, action: 'join' })).toEqual({ saleId: sale.id, position: 3, length: 3, ticket: 3 });
    expect(await ok(fay.socket, 'sale:waitlist', { saleId: sale.id, action: 'join' })).toEqual({ saleId: sale.id, position: 4, length: 4, ticket: 4 });
    // One entry per user: joining again answers the place already held.
    expect(await ok(cat.socket, 'sale:waitlist', { saleId: sale.id, action: 'join' })).toEqual({ saleId: sale.id, position: 1, length: 4, ticket: 1 });
    await lengthHeard;
    // A reserve cannot jump the line: nothing is available while people wait.
    expect(await request(fay.socket, 'sale:reserve', { saleId: sale.id, qty: 1, requestId: randomUUID() })).toMatchObject({ ok: false, error: { code: 'SOLD_OUT' } });

    // Fay leaves; the others move up only when someone ahead of them does.
    expect(await ok(fay.socket, 'sale:waitlist', { saleId: sale.id, action: 'leave' })).toEqual({ saleId: sale.id, position: 0, length: 3, ticket: 0 });

    // Ann releases: the unit is Cat's (first in line), not the open pool's.
    const catOffer = nextEvent(cat.socket, 'sale:offer', (o) => o.saleId === sale.id);
    const danMoved = nextEvent(dan.socket, 'sale:waitlist-position', (p) => p.saleId === sale.id && p.position === 1);
    const eveMoved = nextEvent(eve.socket, 'sale:waitlist-position', (p) => p.saleId === sale.id && p.position === 2);
    const catGone = nextEvent(cat.socket, 'sale:waitlist-position', (p) => p.saleId === sale.id && p.position === 0);
    expect(await ok(ann.socket, 'sale:release', { holdId: holdA.holdId })).toMatchObject({ released: true, remaining: 0 });
    const offerC = await catOffer;
    expect(offerC).toMatchObject({ saleId: sale.id, qty: 1 });
    expect(offerC.holdId.startsWith(`${sale.id}.`)).toBe(true);
    expect(await danMoved).toEqual({ saleId: sale.id, position: 1, length: 2 });
    expect(await eveMoved).toEqual({ saleId: sale.id, position: 2, length: 2 });
    await catGone;
    // Ann, having released, must queue like everyone else: she is behind Eve now.
    expect(await ok(ann.socket, 'sale:waitlist', { saleId: sale.id, action: 'join' })).toEqual({ saleId: sale.id, position: 3, length: 3, ticket: 5 });

    // The offer is in Cat's holds on a fresh join, marked as an offer.
    const snap = await ok(cat.socket, 'room:join', { roomId });
    expect(snap.sales.myHolds).toEqual([{ holdId: offerC.holdId, saleId: sale.id, qty: 1, expiresAt: offerC.expiresAt, offer: true }]);
    expect(snap.sales.myWaitlist).toEqual([]); // offered: off the list
    // A rejoin tells a waiting user where they stand without joining the list again.
    expect((await ok(ann.socket, 'room:join', { roomId })).sales.myWaitlist).toEqual([{ saleId: sale.id, position: 3, length: 3 }]);

    // Ben releases: Dan's turn.
    const danOffer = nextEvent(dan.socket, 'sale:offer', (o) => o.saleId === sale.id);
    await ok(ben.socket, 'sale:release', { holdId: holdB.holdId });
    const offerD = await danOffer;

    // Cat takes her offer with the ordinary checkout: a waitlist conversion.
    const order = await ok(cat.socket, 'sale:checkout', { holdId: offerC.holdId, requestId: randomUUID() });
    expect(order).toMatchObject({ holdId: offerC.holdId, qty: 1, amount: 500 });

    // Dan does nothing: his offer lapses and passes to Eve, then to Ann behind her when Eve declines.
    const eveOffer = await nextEvent(eve.socket, 'sale:offer', (o) => o.saleId === sale.id, 10_000);
    expect(await request(dan.socket, 'sale:checkout', { holdId: offerD.holdId, requestId: randomUUID() })).toMatchObject({
      ok: false,
      error: { code: 'HOLD_EXPIRED' },
    });
    const annOffer = nextEvent(ann.socket, 'sale:offer', (o) => o.saleId === sale.id);
    expect(await ok(eve.socket, 'sale:release', { holdId: eveOffer.holdId })).toMatchObject({ released: true, remaining: 0 });
    const offerA = await annOffer;

    const ledger = await ledgerOf(roomId, sale.id, host.token);
    expect(ledger).toMatchObject({ initial: 2, available: 0, held: 0, offered: 1, sold: 1, ok: true, recount: { offered: 1, sold: 1 } });
    const auditClient = stack.redis.client();
    const audit = await auditSale(auditClient, roomId, sale.id, 60_000).finally(() => auditClient.disconnect());
    expect(audit.problems).toEqual([]);
    expect(audit.offered).toBe(1);

    const stats = await ok(hostSocket, 'sale:stats', {});
    expect(stats.sales.find((s) => s.saleId === sale.id)!.waitlist).toEqual({ length: 0, offers: 4, conversions: 1, lapsed: 1 });

    // Ann's offer lapses with nobody left in line: the unit goes to the open pool.
    const back = await nextEvent(hostSocket, 'sale:stock', (s) => s.saleId === sale.id && s.available === 1, 10_000);
    expect(back).toEqual({ saleId: sale.id, available: 1, held: 0, sold: 1 });
    expect(await request(ann.socket, 'sale:checkout', { holdId: offerA.holdId, requestId: randomUUID() })).toMatchObject({ ok: false, error: { code: 'HOLD_EXPIRED' } });
    expect(await ledgerOf(roomId, sale.id, host.token)).toMatchObject({ available: 1, offered: 0, sold: 1, ok: true });
  });

  it('gives a restock to the waitlist first; the rest goes on sale', async () => {
    const { host, roomId, productId } = await liveRoom(urls[0], 'Restocker');
    const hostSocket = await connect(urls[0], host);
    await ok(hostSocket, 'room:join', { roomId });
    const sale = await ok(hostSocket, 'sale:start', { productId, price: 900, quantity: 1, perUserLimit: 2, durationSec: 600, holdSec: 600 });
    const [ann, ben, cat] = (await viewers(roomId, ['Ann', 'Ben', 'Cat'])) as [Viewer, Viewer, Viewer];
    await ok(ann.socket, 'sale:reserve', { saleId: sale.id, qty: 1, requestId: randomUUID() });
    await ok(ben.socket, 'sale:waitlist', { saleId: sale.id, action: 'join' });
    await ok(cat.socket, 'sale:waitlist', { saleId: sale.id, action: 'join' });

    const offers = [nextEvent(ben.socket, 'sale:offer'), nextEvent(cat.socket, 'sale:offer')];
    // 3 new units: one each for Ben and Cat, the third on sale. Offers show as held to clients.
    expect(await ok(hostSocket, 'sale:restock', { saleId: sale.id, quantity: 3 })).toEqual({ saleId: sale.id, available: 1, added: 3, held: 3, sold: 0 });
    const [offerB, offerC] = await Promise.all(offers);
    expect(offerB!.expiresAt).toBeLessThanOrEqual(offerC!.expiresAt);
    // Units are on sale again: the waitlist is closed to new joins until it sells out.
    expect(await request(ann.socket, 'sale:waitlist', { saleId: sale.id, action: 'join' })).toMatchObject({ ok: false, error: { code: 'WAITLIST_NOT_SOLD_OUT' } });
    await ok(ben.socket, 'sale:checkout', { holdId: offerB!.holdId, requestId: randomUUID() });
    expect(await ledgerOf(roomId, sale.id, host.token)).toMatchObject({ initial: 1, added: 3, available: 1, held: 1, offered: 1, sold: 1, ok: true });
  });

  it('closes the waitlist when the sale ends: everyone listed is told position 0', async () => {
    const { host, roomId, productId } = await liveRoom(urls[0], 'Stopper');
    const hostSocket = await connect(urls[0], host);
    await ok(hostSocket, 'room:join', { roomId });
    const sale = await ok(hostSocket, 'sale:start', { productId, price: 900, quantity: 1, durationSec: 600, holdSec: 600 });
    const [ann, ben] = (await viewers(roomId, ['Ann', 'Ben'])) as [Viewer, Viewer];
    const hold = await ok(ann.socket, 'sale:reserve', { saleId: sale.id, qty: 1, requestId: randomUUID() });
    await ok(ben.socket, 'sale:waitlist', { saleId: sale.id, action: 'join' });
    const closed = nextEvent(ben.socket, 'sale:waitlist-position', (p) => p.saleId === sale.id);
    await ok(hostSocket, 'sale:stop', { saleId: sale.id });
    expect(await closed).toEqual({ saleId: sale.id, position: 0, length: 0 });
    expect(await request(ben.socket, 'sale:waitlist', { saleId: sale.id, action: 'join' })).toMatchObject({ ok: false, error: { code: 'SALE_ENDED' } });
    // The unit released after the end goes to available (no offers once a sale is over).
    await ok(ann.socket, 'sale:release', { holdId: hold.holdId });
    expect(await ledgerOf(roomId, sale.id, host.token)).toMatchObject({ available: 1, held: 0, offered: 0, ok: true });
  });

  it('refuses guests and a full list; a banned user is skipped', async () => {
    const own = await startStack({ config: { WAITLIST_MAX: '1', MEDIA_ENABLED: 'false' } });
    try {
      const { host, roomId, productId } = await liveRoom(own.url, 'Capper');
      const hostSocket = await connect(own.url, host);
      await ok(hostSocket, 'room:join', { roomId });
      const sale = await ok(hostSocket, 'sale:start', { productId, price: 900, quantity: 1, durationSec: 600 });
      const [ann, ben, cat] = await Promise.all(['Ann', 'Ben', 'Cat'].map((n) => devUser(own.url, n)));
      const sockets = await Promise.all([ann, ben, cat].map((u) => connect(own.url, u)));
      for (const s of sockets) await ok(s, 'room:join', { roomId });
      const guest = await connect(own.url, null);
      await ok(guest, 'room:join', { roomId });
      await ok(sockets[0]!, 'sale:reserve', { saleId: sale.id, qty: 1, requestId: randomUUID() });
      expect(await request(guest, 'sale:waitlist', { saleId: sale.id, action: 'join' })).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
      await ok(sockets[1]!, 'sale:waitlist', { saleId: sale.id, action: 'join' });
      expect(await request(sockets[2]!, 'sale:waitlist', { saleId: sale.id, action: 'join' })).toMatchObject({ ok: false, error: { code: 'WAITLIST_FULL' } });
      // Ben is banned while he waits: the unit Ann gives back skips him and goes on sale.
      await ok(hostSocket, 'mod:ban', { userId: ben!.id });
      const holdId = (await ok(sockets[0]!, 'room:join', { roomId })).sales.myHolds[0]!.holdId;
      expect(await ok(sockets[0]!, 'sale:release', { holdId })).toMatchObject({ released: true, remaining: 1 });
      const ledger = await http(own.url, 'GET', `/api/rooms/${roomId}/sales/${sale.id}/ledger`, host.token);
      expect(ledger.body.ledger).toMatchObject({ available: 1, offered: 0, ok: true });
      const auditClient = own.redis.client();
      expect((await auditSale(auditClient, roomId, sale.id, 60_000).finally(() => auditClient.disconnect())).waitlist).toEqual([]);
    } finally {
      await own.stop();
    }
  });

  it('tells per-move positions only inside the told window; the room frame bounds the rest; entering the window is told', async () => {
    // One node: every socket's events come in the order the node sent them, so an ack received
    // after a pass's last personal message proves what that pass did (not) send to that socket.
    const own = await startStack({ config: { WAITLIST_POSITIONS_TOLD: '3', MEDIA_ENABLED: 'false' } });
    try {
      const { host, roomId, productId } = await liveRoom(own.url, 'Windowed');
      const hostSocket = await connect(own.url, host);
      await ok(hostSocket, 'room:join', { roomId });
      const sale = await ok(hostSocket, 'sale:start', { productId, price: 900, quantity: 2, perUserLimit: 1, durationSec: 600, holdSec: 600 });
      const people = await Promise.all(['Ann', 'Ben', 'W1', 'W2', 'W3', 'W4', 'W5', 'W6'].map(async (name) => {
        const user = await devUser(own.url, name);
        const socket = await connect(own.url, user);
        await ok(socket, 'room:join', { roomId });
        const heard: { position: number; length: number }[] = [];
        socket.on('sale:waitlist-position', (p) => p.saleId === sale.id && heard.push({ position: p.position, length: p.length }));
        return { user, socket, heard };
      }));
      const [ann, ben, ...waiters] = people as [(typeof people)[0], (typeof people)[0], ...(typeof people)];
      const holdA = await ok(ann.socket, 'sale:reserve', { saleId: sale.id, qty: 1, requestId: randomUUID() });
      const holdB = await ok(ben.socket, 'sale:reserve', { saleId: sale.id, qty: 1, requestId: randomUUID() });
      const tickets: number[] = [];
      for (const [i, w] of waiters.entries()) {
        const joined = await ok(w.socket, 'sale:waitlist', { saleId: sale.id, action: 'join' });
        expect(joined).toMatchObject({ position: i + 1, length: i + 1 });
        tickets.push(joined.ticket);
      }
      expect(tickets).toEqual([1, 2, 3, 4, 5, 6]);
      const full = await nextEvent(hostSocket, 'sale:waitlist-length', (f) => f.saleId === sale.id && f.length === 6);
      expect(full).toEqual({ saleId: sale.id, length: 6, headTicket: 1 });

      // First move: W1 offered; W2, W3 move up inside the window, W4 enters it (told for the
      // first time); W5 and W6, behind it, are told nothing personally.
      const w4In = nextEvent(waiters[3]!.socket, 'sale:waitlist-position', (p) => p.saleId === sale.id && p.position === 3);
      const frame = nextEvent(hostSocket, 'sale:waitlist-length', (f) => f.saleId === sale.id && f.length === 5);
      await ok(ann.socket, 'sale:release', { holdId: holdA.holdId });
      await w4In;
      expect(await frame).toEqual({ saleId: sale.id, length: 5, headTicket: 2 });
      // W6 bounds its place from the frame: min(6 - 2 + 1, 5) = 5, exact here (nobody left).
      expect(await ok(waiters[5]!.socket, 'sale:waitlist', { saleId: sale.id, action: 'join' })).toMatchObject({ position: Math.min(6 - 2 + 1, 5) });
      expect(await ok(waiters[4]!.socket, 'sale:waitlist', { saleId: sale.id, action: 'join' })).toMatchObject({ position: 4 });
      expect(waiters.map((w) => w.heard)).toEqual([
        [{ position: 0, length: 5 }],
        [{ position: 1, length: 5 }],
        [{ position: 2, length: 5 }],
        [{ position: 3, length: 5 }],
        [],
        [],
      ]);

      // Second move: W5 enters the window; W6 still hears nothing personal.
      const w5In = nextEvent(waiters[4]!.socket, 'sale:waitlist-position', (p) => p.saleId === sale.id && p.position === 3);
      await ok(ben.socket, 'sale:release', { holdId: holdB.holdId });
      await w5In;
      expect(await ok(waiters[5]!.socket, 'sale:waitlist', { saleId: sale.id, action: 'join' })).toMatchObject({ position: 4, length: 4 });
      expect(waiters.slice(1).map((w) => w.heard.slice(-1)[0] ?? null)).toEqual([
        { position: 0, length: 4 },
        { position: 1, length: 4 },
        { position: 2, length: 4 },
        { position: 3, length: 4 },
        null,
      ]);
      // The told positions stay bounded by the window (plus who left since the last pass).
      const told = await own.redis.client();
      try {
        expect(await told.hlen(`{room:${roomId}}:sale:${sale.id}:waitlist:told`)).toBeLessThanOrEqual(3);
      } finally {
        told.disconnect();
      }
    } finally {
      await own.stop();
    }
  });
});
