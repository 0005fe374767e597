/**
 * Vouchers through the real interfaces (socket.io-client, HTTP, Redis; TEST_REDIS=cluster too):
 * drop → claim → apply → checkout with the discount recorded on the order (answer, stream, order
 * route); one claim per user; min spend; followers only; a released hold and an expired one give
 * the voucher back; concurrent checkouts of two holds with one voucher make exactly one order use
 * it; figures and audit; permissions. And, on a virtual clock against the real scripts: a claim's
 * validity, a voucher applied to a hold outliving it, and every path that ends a hold unpaid.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Product } from '../src/protocol/index.js';
import type { RedisClient } from '../src/core/redis-client.js';
import { orderStreamKey } from '../src/commerce/sales/sale-keys.js';
import { SaleStore } from '../src/commerce/sales/sale-store.js';
import { VoucherStore } from '../src/commerce/vouchers/voucher-store.js';
import { roomVoucherKeys } from '../src/commerce/vouchers/voucher-keys.js';
import { roomBansKey } from '../src/core/keys.js';
import { closeAllSockets, connect, devUser, http, liveRoom, nextEvent, ok, request, type TestSocket, type TestUser } from './helpers/clients.js';
import { startStack, type Stack } from './helpers/stack.js';

let stack: Stack;
let redis: RedisClient;
beforeAll(async () => {
  stack = await startStack({ config: { SALE_SWEEP_MS: '50', SALE_RESERVE_RATE_PER_SEC: '1000', VOUCHER_MAX_ACTIVE_PER_ROOM: '3', VOUCHER_ACTIONS_PER_SEC: '1000' } });
  redis = stack.redis.client();
}, 60_000);
afterAll(async () => {
  closeAllSockets();
  redis.disconnect();
  await stack.stop();
});

const code = (res: { ok: boolean; error?: { code: string } }) => (res.ok ? 'ok' : res.error!.code);

async function joined(roomId: string, user: TestUser | null): Promise<TestSocket> {
  const s = await connect(stack.url, user);
  await ok(s, 'room:join', { roomId });
  return s;
}

/** A live room with a flash sale at `price` and `n` signed-in viewers in it. */
async function shop(price: number, n: number, sale: { holdSec?: number } = {}) {
  const { host, roomId, productId } = await liveRoom(stack.url, 'Vera');
  const hostSocket = await joined(roomId, host);
  const s = await ok(hostSocket, 'sale:start', { productId, price, quantity: 200, perUserLimit: 100, durationSec: 600, holdSec: sale.holdSec ?? 120 });
  const viewers = await Promise.all(Array.from({ length: n }, async (_, i) => {
    const user = await devUser(stack.url, `Viewer ${i}`);
    return { user, socket: await joined(roomId, user) };
  }));
  const reserve = (socket: TestSocket, qty = 1) => ok(socket, 'sale:reserve', { saleId: s.id, qty, requestId: randomUUID() });
  return { host, hostSocket, roomId, productId, sale: s, viewers, reserve };
}

const rawClaim = (roomId: string, voucherId: string, userId: string) => redis.hget(roomVoucherKeys(roomId).claims, `${voucherId}|${userId}`);

describe('vouchers: drop, claim, apply, checkout', () => {
  it('discounts the order it is applied to, records it on the order, and is consumed once', async () => {
    const { host, hostSocket, roomId, viewers, reserve } = await shop(2000, 2);
    const [alice, bob] = viewers as [{ user: TestUser; socket: TestSocket }, { user: TestUser; socket: TestSocket }];
    const dropped = nextEvent(alice.socket, 'voucher:dropped');
    const { voucher } = await ok(hostSocket, 'voucher:drop', { kind: 'percent', value: 15, minSpend: 1000, quantity: 5, validSec: 600, requestId: 'drop-0001' });
    expect((await dropped).voucher).toEqual(voucher);
    expect(voucher).toMatchObject({ kind: 'percent', value: 15, minSpend: 1000, quantity: 5, claimed: 0, remaining: 5, validSec: 600, followersOnly: false, status: 'open' });
    expect(voucher.endsAt - voucher.startsAt).toBe(600_000);
    // A retried drop is the same voucher.
    expect((await ok(hostSocket, 'voucher:drop', { kind: 'percent', value: 15, minSpend: 1000, quantity: 5, validSec: 600, requestId: 'drop-0001' })).voucher.id).toBe(voucher.id);

    // One claim per user: the same requestId replays, another is ALREADY_CLAIMED.
    const requestId = randomUUID();
    const claimed = await ok(alice.socket, 'voucher:claim', { voucherId: voucher.id, requestId });
    expect(claimed).toMatchObject({ remaining: 4, claim: { voucherId: voucher.id, state: 'claimed', holdId: null, orderId: null } });
    expect(claimed.claim.expiresAt - claimed.claim.claimedAt).toBe(600_000);
    expect(await ok(alice.socket, 'voucher:claim', { voucherId: voucher.id, requestId })).toEqual(claimed);
    expect(code(await request(alice.socket, 'voucher:claim', { voucherId: voucher.id, requestId: randomUUID() }))).toBe('ALREADY_CLAIMED');

    // Applied to a hold: the price before paying; checkout (voucherId not repeated) consumes it.
    const hold = await reserve(alice.socket, 2);
    expect(await ok(alice.socket, 'voucher:apply', { voucherId: voucher.id, holdId: hold.holdId })).toEqual({
      voucherId: voucher.id, holdId: hold.holdId, amount: 4000, discount: 600, paid: 3400, currency: 'USD', holdExpiresAt: hold.expiresAt,
    });
    // Nobody else can use it: bob has no claim of it.
    const bobHold = await reserve(bob.socket);
    expect(code(await request(bob.socket, 'voucher:apply', { voucherId: voucher.id, holdId: bobHold.holdId }))).toBe('VOUCHER_NOT_FOUND');
    expect(code(await request(bob.socket, 'sale:checkout', { holdId: bobHold.holdId, requestId: randomUUID(), voucherId: voucher.id }))).toBe('VOUCHER_NOT_FOUND');
    // Nor on a hold of someone else.
    expect(code(await request(alice.socket, 'voucher:apply', { voucherId: voucher.id, holdId: bobHold.holdId }))).toBe('NOT_FOUND');

    const checkoutId = randomUUID();
    const order = await ok(alice.socket, 'sale:checkout', { holdId: hold.holdId, requestId: checkoutId });
    expect(order).toMatchObject({ holdId: hold.holdId, qty: 2, unitPrice: 2000, amount: 4000, voucherId: voucher.id, discount: 600, paid: 3400 });
    expect(await ok(alice.socket, 'sale:checkout', { holdId: hold.holdId, requestId: checkoutId })).toEqual(order);
    const entries = await redis.xrange(orderStreamKey(roomId), '-', '+');
    const fields = Object.fromEntries(entries.at(-1)![1].reduce<string[][]>((acc, v, i, a) => (i % 2 ? acc : [...acc, [v, a[i + 1]!]]), []));
    expect(fields).toMatchObject({ orderId: order.orderId, amount: '4000', voucherId: voucher.id, discount: '600', paid: '3400' });
    const looked = await http(stack.url, 'GET', `/api/orders/${order.orderId}`, alice.user.token);
    expect(looked.body.order).toMatchObject({ orderId: order.orderId, amount: 4000, voucherId: voucher.id, discount: 600, paid: 3400 });
    // An order without a voucher says so.
    const plain = await ok(bob.socket, 'sale:checkout', { holdId: bobHold.holdId, requestId: randomUUID() });
    expect(plain).toMatchObject({ amount: 2000, voucherId: null, discount: 0, paid: 2000 });

    // Used: not again, on any hold.
    const again = await reserve(alice.socket);
    expect(code(await request(alice.socket, 'sale:checkout', { holdId: again.holdId, requestId: randomUUID(), voucherId: voucher.id }))).toBe('VOUCHER_USED');
    expect(code(await request(alice.socket, 'voucher:apply', { voucherId: voucher.id, holdId: again.holdId }))).toBe('VOUCHER_USED');
    const snap = await ok(await connect(stack.url, alice.user), 'room:join', { roomId });
    const mine = (snap.vouchers as { mine: { voucherId: string; state: string; orderId: string | null; holdId: string | null }[] }).mine;
    expect(mine).toEqual([expect.objectContaining({ voucherId: voucher.id, state: 'used', orderId: order.orderId, holdId: hold.holdId })]);
    expect((snap.vouchers as { active: { id: string; remaining: number }[] }).active).toEqual([expect.objectContaining({ id: voucher.id, remaining: 4 })]);

    // The host's figures: in sale:stats and per voucher over HTTP.
    expect((await ok(hostSocket, 'sale:stats', {})).vouchers).toEqual({ claims: 1, redemptions: 1, discount: 600 });
    const figures = await http(stack.url, 'GET', `/api/rooms/${roomId}/vouchers`, host.token);
    expect(figures.status).toBe(200);
    expect(figures.body.totals).toEqual({ claims: 1, redemptions: 1, discount: 600 });
    expect(figures.body.vouchers).toEqual([expect.objectContaining({ voucherId: voucher.id, claims: 1, redemptions: 1, discount: 600 })]);
    expect((await http(stack.url, 'GET', `/api/rooms/${roomId}/vouchers`, alice.user.token)).status).toBe(403);

    // Stop: claiming ends (audited), the room hears it; alice's claim was unaffected.
    const stopped = nextEvent(bob.socket, 'voucher:stopped');
    expect((await ok(hostSocket, 'voucher:stop', { voucherId: voucher.id })).voucher.status).toBe('ended');
    expect((await stopped).voucher.id).toBe(voucher.id);
    expect(code(await request(bob.socket, 'voucher:claim', { voucherId: voucher.id, requestId: randomUUID() }))).toBe('VOUCHER_CLOSED');
    expect(code(await request(hostSocket, 'voucher:stop', { voucherId: voucher.id }))).toBe('VOUCHER_CLOSED');
    const audit = await ok(hostSocket, 'mod:audit', { limit: 50 });
    expect(audit.filter((a) => a.action === 'voucher-drop')).toEqual([expect.objectContaining({ actor: expect.objectContaining({ id: host.id }), detail: expect.objectContaining({ voucherId: voucher.id, kind: 'percent', value: 15, quantity: 5 }) })]);
    expect(audit.filter((a) => a.action === 'voucher-stop')).toEqual([expect.objectContaining({ detail: { voucherId: voucher.id, claimed: 1 } })]);
  }, 30_000);

  it('refuses below the minimum spend (hold untouched), caps an amount off at the order, and counts down to claimed-out', async () => {
    const { hostSocket, viewers, reserve } = await shop(2000, 3);
    const [a, b, c] = viewers.map((v) => v.socket) as [TestSocket, TestSocket, TestSocket];
    const { voucher: big } = await ok(hostSocket, 'voucher:drop', { kind: 'amount', value: 500, minSpend: 5000, quantity: 2, validSec: 60 });
    await ok(a, 'voucher:claim', { voucherId: big.id, requestId: randomUUID() });
    const hold = await reserve(a);
    expect(code(await request(a, 'voucher:apply', { voucherId: big.id, holdId: hold.holdId }))).toBe('VOUCHER_MIN_SPEND');
    expect(code(await request(a, 'sale:checkout', { holdId: hold.holdId, requestId: randomUUID(), voucherId: big.id }))).toBe('VOUCHER_MIN_SPEND');
    // The refusal left the hold held and the voucher claimed: a bigger hold takes it.
    const bigger = await reserve(a, 3);
    expect(await ok(a, 'sale:checkout', { holdId: bigger.holdId, requestId: randomUUID(), voucherId: big.id })).toMatchObject({ amount: 6000, discount: 500, paid: 5500 });
    expect(await ok(a, 'sale:checkout', { holdId: hold.holdId, requestId: randomUUID() })).toMatchObject({ amount: 2000, voucherId: null, paid: 2000 });

    // An amount off larger than the order takes it to 0, not below; the last claim is announced.
    const { voucher: free } = await ok(hostSocket, 'voucher:drop', { kind: 'amount', value: 999_999, quantity: 2, validSec: 60 });
    const stock = nextEvent(c, 'voucher:stock', (p) => p.voucherId === free.id);
    await ok(b, 'voucher:claim', { voucherId: free.id, requestId: randomUUID() });
    expect(await stock).toEqual({ voucherId: free.id, remaining: 1 });
    const out = nextEvent(b, 'voucher:claimed-out', (p) => p.voucherId === free.id);
    expect((await ok(c, 'voucher:claim', { voucherId: free.id, requestId: randomUUID() })).remaining).toBe(0);
    await out;
    expect(code(await request(a, 'voucher:claim', { voucherId: free.id, requestId: randomUUID() }))).toBe('VOUCHER_CLAIMED_OUT');
    expect(await ok(b, 'sale:checkout', { holdId: (await reserve(b)).holdId, requestId: randomUUID(), voucherId: free.id })).toMatchObject({ amount: 2000, discount: 2000, paid: 0 });

    // Caps: open vouchers per room (3 here: big, free, and one more).
    await ok(hostSocket, 'voucher:drop', { kind: 'percent', value: 5, quantity: 1, validSec: 60 });
    expect(code(await request(hostSocket, 'voucher:drop', { kind: 'percent', value: 5, quantity: 1, validSec: 60 }))).toBe('LIMIT_EXCEEDED');
  }, 30_000);

  it('followers only: refused until the viewer follows the host', async () => {
    const { hostSocket, viewers } = await shop(1000, 1);
    const v = viewers[0]!.socket;
    const { voucher } = await ok(hostSocket, 'voucher:drop', { kind: 'percent', value: 10, quantity: 10, validSec: 60, followersOnly: true });
    expect(await request(v, 'voucher:claim', { voucherId: voucher.id, requestId: randomUUID() })).toMatchObject({ ok: false, error: { code: 'NOT_ELIGIBLE', message: expect.stringMatching(/follow/) } });
    await ok(v, 'engage:follow', {});
    expect((await ok(v, 'voucher:claim', { voucherId: voucher.id, requestId: randomUUID() })).claim.state).toBe('claimed');
  });

  it('a released hold gives its voucher back, and so does one that expires unpaid (the sweeper)', async () => {
    const { hostSocket, roomId, viewers, reserve, sale } = await shop(1500, 1, { holdSec: 1 });
    const { user, socket } = viewers[0]!;
    const { voucher } = await ok(hostSocket, 'voucher:drop', { kind: 'amount', value: 300, quantity: 3, validSec: 600 });
    await ok(socket, 'voucher:claim', { voucherId: voucher.id, requestId: randomUUID() });

    const first = await reserve(socket);
    await ok(socket, 'voucher:apply', { voucherId: voucher.id, holdId: first.holdId });
    expect(await rawClaim(roomId, voucher.id, user.id)).toMatch(new RegExp(`^applied\\|.*\\|${first.holdId.replace('.', '\\.')}\\|`));
    await ok(socket, 'sale:release', { holdId: first.holdId });
    expect(await rawClaim(roomId, voucher.id, user.id)).toMatch(/^claimed\|\d+\|\d+\|\|0\|\|/);
    expect(await redis.hget(roomVoucherKeys(roomId).claims, `h|${first.holdId}`)).toBeNull();

    // Unpaid until it expires: the sweeper returns the units and, in the same script, the voucher.
    const second = await reserve(socket);
    await ok(socket, 'voucher:apply', { voucherId: voucher.id, holdId: second.holdId });
    await nextEvent(socket, 'sale:stock', (s) => s.saleId === sale.id && s.held === 0 && s.available === 200, 5000);
    expect(await rawClaim(roomId, voucher.id, user.id)).toMatch(/^claimed\|/);
    expect(code(await request(socket, 'sale:checkout', { holdId: second.holdId, requestId: randomUUID() }))).toBe('HOLD_EXPIRED');

    // Back, so usable again.
    const third = await reserve(socket);
    expect(await ok(socket, 'sale:checkout', { holdId: third.holdId, requestId: randomUUID(), voucherId: voucher.id })).toMatchObject({ voucherId: voucher.id, discount: 300, paid: 1200 });
  }, 20_000);

  it('moves between holds: applying elsewhere moves it; a checkout naming a voucher applied to another live hold is VOUCHER_IN_USE', async () => {
    const { hostSocket, roomId, viewers, reserve } = await shop(1000, 1);
    const { user, socket } = viewers[0]!;
    const { voucher: v1 } = await ok(hostSocket, 'voucher:drop', { kind: 'amount', value: 100, quantity: 3, validSec: 600 });
    const { voucher: v2 } = await ok(hostSocket, 'voucher:drop', { kind: 'amount', value: 200, quantity: 3, validSec: 600 });
    for (const v of [v1, v2]) await ok(socket, 'voucher:claim', { voucherId: v.id, requestId: randomUUID() });
    const [h1, h2] = [await reserve(socket), await reserve(socket)];
    await ok(socket, 'voucher:apply', { voucherId: v1.id, holdId: h1.holdId });
    expect(code(await request(socket, 'sale:checkout', { holdId: h2.holdId, requestId: randomUUID(), voucherId: v1.id }))).toBe('VOUCHER_IN_USE');
    // Moving it by apply is fine; then v2 on h1 and v1 on h2.
    await ok(socket, 'voucher:apply', { voucherId: v1.id, holdId: h2.holdId });
    expect(await redis.hget(roomVoucherKeys(roomId).claims, `h|${h1.holdId}`)).toBeNull();
    // Naming another voucher at checkout swaps: v2 is used by h2's order and v1 goes back to claimed.
    expect(await ok(socket, 'sale:checkout', { holdId: h2.holdId, requestId: randomUUID(), voucherId: v2.id })).toMatchObject({ voucherId: v2.id, discount: 200 });
    expect(await rawClaim(roomId, v1.id, user.id)).toMatch(/^claimed\|/);
    expect(await ok(socket, 'sale:checkout', { holdId: h1.holdId, requestId: randomUUID() })).toMatchObject({ voucherId: null, discount: 0 });
  });
});

describe('vouchers: one voucher, concurrent checkouts', () => {
  it('two holds checked out at once with the same voucher: exactly one order uses it, every time', async () => {
    const { hostSocket, roomId, viewers, reserve } = await shop(1000, 1);
    const { user, socket } = viewers[0]!;
    // A second connection of the same buyer, so the two checkouts race from two sockets.
    const other = await joined(roomId, user);
    for (let round = 0; round < 10; round++) {
      const { voucher } = await ok(hostSocket, 'voucher:drop', { kind: 'percent', value: 50, quantity: 1, validSec: 600, durationSec: 5 });
      await ok(socket, 'voucher:claim', { voucherId: voucher.id, requestId: randomUUID() });
      const [h1, h2] = [await reserve(socket), await reserve(socket)];
      // Every other round the voucher is applied to the first hold, which checks out without naming it.
      if (round % 2) await ok(socket, 'voucher:apply', { voucherId: voucher.id, holdId: h1.holdId });
      const results = await Promise.all([
        request(socket, 'sale:checkout', { holdId: h1.holdId, requestId: randomUUID(), ...(round % 2 ? {} : { voucherId: voucher.id }) }),
        request(other, 'sale:checkout', { holdId: h2.holdId, requestId: randomUUID(), voucherId: voucher.id }),
      ]);
      const used = results.filter((r) => r.ok && r.data.voucherId === voucher.id);
      expect(used, `round ${round}: ${JSON.stringify(results)}`).toHaveLength(1);
      for (const r of results) if (!r.ok) expect(['VOUCHER_USED', 'VOUCHER_IN_USE']).toContain(r.error.code);
      const orders = (await redis.xrange(orderStreamKey(roomId), '-', '+')).filter(([, f]) => f.includes(voucher.id));
      expect(orders).toHaveLength(1);
      await ok(hostSocket, 'voucher:stop', { voucherId: voucher.id });
    }
    const figures = (await ok(hostSocket, 'sale:stats', {})).vouchers;
    expect(figures).toMatchObject({ claims: 10, redemptions: 10 });
  }, 60_000);
});

describe('vouchers: permissions', () => {
  it('only the host drops; host or moderator stops; guests, the banned and staff cannot claim', async () => {
    const { host, hostSocket, roomId, viewers } = await shop(1000, 2);
    const [viewer, banned] = viewers as [{ user: TestUser; socket: TestSocket }, { user: TestUser; socket: TestSocket }];
    const moderator = await devUser(stack.url, 'Mod');
    expect((await http(stack.url, 'PUT', `/api/rooms/${roomId}/moderators/${moderator.id}`, host.token)).status).toBe(200);
    const modSocket = await joined(roomId, moderator);
    const drop = { kind: 'percent', value: 10, quantity: 5, validSec: 60 } as const;
    expect(code(await request(viewer.socket, 'voucher:drop', drop))).toBe('FORBIDDEN');
    expect(code(await request(modSocket, 'voucher:drop', drop))).toBe('FORBIDDEN');
    const guest = await joined(roomId, null);
    expect(code(await request(guest, 'voucher:drop', drop))).toBe('UNAUTHORIZED');
    const { voucher } = await ok(hostSocket, 'voucher:drop', drop);
    expect(code(await request(guest, 'voucher:claim', { voucherId: voucher.id, requestId: randomUUID() }))).toBe('UNAUTHORIZED');
    expect(code(await request(hostSocket, 'voucher:claim', { voucherId: voucher.id, requestId: randomUUID() }))).toBe('FORBIDDEN');
    expect(code(await request(modSocket, 'voucher:claim', { voucherId: voucher.id, requestId: randomUUID() }))).toBe('FORBIDDEN');
    await ok(hostSocket, 'mod:ban', { userId: banned.user.id });
    expect(code(await request(banned.socket, 'voucher:claim', { voucherId: voucher.id, requestId: randomUUID() }))).toMatch(/BANNED|NOT_IN_ROOM/);
    expect(code(await request(viewer.socket, 'voucher:stop', { voucherId: voucher.id }))).toBe('FORBIDDEN');
    expect(code(await request(modSocket, 'voucher:stop', { voucherId: voucher.id }))).toBe('ok');
    expect(code(await request(viewer.socket, 'voucher:claim', { voucherId: 'v_nope', requestId: randomUUID() }))).toBe('VOUCHER_NOT_FOUND');
    expect((await http(stack.url, 'GET', `/api/rooms/${roomId}/vouchers`, moderator.token)).status).toBe(200);
    expect((await http(stack.url, 'GET', `/api/rooms/${roomId}/vouchers`, null)).status).toBe(401);
    // Not live: no drop.
    const other = await devUser(stack.url, 'Not live');
    const created = await http(stack.url, 'POST', '/api/rooms', other.token, { title: 'Later', hostKind: 'buyer' });
    expect(code(await request(await joined(created.body.room.id, other), 'voucher:drop', drop))).toBe('ROOM_NOT_LIVE');
  });

  it('ending the live stops every open voucher (audited as the host), and a claim made before stays', async () => {
    const { host, hostSocket, roomId, viewers } = await shop(1000, 1);
    const drop = { kind: 'amount', value: 100, quantity: 5, validSec: 600 } as const;
    const { voucher: first } = await ok(hostSocket, 'voucher:drop', drop);
    const { voucher: second } = await ok(hostSocket, 'voucher:drop', drop);
    await ok(viewers[0]!.socket, 'voucher:claim', { voucherId: first.id, requestId: randomUUID() });
    expect((await http(stack.url, 'POST', `/api/rooms/${roomId}/end`, host.token)).status).toBe(200);
    const stored = async (id: string) => JSON.parse((await redis.hget(roomVoucherKeys(roomId).vouchers, id))!) as { status: string };
    expect([(await stored(first.id)).status, (await stored(second.id)).status]).toEqual(['stopped', 'stopped']);
    expect(await rawClaim(roomId, first.id, viewers[0]!.user.id)).not.toBeNull();
    const audit = (await redis.xrange(`{room:${roomId}}:audit`, '-', '+')).map(([, f]) => f.join(' '));
    expect(audit.filter((a) => a.includes('voucher-stop') && a.includes(host.id))).toHaveLength(2);
  });

  it('the banned: refused in the script too (a ban landing after the join)', async () => {
    const { hostSocket, roomId } = await shop(1000, 0);
    const { voucher } = await ok(hostSocket, 'voucher:drop', { kind: 'percent', value: 10, quantity: 5, validSec: 60 });
    const store = new VoucherStore(redis, { maxActive: 5, maxPerRoom: 100, maxQuantity: 100_000, actionsPerSecond: 5 });
    await redis.sadd(roomBansKey(roomId), 'u_ghost');
    await expect(store.claim(roomId, voucher.id, 'u_ghost', 'req-ghost-1')).rejects.toMatchObject({ code: 'BANNED' });
  });
});

describe('vouchers on a virtual clock (the real scripts, Redis TIME replaced)', () => {
  // A year ahead of real time: the stack's own sweeper (Redis TIME) finds these sales in the
  // global due index too, and must see nothing of theirs due.
  let now = Date.now() + 365 * 24 * 3600_000;
  const ROOM = 'r_vclock';
  const product: Product = { id: 'p1', title: 'Scarf', imageUrl: null, price: 3000, currency: 'USD', merchant: null, brand: null };
  let sales: SaleStore;
  let vouchers: VoucherStore;
  beforeAll(() => {
    sales = new SaleStore(redis, { reservesPerSecond: 1000, ordersGroup: 'merchant', maxRunningPerRoom: 100, clock: () => now });
    vouchers = new VoucherStore(redis, { maxActive: 50, maxPerRoom: 100, maxQuantity: 100_000, actionsPerSecond: 1000 }, () => now);
  });
  afterAll(() => sales.close());

  const host = { id: 'u_host', name: 'Host' };
  const buyer = { id: 'u_buyer', name: 'Buyer' };
  const drop = (validSec: number) => vouchers.drop(ROOM, host, { kind: 'amount', value: 100, minSpend: 0, quantity: 10, validSec, followersOnly: false, durationSec: 600 });
  async function holdOf(holdSec: number) {
    const { sale } = await sales.create(ROOM, product, { productId: 'p1', price: 1000, quantity: 10, perUserLimit: 10, startInSec: 0, durationSec: 3600, holdSec }, host.id);
    const { answer } = await sales.reserve(ROOM, sale.id, buyer.id, 1, randomUUID());
    if (!answer.ok) throw new Error(answer.code);
    return { sale, holdId: answer.holdId };
  }
  const claimState = async (voucherId: string) => (await vouchers.claimsOf(ROOM, buyer.id, [(await vouchers.get(ROOM, voucherId))!]))[0]!.state;

  it('a claim expires validSec after it was made; an applied voucher stays good until its hold ends', async () => {
    const { voucher } = await drop(10);
    await vouchers.claim(ROOM, voucher.id, buyer.id, 'req-claim-01');
    const { holdId } = await holdOf(60);
    await vouchers.apply(ROOM, voucher.id, buyer.id, holdId);
    now += 30_000; // past the claim's 10 s, within the hold's 60 s
    const { answer } = await sales.checkout(ROOM, buyer, holdId, randomUUID());
    expect(answer).toMatchObject({ ok: true, voucherId: voucher.id, discount: 100, paid: 900 });

    const { voucher: late } = await drop(10);
    await vouchers.claim(ROOM, late.id, buyer.id, 'req-claim-02');
    const h = await holdOf(60);
    now += 10_000;
    expect(await claimState(late.id)).toBe('expired');
    await expect(vouchers.apply(ROOM, late.id, buyer.id, h.holdId)).rejects.toMatchObject({ code: 'VOUCHER_EXPIRED' });
    await expect(sales.checkout(ROOM, buyer, h.holdId, randomUUID(), late.id)).rejects.toMatchObject({ code: 'VOUCHER_EXPIRED' });
  });

  it('claim and apply share a per-user rate limit', async () => {
    const limited = new VoucherStore(redis, { maxActive: 50, maxPerRoom: 100, maxQuantity: 100_000, actionsPerSecond: 2 }, () => now);
    const ids = await Promise.all([1, 2, 3].map(async () => (await drop(60)).voucher.id));
    const results = await Promise.allSettled(ids.map((id, i) => limited.claim(ROOM, id, 'u_hasty', `req-hasty-${i}`)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
    expect(results.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: 'RATE_LIMITED', retryAfterMs: expect.any(Number) } });
  });

  it('every way a hold ends unpaid gives the voucher back: release, sweep, a checkout too late, a reserve sweeping', async () => {
    const { voucher } = await drop(3600);
    await vouchers.claim(ROOM, voucher.id, buyer.id, 'req-claim-03');
    const ways: [string, (sale: string, holdId: string) => Promise<unknown>][] = [
      ['release', (_s, holdId) => sales.release(ROOM, buyer.id, holdId)],
      ['sweep', (sale) => { now += 61_000; return sales.sweep(ROOM, sale); }],
      ['late checkout', (_s, holdId) => { now += 61_000; return sales.checkout(ROOM, buyer, holdId, randomUUID()).catch(() => undefined); }],
      ['reserve sweeping', (sale) => { now += 61_000; return sales.reserve(ROOM, sale, 'u_other', 1, randomUUID()); }],
    ];
    for (const [way, end] of ways) {
      const { sale, holdId } = await holdOf(60);
      await vouchers.apply(ROOM, voucher.id, buyer.id, holdId);
      expect(await claimState(voucher.id), way).toBe('applied');
      await end(sale.id, holdId);
      expect(await rawClaim(ROOM, voucher.id, buyer.id), way).toMatch(/^claimed\|/);
      expect(await redis.hget(roomVoucherKeys(ROOM).claims, `h|${holdId}`), way).toBeNull();
    }
    // A hold returned after the claim's validity: the claim reads expired.
    const { voucher: short } = await drop(10);
    await vouchers.claim(ROOM, short.id, buyer.id, 'req-claim-04');
    const { holdId } = await holdOf(60);
    await vouchers.apply(ROOM, short.id, buyer.id, holdId);
    now += 20_000;
    expect(await claimState(short.id)).toBe('applied');
    await sales.release(ROOM, buyer.id, holdId);
    expect(await claimState(short.id)).toBe('expired');
  });
});
