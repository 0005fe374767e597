/**
 * Caps and limits, each answered with its documented error (docs/PROTOCOL.md, "Limits"): HTTP rate
 * limits per address and per user across nodes (429 RATE_LIMITED + Retry-After), rooms per host,
 * products and moderators per room (409 LIMIT_EXCEEDED, also under parallel requests), stale
 * scheduled rooms ended by the sweep, bag:changed carrying only the change with the adapter's
 * stream bounded in entries and in entry size, and guests counted per address at most
 * GUESTS_PER_IP_COUNTED times. Real servers (two nodes), real Redis.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyBagChange, type BagChange, type Product } from '../src/protocol/index.js';
import { closeAllSockets, connect, devUser, http, liveRoom, nextEvent, ok, request } from './helpers/clients.js';
import { startStack, type Stack } from './helpers/stack.js';
import type { RedisClient } from '../src/core/redis-client.js';

const ROOMS_PER_USER = 3;
const PRODUCTS_MAX = 5;
const MODERATORS_MAX = 2;
const GUESTS_PER_IP = 2;
const STREAM_MAXLEN = 200;

let stack: Stack;
let limited: Stack;
let redis: RedisClient;
beforeAll(async () => {
  [stack, limited] = await Promise.all([
    startStack({
      nodes: 2,
      config: {
        ROOMS_PER_USER: String(ROOMS_PER_USER),
        ROOM_PRODUCTS_MAX: String(PRODUCTS_MAX),
        ROOM_MODERATORS_MAX: String(MODERATORS_MAX),
        GUESTS_PER_IP_COUNTED: String(GUESTS_PER_IP),
        ADAPTER_STREAM_MAXLEN: String(STREAM_MAXLEN),
        ROOM_SCHEDULED_STALE_MS: '60000',
        ROOM_SWEEP_MS: '200',
      },
    }),
    // Low HTTP limits on a stack of their own: every other test here makes many requests.
    startStack({ nodes: 2, config: { HTTP_PER_MIN_IP: '40', HTTP_PER_MIN_USER: '6' } }),
  ]);
  redis = stack.redis.client();
});
afterAll(async () => {
  closeAllSockets();
  redis.disconnect();
  await Promise.all([stack?.stop(), limited?.stop()]);
});

const [nodeA, nodeB] = [() => stack.servers[0]!.url, () => stack.servers[1]!.url];

describe('HTTP rate limits', () => {
  it('limit a user, then an address, across nodes: 429 RATE_LIMITED with Retry-After, ingest routes included', async () => {
    const [a, b] = limited.servers.map((s) => s.url) as [string, string];
    // devUser spends one request of the address each.
    const [alice, bob] = [await devUser(a, 'Alice'), await devUser(b, 'Bob')];
    // Six requests of Alice's, alternating nodes: the count is shared through Redis.
    for (let i = 0; i < 6; i++) expect((await http(i % 2 ? b : a, 'GET', '/api/rooms', alice.token)).status).toBe(200);
    for (const [method, path] of [['GET', '/api/rooms'], ['POST', '/api/rooms/r_x/ingest'], ['POST', '/whip/rooms/r_x'], ['POST', '/api/rooms/r_x/products']] as const) {
      const res = await fetch(a + path, { method, headers: { authorization: `Bearer ${alice.token}` } });
      expect(res.status, path).toBe(429);
      const retryAfter = Number(res.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(await res.json()).toEqual({
        error: { code: 'RATE_LIMITED', message: expect.stringContaining('for this user'), retryAfterMs: expect.any(Number) },
      });
    }
    // Bob, from the same address, is not Alice.
    expect((await http(b, 'GET', '/api/rooms', bob.token)).status).toBe(200);
    // The address: 40 per window in all; guests use up what is left.
    let answered = 0;
    let refused: { status: number; body: any } | null = null;
    while (!refused && answered < 100) {
      const res = await http(answered % 2 ? a : b, 'GET', '/api/rooms', null);
      if (res.status === 429) refused = res;
      else answered++;
    }
    expect(answered).toBeLessThan(40);
    expect(refused?.body).toMatchObject({ error: { code: 'RATE_LIMITED', message: expect.stringContaining('from this address') } });
    // Health checks are not API routes and stay reachable.
    expect((await http(a, 'GET', '/healthz', null)).status).toBe(200);
    // One window per user and per address, each key in its own hash slot (Cluster-safe).
    const client = limited.redis.client();
    try {
      for (const key of [`rl:{user:${alice.id}}:http`, `rl:{user:${bob.id}}:http`, 'rl:{ip:127.0.0.1}:http']) {
        expect(await client.pttl(key), key).toBeGreaterThan(0);
      }
    } finally {
      client.disconnect();
    }
  });
});

describe('rooms per host', () => {
  it(`refuses room ${ROOMS_PER_USER + 1} (even six at once) and allows one more after the host ends one`, async () => {
    const host = await devUser(nodeA(), 'Busy host');
    const create = (url: string) => http(url, 'POST', '/api/rooms', host.token, { title: 'Another live' });
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => create(i % 2 ? nodeB() : nodeA())));
    expect(results.filter((r) => r.status === 201)).toHaveLength(ROOMS_PER_USER);
    for (const r of results.filter((x) => x.status !== 201)) {
      expect(r).toEqual({ status: 409, body: { error: { code: 'LIMIT_EXCEEDED', message: expect.stringContaining(`${ROOMS_PER_USER} rooms`) } } });
    }
    // Going live does not free a slot (live rooms count too); ending one does.
    const [first, second] = results.filter((r) => r.status === 201).map((r) => r.body.room.id as string);
    expect((await http(nodeA(), 'POST', `/api/rooms/${first}/live`, host.token)).status).toBe(200);
    expect((await create(nodeA())).status).toBe(409);
    expect((await http(nodeB(), 'POST', `/api/rooms/${second}/end`, host.token)).status).toBe(200);
    expect((await create(nodeA())).status).toBe(201);
    expect((await create(nodeA())).status).toBe(409);
  });
});

describe('stale scheduled rooms', () => {
  it('are ended by the sweep (members told, gone from the scheduled list, host slot freed); upcoming ones stay', async () => {
    const host = await devUser(nodeA(), 'Planner');
    const hourAgo = Date.now() - 3_600_000;
    const stale = (await http(nodeA(), 'POST', '/api/rooms', host.token, { title: 'Never went live', scheduledStart: hourAgo })).body.room;
    const upcoming = (await http(nodeA(), 'POST', '/api/rooms', host.token, { title: 'Tomorrow', scheduledStart: Date.now() + 86_400_000 })).body.room;
    const third = await http(nodeA(), 'POST', '/api/rooms', host.token, { title: 'Soon' });
    // The sweep may already have ended the stale room; if it has not, a guest in it hears the end.
    const guest = await connect(nodeB(), null);
    const removed = nextEvent(guest, 'room:removed', (p) => p.roomId === stale.id, 20_000);
    removed.catch(() => undefined); // awaited only if the join got in first
    const joined = await request(guest, 'room:join', { roomId: stale.id });
    if (joined.ok) expect(await removed).toEqual({ roomId: stale.id, reason: 'ended' });
    else expect(joined.error.code).toBe('ROOM_ENDED');
    const after = await http(nodeB(), 'GET', `/api/rooms/${stale.id}`, null);
    expect(after.body.room).toMatchObject({ status: 'ended', endedAt: expect.any(Number) });
    const listed = (await http(nodeA(), 'GET', '/api/rooms?status=scheduled&limit=200', null)).body.rooms.map((r: { id: string }) => r.id);
    expect(listed).toContain(upcoming.id);
    expect(listed).not.toContain(stale.id);
    expect(third.status).toBe(201);
    // Its slot is free again: a third room beside "Tomorrow" and "Soon".
    expect((await http(nodeA(), 'POST', '/api/rooms', host.token, { title: 'Again' })).status).toBe(201);
    expect((await http(nodeA(), 'GET', `/api/rooms/${upcoming.id}`, null)).body.room.status).toBe('scheduled');
  });
});

describe('moderators per room', () => {
  it(`appoints at most ${MODERATORS_MAX}; re-appointing is fine; removing one makes room`, async () => {
    const { host, roomId } = await liveRoom(nodeA(), 'Mod host');
    const put = (userId: string) => http(nodeB(), 'PUT', `/api/rooms/${roomId}/moderators/${userId}`, host.token);
    const parallel = await Promise.all(['m1', 'm2', 'm3', 'm4'].map(put));
    expect(parallel.filter((r) => r.status === 200)).toHaveLength(MODERATORS_MAX);
    const appointed = (await http(nodeA(), 'GET', `/api/rooms/${roomId}`, null)).body.room.moderatorIds as string[];
    expect(appointed).toHaveLength(MODERATORS_MAX);
    expect((await put(appointed[0]!)).status).toBe(200);
    expect(await put('m9')).toEqual({ status: 409, body: { error: { code: 'LIMIT_EXCEEDED', message: expect.stringContaining(`${MODERATORS_MAX} moderators`) } } });
    expect((await http(nodeA(), 'DELETE', `/api/rooms/${roomId}/moderators/${appointed[1]}`, host.token)).status).toBe(200);
    expect((await put('m9')).status).toBe(200);
  });
});

const big = (i: number) => ({
  title: `Product ${i} `.padEnd(200, 'x'),
  price: 1000 + i,
  currency: 'USD',
  imageUrl: `https://example.com/${'i'.repeat(1950)}/${i}.jpg`,
  merchant: 'M'.repeat(120),
  brand: 'B'.repeat(120),
});

describe('products per room and bag:changed', () => {
  it(`holds at most ${PRODUCTS_MAX} products (parallel adds included), so the join snapshot stays bounded`, async () => {
    const { host, roomId } = await liveRoom(nodeA(), 'Shop'); // one product already
    const adds = await Promise.all(Array.from({ length: 8 }, (_, i) => http(i % 2 ? nodeA() : nodeB(), 'POST', `/api/rooms/${roomId}/products`, host.token, big(i))));
    expect(adds.filter((r) => r.status === 201)).toHaveLength(PRODUCTS_MAX - 1);
    for (const r of adds.filter((x) => x.status !== 201)) {
      expect(r).toEqual({ status: 409, body: { error: { code: 'LIMIT_EXCEEDED', message: expect.stringContaining(`${PRODUCTS_MAX} products`) } } });
    }
    const viewer = await connect(nodeB(), await devUser(nodeB(), 'Snap'));
    const snap = await ok(viewer, 'room:join', { roomId });
    expect(snap.commerce.bag).toHaveLength(PRODUCTS_MAX);
    const removed = snap.commerce.bag[0]!.id;
    expect((await http(nodeA(), 'DELETE', `/api/rooms/${roomId}/products/${removed}`, host.token)).status).toBe(204);
    expect((await http(nodeA(), 'POST', `/api/rooms/${roomId}/products`, host.token, big(99))).status).toBe(201);
  });

  it('broadcasts only the change; after heavy edits the adapter stream is bounded and no entry exceeds 4 KB', async () => {
    const { host, roomId, productId } = await liveRoom(nodeA(), 'Editor');
    const viewer = await connect(nodeB(), await devUser(nodeB(), 'Watcher'));
    let bag: Product[] = (await ok(viewer, 'room:join', { roomId })).commerce.bag;
    const changes: BagChange[] = [];
    viewer.on('bag:changed', (c) => {
      changes.push(c);
      bag = applyBagChange(bag, c);
    });
    const ids: string[] = [];
    for (let i = 0; i < PRODUCTS_MAX - 1; i++) {
      ids.push((await http(nodeA(), 'POST', `/api/rooms/${roomId}/products`, host.token, big(i))).body.product.id);
    }
    // Each round edits every product once, in parallel, through one node: the order the edits
    // are stored in is then the order their broadcasts reach the stream, and the replay is exact.
    const EDITS = 300;
    for (let i = 0; i < EDITS; i += ids.length) {
      await Promise.all(ids.map((id, j) => http(nodeA(), 'PATCH', `/api/rooms/${roomId}/products/${id}`, host.token, { price: i + j })));
    }
    const lastRemoved = nextEvent(viewer, 'bag:changed', (c) => c.change === 'removed');
    expect((await http(nodeA(), 'DELETE', `/api/rooms/${roomId}/products/${productId}`, host.token)).status).toBe(204);
    expect(await lastRemoved).toEqual({ change: 'removed', productId });
    // Every change arrived, each carrying one product at most, and replaying them gives the bag.
    expect(changes.filter((c) => c.change === 'added')).toHaveLength(PRODUCTS_MAX - 1);
    expect(changes.filter((c) => c.change === 'updated')).toHaveLength(EDITS);
    const served = (await http(nodeB(), 'GET', `/api/rooms/${roomId}/products`, null)).body.products as Product[];
    expect(bag).toEqual(served);

    // The adapter's stream: trimmed near ADAPTER_STREAM_MAXLEN (MAXLEN ~ trims whole nodes of up
    // to 100 entries), and its largest entry, after 300 edits of 2.5 KB products, a few KB.
    expect(await redis.xlen('socket.io')).toBeLessThanOrEqual(STREAM_MAXLEN + 100);
    const entries = await redis.xrangeBuffer('socket.io', '-', '+');
    const sizes = entries.map(([, fields]) => fields.reduce((n, f) => n + f.length, 0));
    expect(entries.length).toBeGreaterThan(100);
    expect(Math.max(...sizes)).toBeGreaterThan(2000); // the edits are in there...
    expect(Math.max(...sizes)).toBeLessThan(4096); // ...one product each, never the bag
  });
});

describe('guests per address in viewer counts', () => {
  it(`counts at most ${GUESTS_PER_IP} guests from one address, across nodes, with signed-in users apart`, async () => {
    const { host, roomId } = await liveRoom(nodeA(), 'Counted');
    const hostSocket = await connect(nodeA(), host);
    await ok(hostSocket, 'room:join', { roomId });
    const guests = await Promise.all(Array.from({ length: 6 }, (_, i) => connect(i % 2 ? nodeB() : nodeA(), null)));
    for (const g of guests) await ok(g, 'room:join', { roomId });
    const viewer = await connect(nodeB(), await devUser(nodeB(), 'Member'));
    const joined = await ok(viewer, 'room:join', { roomId });
    expect(joined.presence.viewers).toBe(GUESTS_PER_IP + 1);
    expect(await ok(hostSocket, 'room:stats', {})).toMatchObject({ viewers: GUESTS_PER_IP + 1, staff: 1 });
    // One field for the address in the viewers hash, however many guest sockets.
    const fields = await redis.hkeys(`{room:${roomId}}:presence:viewers`);
    expect(fields.filter((f) => f.startsWith('ip:'))).toHaveLength(1);
    // Guests leave: the count follows once fewer than the limit remain.
    for (const g of guests.slice(0, 5)) await ok(g, 'room:leave', {});
    expect(await ok(hostSocket, 'room:stats', {})).toMatchObject({ viewers: 2 });
    await ok(guests[5]!, 'room:leave', {});
    expect(await ok(hostSocket, 'room:stats', {})).toMatchObject({ viewers: 1, peak: GUESTS_PER_IP + 1 });
    // The room listing's counter agrees (presence:update refreshes it; peak is kept).
    expect(await redis.hget(`{room:${roomId}}:stats`, 'guestsExtra')).toBe('0');
    // Conversion's audience: at most GUESTS_PER_IP guests from the address, plus the member.
    const figures = await ok(hostSocket, 'sale:stats', {});
    expect(figures.uniqueViewers).toBe(GUESTS_PER_IP + 1);
  });
});
