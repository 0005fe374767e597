/**
 * The waitlist of a sold-out buy-now product, end to end on two nodes sharing one Redis: viewers
 * join with `buy:waitlist { productId }`; a released hold and the host's stock increase (a product
 * PATCH, the standing-ledger upsert) go to the list's head in join order as offers, told with
 * `buy:offer` at the product's price; a stock decrease takes only available units, never offers or
 * holds; an offer checks out with `buy:checkout` (a conversion); taking the product off sale
 * closes the list. The ledger (initial + added = available + held + offered + sold) stays exact.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { offerIdFor } from '../src/commerce/buy-now/buy-now-model.js';
import type { RedisClient } from '../src/core/redis-client.js';
import { closeAllSockets, connect, devUser, http, liveRoom, nextEvent, ok, request, type TestSocket, type TestUser, joinedViewers, type JoinedViewer } from './helpers/clients.js';
import { auditSale } from './helpers/sale-audit.js';
import { startStack, type Stack } from './helpers/stack.js';

let stack: Stack;
let redis: RedisClient;
let urls: [string, string];
beforeAll(async () => {
  stack = await startStack({ nodes: 2, config: { SALE_SWEEP_MS: '50', MEDIA_ENABLED: 'false' } });
  urls = stack.servers.map((s) => s.url) as [string, string];
  redis = stack.redis.client();
});
afterAll(async () => {
  closeAllSockets();
  redis.disconnect();
  await stack.stop();
});

type Viewer = JoinedViewer;
// Alternate nodes: offers and positions must cross them.
const viewers = (roomId: string, names: string[]) => joinedViewers(urls, roomId, names);

describe('buy-now waitlist', () => {
  it('a released hold and a stock increase go to the list in join order; a decrease never takes offers; off sale closes it', async () => {
    const { host, roomId, productId } = await liveRoom(urls[0], 'Host');
    const offerId = offerIdFor(productId);
    const patch = async (body: Record<string, unknown>) => {
      const res = await http(urls[0], 'PATCH', `/api/rooms/${roomId}/products/${productId}`, host.token, body);
      expect(res.status).toBe(200);
    };
    const ledger = async () => (await http(urls[0], 'GET', `/api/rooms/${roomId}/sales/${offerId}/ledger`, host.token)).body.ledger;
    await patch({ stock: 2, perUserLimit: 1 });
    const hostSocket = await connect(urls[0], host);
    await ok(hostSocket, 'room:join', { roomId });
    const [ann, ben, cat, dan, eve, fay] = (await viewers(roomId, ['Ann', 'Ben', 'Cat', 'Dan', 'Eve', 'Fay'])) as [Viewer, Viewer, Viewer, Viewer, Viewer, Viewer];

    expect(await request(cat.socket, 'buy:waitlist', { productId, action: 'join' })).toMatchObject({ ok: false, error: { code: 'WAITLIST_NOT_SOLD_OUT' } });
    const holdA = await ok(ann.socket, 'buy:reserve', { productId, requestId: randomUUID() });
    const holdB = await ok(ben.socket, 'buy:reserve', { productId, requestId: randomUUID() });
    expect(holdB.remaining).toBe(0);

    // Sold out: Cat, Dan and Eve queue, by product id; one entry each.
    const frame = nextEvent(hostSocket, 'buy:waitlist-length', (f) => f.productId === productId && f.length === 3);
    expect(await ok(cat.socket, 'buy:waitlist', { productId, action: 'join' })).toEqual({ productId, position: 1, length: 1, ticket: 1 });
    expect(await ok(dan.socket, 'buy:waitlist', { productId, action: 'join' })).toEqual({ productId, position: 2, length: 2, ticket: 2 });
    expect(await ok(eve.socket, 'buy:waitlist', { productId, action: 'join' })).toEqual({ productId, position: 3, length: 3, ticket: 3 });
    expect(await ok(cat.socket, 'buy:waitlist', { productId, action: 'join' })).toEqual({ productId, position: 1, length: 3, ticket: 1 });
    expect(await frame).toEqual({ productId, length: 3, headTicket: 1 });
    // Nobody jumps the line.
    expect(await request(fay.socket, 'buy:reserve', { productId, requestId: randomUUID() })).toMatchObject({ ok: false, error: { code: 'SOLD_OUT' } });

    // Ann releases: Cat's offer, at the product's price; Dan moves up; the room hears the new head.
    const catOffer = nextEvent(cat.socket, 'buy:offer', (o) => o.productId === productId);
    const danMoved = nextEvent(dan.socket, 'buy:waitlist-position', (p) => p.productId === productId && p.position === 1);
    const headMoved = nextEvent(hostSocket, 'buy:waitlist-length', (f) => f.productId === productId && f.headTicket === 2);
    expect(await ok(ann.socket, 'buy:release', { holdId: holdA.holdId })).toMatchObject({ released: true, remaining: 0 });
    const offerC = await catOffer;
    expect(offerC).toEqual({ holdId: expect.stringMatching(new RegExp(`^${offerId}\\.o`)), productId, qty: 1, unitPrice: 2999, currency: 'USD', expiresAt: expect.any(Number), offer: true });
    expect(await danMoved).toEqual({ productId, position: 1, length: 2 });
    expect(await headMoved).toEqual({ productId, length: 2, headTicket: 2 });

    // The host adds one unit (stock 1 while 0 are available): Dan's, not the open pool's.
    const danOffer = nextEvent(dan.socket, 'buy:offer', (o) => o.productId === productId);
    await patch({ stock: 1 });
    const offerD = await danOffer;
    expect(await ledger()).toMatchObject({ initial: 2, added: 1, available: 0, held: 1, offered: 2, sold: 0, ok: true });
    // Three more: one to Eve, two on sale.
    const eveOffer = nextEvent(eve.socket, 'buy:offer', (o) => o.productId === productId);
    await patch({ stock: 3 });
    await eveOffer;
    expect(await ledger()).toMatchObject({ added: 4, available: 2, held: 1, offered: 3, ok: true });
    // A decrease takes only available units: Ben's hold and the three offers stay.
    const down = nextEvent(hostSocket, 'buy:stock', (s) => s.productId === productId && s.available === 0);
    await patch({ stock: 0 });
    expect(await down).toEqual({ productId, available: 0, held: 4, sold: 0 });
    expect(await ledger()).toMatchObject({ initial: 2, added: 2, available: 0, held: 1, offered: 3, ok: true });

    // Cat takes her offer with the ordinary buy-now checkout: a waitlist conversion.
    const order = await ok(cat.socket, 'buy:checkout', { holdId: offerC.holdId, requestId: randomUUID() });
    expect(order).toMatchObject({ kind: 'buy-now', productId, holdId: offerC.holdId, qty: 1, unitPrice: 2999, amount: 2999 });
    // Dan's offer is among his holds on a fresh join, marked as an offer.
    const snap = await ok(await connect(urls[1], dan.user), 'room:join', { roomId });
    expect(snap.buyNow.myHolds).toEqual([{ ...offerD, offer: true }]);
    expect(snap.buyNow.stock).toEqual([{ productId, available: 0, held: 3, sold: 1 }]);

    // Fay queues; the host takes the product off sale: the list closes (Fay told 0), no joins.
    expect(await ok(fay.socket, 'buy:waitlist', { productId, action: 'join' })).toMatchObject({ position: 1, length: 1 });
    expect(snap.buyNow.myWaitlist).toEqual([]);
    expect((await ok(await connect(urls[0], fay.user), 'room:join', { roomId })).buyNow.myWaitlist).toEqual([{ productId, position: 1, length: 1 }]);
    const fayOut = nextEvent(fay.socket, 'buy:waitlist-position', (p) => p.productId === productId && p.position === 0);
    await patch({ stock: null });
    expect(await fayOut).toEqual({ productId, position: 0, length: 0 });
    expect(await request(fay.socket, 'buy:waitlist', { productId, action: 'join' })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    // Dan declines: with the list closed the unit goes back to the ledger's available units.
    await ok(dan.socket, 'buy:release', { holdId: offerD.holdId });
    expect(await ledger()).toMatchObject({ available: 1, held: 1, offered: 1, sold: 1, ok: true });

    const audit = await auditSale(redis, roomId, offerId, 60_000);
    expect(audit.problems).toEqual([]);
    expect(audit.waitlist).toEqual([]);
    expect(await redis.hmget(`{room:${roomId}}:sale:${offerId}`, 'waitlistOffers', 'waitlistConversions')).toEqual(['3', '1']);
  });

  it('refuses guests, a product without stock, and the end of the live closes the list', async () => {
    const { host, roomId, productId } = await liveRoom(urls[0], 'Ender');
    expect((await http(urls[0], 'PATCH', `/api/rooms/${roomId}/products/${productId}`, host.token, { stock: 1 })).status).toBe(200);
    const [ann, ben] = (await viewers(roomId, ['Ann', 'Ben'])) as [Viewer, Viewer];
    const guest = await connect(urls[0], null);
    await ok(guest, 'room:join', { roomId });
    expect(await request(guest, 'buy:waitlist', { productId, action: 'join' })).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
    expect(await request(ann.socket, 'buy:waitlist', { productId: 'p_not_in_bag', action: 'join' })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    await ok(ann.socket, 'buy:reserve', { productId, requestId: randomUUID() });
    await ok(ben.socket, 'buy:waitlist', { productId, action: 'join' });
    const closed = nextEvent(ben.socket, 'buy:waitlist-position', (p) => p.productId === productId && p.position === 0);
    expect((await http(urls[0], 'POST', `/api/rooms/${roomId}/end`, host.token)).status).toBe(200);
    expect(await closed).toEqual({ productId, position: 0, length: 0 });
    // (The room no longer takes events: the list itself is gone with the stopped offer.)
    expect(await redis.hget(`{room:${roomId}}:sale:${offerIdFor(productId)}`, 'ended')).toBe('1');
    expect(await redis.exists(`{room:${roomId}}:sale:${offerIdFor(productId)}:waitlist`)).toBe(0);
  });
});
