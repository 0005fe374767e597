/**
 * The merchant's order routes through real HTTP, sockets and Redis: a room's orders (flash sale
 * and buy-now mixed) listed newest first page by page for the host and moderators, one order
 * looked up by its buyer and the room's host, and every other caller refused with the documented
 * code; bad ids, cursors and limits are 400.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Order } from '../src/protocol/index.js';
import { closeAllSockets, connect, devUser, http, liveRoom, ok, type TestUser } from './helpers/clients.js';
import { startStack, type Stack } from './helpers/stack.js';

let stack: Stack;
let roomId: string;
let host: TestUser;
let moderator: TestUser;
let buyers: TestUser[];
let other: TestUser;
/** In the order they were made. */
const made: { orderId: string; userId: string; kind: string }[] = [];

beforeAll(async () => {
  stack = await startStack();
  let productId: string;
  ({ host, roomId, productId } = await liveRoom(stack.url, 'Hana'));
  [moderator, other, ...buyers] = (await Promise.all(['Mo', 'Otto', 'Ann', 'Ben', 'Cy'].map((n) => devUser(stack.url, n)))) as [TestUser, TestUser, ...TestUser[]];
  expect((await http(stack.url, 'PUT', `/api/rooms/${roomId}/moderators/${moderator!.id}`, host.token)).status).toBe(200);
  expect((await http(stack.url, 'PATCH', `/api/rooms/${roomId}/products/${productId}`, host.token, { stock: 20 })).status).toBe(200);
  const hostSocket = await connect(stack.url, host);
  await ok(hostSocket, 'room:join', { roomId });
  const sale = await ok(hostSocket, 'sale:start', { productId, price: 999, quantity: 10, perUserLimit: 5, durationSec: 600 });
  // Seven orders one after another (so "newest first" is well defined): buy-now and sale mixed.
  for (let i = 0; i < 7; i++) {
    const buyer = buyers[i % buyers.length]!;
    const socket = await connect(stack.url, buyer);
    await ok(socket, 'room:join', { roomId });
    if (i % 3 === 2) {
      const hold = await ok(socket, 'sale:reserve', { saleId: sale.id, requestId: randomUUID() });
      const order = await ok(socket, 'sale:checkout', { holdId: hold.holdId, requestId: randomUUID() });
      made.push({ orderId: order.orderId, userId: buyer.id, kind: 'sale' });
    } else {
      const hold = await ok(socket, 'buy:reserve', { productId, requestId: randomUUID() });
      const order = await ok(socket, 'buy:checkout', { holdId: hold.holdId, requestId: randomUUID() });
      made.push({ orderId: order.orderId, userId: buyer.id, kind: 'buy-now' });
    }
  }
});

afterAll(async () => {
  closeAllSockets();
  await stack.stop();
});

async function allPages(token: string, limit: number): Promise<{ pages: Order[][]; last: unknown }> {
  const pages: Order[][] = [];
  let cursor: string | null = null;
  let last: unknown = null;
  do {
    const res = await http(stack.url, 'GET', `/api/rooms/${roomId}/orders?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`, token);
    expect(res.status).toBe(200);
    pages.push(res.body.orders);
    cursor = res.body.nextCursor;
    last = res.body;
  } while (cursor);
  return { pages, last };
}

describe('GET /api/rooms/:roomId/orders', () => {
  it('pages through every order newest first, each once, with its kind', async () => {
    const { pages } = await allPages(host.token, 3);
    expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
    const listed = pages.flat();
    expect(listed.map((o) => o.orderId)).toEqual([...made].reverse().map((o) => o.orderId));
    expect(listed.map((o) => o.kind)).toEqual([...made].reverse().map((o) => o.kind));
    for (const o of listed) {
      expect(o).toMatchObject({ roomId, qty: 1, currency: 'USD' });
      expect(o.saleId === null).toBe(o.kind === 'buy-now');
    }
    // a page size that divides the count exactly ends without an empty page
    expect((await allPages(host.token, 7)).pages.map((p) => p.length)).toEqual([7]);
  });

  it('moderators may list; viewers are FORBIDDEN, guests UNAUTHORIZED, an unknown room NOT_FOUND', async () => {
    const asModerator = await http(stack.url, 'GET', `/api/rooms/${roomId}/orders`, moderator.token);
    expect(asModerator.status).toBe(200);
    expect(asModerator.body.orders).toHaveLength(7);
    expect(asModerator.body.nextCursor).toBeNull();
    for (const [token, status, code] of [[other.token, 403, 'FORBIDDEN'], [buyers[0]!.token, 403, 'FORBIDDEN'], [null, 401, 'UNAUTHORIZED']] as const) {
      const res = await http(stack.url, 'GET', `/api/rooms/${roomId}/orders`, token);
      expect(res.status).toBe(status);
      expect(res.body).toEqual({ error: { code, message: expect.any(String) } });
    }
    expect((await http(stack.url, 'GET', '/api/rooms/r_nope/orders', host.token)).status).toBe(404);
    // a room without orders: an empty last page
    const { roomId: quiet, host: quietHost } = await liveRoom(stack.url, 'Quiet');
    expect((await http(stack.url, 'GET', `/api/rooms/${quiet}/orders`, quietHost.token)).body).toEqual({ orders: [], nextCursor: null });
  });

  it.each(['?limit=0', '?limit=101', '?limit=abc', '?cursor=yesterday', '?cursor=-', '?cursor=99999999999999999999-0', '?unknown=1', '?limit=1&limit=2'])(
    'a bad query %s → 400',
    async (query) => {
      const res = await http(stack.url, 'GET', `/api/rooms/${roomId}/orders${query}`, host.token);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('BAD_REQUEST');
    },
  );
});

describe('GET /api/orders/:orderId', () => {
  it('the buyer and the room host read it; a moderator, another user and a guest cannot', async () => {
    const mine = made[0]!;
    const buyer = buyers.find((b) => b.id === mine.userId)!;
    for (const token of [buyer.token, host.token]) {
      const res = await http(stack.url, 'GET', `/api/orders/${mine.orderId}`, token);
      expect(res.status).toBe(200);
      expect(res.body.order).toMatchObject({ orderId: mine.orderId, userId: buyer.id, kind: mine.kind, roomId });
    }
    // Not theirs: 404, as for an order that does not exist (existence is not confirmed).
    for (const token of [moderator.token, other.token, buyers.find((b) => b.id !== mine.userId)!.token]) {
      const res = await http(stack.url, 'GET', `/api/orders/${mine.orderId}`, token);
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ error: { code: 'NOT_FOUND', message: expect.any(String) } });
    }
    const guest = await http(stack.url, 'GET', `/api/orders/${mine.orderId}`, null);
    expect(guest.status).toBe(401);
    expect(guest.body.error.code).toBe('UNAUTHORIZED');
  });

  it('a flash-sale order reads back with its sale', async () => {
    const sold = made.find((o) => o.kind === 'sale')!;
    const res = await http(stack.url, 'GET', `/api/orders/${sold.orderId}`, host.token);
    expect(res.body.order).toMatchObject({ kind: 'sale', saleId: expect.stringMatching(/^s_/), ledgerId: res.body.order.saleId });
  });

  it.each([
    ['o_nope', 400],
    ['x', 400],
    [`o_${'r'.repeat(65)}.abc`, 400],
    ['o_r_1:holds.x', 404], // well-formed (room ids may hold ':'): an unknown room's order
    ['o_r_nope.abc', 404],
  ] as const)('order id %s → %i', async (orderId, expected) => {
    const res = await http(stack.url, 'GET', `/api/orders/${encodeURIComponent(orderId)}`, host.token);
    expect(res.status).toBe(expected);
    expect(res.body.error.code).toBe(expected === 400 ? 'BAD_REQUEST' : 'NOT_FOUND');
  });

  it('an order id of this room that was never made → 404', async () => {
    const res = await http(stack.url, 'GET', `/api/orders/o_${roomId}.neverMade1`, host.token);
    expect(res.status).toBe(404);
  });
});
