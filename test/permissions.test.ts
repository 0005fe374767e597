/**
 * The permission matrix: every privileged socket event and HTTP route, tried by every kind of
 * caller, with the exact outcome the role rules in src/core/roles.ts promise. Host-only: pins,
 * products, go live / end, moderators, auction:start. Host or moderator: mod:*, room:stats,
 * auction:cancel, auction:bids and giveaway:stats. Guests get
 * UNAUTHORIZED, everyone else below the bar FORBIDDEN, and a refused call leaves no trace.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientEventName, ClientPayload } from '../src/protocol/index.js';
import { closeAllSockets, connect, devUser, http, liveRoom, ok, request, type TestSocket, type TestUser } from './helpers/clients.js';
import { startStack, type Stack } from './helpers/stack.js';

type Caller = 'guest' | 'viewer' | 'moderator' | 'host' | 'other host';
const CALLERS: Caller[] = ['guest', 'viewer', 'moderator', 'host', 'other host'];

/** What the rules promise a caller when the action needs at least `min`. */
function expectedOutcome(caller: Caller, min: 'host' | 'moderator'): 'ok' | 'UNAUTHORIZED' | 'FORBIDDEN' {
  if (caller === 'guest') return 'UNAUTHORIZED';
  if (caller === 'host') return 'ok';
  if (caller === 'moderator' && min === 'moderator') return 'ok';
  return 'FORBIDDEN';
}

let stack: Stack;
let roomId: string;
let productId: string;
let host: TestUser;
let moderator: TestUser;
let moderator2: TestUser;
let viewer: TestUser;
let otherHost: TestUser;
let target: TestUser;
const sockets = {} as Record<Caller, TestSocket>;

beforeAll(async () => {
  // Generous chat limit: the host posts a message before every mod:delete case.
  // No video here: these tests are about rooms, so they don't start mediasoup workers.
  stack = await startStack({ config: { CHAT_RATE_PER_10S: '1000', MEDIA_ENABLED: 'false', VOUCHER_MAX_ACTIVE_PER_ROOM: '100' } });
  ({ host, roomId, productId } = await liveRoom(stack.url, 'Hana'));
  [moderator, moderator2, viewer, target] = await Promise.all(
    ['Mo', 'Mira', 'Vic', 'Tess'].map((n) => devUser(stack.url, n)),
  ) as [TestUser, TestUser, TestUser, TestUser];
  ({ host: otherHost } = await liveRoom(stack.url, 'Omar'));
  for (const m of [moderator, moderator2]) {
    expect((await http(stack.url, 'PUT', `/api/rooms/${roomId}/moderators/${m.id}`, host.token)).status).toBe(200);
  }
  const users: Record<Caller, TestUser | null> = { guest: null, viewer, moderator, host, 'other host': otherHost };
  for (const caller of CALLERS) {
    sockets[caller] = await connect(stack.url, users[caller]);
    const snap = await ok(sockets[caller], 'room:join', { roomId });
    expect(snap.role).toBe(caller === 'other host' ? 'viewer' : caller);
  }
});

afterAll(async () => {
  closeAllSockets();
  await stack.stop();
});

interface SocketCase {
  event: ClientEventName;
  min: 'host' | 'moderator';
  /** Sets up what the action needs (a message to delete, a ban to lift) and returns its payload. */
  payload: () => Promise<unknown>;
}

const socketCases: SocketCase[] = [
  { event: 'pin:set', min: 'host', payload: async () => ({ productId }) },
  { event: 'pin:clear', min: 'host', payload: async () => ({}) },
  {
    event: 'mod:delete',
    min: 'moderator',
    payload: async () => ({ messageId: (await ok(sockets.host, 'chat:send', { text: 'delete me' })).id }),
  },
  { event: 'mod:mute', min: 'moderator', payload: async () => ({ userId: target.id, seconds: 60 }) },
  { event: 'mod:unmute', min: 'moderator', payload: async () => ({ userId: target.id }) },
  { event: 'mod:ban', min: 'moderator', payload: async () => ({ userId: target.id, reason: 'spam' }) },
  {
    event: 'mod:unban',
    min: 'moderator',
    payload: async () => {
      await ok(sockets.host, 'mod:ban', { userId: target.id });
      return { userId: target.id };
    },
  },
  { event: 'mod:slow-mode', min: 'moderator', payload: async () => ({ seconds: 0 }) },
  { event: 'mod:blocked-words', min: 'moderator', payload: async () => ({ words: ['zzz-never-said'] }) },
  { event: 'mod:audit', min: 'moderator', payload: async () => ({}) },
  { event: 'room:stats', min: 'moderator', payload: async () => ({}) },
  { event: 'giveaway:stats', min: 'moderator', payload: async () => ({}) },
  // Auctions: one lot at a time, so each case first brings the room to what the action needs.
  {
    event: 'auction:start',
    min: 'host',
    payload: async () => {
      await closeOpenLot();
      return { productId, startPrice: 100, durationSec: 300, requestId: randomUUID() };
    },
  },
  { event: 'auction:cancel', min: 'moderator', payload: async () => ({ lotId: await openLot() }) },
  { event: 'auction:bids', min: 'moderator', payload: async () => ({ lotId: await openLot() }) },
  // Vouchers: the host drops (a discount is the merchant's to give); host or moderator stops one.
  { event: 'voucher:drop', min: 'host', payload: async () => ({ kind: 'percent', value: 10, quantity: 5, validSec: 60, durationSec: 5 }) },
  { event: 'voucher:stop', min: 'moderator', payload: async () => ({ voucherId: await openVoucher() }) },
];

/** A voucher open for claiming, dropped by the host now (each stop case ends one). */
async function openVoucher(): Promise<string> {
  return (await ok(sockets.host, 'voucher:drop', { kind: 'amount', value: 100, quantity: 5, validSec: 60, durationSec: 5 })).voucher.id;
}

/** The room's open lot, started by the host if there is none (a start while one is open is CONFLICT). */
let lastLot: string | null = null;
async function openLot(): Promise<string> {
  const res = await request(sockets.host, 'auction:start', { productId, startPrice: 100, durationSec: 300 });
  if (res.ok) lastLot = res.data.lotId;
  else expect(res.error.code).toBe('CONFLICT');
  return lastLot!;
}

async function closeOpenLot(): Promise<void> {
  if (!lastLot) return;
  const res = await request(sockets.host, 'auction:cancel', { lotId: lastLot });
  if (!res.ok) expect(res.error.code).toBe('AUCTION_ENDED');
}

const socketMatrix = socketCases.flatMap((c) => CALLERS.map((caller) => ({ ...c, caller, outcome: expectedOutcome(caller, c.min) })));

describe('privileged socket events', () => {
  it.each(socketMatrix)('$event by $caller → $outcome', async ({ event, caller, outcome, payload }) => {
    const res = await request(sockets[caller], event, (await payload()) as ClientPayload<typeof event>);
    if (outcome === 'ok') {
      expect(res.ok, JSON.stringify(res)).toBe(true);
      if (event === 'auction:start' && res.ok) lastLot = (res.data as { lotId: string }).lotId;
    } else {
      expect(res).toEqual({ ok: false, error: { code: outcome, message: expect.any(String) } });
    }
  });

  it('refused calls left no trace: only host and moderator appear in the audit log and pin history', async () => {
    const audit = await ok(sockets.host, 'mod:audit', { limit: 500 });
    expect(audit.length).toBeGreaterThan(0);
    expect(new Set(audit.map((e) => e.actor.id))).toEqual(new Set([host.id, moderator.id]));
    const pins = await ok(sockets.host, 'pin:history', { limit: 100 });
    expect(pins.length).toBe(2); // one pin:set and one pin:clear, both by the host
    expect(new Set(pins.map((p) => p.by))).toEqual(new Set([host.id]));
  });
});

describe('who may moderate whom', () => {
  const modSocket = () => sockets.moderator;
  const cases: { who: string; actor: () => TestSocket; event: 'mod:mute' | 'mod:ban'; targetOf: () => string }[] = [
    { who: 'moderator mutes the host', actor: modSocket, event: 'mod:mute', targetOf: () => host.id },
    { who: 'moderator bans the host', actor: modSocket, event: 'mod:ban', targetOf: () => host.id },
    { who: 'moderator mutes another moderator', actor: modSocket, event: 'mod:mute', targetOf: () => moderator2.id },
    { who: 'moderator bans another moderator', actor: modSocket, event: 'mod:ban', targetOf: () => moderator2.id },
    { who: 'moderator mutes themself', actor: modSocket, event: 'mod:mute', targetOf: () => moderator.id },
    { who: 'moderator bans themself', actor: modSocket, event: 'mod:ban', targetOf: () => moderator.id },
    { who: 'host mutes themself', actor: () => sockets.host, event: 'mod:mute', targetOf: () => host.id },
    { who: 'host bans themself', actor: () => sockets.host, event: 'mod:ban', targetOf: () => host.id },
  ];

  it.each(cases)('$who → FORBIDDEN', async ({ actor, event, targetOf }) => {
    const payload = event === 'mod:mute' ? { userId: targetOf(), seconds: 30 } : { userId: targetOf() };
    const res = await request(actor(), event, payload as ClientPayload<typeof event>);
    expect(res).toEqual({ ok: false, error: { code: 'FORBIDDEN', message: expect.stringMatching(/may not/) } });
  });

  it('the host may mute a moderator, and that moderator cannot unmute themself', async () => {
    const m2 = await connect(stack.url, moderator2);
    await ok(m2, 'room:join', { roomId });
    await ok(sockets.host, 'mod:mute', { userId: moderator2.id, seconds: 60 });
    expect(await request(m2, 'chat:send', { text: 'let me talk' })).toMatchObject({ ok: false, error: { code: 'MUTED' } });

    const selfUnmute = await request(m2, 'mod:unmute', { userId: moderator2.id });
    expect(selfUnmute).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(await request(m2, 'chat:send', { text: 'still muted?' })).toMatchObject({ ok: false, error: { code: 'MUTED' } });

    // Only the host, who outranks them, lifts it; the other moderator may not.
    expect(await request(sockets.moderator, 'mod:unmute', { userId: moderator2.id })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    await ok(sockets.host, 'mod:unmute', { userId: moderator2.id });
    expect((await ok(m2, 'chat:send', { text: 'back' })).text).toBe('back');
  });

  it('a moderator may mute and ban a viewer', async () => {
    const victim = await devUser(stack.url, 'Vince');
    await ok(sockets.moderator, 'mod:mute', { userId: victim.id, seconds: 5 });
    await ok(sockets.moderator, 'mod:ban', { userId: victim.id });
    await ok(sockets.moderator, 'mod:unban', { userId: victim.id });
  });
});

interface HttpCase {
  route: string;
  method: 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path and body for a fresh room; prepare runs as the host first. */
  build: (room: { id: string; productId: string }) => { path: string; body?: unknown; prepare?: () => Promise<unknown> };
  okStatus: number;
}

const httpCases: HttpCase[] = [
  { route: 'POST /live', method: 'POST', okStatus: 200, build: (r) => ({ path: `/api/rooms/${r.id}/live` }) },
  { route: 'POST /end', method: 'POST', okStatus: 200, build: (r) => ({ path: `/api/rooms/${r.id}/end` }) },
  { route: 'PUT /moderators/:userId', method: 'PUT', okStatus: 200, build: (r) => ({ path: `/api/rooms/${r.id}/moderators/${target.id}` }) },
  {
    route: 'DELETE /moderators/:userId',
    method: 'DELETE',
    okStatus: 200,
    build: (r) => ({
      path: `/api/rooms/${r.id}/moderators/${target.id}`,
      prepare: () => http(stack.url, 'PUT', `/api/rooms/${r.id}/moderators/${target.id}`, host.token),
    }),
  },
  {
    route: 'POST /products',
    method: 'POST',
    okStatus: 201,
    build: (r) => ({ path: `/api/rooms/${r.id}/products`, body: { title: 'Lamp', price: 1500, currency: 'EUR' } }),
  },
  {
    route: 'PATCH /products/:productId',
    method: 'PATCH',
    okStatus: 200,
    build: (r) => ({ path: `/api/rooms/${r.id}/products/${r.productId}`, body: { price: 999 } }),
  },
  { route: 'DELETE /products/:productId', method: 'DELETE', okStatus: 204, build: (r) => ({ path: `/api/rooms/${r.id}/products/${r.productId}` }) },
];

const httpMatrix = httpCases.flatMap((c) =>
  CALLERS.map((caller) => ({ ...c, caller, outcome: expectedOutcome(caller, 'host') })),
);

describe('privileged HTTP routes', () => {
  const tokenOf = (caller: Caller): string | null =>
    ({ guest: null, viewer: viewer.token, moderator: moderator.token, host: host.token, 'other host': otherHost.token })[caller];

  /** A scheduled room of `host` with `moderator` appointed and one product. */
  async function freshRoom() {
    const created = await http(stack.url, 'POST', '/api/rooms', host.token, { title: 'Matrix room' });
    const id = created.body.room.id as string;
    await http(stack.url, 'PUT', `/api/rooms/${id}/moderators/${moderator.id}`, host.token);
    const product = await http(stack.url, 'POST', `/api/rooms/${id}/products`, host.token, { title: 'Mug', price: 800, currency: 'USD' });
    return { id, productId: product.body.product.id as string };
  }

  const observable = async (id: string) => ({
    room: (await http(stack.url, 'GET', `/api/rooms/${id}`, host.token)).body.room,
    products: (await http(stack.url, 'GET', `/api/rooms/${id}/products`, host.token)).body.products,
  });

  it.each(httpMatrix)('$route by $caller → $outcome', async ({ method, build, okStatus, caller, outcome }) => {
    const room = await freshRoom();
    const { path, body, prepare } = build(room);
    await prepare?.();
    const before = await observable(room.id);
    const res = await http(stack.url, method, path, tokenOf(caller), body);
    if (outcome === 'ok') {
      expect(res.status, JSON.stringify(res.body)).toBe(okStatus);
      return;
    }
    expect(res.status).toBe(outcome === 'UNAUTHORIZED' ? 401 : 403);
    expect(res.body).toEqual({ error: { code: outcome, message: expect.any(String) } });
    expect(await observable(room.id)).toEqual(before);
  });
});

describe("the room's orders (GET /api/rooms/:roomId/orders)", () => {
  const tokenOf = (caller: Caller): string | null =>
    ({ guest: null, viewer: viewer.token, moderator: moderator.token, host: host.token, 'other host': otherHost.token })[caller];
  const matrix = CALLERS.map((caller) => ({ caller, outcome: expectedOutcome(caller, 'moderator') }));

  it.each(matrix)('by $caller → $outcome', async ({ caller, outcome }) => {
    const res = await http(stack.url, 'GET', `/api/rooms/${roomId}/orders`, tokenOf(caller));
    if (outcome === 'ok') {
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ orders: expect.any(Array), nextCursor: null });
      return;
    }
    expect(res.status).toBe(outcome === 'UNAUTHORIZED' ? 401 : 403);
    expect(res.body).toEqual({ error: { code: outcome, message: expect.any(String) } });
  });
});

describe("the room's voucher figures (GET /api/rooms/:roomId/vouchers)", () => {
  const tokenOf = (caller: Caller): string | null =>
    ({ guest: null, viewer: viewer.token, moderator: moderator.token, host: host.token, 'other host': otherHost.token })[caller];
  const matrix = CALLERS.map((caller) => ({ caller, outcome: expectedOutcome(caller, 'moderator') }));

  it.each(matrix)('by $caller → $outcome', async ({ caller, outcome }) => {
    const res = await http(stack.url, 'GET', `/api/rooms/${roomId}/vouchers`, tokenOf(caller));
    if (outcome === 'ok') {
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ totals: expect.objectContaining({ claims: expect.any(Number) }), vouchers: expect.any(Array) });
      return;
    }
    expect(res.status).toBe(outcome === 'UNAUTHORIZED' ? 401 : 403);
    expect(res.body).toEqual({ error: { code: outcome, message: expect.any(String) } });
  });
});

describe('guests', () => {
  const guestRefusals: { event: ClientEventName; payload: () => unknown }[] = [
    { event: 'chat:send', payload: () => ({ text: 'hi' }) },
    { event: 'heart:tap', payload: () => ({ count: 1 }) },
    { event: 'engage:follow', payload: () => ({}) },
    { event: 'engage:share', payload: () => ({}) },
    { event: 'engage:save', payload: () => ({ productId }) },
    { event: 'buy:reserve', payload: () => ({ productId, requestId: 'guest-buy-0001' }) },
    { event: 'buy:checkout', payload: () => ({ holdId: `s_bn-${'A'.repeat(22)}.x`, requestId: 'guest-buy-0002' }) },
    { event: 'buy:release', payload: () => ({ holdId: `s_bn-${'A'.repeat(22)}.x` }) },
    { event: 'sale:waitlist', payload: () => ({ saleId: 's_0123456789abcdef', action: 'join' }) },
    { event: 'sale:waitlist', payload: () => ({ saleId: 's_0123456789abcdef', action: 'leave' }) },
    { event: 'voucher:claim', payload: () => ({ voucherId: 'v_guest', requestId: 'guest-voucher-01' }) },
    { event: 'voucher:apply', payload: () => ({ voucherId: 'v_guest', holdId: 's_abc.x' }) },
    { event: 'buy:waitlist', payload: () => ({ productId, action: 'join' }) },
    { event: 'buy:waitlist', payload: () => ({ productId, action: 'leave' }) },
  ];

  it.each(guestRefusals)('a guest in the room cannot $event → UNAUTHORIZED', async ({ event, payload }) => {
    const res = await request(sockets.guest, event, payload() as ClientPayload<typeof event>);
    expect(res).toEqual({ ok: false, error: { code: 'UNAUTHORIZED', message: expect.stringMatching(/sign in/) } });
  });

  it('a guest cannot join or see a non-public room; a signed-in viewer can', async () => {
    const created = await http(stack.url, 'POST', '/api/rooms', host.token, { title: 'Members only', isPublic: false });
    const privateId = created.body.room.id as string;
    await http(stack.url, 'POST', `/api/rooms/${privateId}/live`, host.token);

    const guest = await connect(stack.url, null);
    expect(await request(guest, 'room:join', { roomId: privateId })).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
    expect(await request(guest, 'chat:history', { limit: 10 })).toMatchObject({ ok: false, error: { code: 'NOT_IN_ROOM' } });
    expect((await http(stack.url, 'GET', `/api/rooms/${privateId}`, null)).status).toBe(401);
    const guestList = await http(stack.url, 'GET', '/api/rooms?status=all', null);
    expect(guestList.body.rooms.map((r: { id: string }) => r.id)).not.toContain(privateId);

    const v = await connect(stack.url, viewer);
    const snap = await ok(v, 'room:join', { roomId: privateId });
    expect(snap.role).toBe('viewer');
    expect(snap.room.isPublic).toBe(false);
    const viewerList = await http(stack.url, 'GET', '/api/rooms?status=all', viewer.token);
    expect(viewerList.body.rooms.map((r: { id: string }) => r.id)).toContain(privateId);
  });
});
