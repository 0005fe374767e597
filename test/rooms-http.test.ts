/**
 * Room lifecycle and listing over HTTP: create, get, go live, end (viewers are told and
 * removed), the list with its status filter, trending order by engagement score and viewer
 * counts, and the health endpoints — /readyz turns 503 when Redis goes away.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RoomSummary } from '../src/protocol/index.js';
import { ENGAGEMENT_WEIGHTS } from '../src/core/keys.js';
import { closeAllSockets, connect, devUser, http, liveRoom, nextEvent, ok, request, type TestUser } from './helpers/clients.js';
import { startStack, type Stack } from './helpers/stack.js';

const NO_MEDIA = { MEDIA_ENABLED: 'false' } as const; // rooms only: no mediasoup workers

let stack: Stack;
let host: TestUser;
beforeAll(async () => {
  stack = await startStack({ config: NO_MEDIA });
  host = await devUser(stack.url, 'Lena');
});
afterAll(async () => {
  closeAllSockets();
  await stack.stop();
});

const createRoom = async (body: Record<string, unknown>, token: string | null = host.token) =>
  http(stack.url, 'POST', '/api/rooms', token, body);

describe('create and get', () => {
  it('creates a scheduled room owned by the caller, with defaults', async () => {
    const before = Date.now();
    const res = await createRoom({ title: '  Spring drop  ' });
    expect(res.status).toBe(201);
    expect(res.body.room).toEqual({
      id: expect.stringMatching(/^r_/),
      title: 'Spring drop',
      description: '',
      hostId: host.id,
      hostName: 'Lena',
      hostKind: 'manager',
      isPublic: true,
      status: 'scheduled',
      moderatorIds: [],
      scheduledStart: null,
      createdAt: expect.any(Number),
      startedAt: null,
      endedAt: null,
    });
    expect(res.body.room.createdAt).toBeGreaterThanOrEqual(before);

    const got = await http(stack.url, 'GET', `/api/rooms/${res.body.room.id}`, null);
    expect(got.status).toBe(200);
    expect(got.body).toEqual({ room: res.body.room, presence: { viewers: 0, staff: 0, peak: 0 }, hearts: 0, engagement: 0 });
  });

  it.each([
    ['no title', {}],
    ['a blank title', { title: '   ' }],
    ['a 121-character title', { title: 'x'.repeat(121) }],
    ['a 2001-character description', { title: 'ok', description: 'd'.repeat(2001) }],
    ['a negative scheduledStart', { title: 'ok', scheduledStart: -5 }],
    ['a fractional scheduledStart', { title: 'ok', scheduledStart: 1.5 }],
    ['a scheduledStart more than 90 days ahead', { title: 'ok', scheduledStart: Date.now() + 91 * 86_400_000 }],
    ['a hostId (the host is the caller)', { title: 'ok', hostId: 'u_x' }],
    ['a status (rooms start scheduled)', { title: 'ok', status: 'live' }],
  ])('refuses %s → 400', async (_what, body) => {
    const res = await createRoom(body);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: { code: 'BAD_REQUEST', message: expect.any(String) } });
  });

  it('refuses guests → 401; an unknown room → 404', async () => {
    expect((await createRoom({ title: 'anon' }, null)).status).toBe(401);
    const missing = await http(stack.url, 'GET', '/api/rooms/r_missing', null);
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ error: { code: 'NOT_FOUND', message: 'room not found' } });
  });
});

describe('go live and end', () => {
  it('go live tells those waiting; end tells and removes everyone; an ended room stays ended', async () => {
    const room = (await createRoom({ title: 'Lifecycle', hostKind: 'buyer', scheduledStart: Date.now() + 60_000 })).body.room;
    const viewer = await connect(stack.url, await devUser(stack.url, 'Early'));
    const guest = await connect(stack.url, null);
    for (const s of [viewer, guest]) expect((await ok(s, 'room:join', { roomId: room.id })).room.status).toBe('scheduled');

    const liveSeen = nextEvent(viewer, 'room:status', (p) => p.room.status === 'live');
    const live = await http(stack.url, 'POST', `/api/rooms/${room.id}/live`, host.token);
    expect(live.status).toBe(200);
    expect(live.body.room).toMatchObject({ status: 'live', startedAt: expect.any(Number), endedAt: null });
    expect((await liveSeen).room).toEqual(live.body.room);
    const again = await http(stack.url, 'POST', `/api/rooms/${room.id}/live`, host.token);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('CONFLICT');

    const ended = [viewer, guest].map((s) => nextEvent(s, 'room:status', (p) => p.room.status === 'ended'));
    const removed = [viewer, guest].map((s) => nextEvent(s, 'room:removed'));
    const end = await http(stack.url, 'POST', `/api/rooms/${room.id}/end`, host.token);
    expect(end.status).toBe(200);
    expect(end.body.room).toMatchObject({ status: 'ended', endedAt: expect.any(Number), startedAt: live.body.room.startedAt });
    for (const p of await Promise.all(ended)) expect(p.room).toEqual(end.body.room);
    for (const p of await Promise.all(removed)) expect(p).toEqual({ roomId: room.id, reason: 'ended' });

    expect(await request(viewer, 'chat:send', { text: 'hello?' })).toMatchObject({ ok: false, error: { code: 'NOT_IN_ROOM' } });
    for (const s of [viewer, guest]) {
      expect(await request(s, 'room:join', { roomId: room.id })).toMatchObject({ ok: false, error: { code: 'ROOM_ENDED' } });
    }
    for (const to of ['live', 'end']) {
      expect((await http(stack.url, 'POST', `/api/rooms/${room.id}/${to}`, host.token)).status).toBe(409);
    }
    expect((await http(stack.url, 'GET', `/api/rooms/${room.id}`, null)).body.room.status).toBe('ended');
  });

  it('a scheduled room can be cancelled (ended) without ever going live', async () => {
    const room = (await createRoom({ title: 'Cancelled' })).body.room;
    const end = await http(stack.url, 'POST', `/api/rooms/${room.id}/end`, host.token);
    expect(end.body.room).toMatchObject({ status: 'ended', startedAt: null });
  });
});

describe('listing', () => {
  const list = async (query: string, token: string | null = null): Promise<RoomSummary[]> => {
    const res = await http(stack.url, 'GET', `/api/rooms${query}`, token);
    expect(res.status).toBe(200);
    return res.body.rooms as RoomSummary[];
  };
  const only = (rooms: RoomSummary[], ids: string[]) => rooms.filter((r) => ids.includes(r.id));

  it('filters by status, ranks trending by engagement score, and shows unique viewer counts', async () => {
    const [u1, u2] = (await Promise.all(['Uma', 'Ugo'].map((n) => devUser(stack.url, n)))) as [TestUser, TestUser];
    const follows = await liveRoom(stack.url, 'Fay');
    const chatty = await liveRoom(stack.url, 'Cal');
    const quiet = await liveRoom(stack.url, 'Quin');
    const soon = (await createRoom({ title: 'Tomorrow', scheduledStart: Date.now() + 86_400_000 })).body.room.id as string;
    const over = await liveRoom(stack.url, 'Otto');
    const ids = [follows.roomId, chatty.roomId, quiet.roomId, soon, over.roomId];

    // follows: a follow and a save, each counted once per user however often it is tapped.
    const f1 = await connect(stack.url, u1);
    await ok(f1, 'room:join', { roomId: follows.roomId });
    expect(await ok(f1, 'engage:follow', {})).toEqual({ engagement: ENGAGEMENT_WEIGHTS.follow, alreadyFollowing: false });
    expect(await ok(f1, 'engage:follow', {})).toEqual({ engagement: ENGAGEMENT_WEIGHTS.follow, alreadyFollowing: true });
    expect(await ok(f1, 'engage:save', { productId: follows.productId })).toEqual({ engagement: 9, alreadySaved: false });
    expect(await ok(f1, 'engage:save', { productId: follows.productId })).toEqual({ engagement: 9, alreadySaved: true });

    // chatty: a comment (4), a share (4) and two hearts (1 each) = 10.
    const c1 = await connect(stack.url, u1);
    const c2 = await connect(stack.url, u2);
    for (const s of [c1, c2]) await ok(s, 'room:join', { roomId: chatty.roomId });
    await ok(c1, 'chat:send', { text: 'hi' });
    expect(await ok(c2, 'engage:share', {})).toEqual({ engagement: 4 + 4 });
    expect(await request(c2, 'engage:share', {})).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED' } });
    await ok(c1, 'heart:tap', { count: 2 });

    // quiet: three hearts (3), and three unique viewers: u1 in two tabs, u2 and a guest.
    const quietSockets = await Promise.all([connect(stack.url, u1), connect(stack.url, u1), connect(stack.url, u2), connect(stack.url, null)]);
    for (const s of quietSockets) await ok(s, 'room:join', { roomId: quiet.roomId });
    await ok(quietSockets[0]!, 'heart:tap', { count: 3 });

    // soon (scheduled): lots of hearts, but only live rooms lead the trending list.
    const s1 = await connect(stack.url, u2);
    await ok(s1, 'room:join', { roomId: soon });
    await ok(s1, 'heart:tap', { count: 20 });

    expect((await http(stack.url, 'POST', `/api/rooms/${over.roomId}/end`, over.host.token)).status).toBe(200);

    const trending = only(await list('?status=all&sort=trending&limit=200'), ids);
    expect(trending.map((r) => [r.id, r.engagement])).toEqual([
      [chatty.roomId, 10],
      [follows.roomId, 9],
      [quiet.roomId, 3],
      [soon, 20],
    ]);
    expect(trending.find((r) => r.id === quiet.roomId)).toMatchObject({ viewers: 3, peakViewers: 3, hearts: 3, status: 'live' });
    expect(trending.find((r) => r.id === chatty.roomId)).toMatchObject({ viewers: 2, hearts: 2 });

    expect(only(await list('?status=live&limit=200'), ids).map((r) => r.id)).toEqual([chatty.roomId, follows.roomId, quiet.roomId]);
    expect(only(await list('?status=scheduled&limit=200'), ids).map((r) => r.id)).toEqual([soon]);
    expect(only(await list('?status=live&sort=viewers&limit=200'), ids).map((r) => [r.id, r.viewers])).toEqual([
      [quiet.roomId, 3],
      [chatty.roomId, 2],
      [follows.roomId, 1],
    ]);
  });

  it('honours limit, also for status=all', async () => {
    await liveRoom(stack.url, 'Lim');
    await createRoom({ title: 'Later' });
    for (const status of ['all', 'live', 'scheduled']) {
      expect(await list(`?status=${status}&limit=1`)).toHaveLength(1);
    }
    expect((await list('?status=all&limit=2')).length).toBe(2);
  });
});

describe('health', () => {
  it('/healthz and /readyz answer 200 while Redis is up', async () => {
    expect(await http(stack.url, 'GET', '/healthz', null)).toEqual({ status: 200, body: { ok: true } });
    expect(await http(stack.url, 'GET', '/readyz', null)).toEqual({ status: 200, body: { ok: true } });
  });

  it('/readyz answers 503 once Redis is gone, while /healthz and the API degrade without crashing', async () => {
    const doomed = await startStack({ config: NO_MEDIA });
    try {
      const { roomId, host: h } = await liveRoom(doomed.url, 'Dora');
      const socket = await connect(doomed.url, h);
      await ok(socket, 'room:join', { roomId });

      await doomed.redis.stop();
      const ready = await http(doomed.url, 'GET', '/readyz', null);
      expect(ready).toEqual({ status: 503, body: { error: { code: 'UNAVAILABLE', message: expect.any(String) } } });
      expect((await http(doomed.url, 'GET', '/healthz', null)).status).toBe(200); // the process itself is alive
      const rooms = await http(doomed.url, 'GET', '/api/rooms', null);
      expect(rooms).toEqual({ status: 503, body: { error: { code: 'UNAVAILABLE', message: expect.any(String) } } });
      expect(await request(socket, 'chat:send', { text: 'anyone?' })).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE' } });
    } finally {
      await doomed.stop();
    }
  });
});

describe('product image URLs', () => {
  it('accept http(s) and refuse other schemes', async () => {
    const { host, roomId } = await liveRoom(stack.url, 'Ivy');
    const add = (imageUrl: string) =>
      http(stack.url, 'POST', `/api/rooms/${roomId}/products`, host.token, { title: 'Mug', price: 900, currency: 'EUR', imageUrl });
    expect((await add('https://cdn.example.com/mug.png')).status).toBe(201);
    for (const bad of ['javascript:alert(1)', 'data:image/png;base64,AAAA', 'ftp://example.com/x.png']) {
      const res = await add(bad);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('BAD_REQUEST');
    }
  });
});

describe('moderators appointed or removed mid-live', () => {
  it('start and stop receiving staff-only settings without rejoining', async () => {
    const { host, roomId } = await liveRoom(stack.url, 'Jun');
    const hostSocket = await connect(stack.url, host);
    await ok(hostSocket, 'room:join', { roomId });
    const kim = await devUser(stack.url, 'Kim');
    const kimSocket = await connect(stack.url, kim);
    await ok(kimSocket, 'room:join', { roomId });

    expect((await http(stack.url, 'PUT', `/api/rooms/${roomId}/moderators/${kim.id}`, host.token)).status).toBe(200);
    const staffView = nextEvent(kimSocket, 'room:settings');
    await ok(hostSocket, 'mod:blocked-words', { words: ['spoiler'] });
    expect((await staffView).blockedWords).toEqual(['spoiler']);

    expect((await http(stack.url, 'DELETE', `/api/rooms/${roomId}/moderators/${kim.id}`, host.token)).status).toBe(200);
    const viewerView = nextEvent(kimSocket, 'room:settings');
    await ok(hostSocket, 'mod:blocked-words', { words: ['spoiler', 'leak'] });
    expect((await viewerView).blockedWords).toEqual([]);
  });
});

describe('banned users over HTTP', () => {
  it('cannot read the room, its products or its sales (403 BANNED); others still can', async () => {
    const { host: h, roomId } = await liveRoom(stack.url, 'Nia');
    const hostSocket = await connect(stack.url, h);
    await ok(hostSocket, 'room:join', { roomId });
    const troll = await devUser(stack.url, 'Oz');
    await ok(hostSocket, 'mod:ban', { userId: troll.id });
    const paths = [`/api/rooms/${roomId}`, `/api/rooms/${roomId}/products`, `/api/rooms/${roomId}/sales`];
    for (const path of paths) {
      expect(await http(stack.url, 'GET', path, troll.token)).toEqual({ status: 403, body: { error: { code: 'BANNED', message: expect.any(String) } } });
      expect((await http(stack.url, 'GET', path, host.token)).status).toBe(200);
      expect((await http(stack.url, 'GET', path, null)).status).toBe(200); // a public room
    }
    await ok(hostSocket, 'mod:unban', { userId: troll.id });
    for (const path of paths) expect((await http(stack.url, 'GET', path, troll.token)).status).toBe(200);
  });
});

describe('adding a product with an id already in the bag', () => {
  it('answers 409 and leaves the product as it was, telling nobody', async () => {
    const { host: h, roomId, productId } = await liveRoom(stack.url, 'Pia');
    const viewer = await connect(stack.url, await devUser(stack.url, 'Quin'));
    await ok(viewer, 'room:join', { roomId });
    const bagEvents: unknown[] = [];
    viewer.on('bag:changed', (p) => bagEvents.push(p));
    const before = (await http(stack.url, 'GET', `/api/rooms/${roomId}/products`, null)).body.products;
    const clash = await http(stack.url, 'POST', `/api/rooms/${roomId}/products`, h.token, { id: productId, title: 'Impostor', price: 1, currency: 'USD' });
    expect(clash).toEqual({ status: 409, body: { error: { code: 'CONFLICT', message: expect.any(String) } } });
    expect((await http(stack.url, 'GET', `/api/rooms/${roomId}/products`, null)).body.products).toEqual(before);
    // A later bag change is the next bag:changed the viewer hears: the clash announced nothing.
    const next = nextEvent(viewer, 'bag:changed');
    await http(stack.url, 'POST', `/api/rooms/${roomId}/products`, h.token, { title: 'Hat', price: 500, currency: 'USD' });
    await next;
    expect(bagEvents).toHaveLength(1);
  });
});
