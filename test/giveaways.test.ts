/**
 * Giveaways through the real interfaces (socket.io-client, HTTP, Redis; TEST_REDIS=cluster too):
 * entry rules per user with the free route, one entry per user, bans excluded at the draw, the
 * commitment matching the revealed seed, the verifier script passing on the published data, late
 * entries refused by Redis TIME, the draw recorded once with many racers, caps, and permissions
 * and bad input for every giveaway event and route.
 */
import { execFile } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GiveawayStore } from '../src/commerce/giveaways/giveaway-store.js';
import { entryHash } from '../src/commerce/giveaways/giveaway-draw.js';
import { giveawayKeys } from '../src/commerce/giveaways/giveaway-keys.js';
import { roomAuditKey, roomBansKey } from '../src/core/keys.js';
import type { RedisClient } from '../src/core/redis-client.js';
import type { GiveawayWinner } from '../src/protocol/index.js';
import { closeAllSockets, connect, devUser, http, liveRoom, nextEvent, ok, request, requestRaw, type TestSocket, type TestUser, joinedSocket } from './helpers/clients.js';
import { startStack, type Stack } from './helpers/stack.js';
import { startTestRedis, type TestRedis } from './helpers/test-redis.js';

const run = promisify(execFile);
const MAX_ENTRIES = 5;
const MAX_PER_ROOM = 6;

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    config: { METRICS_TOKEN: 'giveaway-metrics-token-0123456789', GIVEAWAY_MAX_ENTRIES: String(MAX_ENTRIES), GIVEAWAY_MAX_PER_ROOM: String(MAX_PER_ROOM), GIVEAWAY_SWEEP_MS: '100' },
  });
}, 60_000);
afterAll(async () => {
  closeAllSockets();
  await stack.stop();
});

const joined = (roomId: string, user: TestUser | null) => joinedSocket(stack.url, roomId, user);

const code = (res: { ok: boolean; error?: { code: string } }) => (res.ok ? 'ok' : res.error!.code);

describe('giveaways: rules, free entry, draw, verification', () => {
  it('checks each rule per user, takes the free route once, excludes the banned, and publishes a draw the verifier recomputes', async () => {
    const { host, roomId, productId } = await liveRoom(stack.url, 'Gina');
    const hostSocket = await joined(roomId, host);
    const names = ['Fay Follower', 'Cal Commenter', 'Bo Buyer', 'Pat Plain', 'Ben Banned'];
    const [follower, commenter, buyer, plain, banned] = (await Promise.all(names.map((n) => devUser(stack.url, n)))) as TestUser[];
    const s = Object.fromEntries(await Promise.all(
      [follower, commenter, buyer, plain, banned].map(async (u) => [u!.id, await joined(roomId, u!)] as const),
    )) as Record<string, TestSocket>;
    const sock = (u: TestUser) => s[u.id]!;

    // The facts each rule reads: a follow, a comment, an order, all in this live.
    await ok(sock(follower!), 'engage:follow', {});
    await ok(sock(commenter!), 'chat:send', { text: 'love it' });
    const sale = await ok(hostSocket, 'sale:start', { productId, price: 100, quantity: 5, durationSec: 600 });
    const hold = await ok(sock(buyer!), 'sale:reserve', { saleId: sale.id, qty: 1, requestId: randomUUID() });
    await ok(sock(buyer!), 'sale:checkout', { holdId: hold.holdId, requestId: randomUUID() });

    const started = nextEvent(sock(plain!), 'giveaway:started', (p) => p.giveaway.rule === 'everyone');
    const rules = ['everyone', 'followers', 'commenters', 'buyers'] as const;
    const gs = Object.fromEntries(await Promise.all(rules.map(async (rule) => [
      rule,
      await ok(hostSocket, 'giveaway:start', rule === 'buyers' ? { productId, durationSec: 5, winners: 2, rule } : { text: `Prize for ${rule}`, durationSec: 5, winners: 2, rule }),
    ] as const)));
    const everyone = gs.everyone!;
    expect((await started).giveaway).toEqual(everyone);
    expect(everyone).toMatchObject({ status: 'open', seed: null, salt: null, entries: 0, winnersWanted: 2, prize: { kind: 'text', text: 'Prize for everyone' } });
    expect(everyone.commitment).toMatch(/^[0-9a-f]{64}$/);
    expect(gs.buyers!.prize).toEqual({ kind: 'product', productId, title: 'Silk scarf' });

    // Who qualifies by rule: exactly the user with that fact.
    const qualified: Record<string, TestUser | null> = { everyone: null, followers: follower!, commenters: commenter!, buyers: buyer! };
    for (const rule of rules) {
      for (const u of [follower!, commenter!, buyer!, plain!]) {
        const res = await request(sock(u), 'giveaway:enter', { giveawayId: gs[rule]!.id });
        const expected = rule === 'everyone' || qualified[rule]!.id === u.id ? 'ok' : 'NOT_ELIGIBLE';
        expect(code(res), `${u.name} → ${rule}`).toBe(expected);
        if (res.ok) expect(res.data).toEqual({ giveawayId: gs[rule]!.id, entered: true, via: 'rule', alreadyEntered: false });
        else expect(res.error.message).toMatch(/free: true/);
      }
    }
    // The no-purchase route: any signed-in viewer, once; a second try enters nothing more.
    expect(await ok(sock(plain!), 'giveaway:enter', { giveawayId: gs.buyers!.id, free: true })).toMatchObject({ via: 'free', alreadyEntered: false });
    expect(await ok(sock(plain!), 'giveaway:enter', { giveawayId: gs.buyers!.id, free: true })).toMatchObject({ via: 'free', alreadyEntered: true });
    expect(await ok(sock(buyer!), 'giveaway:enter', { giveawayId: gs.buyers!.id })).toMatchObject({ via: 'rule', alreadyEntered: true });

    // Staff may not enter; guests must sign in.
    expect(code(await request(hostSocket, 'giveaway:enter', { giveawayId: everyone.id }))).toBe('FORBIDDEN');
    const guest = await joined(roomId, null);
    expect(code(await request(guest, 'giveaway:enter', { giveawayId: everyone.id, free: true }))).toBe('UNAUTHORIZED');

    // A user banned after entering is not in the draw.
    await ok(sock(banned!), 'giveaway:enter', { giveawayId: everyone.id });
    expect((await http(stack.url, 'GET', `/api/giveaways/${everyone.id}/entries`, null)).body.giveaway.entries).toBe(5);
    await ok(hostSocket, 'mod:ban', { userId: banned!.id });

    // Before the draw the list is published without its salt; nothing secret leaks.
    const early = await http(stack.url, 'GET', `/api/giveaways/${everyone.id}/entries`, null);
    expect(early.status).toBe(200);
    expect(early.body.giveaway.seed).toBeNull();
    expect(early.body.entries).toHaveLength(5);

    const drawn = (await nextEvent(sock(plain!), 'giveaway:drawn', (p) => p.giveaway.id === everyone.id, 15_000)).giveaway;
    expect(drawn.status).toBe('drawn');
    expect(createHash('sha256').update(Buffer.from(drawn.seed!, 'hex')).digest('hex')).toBe(everyone.commitment);
    expect(drawn.entries).toBe(4);
    expect(drawn.winners).toHaveLength(2);
    const entrants = new Set([follower!, commenter!, buyer!, plain!].map((u) => u.id));
    for (const w of drawn.winners) {
      expect(entrants.has(w.userId)).toBe(true);
      expect(w.entry).toBe(entryHash(drawn.salt!, w.userId));
      expect(w.name).toMatch(/\*\*\*/);
    }
    expect(new Set(drawn.winners.map((w) => w.userId)).size).toBe(2);

    // Late: entries are closed once the deadline passed.
    expect(code(await request(sock(plain!), 'giveaway:enter', { giveawayId: gs.followers!.id, free: true }))).toBe('GIVEAWAY_CLOSED');

    // The published data checks out with the independent verifier, which also finds a user.
    const { stdout } = await run(process.execPath, ['scripts/verify-giveaway.mjs', stack.url, everyone.id, plain!.id]);
    expect(stdout).toMatch(/^PASS /m);
    expect(stdout).toContain('is in the list');
    const published = await http(stack.url, 'GET', `/api/giveaways/${everyone.id}/entries`, null);
    expect(published.body.entries).toHaveLength(4);
    expect(published.body.entries).not.toContain(entryHash(drawn.salt!, banned!.id));

    // Every giveaway of the room is drawn once and checks out; the buyers one has both entrants.
    for (const rule of ['followers', 'commenters', 'buyers'] as const) {
      await expect.poll(async () => (await http(stack.url, 'GET', `/api/giveaways/${gs[rule]!.id}/entries`, null)).body.giveaway.status, { timeout: 10_000 }).toBe('drawn');
      const res = await run(process.execPath, ['scripts/verify-giveaway.mjs', stack.url, gs[rule]!.id]);
      expect(res.stdout).toMatch(/^PASS /m);
    }
    const buyersDraw = (await http(stack.url, 'GET', `/api/giveaways/${gs.buyers!.id}/entries`, null)).body;
    expect(new Set(buyersDraw.giveaway.winners.map((w: GiveawayWinner) => w.userId))).toEqual(new Set([buyer!.id, plain!.id]));

    // Host actions are audited.
    const audit = await ok(hostSocket, 'mod:audit', { limit: 50 });
    expect(audit.filter((a) => a.action === 'giveaway-start')).toHaveLength(4);
    expect(audit.some((a) => a.action === 'giveaway-draw' && a.detail.giveawayId === everyone.id)).toBe(true);

    // This node counted the starts, the entries by outcome and the draws it announced.
    const metrics = await (await fetch(`${stack.url}/metrics`, { headers: { authorization: 'Bearer giveaway-metrics-token-0123456789' } })).text();
    const value = (series: string) => Number(metrics.split('\n').find((l) => l.startsWith(`${series} `))?.split(' ')[1] ?? NaN);
    expect(value('giveaway_starts_total{outcome="ok"}')).toBeGreaterThanOrEqual(4);
    expect(value('giveaway_entries_total{outcome="NOT_ELIGIBLE"}')).toBe(9);
    expect(value('giveaway_draws_total')).toBeGreaterThanOrEqual(4);

    // Late joiners see the room's giveaways in the snapshot.
    const snap = await ok(await connect(stack.url, plain!), 'room:join', { roomId });
    expect((snap.giveaways as { recent: { id: string }[] }).recent.map((g) => g.id)).toContain(everyone.id);
  }, 60_000);
});

describe('giveaways: caps', () => {
  it(`refuses entry ${MAX_ENTRIES + 1} and giveaway ${MAX_PER_ROOM + 1} of a room with LIMIT_EXCEEDED`, async () => {
    const { host, roomId } = await liveRoom(stack.url, 'Cap host');
    const hostSocket = await joined(roomId, host);
    const g = await ok(hostSocket, 'giveaway:start', { text: 'Mug', durationSec: 60 });
    const users = await Promise.all(Array.from({ length: MAX_ENTRIES + 1 }, (_, i) => devUser(stack.url, `Cap ${i}`)));
    const results: string[] = [];
    for (const u of users) results.push(code(await request(await joined(roomId, u), 'giveaway:enter', { giveawayId: g.id })));
    expect(results).toEqual([...Array(MAX_ENTRIES).fill('ok'), 'LIMIT_EXCEEDED']);
    for (let i = 1; i < MAX_PER_ROOM; i++) await ok(hostSocket, 'giveaway:start', { text: `Mug ${i}`, durationSec: 60 });
    expect(code(await request(hostSocket, 'giveaway:start', { text: 'One too many', durationSec: 60 }))).toBe('LIMIT_EXCEEDED');
  }, 30_000);
});

describe('giveaways: permissions and bad input', () => {
  it('only the host starts one, in a live room, on a product of the bag', async () => {
    const { host, roomId, productId } = await liveRoom(stack.url, 'Perm host');
    const [viewer, moderator] = await Promise.all([devUser(stack.url, 'Vee'), devUser(stack.url, 'Mod')]);
    expect((await http(stack.url, 'PUT', `/api/rooms/${roomId}/moderators/${moderator.id}`, host.token)).status).toBe(200);
    const start = { text: 'Tote', durationSec: 30 };
    expect(code(await request(await joined(roomId, null), 'giveaway:start', start))).toBe('UNAUTHORIZED');
    expect(code(await request(await joined(roomId, viewer), 'giveaway:start', start))).toBe('FORBIDDEN');
    const modSocket = await joined(roomId, moderator);
    expect(code(await request(modSocket, 'giveaway:start', start))).toBe('FORBIDDEN');
    const hostSocket = await joined(roomId, host);
    expect(code(await request(hostSocket, 'giveaway:start', { productId: 'nope', durationSec: 30 }))).toBe('NOT_FOUND');
    const g = await ok(hostSocket, 'giveaway:start', { productId, durationSec: 30 });
    expect(code(await request(modSocket, 'giveaway:enter', { giveawayId: g.id, free: true }))).toBe('FORBIDDEN');
    expect(code(await request(await connect(stack.url, viewer), 'giveaway:enter', { giveawayId: g.id }))).toBe('NOT_IN_ROOM');
    // Appointed while connected: refused from the role change on (the connection's role is checked).
    const promoted = await devUser(stack.url, 'Promoted');
    const promotedSocket = await joined(roomId, promoted);
    const roleChanged = nextEvent(promotedSocket, 'room:role', (p) => p.role === 'moderator');
    expect((await http(stack.url, 'PUT', `/api/rooms/${roomId}/moderators/${promoted.id}`, host.token)).status).toBe(200);
    await roleChanged;
    expect(code(await request(promotedSocket, 'giveaway:enter', { giveawayId: g.id, free: true }))).toBe('FORBIDDEN');

    const other = await devUser(stack.url, 'Not live');
    const created = await http(stack.url, 'POST', '/api/rooms', other.token, { title: 'Later', hostKind: 'buyer' });
    expect(code(await request(await joined(created.body.room.id, other), 'giveaway:start', start))).toBe('ROOM_NOT_LIVE');
  });

  it('answers BAD_REQUEST to malformed payloads and NOT_FOUND to unknown ids, and the server keeps serving', async () => {
    const { host, roomId } = await liveRoom(stack.url, 'Bad host');
    const hostSocket = await joined(roomId, host);
    const viewer = await joined(roomId, await devUser(stack.url, 'Bad viewer'));
    const badStarts: unknown[] = [
      undefined, null, 'x', [], {},
      { durationSec: 30 },
      { text: 'a', productId: 'p', durationSec: 30 },
      { text: 'x'.repeat(81), durationSec: 30 },
      { text: '   ', durationSec: 30 },
      { text: 'a', durationSec: 4 },
      { text: 'a', durationSec: 86_401 },
      { text: 'a', durationSec: 1.5 },
      { text: 'a', durationSec: 30, winners: 0 },
      { text: 'a', durationSec: 30, winners: 101 },
      { text: 'a', durationSec: 30, rule: 'friends' },
      { text: 'a', durationSec: 30, extra: 1 },
      { productId: '{room:x}', durationSec: 30 },
    ];
    for (const p of badStarts) expect(code(await requestRaw(hostSocket, 'giveaway:start', p)), JSON.stringify(p)).toBe('BAD_REQUEST');
    const badEnters: unknown[] = [
      undefined, null, {}, { giveawayId: 'x' }, { giveawayId: 'g_' }, { giveawayId: 'g_a:entries' }, { giveawayId: 'g_a/b' },
      { giveawayId: `g_${'a'.repeat(63)}` }, { giveawayId: 'g_abc', free: 'yes' }, { giveawayId: 'g_abc', more: 1 }, { giveawayId: 7 },
    ];
    for (const p of badEnters) expect(code(await requestRaw(viewer, 'giveaway:enter', p)), JSON.stringify(p)).toBe('BAD_REQUEST');
    expect(code(await request(viewer, 'giveaway:enter', { giveawayId: 'g_doesNotExist' }))).toBe('NOT_FOUND');
    // A giveaway of another room is not found from this one.
    const elsewhere = await liveRoom(stack.url, 'Elsewhere');
    const theirs = await ok(await joined(elsewhere.roomId, elsewhere.host), 'giveaway:start', { text: 'Theirs', durationSec: 30 });
    expect(code(await request(viewer, 'giveaway:enter', { giveawayId: theirs.id }))).toBe('NOT_FOUND');
    expect(await ok(hostSocket, 'giveaway:start', { text: 'Still fine', durationSec: 30 })).toMatchObject({ status: 'open' });
  });

  it('GET /api/giveaways/:id/entries: 400 for a bad id, 404 for an unknown one, 401 for a guest at a private room, 403 for the banned', async () => {
    expect((await http(stack.url, 'GET', '/api/giveaways/bad%20id/entries', null)).status).toBe(400);
    expect((await http(stack.url, 'GET', '/api/giveaways/g_unknown/entries', null)).status).toBe(404);
    const host = await devUser(stack.url, 'Private host');
    const room = (await http(stack.url, 'POST', '/api/rooms', host.token, { title: 'Private', hostKind: 'buyer', isPublic: false })).body.room;
    expect((await http(stack.url, 'POST', `/api/rooms/${room.id}/live`, host.token)).status).toBe(200);
    const hostSocket = await joined(room.id, host);
    const g = await ok(hostSocket, 'giveaway:start', { text: 'Secret', durationSec: 30 });
    expect((await http(stack.url, 'GET', `/api/giveaways/${g.id}/entries`, null)).status).toBe(401);
    const member = await devUser(stack.url, 'Member');
    expect((await http(stack.url, 'GET', `/api/giveaways/${g.id}/entries`, member.token)).status).toBe(200);
    await joined(room.id, member);
    await ok(hostSocket, 'mod:ban', { userId: member.id });
    expect((await http(stack.url, 'GET', `/api/giveaways/${g.id}/entries`, member.token)).status).toBe(403);
  });
});

describe('giveaways: the deadline and the draw, at the store', () => {
  let redis: TestRedis;
  const clients: RedisClient[] = [];
  const made: GiveawayStore[] = [];
  beforeAll(async () => {
    redis = await startTestRedis();
  }, 60_000);
  afterAll(async () => {
    for (const store of made) store.close(); // its entry batcher's connection
    for (const c of clients) c.disconnect();
    await redis.stop();
  });

  it('refuses an entry after the deadline by Redis TIME before anyone drew, and 20 racing draws on two connections record one result', async () => {
    const stores = [0, 1].map(() => {
      const c = redis.client();
      clients.push(c);
      const store = new GiveawayStore(c, { maxPerRoom: 10, maxEntries: 100, drawLeaseMs: 10_000 });
      made.push(store);
      return store;
    });
    const host = { id: 'u_host', name: 'Host' };
    const { giveaway: g } = await stores[0]!.start('r_race', host, { prize: { kind: 'text', text: 'Race' }, durationSec: 5, winners: 3, rule: 'everyone' });
    await Promise.all(Array.from({ length: 40 }, (_, i) => stores[i % 2]!.enter('r_race', g.id, { id: `u_${i}`, name: `User ${i}` }, false)));
    expect((await stores[1]!.draw('r_race', g.id)).kind).toBe('early');
    // Wait out the deadline on the clock that decides it: Redis's.
    const redisNow = async () => {
      const [s, us] = await clients[0]!.time();
      return Number(s) * 1000 + Math.floor(Number(us) / 1000);
    };
    await expect.poll(redisNow, { timeout: 10_000, interval: 50 }).toBeGreaterThanOrEqual(g.endsAt);
    await expect(stores[0]!.enter('r_race', g.id, { id: 'u_late', name: 'Late' }, false)).rejects.toMatchObject({ code: 'GIVEAWAY_CLOSED' });
    const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => stores[i % 2]!.draw('r_race', g.id)));
    const drawn = outcomes.filter((o) => o.kind === 'drawn');
    expect(drawn).toHaveLength(1);
    expect(outcomes.every((o) => ['drawn', 'busy', 'done'].includes(o.kind))).toBe(true);
    expect(await stores[0]!.drawCount('r_race', g.id)).toBe(1);
    expect((await stores[1]!.draw('r_race', g.id)).kind).toBe('done');
    const result = (drawn[0] as { giveaway: { winners: { userId: string }[]; entries: number } }).giveaway;
    expect(result.entries).toBe(40);
    expect(result.winners).toHaveLength(3);
  }, 30_000);

  it("a node that claimed the draw and died: another draws once its lease ends; the dead node's late finish records nothing", async () => {
    const c = redis.client();
    clients.push(c);
    const store = new GiveawayStore(c, { maxPerRoom: 10, maxEntries: 100, drawLeaseMs: 500 });
    made.push(store);
    const { giveaway: g } = await store.start('r_lease', { id: 'u_host', name: 'Host' }, { prize: { kind: 'text', text: 'Lease' }, durationSec: 5, winners: 1, rule: 'everyone' });
    await store.enter('r_lease', g.id, { id: 'u_1', name: 'One' }, false);
    await store.enter('r_lease', g.id, { id: 'u_2', name: 'Two' }, false);
    const raw = c as unknown as {
      giveawayClaim(...a: (string | number)[]): Promise<(string | number)[]>;
      giveawayFinish(...a: (string | number)[]): Promise<(string | number)[]>;
    };
    const k = giveawayKeys('r_lease', g.id);
    // The "dead" node claims as soon as Redis says the deadline passed, and never finishes.
    await expect.poll(async () => (await raw.giveawayClaim(k.giveaway, k.entries, roomBansKey('r_lease'), 'dead-token', 500))[0], { timeout: 10_000, interval: 50 }).toBe('OK');
    expect((await store.draw('r_lease', g.id)).kind).toBe('busy');
    await expect.poll(async () => (await store.draw('r_lease', g.id)).kind, { timeout: 5000, interval: 100 }).toBe('drawn');
    expect(await raw.giveawayFinish(k.giveaway, roomAuditKey('r_lease'), k.entries, 'dead-token', '[]', 100, 60_000)).toEqual(['DONE']);
    expect(await store.drawCount('r_lease', g.id)).toBe(1);
    expect((await store.get('r_lease', g.id))!.winners).toHaveLength(1);
  }, 30_000);
});
