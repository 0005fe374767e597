/**
 * Hostile and broken input at both boundaries. Every client event in the protocol (iterated, so
 * new events are covered without touching this file) gets malformed payloads and must answer an
 * error ack — never crash, never reach a handler. HTTP gets broken JSON, oversized bodies, bad
 * types, unknown routes and bad tokens. Afterwards the server must still serve.
 */
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { clientEventSchemas, liveEventSchemas, type ClientEventName, type ClientPayload } from '../src/protocol/index.js';
import { closeAllSockets, connect, devUser, http, liveRoom, nextEvent, ok, request, requestRaw, type TestSocket, type TestUser } from './helpers/clients.js';
import { NO_CLIENT_LIMITS } from './helpers/lifted-limits.js';
import { startStack, TEST_SECRET, type Stack } from './helpers/stack.js';


const EVENTS = Object.keys(clientEventSchemas) as ClientEventName[];
type LiveEvent = keyof typeof liveEventSchemas;

/** A well-formed payload per live-room event (compile error if one is missing). */
const SAMPLES: { [E in LiveEvent]: ClientPayload<E> } = {
  'room:join': { roomId: 'no-such-room' },
  'room:leave': {},
  'room:stats': {},
  'chat:send': { text: 'hello' },
  'chat:history': { limit: 10 },
  'heart:tap': { count: 2 },
  'engage:share': {},
  'engage:follow': {},
  'engage:save': { productId: 'p_1' },
  'pin:set': { productId: 'p_1' },
  'pin:clear': {},
  'pin:history': { limit: 5 },
  'mod:delete': { messageId: '1-0' },
  'mod:mute': { userId: 'u_1', seconds: 60 },
  'mod:unmute': { userId: 'u_1' },
  'mod:ban': { userId: 'u_1', reason: 'spam' },
  'mod:unban': { userId: 'u_1' },
  'mod:slow-mode': { seconds: 5 },
  'mod:blocked-words': { words: ['spoiler'] },
  'mod:audit': { limit: 10 },
};
const sampleOf = (event: ClientEventName): Record<string, unknown> | undefined =>
  (SAMPLES as Partial<Record<ClientEventName, Record<string, unknown>>>)[event];

/** What a well-formed payload gets from a signed-in user who has joined no room. */
function outsideRoomOutcome(event: LiveEvent): { ok: true } | { ok: false; error: { code: string } } {
  if (event === 'room:join') return { ok: false, error: { code: 'NOT_FOUND' } }; // no such room
  if (event === 'room:leave') return { ok: true }; // leaving nothing is fine: { left: false }
  return { ok: false, error: { code: 'NOT_IN_ROOM' } };
}

/** The object schema under optional()/default(), to build per-field garbage. */
function fieldsOf(schema: z.ZodType): Record<string, z.ZodType> {
  let s: z.ZodType = schema;
  while (s instanceof z.ZodOptional || s instanceof z.ZodDefault) s = s.unwrap() as z.ZodType;
  return s instanceof z.ZodObject ? (s.shape as Record<string, z.ZodType>) : {};
}

const deepArray = (depth: number): unknown => (depth === 0 ? [] : [deepArray(depth - 1)]);

/** Payloads no event may accept, whatever its schema. */
function malformedPayloads(event: ClientEventName): { label: string; payload: unknown; code: 'BAD_REQUEST' | 'PAYLOAD_TOO_LARGE' }[] {
  const base = sampleOf(event) ?? {};
  const fields = fieldsOf(clientEventSchemas[event]);
  const out: { label: string; payload: unknown; code: 'BAD_REQUEST' | 'PAYLOAD_TOO_LARGE' }[] = [
    { label: 'null', payload: null, code: 'BAD_REQUEST' },
    { label: 'a number', payload: 42, code: 'BAD_REQUEST' },
    { label: 'a string', payload: 'room:join', code: 'BAD_REQUEST' },
    { label: 'a boolean', payload: true, code: 'BAD_REQUEST' },
    { label: 'an array', payload: [base], code: 'BAD_REQUEST' },
    { label: 'an extra field', payload: { ...base, isAdmin: true }, code: 'BAD_REQUEST' },
    { label: 'nested garbage', payload: { ...base, a: { b: [{ c: null }, [[{}]]] } }, code: 'BAD_REQUEST' },
    { label: 'a 2000-deep array', payload: deepArray(2000), code: 'BAD_REQUEST' },
    { label: 'a __proto__ key', payload: JSON.parse(`{"__proto__":{"polluted":"yes"}}`), code: 'BAD_REQUEST' },
    { label: 'a 9 KB string', payload: { ...base, junk: 'x'.repeat(9 * 1024) }, code: 'PAYLOAD_TOO_LARGE' },
  ];
  for (const [key, field] of Object.entries(fields)) {
    // An object where a scalar or list belongs, and a string where an object would.
    const wrong = field instanceof z.ZodObject ? 'not-an-object' : { nested: ['garbage'] };
    out.push({ label: `a wrong type for "${key}"`, payload: { ...base, [key]: wrong }, code: 'BAD_REQUEST' });
    out.push({ label: `a 9 KB "${key}"`, payload: { ...base, [key]: 'y'.repeat(9 * 1024) }, code: 'PAYLOAD_TOO_LARGE' });
    if (!field.safeParse(undefined).success && key in base) {
      const { [key]: _dropped, ...rest } = base;
      out.push({ label: `missing "${key}"`, payload: rest, code: 'BAD_REQUEST' });
    }
  }
  return out;
}

let stack: Stack;
let viewer: TestUser;
let outsider: TestSocket; // signed in, in no room: handlers would answer NOT_IN_ROOM
let hostSocket: TestSocket; // host of a live room: handlers would act
let roomId: string;
/** Protocol events this server handles; the rest (a domain not enabled here) answer UNKNOWN_EVENT. */
const enabled = new Set<ClientEventName>();

beforeAll(async () => {
  // Rooms only, no mediasoup workers; thousands of requests per socket here, so the per-socket
  // and per-IP limits (test/limits.test.ts) are lifted.
  stack = await startStack({ config: { MEDIA_ENABLED: 'false', ...NO_CLIENT_LIMITS } });
  viewer = await devUser(stack.url, 'Val');
  outsider = await connect(stack.url, viewer);
  const live = await liveRoom(stack.url, 'Hugo');
  roomId = live.roomId;
  hostSocket = await connect(stack.url, live.host);
  await ok(hostSocket, 'room:join', { roomId });
  for (const event of EVENTS) {
    const res = await requestRaw(outsider, event, null);
    if (res.ok || res.error.code !== 'UNKNOWN_EVENT') enabled.add(event);
  }
});

afterAll(async () => {
  closeAllSockets();
  await stack.stop();
});

describe('socket events: malformed payloads', () => {
  it('the samples are well-formed, so each malformation below is what gets refused', () => {
    for (const [event, sample] of Object.entries(SAMPLES)) {
      expect(clientEventSchemas[event as LiveEvent].safeParse(sample).success, event).toBe(true);
    }
  });

  it('every live-room event is enabled on the server', () => {
    expect(Object.keys(liveEventSchemas).filter((e) => !enabled.has(e as ClientEventName))).toEqual([]);
  });

  const cases = EVENTS.flatMap((event) => malformedPayloads(event).map((c) => ({ event, ...c })));

  it.each(cases)('$event with $label → $code (outside a room and as a joined host)', async ({ event, payload, code }) => {
    const expected = enabled.has(event) ? code : 'UNKNOWN_EVENT';
    for (const socket of [outsider, hostSocket]) {
      const res = await requestRaw(socket, event, payload);
      expect(res).toEqual({ ok: false, error: { code: expected, message: expect.any(String) } });
    }
  });

  it('a __proto__ payload pollutes nothing', () => {
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  const wellFormed = (Object.keys(SAMPLES) as LiveEvent[]).map((event) => ({ event, outcome: outsideRoomOutcome(event) }));

  it.each(wellFormed)('$event, well-formed but in no room → $outcome', async ({ event, outcome }) => {
    expect(await requestRaw(outsider, event, SAMPLES[event])).toMatchObject(outcome);
  });

  it.each(wellFormed)('$event with no payload at all → refused or treated as the default', async ({ event, outcome }) => {
    const res = await requestRaw(outsider, event);
    const acceptsNothing = clientEventSchemas[event].safeParse(undefined).success;
    expect(res).toMatchObject(acceptsNothing ? outcome : { ok: false, error: { code: 'BAD_REQUEST' } });
  });

  // Well-formed payloads whose values are nonsense reach the handlers (and Redis): they must be
  // refused with a precise code, never an INTERNAL from a Redis error.
  const nonsense: { event: ClientEventName; payload: unknown; code: string }[] = [
    { event: 'mod:delete', payload: { messageId: 'not-a-stream-id' }, code: 'BAD_REQUEST' },
    { event: 'mod:delete', payload: { messageId: '99999999999999999999999-0' }, code: 'BAD_REQUEST' },
    { event: 'mod:delete', payload: { messageId: '1-1' }, code: 'NOT_FOUND' },
    { event: 'chat:history', payload: { before: 'yesterday', limit: 5 }, code: 'BAD_REQUEST' },
    { event: 'chat:history', payload: { before: '-', limit: 5 }, code: 'BAD_REQUEST' },
    { event: 'pin:set', payload: { productId: 'p_nope' }, code: 'NOT_FOUND' },
    { event: 'engage:save', payload: { productId: 'p_nope' }, code: 'NOT_FOUND' },
    { event: 'mod:unban', payload: { userId: 'u_never_banned' }, code: 'NOT_FOUND' },
    { event: 'room:join', payload: { roomId: 'r_nope' }, code: 'NOT_FOUND' },
    { event: 'room:join', payload: { roomId: '../../etc' }, code: 'BAD_REQUEST' },
    { event: 'buy:reserve', payload: { productId: 'p_nope', requestId: 'req-0000001' }, code: 'NOT_FOUND' },
    { event: 'buy:reserve', payload: { productId: 'x:holds', requestId: 'req-0000002' }, code: 'NOT_FOUND' },
    { event: 'buy:checkout', payload: { holdId: `s_bn-${'A'.repeat(22)}.nope`, requestId: 'req-0000003' }, code: 'NOT_FOUND' },
    { event: 'buy:checkout', payload: { holdId: 's_abc.nope', requestId: 'req-0000004' }, code: 'BAD_REQUEST' }, // a sale's hold
    { event: 'buy:checkout', payload: { holdId: `s_bn-${'A'.repeat(22)}:holds.x`, requestId: 'req-0000005' }, code: 'BAD_REQUEST' },
    { event: 'buy:release', payload: { holdId: `s_bn-${'A'.repeat(22)}.nope` }, code: 'NOT_FOUND' },
    { event: 'buy:release', payload: { holdId: `s_bn-${'A'.repeat(21)}.nope` }, code: 'BAD_REQUEST' },
    // buy-now waitlist: a product that is not for sale, a key-naming id (hashed: names nothing), a bad action, extra fields
    { event: 'buy:waitlist', payload: { productId: 'p_nope', action: 'join' }, code: 'NOT_FOUND' },
    { event: 'buy:waitlist', payload: { productId: 'p_nope', action: 'leave' }, code: 'NOT_FOUND' },
    { event: 'buy:waitlist', payload: { productId: 'x:waitlist', action: 'join' }, code: 'NOT_FOUND' },
    { event: 'buy:waitlist', payload: { productId: 'p_nope', action: 'jump' }, code: 'BAD_REQUEST' },
    { event: 'buy:waitlist', payload: { productId: 'p_nope' }, code: 'BAD_REQUEST' },
    { event: 'buy:waitlist', payload: { saleId: `s_bn-${'A'.repeat(22)}`, action: 'join' }, code: 'BAD_REQUEST' },
    { event: 'buy:waitlist', payload: { productId: 'p_nope', action: 'join', ticket: 1 }, code: 'BAD_REQUEST' },
    // a buy-now offer is not a flash sale: the sale events refuse its ids
    { event: 'sale:stop', payload: { saleId: `s_bn-${'A'.repeat(22)}` }, code: 'BAD_REQUEST' },
    { event: 'sale:restock', payload: { saleId: `s_bn-${'A'.repeat(22)}`, quantity: 5 }, code: 'BAD_REQUEST' },
    { event: 'sale:reserve', payload: { saleId: `s_bn-${'A'.repeat(22)}`, requestId: 'req-0000006' }, code: 'BAD_REQUEST' },
    { event: 'sale:checkout', payload: { holdId: `s_bn-${'A'.repeat(22)}.x`, requestId: 'req-0000007' }, code: 'BAD_REQUEST' },
    { event: 'sale:release', payload: { holdId: `s_bn-${'A'.repeat(22)}.x` }, code: 'BAD_REQUEST' },
    { event: 'sale:waitlist', payload: { saleId: `s_bn-${'A'.repeat(22)}`, action: 'join' }, code: 'BAD_REQUEST' },
    // waitlist: a sale that does not exist, a bad action, a key-naming id, extra fields
    { event: 'sale:waitlist', payload: { saleId: 's_0123456789abcdef', action: 'join' }, code: 'NOT_FOUND' },
    { event: 'sale:waitlist', payload: { saleId: 's_0123456789abcdef', action: 'leave' }, code: 'NOT_FOUND' },
    { event: 'sale:waitlist', payload: { saleId: 's_0123456789abcdef', action: 'jump' }, code: 'BAD_REQUEST' },
    { event: 'sale:waitlist', payload: { saleId: 's_0123456789abcdef' }, code: 'BAD_REQUEST' },
    { event: 'sale:waitlist', payload: { saleId: 's_x:waitlist', action: 'join' }, code: 'BAD_REQUEST' },
    { event: 'sale:waitlist', payload: { saleId: 's_0123456789abcdef', action: 'join', position: 1 }, code: 'BAD_REQUEST' },
    // while a random sale id that happens to start with bn- is still a sale id (16 characters)
    { event: 'sale:stop', payload: { saleId: 's_bn-0123456789abc' }, code: 'NOT_FOUND' },
    // auctions: ids that name nothing, and values outside the rules
    { event: 'auction:bid', payload: { lotId: 'a_nope', amount: 100, requestId: 'req-00000001' }, code: 'NOT_FOUND' },
    { event: 'auction:bid', payload: { lotId: 'a_x:bids', amount: 100, requestId: 'req-00000001' }, code: 'BAD_REQUEST' },
    { event: 'auction:bid', payload: { lotId: 's_sale', amount: 100, requestId: 'req-00000001' }, code: 'BAD_REQUEST' },
    { event: 'auction:bid', payload: { lotId: 'a_nope', amount: 0, requestId: 'req-00000001' }, code: 'BAD_REQUEST' },
    { event: 'auction:bid', payload: { lotId: 'a_nope', amount: 10.5, requestId: 'req-00000001' }, code: 'BAD_REQUEST' },
    { event: 'auction:bid', payload: { lotId: 'a_nope', amount: 1e10, requestId: 'req-00000001' }, code: 'BAD_REQUEST' },
    { event: 'auction:bid', payload: { lotId: 'a_nope', amount: 100, requestId: 'short' }, code: 'BAD_REQUEST' },
    { event: 'auction:bid', payload: { lotId: 'a_nope', amount: 100, requestId: 'req-00000001', max: 'yes' }, code: 'BAD_REQUEST' },
    { event: 'auction:cancel', payload: { lotId: 'a_nope' }, code: 'NOT_FOUND' },
    { event: 'auction:checkout', payload: { lotId: 'a_nope', requestId: 'req-00000001' }, code: 'NOT_FOUND' },
    { event: 'auction:bids', payload: { lotId: 'a_nope' }, code: 'NOT_FOUND' },
    { event: 'auction:bids', payload: { lotId: 'a_nope', limit: 501 }, code: 'BAD_REQUEST' },
    { event: 'giveaway:stats', payload: { extra: 1 }, code: 'BAD_REQUEST' },
    { event: 'giveaway:start', payload: { text: 'Mug', durationSec: 30, requestId: 'short' }, code: 'BAD_REQUEST' },
    { event: 'auction:start', payload: { productId: 'p_nope', startPrice: 100, durationSec: 10 }, code: 'NOT_FOUND' },
    { event: 'auction:start', payload: { productId: 'p_nope', startPrice: 100, durationSec: 4 }, code: 'BAD_REQUEST' },
    { event: 'auction:start', payload: { productId: 'p_nope', startPrice: 100, durationSec: 301 }, code: 'BAD_REQUEST' },
    { event: 'auction:start', payload: { productId: 'p_nope', startPrice: 0, durationSec: 10 }, code: 'BAD_REQUEST' },
    { event: 'auction:start', payload: { productId: 'p_nope', startPrice: 100, durationSec: 10, mode: 'dutch' }, code: 'BAD_REQUEST' },
    { event: 'auction:start', payload: { productId: 'p_nope', startPrice: 100, durationSec: 10, extendSec: 0 }, code: 'BAD_REQUEST' },
    { event: 'auction:start', payload: { productId: 'p_nope', startPrice: 100, durationSec: 10, increments: [] }, code: 'BAD_REQUEST' },
    { event: 'auction:start', payload: { productId: 'p_nope', startPrice: 100, durationSec: 10, increments: [{ from: 5, step: 1 }] }, code: 'BAD_REQUEST' },
    {
      event: 'auction:start',
      payload: { productId: 'p_nope', startPrice: 100, durationSec: 10, increments: [{ from: 0, step: 1 }, { from: 900, step: 5 }, { from: 900, step: 9 }] },
      code: 'BAD_REQUEST',
    },
    { event: 'auction:start', payload: { productId: 'p_nope', startPrice: 100, durationSec: 10, increments: [{ from: 0, step: 0 }] }, code: 'BAD_REQUEST' },
    // vouchers: ids that name nothing, ids that would name another key, values outside the rules
    { event: 'voucher:stop', payload: { voucherId: 'v_nope' }, code: 'VOUCHER_NOT_FOUND' },
    { event: 'voucher:stop', payload: { voucherId: 'v_x:claims' }, code: 'BAD_REQUEST' },
    { event: 'voucher:stop', payload: { voucherId: 'v_x|u_1' }, code: 'BAD_REQUEST' },
    { event: 'voucher:claim', payload: { voucherId: 'v_nope', requestId: 'req-00000001' }, code: 'FORBIDDEN' }, // the host may not claim
    { event: 'voucher:apply', payload: { voucherId: 'v_nope', holdId: 's_abc.nope' }, code: 'VOUCHER_NOT_FOUND' },
    { event: 'voucher:apply', payload: { voucherId: 'v_nope', holdId: 's_abc:holds.x' }, code: 'BAD_REQUEST' },
    { event: 'voucher:drop', payload: { kind: 'percent', value: 91, quantity: 5, validSec: 60 }, code: 'BAD_REQUEST' },
    { event: 'voucher:drop', payload: { kind: 'percent', value: 0, quantity: 5, validSec: 60 }, code: 'BAD_REQUEST' },
    { event: 'voucher:drop', payload: { kind: 'amount', value: 100, quantity: 100_001, validSec: 60 }, code: 'BAD_REQUEST' },
    { event: 'voucher:drop', payload: { kind: 'amount', value: 100, quantity: 0, validSec: 60 }, code: 'BAD_REQUEST' },
    { event: 'voucher:drop', payload: { kind: 'amount', value: 100, quantity: 5, validSec: 9 }, code: 'BAD_REQUEST' },
    { event: 'voucher:drop', payload: { kind: 'amount', value: 100, quantity: 5, validSec: 86_401 }, code: 'BAD_REQUEST' },
    { event: 'voucher:drop', payload: { kind: 'amount', value: 100, quantity: 5, validSec: 60, minSpend: -1 }, code: 'BAD_REQUEST' },
    { event: 'voucher:drop', payload: { kind: 'amount', value: 1.5, quantity: 5, validSec: 60 }, code: 'BAD_REQUEST' },
    { event: 'voucher:drop', payload: { kind: 'free', value: 100, quantity: 5, validSec: 60 }, code: 'BAD_REQUEST' },
    { event: 'voucher:drop', payload: { kind: 'amount', value: 100, quantity: 5, validSec: 60, durationSec: 4 }, code: 'BAD_REQUEST' },
    { event: 'sale:checkout', payload: { holdId: 's_abc.nope', requestId: 'req-00000002', voucherId: 'x' }, code: 'BAD_REQUEST' },
    { event: 'buy:checkout', payload: { holdId: `s_bn-${'A'.repeat(22)}.nope`, requestId: 'req-00000003', voucherId: 'v_a:b' }, code: 'BAD_REQUEST' },
  ];

  it.each(nonsense)('$event with $payload as the host → $code', async ({ event, payload, code }) => {
    expect(await requestRaw(hostSocket, event, payload)).toEqual({ ok: false, error: { code, message: expect.any(String) } });
  });

  it('chat:history with a real message id as cursor still works', async () => {
    const first = await ok(hostSocket, 'chat:send', { text: 'first' });
    const second = await ok(hostSocket, 'chat:send', { text: 'second' });
    const page = await ok(hostSocket, 'chat:history', { before: second.id, limit: 10 });
    expect(page.map((m) => m.id)).toContain(first.id);
    expect(page.map((m) => m.id)).not.toContain(second.id);
  });
});

describe('socket events: unknown and ack-less', () => {
  it.each(['nope', 'room:joinx', '__proto__', 'constructor', 'hasOwnProperty', 'x'.repeat(500)])(
    'unknown event %s with an ack → UNKNOWN_EVENT',
    async (name) => {
      const res = await requestRaw(outsider, name, { roomId });
      expect(res).toEqual({ ok: false, error: { code: 'UNKNOWN_EVENT', message: expect.any(String) } });
      if (!res.ok) expect(res.error.message.length).toBeLessThan(120);
    },
  );

  it('events without an ack (good, bad, unknown) are handled quietly and the socket keeps working', async () => {
    const emit = outsider.emit.bind(outsider) as (...a: unknown[]) => void;
    emit('nope', 1, 2, 3);
    emit('chat:send', null);
    emit('room:join', { roomId: 42 });
    emit('heart:tap', { count: 'many' });
    emit('room:join', { roomId }); // valid, nobody listens to the answer
    emit('room:leave');
    // The socket processes events in order: this ack comes after all of the above were handled.
    const snap = await ok(outsider, 'room:join', { roomId });
    expect(snap.room.id).toBe(roomId);
    expect(outsider.connected).toBe(true);
    await ok(outsider, 'room:leave', {});
  });

  it('a payload with extra trailing arguments uses the first one', async () => {
    const res = await requestRaw(outsider, 'room:join', { roomId }, 'extra', { more: true });
    expect(res.ok).toBe(true);
    await ok(outsider, 'room:leave', {});
  });

  it('after all of it the server still serves: a fresh client joins and chats', async () => {
    const fresh = await connect(stack.url, await devUser(stack.url, 'Fresh'));
    const snap = await ok(fresh, 'room:join', { roomId });
    expect(snap.role).toBe('viewer');
    const seen = nextEvent(hostSocket, 'chat:message', (m) => m.text === 'still alive?');
    const sent = await ok(fresh, 'chat:send', { text: 'still alive?' });
    expect(await seen).toEqual(sent);
  });
});

describe('socket handshake', () => {
  const connectError = (token: unknown) =>
    new Promise<Error & { data?: unknown }>((resolve, reject) => {
      connect(stack.url, { id: 'x', name: 'x', token: token as string }).then(
        () => reject(new Error('connected with a bad token')),
        resolve,
      );
    });

  it.each([
    ['garbage', 'not.a.jwt'],
    ['a number', 12345],
    ['an oversized token', 'a'.repeat(5000)],
  ])('a socket with %s as token gets connect_error UNAUTHORIZED', async (_label, token) => {
    const err = await connectError(token);
    expect(err.data).toMatchObject({ code: 'UNAUTHORIZED' });
  });

  it('a socket with an expired or foreign-signed token gets connect_error UNAUTHORIZED', async () => {
    for (const token of [await expiredToken(), await foreignToken()]) {
      const err = await connectError(token);
      expect(err.data).toMatchObject({ code: 'UNAUTHORIZED', message: expect.stringMatching(/invalid token/) });
    }
  });
});

const key = new TextEncoder().encode(TEST_SECRET);
const expiredToken = () =>
  new SignJWT({ name: 'Old' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('u_old')
    .setIssuer('live-commerce')
    .setIssuedAt(Math.floor(Date.now() / 1000) - 7200)
    .setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
    .sign(key);
const foreignToken = () =>
  new SignJWT({ name: 'Mallory' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('u_mallory')
    .setIssuer('live-commerce')
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode('some-other-secret-some-other-secret'));
const wrongIssuerToken = () =>
  new SignJWT({ name: 'Ivan' }).setProtectedHeader({ alg: 'HS256' }).setSubject('u_ivan').setIssuer('elsewhere').setExpirationTime('1h').sign(key);
const namelessToken = () =>
  new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('u_anon').setIssuer('live-commerce').setExpirationTime('1h').sign(key);

describe('HTTP', () => {
  const raw = async (method: string, path: string, headers: Record<string, string>, body?: string) => {
    const res = await fetch(stack.url + path, { method, headers, body });
    const text = await res.text();
    return { status: res.status, type: res.headers.get('content-type') ?? '', body: text ? (JSON.parse(text) as unknown) : null };
  };
  const auth = () => ({ authorization: `Bearer ${viewer.token}`, 'content-type': 'application/json' });

  it('malformed JSON → 400 JSON body', async () => {
    const res = await raw('POST', '/api/rooms', auth(), '{"title": "oops",');
    expect(res.status).toBe(400);
    expect(res.type).toMatch(/application\/json/);
    expect(res.body).toEqual({ error: { code: 'BAD_REQUEST', message: expect.any(String) } });
  });

  it('an oversized body → 413', async () => {
    const res = await raw('POST', '/api/rooms', auth(), JSON.stringify({ title: 'big', description: 'z'.repeat(20 * 1024) }));
    expect(res.status).toBe(413);
    expect(res.body).toEqual({ error: { code: 'PAYLOAD_TOO_LARGE', message: expect.any(String) } });
  });

  it('an unsupported body charset → 415 JSON, not a 500', async () => {
    const res = await raw('POST', '/api/rooms', { ...auth(), 'content-type': 'application/json; charset=klingon' }, '{"title":"x"}');
    expect(res.status).toBe(415);
    expect(res.body).toMatchObject({ error: { code: 'BAD_REQUEST' } });
  });

  it('a malformed percent-encoding in the path → 400 JSON, not a 500', async () => {
    const res = await raw('GET', '/api/rooms/%E0%A4%A', {});
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: { code: 'BAD_REQUEST' } });
  });

  const badBodies: { what: string; path: () => string; method: string; body: unknown }[] = [
    { what: 'room title a number', method: 'POST', path: () => '/api/rooms', body: { title: 42 } },
    { what: 'room without a title', method: 'POST', path: () => '/api/rooms', body: { description: 'x' } },
    { what: 'room isPublic a string', method: 'POST', path: () => '/api/rooms', body: { title: 'x', isPublic: 'yes' } },
    { what: 'room hostKind unknown', method: 'POST', path: () => '/api/rooms', body: { title: 'x', hostKind: 'king' } },
    { what: 'room scheduledStart a date string', method: 'POST', path: () => '/api/rooms', body: { title: 'x', scheduledStart: '2030-01-01' } },
    { what: 'room with an unknown field', method: 'POST', path: () => '/api/rooms', body: { title: 'x', hostId: 'u_someone_else' } },
    { what: 'room body an array', method: 'POST', path: () => '/api/rooms', body: [{ title: 'x' }] },
    { what: 'dev token without a name', method: 'POST', path: () => '/api/dev/token', body: { userId: 'u_1' } },
    { what: 'dev token with a bad userId', method: 'POST', path: () => '/api/dev/token', body: { name: 'x', userId: 'a b' } },
  ];

  it.each(badBodies)('$what → 400', async ({ method, path, body }) => {
    const res = await http(stack.url, method, path(), viewer.token, body);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: { code: 'BAD_REQUEST', message: expect.any(String) } });
  });

  it('bad product fields → 400 for the host', async () => {
    const h = await devUser(stack.url, 'Prod');
    const id = (await http(stack.url, 'POST', '/api/rooms', h.token, { title: 'Shop' })).body.room.id as string;
    const bad = [
      { title: 'x', price: '10', currency: 'USD' },
      { title: 'x', price: -1, currency: 'USD' },
      { title: 'x', price: 1.5, currency: 'USD' },
      { title: 'x', price: 10, currency: 'dollars' },
      { title: 'x', price: 10, currency: 'USD', imageUrl: 'not a url' },
      { title: '', price: 10, currency: 'USD' },
      { title: 'x', price: 10, currency: 'USD', stock: -1 },
      { title: 'x', price: 10, currency: 'USD', stock: 1.5 },
      { title: 'x', price: 10, currency: 'USD', stock: '5' },
      { title: 'x', price: 10, currency: 'USD', stock: 1_000_001 },
      { title: 'x', price: 10, currency: 'USD', stock: 5, perUserLimit: 0 },
      { title: 'x', price: 10, currency: 'USD', stock: 5, perUserLimit: 101 },
      { title: 'x', price: 10, currency: 'USD', perUserLimit: null },
    ];
    for (const body of bad) {
      const res = await http(stack.url, 'POST', `/api/rooms/${id}/products`, h.token, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('BAD_REQUEST');
    }
    const p = await http(stack.url, 'POST', `/api/rooms/${id}/products`, h.token, { title: 'ok', price: 10, currency: 'usd' });
    expect(p.status).toBe(201);
    const emptyPatch = await http(stack.url, 'PATCH', `/api/rooms/${id}/products/${p.body.product.id}`, h.token, {});
    expect(emptyPatch.status).toBe(400);
    for (const body of [{ stock: -5 }, { stock: 'lots' }, { perUserLimit: 0 }, { stock: 3, extra: 1 }]) {
      const res = await http(stack.url, 'PATCH', `/api/rooms/${id}/products/${p.body.product.id}`, h.token, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
    expect((await http(stack.url, 'GET', `/api/rooms/${id}/products`, h.token)).body.products).toHaveLength(1);
  });

  it.each(['?limit=abc', '?limit=0', '?status=bogus', '?sort=random', '?status=live&status=all', '?unknown=1'])(
    'room list with %s → 400',
    async (query) => {
      const res = await http(stack.url, 'GET', `/api/rooms${query}`, null);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('BAD_REQUEST');
    },
  );

  it.each([
    '/api/orders/x',
    '/api/orders/o_no-dot',
    `/api/orders/o_${'r'.repeat(65)}.x`,
    '/api/orders/o_r_1.a%20b',
    '/api/rooms/r_1/orders?limit=-1',
    '/api/rooms/r_1/orders?cursor=0',
    '/api/rooms/r_1/orders?cursor=1-1&cursor=2-2',
    '/api/rooms/bad%20id/orders',
  ])('orders route with a bad id, cursor or limit %s → 400', async (path) => {
    const res = await http(stack.url, 'GET', path, viewer.token);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: { code: 'BAD_REQUEST', message: expect.any(String) } });
  });

  it.each([
    ['GET', '/api/nope'],
    ['POST', '/api/rooms/r_1/explode'],
    ['GET', '/definitely/not/here'],
    ['DELETE', '/api/rooms'],
  ])('unknown route %s %s → 404 JSON', async (method, path) => {
    const res = await http(stack.url, method, path, null);
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { code: 'NOT_FOUND', message: expect.any(String) } });
  });

  it('bad, expired, foreign, wrong-issuer and nameless JWTs → 401', async () => {
    const tokens = ['garbage', await expiredToken(), await foreignToken(), await wrongIssuerToken(), await namelessToken()];
    for (const token of tokens) {
      const res = await http(stack.url, 'POST', '/api/rooms', token, { title: 'x' });
      expect(res.status, token).toBe(401);
      expect(res.body).toEqual({ error: { code: 'UNAUTHORIZED', message: expect.any(String) } });
    }
    const basic = await raw('GET', '/api/rooms', { authorization: 'Basic dXNlcjpwYXNz' });
    expect(basic.status).toBe(401);
    // A bad token is refused even on routes a guest may use: it is not silently treated as a guest.
    expect((await http(stack.url, 'GET', '/api/rooms', 'garbage')).status).toBe(401);
  });

  it('after all of it the HTTP side still serves', async () => {
    expect((await http(stack.url, 'GET', '/healthz', null)).body).toEqual({ ok: true });
    expect((await http(stack.url, 'POST', '/api/rooms', viewer.token, { title: 'Still here' })).status).toBe(201);
  });
});
