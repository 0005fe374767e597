/**
 * Giveaway prizes through the order path (TEST_REDIS=cluster too): each winner gets exactly one
 * zero-price hold, told personally (`giveaway:won`) and in their join snapshot; `sale:checkout`
 * makes an order of kind 'giveaway' at amount 0 in the orders stream; an unclaimed prize expires
 * like any hold (the unit back to its one-unit ledger, nobody else gets it); racing draws and a
 * node dying between the draw and the prizes still give one hold per winner; a retried
 * giveaway:start with its requestId makes one giveaway; the host's figures.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GiveawayPrizes, prizeRequestId } from '../src/commerce/giveaways/giveaway-prizes.js';
import { giveawayKeys } from '../src/commerce/giveaways/giveaway-keys.js';
import { GiveawayStore } from '../src/commerce/giveaways/giveaway-store.js';
import { BagStore } from '../src/commerce/bag-store.js';
import { SaleQueries } from '../src/commerce/sales/sale-queries.js';
import { SaleStore } from '../src/commerce/sales/sale-store.js';
import { roomAuditKey, roomBansKey } from '../src/core/keys.js';
import type { RedisClient } from '../src/core/redis-client.js';
import type { FlashSale, GiveawayWin, Order } from '../src/protocol/index.js';
import { closeAllSockets, connect, devUser, http, liveRoom, nextEvent, ok, request, type TestSocket, type TestUser, joinedSocket } from './helpers/clients.js';
import { startStack, type Stack } from './helpers/stack.js';
import { startTestRedis, type TestRedis } from './helpers/test-redis.js';

const HOLD_SEC = 3600;

const code = (res: { ok: boolean; error?: { code: string } }) => (res.ok ? 'ok' : res.error!.code);

describe('giveaway prizes through a server', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ config: { GIVEAWAY_SWEEP_MS: '100', GIVEAWAY_PRIZE_HOLD_SEC: String(HOLD_SEC) } });
  }, 60_000);
  afterAll(async () => {
    closeAllSockets();
    await stack.stop();
  });

  const joined = (roomId: string, user: TestUser | null) => joinedSocket(stack.url, roomId, user);

  it('a retried start makes one giveaway; each winner gets one prize hold and claims it into a giveaway order at 0; figures follow', async () => {
    const { host, roomId, productId } = await liveRoom(stack.url, 'Prize host');
    const hostSocket = await joined(roomId, host);
    const [ann, bob, cid] = await Promise.all(['Ann Entrant', 'Bob Entrant', 'Cid Loser'].map((n) => devUser(stack.url, n))) as [TestUser, TestUser, TestUser];
    const sockets = new Map<string, TestSocket>();
    for (const u of [ann, bob, cid]) sockets.set(u.id, await joined(roomId, u));
    const sock = (u: TestUser) => sockets.get(u.id)!;

    // One requestId, sent three times (a retry after a timeout): one giveaway, one audit line.
    const requestId = randomUUID();
    const start = { productId, durationSec: 5, winners: 2, rule: 'followers' as const, requestId };
    const g = await ok(hostSocket, 'giveaway:start', start);
    const again = await Promise.all([ok(hostSocket, 'giveaway:start', start), ok(hostSocket, 'giveaway:start', start)]);
    expect(again.map((x) => x.id)).toEqual([g.id, g.id]);
    expect(again[0]).toMatchObject({ commitment: g.commitment, endsAt: g.endsAt });
    // Another requestId is another giveaway (a text prize, to see its order too).
    const t = await ok(hostSocket, 'giveaway:start', { text: 'Signed poster', durationSec: 5, winners: 1, requestId: randomUUID() });
    expect(t.id).not.toBe(g.id);
    const audit = await ok(hostSocket, 'mod:audit', { limit: 50 });
    expect(audit.filter((a) => a.action === 'giveaway-start')).toHaveLength(2);

    // Ann follows and enters by the rule; Bob enters free; Cid, alone in the text giveaway, wins it.
    await ok(sock(ann), 'engage:follow', {});
    await ok(sock(ann), 'giveaway:enter', { giveawayId: g.id });
    await ok(sock(bob), 'giveaway:enter', { giveawayId: g.id, free: true });
    await ok(sock(cid), 'giveaway:enter', { giveawayId: t.id });
    const figuresOpen = (await ok(hostSocket, 'giveaway:stats', {})).giveaways.find((f) => f.giveawayId === g.id)!;
    expect(figuresOpen).toMatchObject({ status: 'open', entries: 2, entriesByRule: 1, entriesFree: 1, winners: 0, prizesAwarded: 0, prizesClaimed: 0 });

    // Both entrants win (2 winners, 2 entries): each hears it personally, once, with their hold.
    const wins = [ann, bob].map((u) => nextEvent(sock(u), 'giveaway:won', (p) => p.giveawayId === g.id, 15_000));
    const cidWon: GiveawayWin[] = [];
    sock(cid).on('giveaway:won', (p) => {
      if (p.giveawayId === g.id) cidWon.push(p);
    });
    const drawn = (await nextEvent(sock(cid), 'giveaway:drawn', (p) => p.giveaway.id === g.id, 15_000)).giveaway;
    const [annWin, bobWin] = await Promise.all(wins);
    expect(new Set(drawn.winners.map((w) => w.userId))).toEqual(new Set([ann.id, bob.id]));
    for (const win of [annWin!, bobWin!]) {
      expect(win).toMatchObject({ giveawayId: g.id, prize: { kind: 'product', productId } });
      expect(win.holdId.startsWith(`${win.saleId}.`)).toBe(true);
      expect(win.expiresAt).toBeGreaterThanOrEqual(drawn.drawnAt! + HOLD_SEC * 1000 - 1000);
      expect(win.expiresAt).toBeLessThanOrEqual(drawn.drawnAt! + HOLD_SEC * 1000 + 5000);
    }
    expect(annWin!.saleId).not.toBe(bobWin!.saleId);
    expect(cidWon).toEqual([]);

    // The prize is a one-unit sale, over from the start, ending as a giveaway: nobody can reserve it.
    const sales = (await http(stack.url, 'GET', `/api/rooms/${roomId}/sales`, null)).body.sales as FlashSale[];
    const prizeSales = sales.filter((s) => s.endReason === 'giveaway' && s.productId === productId);
    expect(prizeSales.map((s) => s.id).sort()).toEqual([annWin!.saleId, bobWin!.saleId].sort());
    for (const s of prizeSales) expect(s).toMatchObject({ price: 0, initial: 1, held: 1, available: 0, productId });
    expect(code(await request(sock(cid), 'sale:reserve', { saleId: annWin!.saleId, qty: 1, requestId: randomUUID() }))).toBe('SALE_ENDED');
    // Not someone else's to claim.
    expect(code(await request(sock(cid), 'sale:checkout', { holdId: annWin!.holdId, requestId: randomUUID() }))).toBe('NOT_FOUND');

    // A winner who rejoins finds the prize in the snapshot.
    const snap = await ok(await connect(stack.url, ann), 'room:join', { roomId });
    expect(snap.giveaways.myPrizes).toEqual([{ ...annWin, state: 'held', orderId: null }]);

    // The room hears "someone bought" for purchases, not for prize claims (checked below).
    const boughtSeen: string[] = [];
    sock(cid).on('sale:bought', (p) => boughtSeen.push(p.saleId));

    // Claimed through the normal checkout: an order at 0; a second claim is the same order.
    const order = await ok(sock(ann), 'sale:checkout', { holdId: annWin!.holdId, requestId: randomUUID() });
    expect(order).toMatchObject({ saleId: annWin!.saleId, holdId: annWin!.holdId, qty: 1, unitPrice: 0, amount: 0, productId });
    expect(await ok(sock(ann), 'sale:checkout', { holdId: annWin!.holdId, requestId: randomUUID() })).toEqual(order);

    // In the orders stream as a giveaway order, like any order for the merchant.
    const listed = (await http(stack.url, 'GET', `/api/rooms/${roomId}/orders`, host.token)).body.orders as Order[];
    const prizeOrders = listed.filter((o) => o.kind === 'giveaway');
    expect(prizeOrders).toHaveLength(1);
    expect(prizeOrders[0]).toMatchObject({ orderId: order.orderId, kind: 'giveaway', ledgerId: annWin!.saleId, saleId: null, userId: ann.id, productId, qty: 1, unitPrice: 0, amount: 0 });
    expect((await http(stack.url, 'GET', `/api/orders/${order.orderId}`, ann.token)).body.order).toMatchObject({ kind: 'giveaway', amount: 0 });

    // A real purchase after the claim: its announcement arrives, and it is the only one.
    const sale = await ok(hostSocket, 'sale:start', { productId, price: 100, quantity: 5, durationSec: 600 });
    const saleBought = nextEvent(sock(cid), 'sale:bought', (p) => p.saleId === sale.id);
    const bobHold = await ok(sock(bob), 'sale:reserve', { saleId: sale.id, qty: 1, requestId: randomUUID() });
    await ok(sock(bob), 'sale:checkout', { holdId: bobHold.holdId, requestId: randomUUID() });
    await saleBought;
    expect(boughtSeen).toEqual([sale.id]);

    const annAgain = await ok(await connect(stack.url, ann), 'room:join', { roomId });
    expect(annAgain.giveaways.myPrizes).toEqual([{ ...annWin, state: 'claimed', orderId: order.orderId }]);
    expect((await ok(await connect(stack.url, cid), 'room:join', { roomId })).giveaways.myPrizes.filter((p) => p.giveawayId === g.id)).toEqual([]);

    const figures = (await ok(hostSocket, 'giveaway:stats', {})).giveaways;
    expect(figures.find((f) => f.giveawayId === g.id)).toMatchObject({ status: 'drawn', entries: 2, entriesByRule: 1, entriesFree: 1, winners: 2, prizesAwarded: 2, prizesClaimed: 1, prizesExpired: 0 });

    // The text prize: productId '' and the "no currency" code, amount 0; its title is the text.
    await expect.poll(async () => (await ok(await connect(stack.url, cid), 'room:join', { roomId })).giveaways.myPrizes.length, { timeout: 15_000 }).toBe(1);
    const [textPrize] = (await ok(await connect(stack.url, cid), 'room:join', { roomId })).giveaways.myPrizes;
    expect(textPrize).toMatchObject({ giveawayId: t.id, prize: { kind: 'text', text: 'Signed poster' }, state: 'held' });
    const textOrder = await ok(sock(cid), 'sale:checkout', { holdId: textPrize!.holdId, requestId: randomUUID() });
    expect(textOrder).toMatchObject({ productId: '', amount: 0, currency: 'XXX' });
    const textSale = ((await http(stack.url, 'GET', `/api/rooms/${roomId}/sales`, null)).body.sales as FlashSale[]).find((s) => s.id === textPrize!.saleId);
    expect(textSale).toMatchObject({ title: 'Signed poster', endReason: 'giveaway', sold: 1 });
  }, 60_000);
});

describe('giveaway prizes at the stores: racing draws, a node dying before the prizes, expiry', () => {
  let redis: TestRedis;
  const clients: RedisClient[] = [];
  const closers: (() => void)[] = [];
  let clock = 0;
  beforeAll(async () => {
    redis = await startTestRedis();
  }, 60_000);
  afterAll(async () => {
    for (const close of closers) close(); // the stores' batchers' connections
    for (const c of clients) c.disconnect();
    await redis.stop();
  });

  /** One "node": its own connection, sale store (on a virtual clock for the holds) and giveaway store. */
  function node(drawLeaseMs = 10_000) {
    const c = redis.client();
    clients.push(c);
    const sales = new SaleStore(c, { reservesPerSecond: 1000, ordersGroup: 'merchant', maxRunningPerRoom: 10, clock: () => clock });
    const queries = new SaleQueries(c, () => clock);
    let prizes: GiveawayPrizes | null = null;
    const store = new GiveawayStore(c, { maxPerRoom: 10, maxEntries: 100, drawLeaseMs, awardPrizes: (g, hostId) => prizes!.award(g, hostId) });
    prizes = new GiveawayPrizes({ store: sales, queries }, new BagStore(c), store, 60);
    closers.push(() => sales.close(), () => store.close());
    return { c, sales, queries, store, prizes };
  }

  async function redisNow(c: RedisClient): Promise<number> {
    const [s, us] = await c.time();
    return Number(s) * 1000 + Math.floor(Number(us) / 1000);
  }

  async function pastDeadline(c: RedisClient, endsAt: number): Promise<void> {
    await expect.poll(() => redisNow(c), { timeout: 10_000, interval: 50 }).toBeGreaterThanOrEqual(endsAt);
  }

  it('20 racing draws on two nodes: one announces, each winner has exactly one prize hold; unclaimed, it expires back to its own ledger', async () => {
    clock = 1_000_000;
    const nodes = [node(), node()];
    const roomId = 'r_prize_race';
    const { giveaway: g } = await nodes[0]!.store.start(roomId, { id: 'u_host', name: 'Host' }, { prize: { kind: 'text', text: 'Mug' }, durationSec: 5, winners: 3, rule: 'everyone' });
    await Promise.all(Array.from({ length: 12 }, (_, i) => nodes[i % 2]!.store.enter(roomId, g.id, { id: `u_${i}`, name: `User ${i}` }, false)));
    await pastDeadline(nodes[0]!.c, g.endsAt);
    const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => nodes[i % 2]!.store.draw(roomId, g.id)));
    const drawn = outcomes.flatMap((o) => (o.kind === 'drawn' ? [o] : []));
    expect(drawn).toHaveLength(1);
    expect(outcomes.every((o) => ['drawn', 'busy', 'done'].includes(o.kind))).toBe(true);
    const { giveaway, awards } = drawn[0]!;
    expect(awards.map((a) => a.userId)).toEqual(giveaway.winners.map((w) => w.userId));
    expect(new Set(awards.map((a) => a.saleId)).size).toBe(3);
    // Exactly one prize sale per winner in the room, whatever the racers did.
    const roomSales = await nodes[1]!.queries.list(roomId);
    expect(roomSales.filter((s) => s.endReason === 'giveaway')).toHaveLength(3);
    for (const a of awards) {
      expect(await nodes[0]!.queries.holdsOf(roomId, a.userId, [a.saleId])).toEqual([{ holdId: a.holdId, saleId: a.saleId, qty: 1, expiresAt: clock + 60_000 }]);
    }
    // Awarding again (a late racer) replays the same holds.
    expect(await nodes[1]!.prizes.award(giveaway, 'u_host')).toEqual(awards);
    expect((await nodes[1]!.queries.list(roomId)).filter((s) => s.endReason === 'giveaway')).toHaveLength(3);

    // Unclaimed past its hold: the unit goes back to its own one-unit ledger, which nobody can buy.
    const unclaimed = awards[0]!;
    clock += 61_000;
    expect(await nodes[0]!.sales.sweep(roomId, unclaimed.saleId)).toMatchObject({ unitsReturned: 1 });
    const ledger = await nodes[0]!.queries.ledger(roomId, unclaimed.saleId);
    expect(ledger).toMatchObject({ available: 1, held: 0, sold: 0, checks: { balanced: true, countersMatchRecords: true } });
    expect(await nodes[0]!.sales.get(roomId, unclaimed.saleId)).toMatchObject({ available: 1, held: 0, sold: 0, endReason: 'giveaway' });
    expect((await nodes[0]!.sales.checkout(roomId, { id: unclaimed.userId, name: 'User' }, unclaimed.holdId, randomUUID())).answer).toMatchObject({ ok: false, code: 'HOLD_EXPIRED' });
    const figures = await nodes[0]!.prizes.figures(roomId, [giveaway]);
    expect(figures[0]).toMatchObject({ entries: 12, entriesByRule: 12, entriesFree: 0, winners: 3, prizesAwarded: 3, prizesClaimed: 0, prizesExpired: 3 });
  }, 30_000);

  it('a node that drew and died after giving one prize: another node finishes the prizes once its lease ends, replaying the one made', async () => {
    clock = 2_000_000;
    const a = node(500);
    const roomId = 'r_prize_dead';
    const { giveaway: g } = await a.store.start(roomId, { id: 'u_host', name: 'Host' }, { prize: { kind: 'text', text: 'Tote' }, durationSec: 5, winners: 2, rule: 'everyone' });
    for (const i of [1, 2, 3]) await a.store.enter(roomId, g.id, { id: `u_${i}`, name: `User ${i}` }, false);
    await pastDeadline(a.c, g.endsAt);
    // The "dead" node: claims, draws, finishes (winners recorded), gives one prize, and stops.
    const raw = a.c as unknown as { giveawayClaim(...x: (string | number)[]): Promise<string[]>; giveawayFinish(...x: (string | number)[]): Promise<string[]> };
    const k = giveawayKeys(roomId, g.id);
    const claim = await raw.giveawayClaim(k.giveaway, k.entries, roomBansKey(roomId), 'dead-token', 500);
    expect(claim[0]).toBe('OK');
    const winners = [{ userId: 'u_2', name: 'U***2', entry: 'x' }, { userId: 'u_3', name: 'U***3', entry: 'y' }];
    expect((await raw.giveawayFinish(k.giveaway, roomAuditKey(roomId), k.entries, 'dead-token', JSON.stringify(winners), 100, 60_000, 500))[0]).toBe('OK');
    const first = await a.sales.award(roomId, { id: '', title: 'Tote', imageUrl: null, price: 0, currency: 'XXX', merchant: null, brand: null }, {
      price: 0, holdSec: 60, userId: 'u_2', by: 'u_host', requestId: prizeRequestId(g.id, 'u_2'), kind: 'giveaway',
    });
    // While its lease lasts nobody else acts; then another node completes the prizes, once.
    const b = node(500);
    expect((await b.store.draw(roomId, g.id)).kind).toBe('busy');
    await expect.poll(async () => (await b.store.draw(roomId, g.id)).kind, { timeout: 5000, interval: 100 }).toBe('drawn');
    const [awards] = [...(await b.store.awards(roomId, [g.id])).values()];
    expect(awards!.map((x) => x.userId)).toEqual(['u_2', 'u_3']);
    expect(awards![0]).toEqual({ userId: 'u_2', ...first });
    expect((await b.queries.list(roomId)).filter((s) => s.endReason === 'giveaway')).toHaveLength(2);
    expect((await b.store.draw(roomId, g.id)).kind).toBe('done');
    expect(await b.store.drawCount(roomId, g.id)).toBe(1);
  }, 30_000);
});
