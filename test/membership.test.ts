/**
 * Membership of one connection: joins and leaves are applied in the order sent, a join that
 * fails after subscribing is taken back, a ban reaches connections that are joining at that very
 * moment (on either of two nodes), and the joiner hears presence:update once.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { roomChannel, roomKey } from '../src/core/keys.js';
import type { RunningServer } from '../src/server.js';
import { closeAllSockets, connect, devUser, liveRoom, nextEvent, ok, request, type TestSocket } from './helpers/clients.js';
import { NO_CLIENT_LIMITS } from './helpers/lifted-limits.js';
import { startStack, type Stack } from './helpers/stack.js';

let stack: Stack;
let nodeA: RunningServer;
let nodeB: RunningServer;

beforeAll(async () => {
  // Ten sockets of one user rejoin in waves for a dozen rounds: far over the per-user join limit,
  // which has its own test; here only the ban race is under test.
  stack = await startStack({ nodes: 2, config: { MEDIA_ENABLED: 'false', ...NO_CLIENT_LIMITS } });
  [nodeA, nodeB] = stack.servers as [RunningServer, RunningServer];
});
afterEach(() => closeAllSockets());
afterAll(async () => {
  await stack.stop();
});

/** The server side of a client's connection, on whichever node holds it. */
function serverSide(socket: TestSocket) {
  for (const node of stack.servers) {
    const s = node.io.of('/').sockets.get(socket.id!);
    if (s) return s;
  }
  throw new Error(`no server holds ${socket.id}`);
}

/** Every room/staff channel the connection is subscribed to, and the room it believes it is in. */
function membership(socket: TestSocket) {
  const s = serverSide(socket);
  const channels = [...s.rooms].filter((r) => r.startsWith('room:') || r.startsWith('staff:')).sort();
  return { roomId: s.data.roomId, channels };
}

describe('joins are ordered per connection', () => {
  it('two joins sent at once leave the connection in the second room only, every time', async () => {
    const [a, b] = [await liveRoom(nodeA.url, 'Ada'), await liveRoom(nodeA.url, 'Bo')];
    const viewer = await connect(nodeA.url, await devUser(nodeA.url, 'Flip'));
    for (let i = 0; i < 15; i++) {
      const [first, second] = i % 2 ? [b, a] : [a, b];
      const acks = await Promise.all([
        request(viewer, 'room:join', { roomId: first.roomId }),
        request(viewer, 'room:join', { roomId: second.roomId }),
      ]);
      expect(acks.map((r) => r.ok)).toEqual([true, true]);
      expect(membership(viewer)).toEqual({ roomId: second.roomId, channels: [roomChannel(second.roomId)] });
    }
    // Counted in one room only, and only that room's chat reaches it.
    const hostA = await connect(nodeA.url, a.host);
    const hostB = await connect(nodeA.url, b.host);
    await ok(hostA, 'room:join', { roomId: a.roomId });
    await ok(hostB, 'room:join', { roomId: b.roomId });
    const heard: string[] = [];
    viewer.on('chat:message', (m) => heard.push(m.text));
    const last = nextEvent(viewer, 'chat:message', (m) => m.text === 'in B');
    await ok(hostA, 'chat:send', { text: 'in A' });
    await ok(hostB, 'chat:send', { text: 'in B' });
    await last;
    expect(heard).toEqual(['in B']);
    expect(await ok(hostA, 'room:stats', {})).toMatchObject({ viewers: 0, staff: 1 }); // the host alone
  });

  it('a join and a leave sent at once: the leave comes second', async () => {
    const { roomId } = await liveRoom(nodeA.url, 'Cy');
    const viewer = await connect(nodeA.url, await devUser(nodeA.url, 'Dot'));
    const [joined, left] = await Promise.all([request(viewer, 'room:join', { roomId }), request(viewer, 'room:leave', {})]);
    expect(joined.ok).toBe(true);
    expect(left).toEqual({ ok: true, data: { left: true } });
    expect(membership(viewer)).toEqual({ roomId: null, channels: [] });
  });

  it('a join that fails after subscribing is taken back: in no room, not counted, and the room works again once fixed', async () => {
    const old = await liveRoom(nodeA.url, 'Eve');
    const target = await liveRoom(nodeA.url, 'Fay');
    const viewer = await connect(nodeA.url, await devUser(nodeA.url, 'Gus'));
    await ok(viewer, 'room:join', { roomId: old.roomId });
    // A real Redis error on a key only the snapshot reads (the room's chat stream), so the join
    // passes its checks, subscribes, and only then fails.
    const chatKey = roomKey(target.roomId, 'chat');
    await nodeA.redis.del(chatKey);
    await nodeA.redis.set(chatKey, 'not a stream');
    const failed = await request(viewer, 'room:join', { roomId: target.roomId });
    expect(failed).toMatchObject({ ok: false, error: { code: 'INTERNAL' } });
    expect(membership(viewer)).toEqual({ roomId: null, channels: [] });
    expect(await request(viewer, 'heart:tap', { count: 1 })).toMatchObject({ ok: false, error: { code: 'NOT_IN_ROOM' } });
    const rooms = nodeA.domains.find((d) => d.name === 'rooms') as unknown as { presence: { count(id: string): Promise<{ viewers: number }> } };
    expect((await rooms.presence.count(target.roomId)).viewers).toBe(0);

    await nodeA.redis.del(chatKey);
    await ok(viewer, 'room:join', { roomId: target.roomId });
    expect(membership(viewer)).toEqual({ roomId: target.roomId, channels: [roomChannel(target.roomId)] });
  });

  it('the joining connection hears presence:update once', async () => {
    const { roomId } = await liveRoom(nodeA.url, 'Hal');
    const viewer = await connect(nodeA.url, await devUser(nodeA.url, 'Ida'));
    const updates: number[] = [];
    viewer.on('presence:update', (p) => updates.push(p.viewers));
    const firstUpdate = nextEvent(viewer, 'presence:update');
    await ok(viewer, 'room:join', { roomId });
    await firstUpdate;
    // A second viewer's join is announced in the next broadcast window: everything about the
    // first join has been delivered by the time that one arrives.
    const two = nextEvent(viewer, 'presence:update', (p) => p.viewers === 2);
    await ok(await connect(nodeB.url, await devUser(nodeA.url, 'Jan')), 'room:join', { roomId });
    await two;
    expect(updates).toEqual([1, 2]);
  });
});

describe('a ban racing joins', () => {
  it('removes every connection of the user, on both nodes, including those joining at that moment', async () => {
    const { host, roomId } = await liveRoom(nodeA.url, 'Jo');
    const hostSocket = await connect(nodeA.url, host);
    await ok(hostSocket, 'room:join', { roomId });
    const troll = await devUser(nodeA.url, 'Kit');
    const sockets = await Promise.all(Array.from({ length: 10 }, (_, i) => connect((i % 2 ? nodeB : nodeA).url, troll)));
    let raced = 0;
    for (let round = 0; round < 12; round++) {
      const removed = sockets.map((s) => nextEvent(s, 'room:removed', (p) => p.roomId === roomId, 20_000));
      for (const r of removed) r.catch(() => undefined); // only the admitted ones must hear it
      // Joins go out in waves of two (one per node); the ban goes out with wave `round % 5`, so
      // some joins finish before it, some run into it and some start after it.
      const acks: Awaited<ReturnType<typeof request<'room:join'>>>[] = [];
      let ban: Promise<unknown> = Promise.resolve();
      for (let wave = 0; wave < 5; wave++) {
        const pair = sockets.slice(wave * 2, wave * 2 + 2).map((s) => request(s, 'room:join', { roomId }));
        if (wave === round % 5) ban = ok(hostSocket, 'mod:ban', { userId: troll.id });
        acks.push(...(await Promise.all(pair)));
      }
      await ban;
      for (const [i, ack] of acks.entries()) {
        if (ack.ok) {
          // Admitted before the ban took hold: the ban must still reach it.
          expect(await removed[i]).toEqual({ roomId, reason: 'banned' });
        } else {
          expect(ack.error.code).toBe('BANNED');
        }
      }
      if (acks.some((a) => a.ok) && acks.some((a) => !a.ok)) raced++;
      for (const s of sockets) expect(membership(s)).toEqual({ roomId: null, channels: [] });
      const left = await nodeA.io.in(roomChannel(roomId)).fetchSockets();
      expect(left.map((s) => s.data.user?.id)).toEqual([host.id]);
      await ok(hostSocket, 'mod:unban', { userId: troll.id });
    }
    // The test is only worth something if bans and joins really overlapped.
    expect(raced).toBeGreaterThan(0);
  });

  it('a rejoin refused as BANNED takes the connection out of the room it was in', async () => {
    const { host, roomId } = await liveRoom(nodeA.url, 'Lu');
    const hostSocket = await connect(nodeA.url, host);
    await ok(hostSocket, 'room:join', { roomId });
    const user = await devUser(nodeA.url, 'Max');
    const socket = await connect(nodeB.url, user);
    await ok(socket, 'room:join', { roomId });
    await ok(hostSocket, 'mod:ban', { userId: user.id });
    // Whether the eviction or the rejoin gets there first, the connection ends up out.
    expect(await request(socket, 'room:join', { roomId })).toMatchObject({ ok: false, error: { code: 'BANNED' } });
    expect(membership(socket)).toEqual({ roomId: null, channels: [] });
  });
});
