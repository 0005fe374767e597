/**
 * The whole live-room flow through real interfaces: a host creates a room, adds products, goes
 * live; viewers join and get the snapshot; chat, hearts and pins reach everyone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeAllSockets, connect, devUser, http, liveRoom, nextEvent, ok, request } from './helpers/clients.js';
import { startStack, type Stack } from './helpers/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  closeAllSockets();
  await stack.stop();
});

describe('live room flow', () => {
  it('host goes live; viewers get the snapshot; chat, hearts and pins reach everyone', async () => {
    const { host, roomId, productId } = await liveRoom(stack.url, 'Mia');
    const hostSocket = await connect(stack.url, host);
    const hostSnap = await ok(hostSocket, 'room:join', { roomId });
    expect(hostSnap.role).toBe('host');
    expect(hostSnap.room.status).toBe('live');
    expect(hostSnap.commerce.bag.map((p) => p.id)).toEqual([productId]);

    const alice = await devUser(stack.url, 'Alice');
    const bob = await devUser(stack.url, 'Bob');
    const a = await connect(stack.url, alice);
    const b = await connect(stack.url, bob);
    const guest = await connect(stack.url, null);

    const snapA = await ok(a, 'room:join', { roomId });
    expect(snapA.role).toBe('viewer');
    expect(snapA.you).toEqual({ id: alice.id, name: 'Alice' });
    expect(snapA.commerce.pinned.product).toBeNull();
    await ok(b, 'room:join', { roomId });
    const guestSnap = await ok(guest, 'room:join', { roomId });
    expect(guestSnap.role).toBe('guest');

    // chat
    const got = [nextEvent(b, 'chat:message'), nextEvent(hostSocket, 'chat:message'), nextEvent(guest, 'chat:message')];
    const sent = await ok(a, 'chat:send', { text: '  hello\u0007 world  ' });
    expect(sent.text).toBe('hello world');
    for (const msg of await Promise.all(got)) expect(msg).toEqual(sent);

    // a guest may read but not write
    const guestChat = await request(guest, 'chat:send', { text: 'hi' });
    expect(guestChat).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });

    // hearts: every tap counted, totals broadcast
    const hearts = nextEvent(b, 'hearts:update', (p) => p.total === 7);
    await ok(a, 'heart:tap', { count: 3 });
    await ok(a, 'heart:tap', { count: 4 });
    expect((await hearts).total).toBe(7);

    // pin
    const pinSeen = [nextEvent(a, 'pin:changed'), nextEvent(guest, 'pin:changed')];
    const pinned = await ok(hostSocket, 'pin:set', { productId });
    expect(pinned.product?.title).toBe('Silk scarf');
    for (const p of await Promise.all(pinSeen)) expect(p.product?.id).toBe(productId);

    // a late joiner sees it all in the snapshot
    const carol = await devUser(stack.url, 'Carol');
    const c = await connect(stack.url, carol);
    const late = await ok(c, 'room:join', { roomId });
    expect(late.chat.messages.map((m) => m.text)).toEqual(['hello world']);
    expect(late.hearts).toBe(7);
    expect(late.commerce.pinned.product?.id).toBe(productId);
    expect(late.engagement).toBe(7 + 4); // 7 hearts + 1 comment
    // Alice, Bob, the guest and Carol; the host is staff, not a viewer.
    expect(late.presence).toEqual({ viewers: 4, staff: 1, peak: 4 });

    // presence broadcast reaches the room
    const presence = await nextEvent(a, 'presence:update', (p) => p.viewers === 4);
    expect(presence).toEqual({ viewers: 4, staff: 1, peak: 4 });

    // the room shows up in the trending list with its counters
    const list = await http(stack.url, 'GET', '/api/rooms?status=live&sort=trending', null);
    const listed = list.body.rooms.find((r: { id: string }) => r.id === roomId);
    expect(listed).toMatchObject({ status: 'live', hearts: 7, engagement: 11 });

    // unpin, pin history
    await ok(hostSocket, 'pin:clear', {});
    const history = await ok(hostSocket, 'pin:history', {});
    expect(history.map((h) => h.productId)).toEqual([null, productId]);
  });
});

describe('chat:send retried with its clientId', () => {
  it('is stored once and sent to the room again, so a message stored by a Redis that froze before answering still reaches everyone', async () => {
    const { roomId } = await liveRoom(stack.url, 'Rue');
    const sender = await connect(stack.url, await devUser(stack.url, 'Sid'));
    const watcher = await connect(stack.url, await devUser(stack.url, 'Wes'));
    await ok(sender, 'room:join', { roomId });
    await ok(watcher, 'room:join', { roomId });
    const clientId = 'retry-0123456789';
    const firstSeen = nextEvent(watcher, 'chat:message', (m) => m.text === 'once');
    const first = await ok(sender, 'chat:send', { text: 'once', clientId });
    expect((await firstSeen).id).toBe(first.id);
    const againSeen = nextEvent(watcher, 'chat:message', (m) => m.text === 'once');
    const again = await ok(sender, 'chat:send', { text: 'once', clientId });
    expect(again).toEqual(first);
    expect((await againSeen).id).toBe(first.id);
    const history = await ok(watcher, 'chat:history', { limit: 100 });
    expect(history.filter((m) => m.text === 'once')).toHaveLength(1);
  });
});
