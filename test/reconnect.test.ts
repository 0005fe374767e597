/**
 * Connection state recovery. A viewer's transport drops (a TCP proxy cuts it, the way a flaky
 * network would) and the client reconnects by itself; meanwhile the room carries on. The viewer
 * must come back recovered, get what it missed, still be in the room and counted — on the same
 * node or, through the Redis Streams adapter, on another one.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage, ModerationSettings } from '../src/protocol/index.js';
import type { RunningServer } from '../src/server.js';
import { closeAllSockets, connect, devUser, http, liveRoom, nextEvent, ok, request, type TestSocket } from './helpers/clients.js';
import { startStack, type Stack } from './helpers/stack.js';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js';

let stack: Stack;
let nodeA: RunningServer;
let nodeB: RunningServer;
const proxies: TcpProxy[] = [];

beforeAll(async () => {
  stack = await startStack({ nodes: 2, config: { MEDIA_ENABLED: 'false' } });
  [nodeA, nodeB] = stack.servers as [RunningServer, RunningServer];
});
afterEach(async () => {
  closeAllSockets();
  for (const p of proxies.splice(0)) await p.close();
});
afterAll(async () => {
  await stack.stop();
});

/** A live room with its host on node B and a signed-in viewer on node A, reached through a proxy. */
async function scene(opts: { heardSomething?: boolean; moderator?: boolean } = {}) {
  const { host, roomId } = await liveRoom(nodeB.url, 'Rae');
  const hostSocket = await connect(nodeB.url, host);
  await ok(hostSocket, 'room:join', { roomId });
  const proxy = await startTcpProxy(nodeA.url);
  proxies.push(proxy);
  const user = await devUser(nodeA.url, 'Wanderer');
  if (opts.moderator) await http(nodeB.url, 'PUT', `/api/rooms/${roomId}/moderators/${user.id}`, host.token);
  const viewer = await connect(proxy.url, user, { reconnection: true });
  // Nothing but the ack is awaited: a client holding its join ack must be able to recover.
  await ok(viewer, 'room:join', { roomId });
  if (opts.heardSomething ?? true) {
    const seen = nextEvent(viewer, 'chat:message');
    await ok(hostSocket, 'chat:send', { text: 'welcome' });
    await seen;
  }
  return { host, roomId, hostSocket, proxy, user, viewer };
}

/**
 * Cut the viewer's connection, run `whileAway` once both ends know it is gone, then let the
 * client's own reconnection through (to `nextNode` if given) and wait until it is back.
 */
async function dropAndReturn(viewer: TestSocket, proxy: TcpProxy, whileAway: () => Promise<void>, nextNode?: RunningServer) {
  const serverSide = nodeA.io.of('/').sockets.get(viewer.id!);
  expect(serverSide).toBeDefined();
  const serverSaw = new Promise((r) => serverSide!.once('disconnect', r));
  const clientSaw = new Promise((r) => viewer.once('disconnect', r));
  proxy.hold();
  proxy.cut();
  await Promise.all([serverSaw, clientSaw]);

  await whileAway();
  expect(viewer.connected).toBe(false); // what happened above really happened while away

  if (nextNode) proxy.target(nextNode.url);
  const back = new Promise<void>((r) => viewer.once('connect', () => r()));
  proxy.release();
  await back;
}

const textsUntil = (socket: TestSocket, last: string) =>
  new Promise<string[]>((resolve) => {
    const got: string[] = [];
    const onMessage = (m: ChatMessage) => {
      got.push(m.text);
      if (m.text === last) {
        socket.off('chat:message', onMessage);
        resolve(got);
      }
    };
    socket.on('chat:message', onMessage);
  });

describe.each([
  { where: 'the same node', next: () => undefined },
  { where: 'another node', next: () => nodeB },
])('a viewer whose transport drops briefly, reconnecting to $where', ({ next }) => {
  it('comes back recovered, receives what was said meanwhile, and is still in the room', async () => {
    const { roomId, hostSocket, proxy, viewer, user } = await scene();
    const missed = textsUntil(viewer, 'away 3');
    await dropAndReturn(
      viewer,
      proxy,
      async () => {
        for (const text of ['away 1', 'away 2', 'away 3']) await ok(hostSocket, 'chat:send', { text });
      },
      next(),
    );
    expect(viewer.recovered).toBe(true);
    expect(await missed).toEqual(['away 1', 'away 2', 'away 3']);

    // Still in the room without rejoining: can chat, and is counted again.
    const hostSees = nextEvent(hostSocket, 'chat:message', (m) => m.text === 'I am back');
    const sent = await ok(viewer, 'chat:send', { text: 'I am back' });
    expect(sent.user.id).toBe(user.id);
    expect(await hostSees).toEqual(sent);
    // Counted: the viewer (the host is staff, counted apart).
    expect(await ok(hostSocket, 'room:stats', {})).toMatchObject({ viewers: 1, staff: 1 });
    expect((await http(nodeA.url, 'GET', `/api/rooms/${roomId}`, null)).body.presence).toMatchObject({ viewers: 1, staff: 1 });
  });

  it('recovers even when nothing was said in the room between joining and dropping', async () => {
    const { hostSocket, proxy, viewer } = await scene({ heardSomething: false });
    const missed = textsUntil(viewer, 'while you were out');
    await dropAndReturn(viewer, proxy, () => ok(hostSocket, 'chat:send', { text: 'while you were out' }).then(() => undefined), next());
    expect(viewer.recovered).toBe(true);
    expect(await missed).toEqual(['while you were out']);
  });

  it('recovers straight after its join ack, having received nothing else, and is still in the room', async () => {
    const { roomId, hostSocket, proxy, viewer } = await scene({ heardSomething: false });
    await dropAndReturn(viewer, proxy, async () => undefined, next());
    expect(viewer.recovered).toBe(true);
    const hostSees = nextEvent(hostSocket, 'chat:message', (m) => m.text === 'still here');
    await ok(viewer, 'chat:send', { text: 'still here' });
    await hostSees;
    const viewerSees = nextEvent(viewer, 'chat:message', (m) => m.text === 'good');
    await ok(hostSocket, 'chat:send', { text: 'good' });
    await viewerSees;
    expect((await http(nodeA.url, 'GET', `/api/rooms/${roomId}`, null)).body.presence).toMatchObject({ viewers: 1, staff: 1 });
  });

  it('a moderator removed while away recovers as a viewer: told by room:role, out of the staff channel', async () => {
    const { host, roomId, hostSocket, proxy, viewer, user } = await scene({ moderator: true });
    const role = nextEvent(viewer, 'room:role');
    await dropAndReturn(
      viewer,
      proxy,
      async () => {
        expect((await http(nodeB.url, 'DELETE', `/api/rooms/${roomId}/moderators/${user.id}`, host.token)).status).toBe(200);
      },
      next(),
    );
    expect(viewer.recovered).toBe(true);
    expect(await role).toEqual({ roomId, role: 'viewer', moderation: { slowModeSeconds: 0, blockedWords: [] } });
    const serverSide = [nodeA, nodeB].map((n) => n.io.of('/').sockets.get(viewer.id!)).find(Boolean)!;
    expect([...serverSide.rooms].filter((r) => r.startsWith('staff:'))).toEqual([]);
    // Staff-only settings no longer reach it: it gets the viewers' version.
    const settings = nextEvent(viewer, 'room:settings');
    await ok(hostSocket, 'mod:blocked-words', { words: ['secret'] });
    expect((await settings).blockedWords).toEqual([]);
    expect(await request(viewer, 'room:stats', {})).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
  });

  it('a moderator removed while away is not replayed the staff-only traffic sent after the removal', async () => {
    const { host, roomId, hostSocket, proxy, viewer, user } = await scene({ moderator: true });
    // Everything room:settings brings, from the drop until the marker sent last while away.
    const settings: ModerationSettings[] = [];
    viewer.on('room:settings', (s) => settings.push(s));
    const untilMarker = textsUntil(viewer, 'marker');
    await dropAndReturn(
      viewer,
      proxy,
      async () => {
        expect((await http(nodeB.url, 'DELETE', `/api/rooms/${roomId}/moderators/${user.id}`, host.token)).status).toBe(200);
        await ok(hostSocket, 'mod:blocked-words', { words: ['secret'] });
        await ok(hostSocket, 'chat:send', { text: 'marker' });
      },
      next(),
    );
    expect(viewer.recovered).toBe(true);
    expect(await untilMarker).toEqual(['marker']);
    // Replayed as the viewer it now is: the viewers' version of the settings, not the staff one.
    expect(settings).toEqual([{ slowModeSeconds: 0, blockedWords: [] }]);
    const serverSide = [nodeA, nodeB].map((n) => n.io.of('/').sockets.get(viewer.id!)).find(Boolean)!;
    expect([...serverSide.rooms].filter((r) => r.startsWith('room:') || r.startsWith('staff:'))).toEqual([`room:${roomId}`]);
  });

  it('a moderator still in office recovers with the staff-only traffic it missed', async () => {
    const { hostSocket, proxy, viewer } = await scene({ moderator: true });
    const settings: ModerationSettings[] = [];
    viewer.on('room:settings', (s) => settings.push(s));
    const untilMarker = textsUntil(viewer, 'marker');
    await dropAndReturn(
      viewer,
      proxy,
      async () => {
        await ok(hostSocket, 'mod:blocked-words', { words: ['secret'] });
        await ok(hostSocket, 'chat:send', { text: 'marker' });
      },
      next(),
    );
    expect(viewer.recovered).toBe(true);
    expect(await untilMarker).toEqual(['marker']);
    expect(settings).toEqual([{ slowModeSeconds: 0, blockedWords: ['secret'] }]);
  });

  it('a user banned while away is replayed none of the room traffic sent after the ban', async () => {
    const { user, hostSocket, proxy, viewer } = await scene();
    const heard: string[] = [];
    viewer.on('chat:message', (m) => heard.push(m.text));
    viewer.on('room:settings', () => heard.push('room:settings'));
    const removed = nextEvent(viewer, 'room:removed', () => true, 20_000);
    await dropAndReturn(
      viewer,
      proxy,
      async () => {
        await ok(hostSocket, 'mod:ban', { userId: user.id });
        await ok(hostSocket, 'chat:send', { text: 'said after the ban' });
        await ok(hostSocket, 'mod:slow-mode', { seconds: 5 });
      },
      next(),
    );
    // Removed on return, after anything replayed (the replay comes with the reconnection itself).
    expect(await removed).toMatchObject({ reason: 'banned' });
    expect(heard).toEqual([]);
    const serverSide = [nodeA, nodeB].map((n) => n.io.of('/').sockets.get(viewer.id!)).find(Boolean)!;
    expect([...serverSide.rooms].filter((r) => r.startsWith('room:') || r.startsWith('staff:'))).toEqual([]);
  });

  it('is removed on return, with the reason, if banned while away', async () => {
    const { user, hostSocket, proxy, viewer } = await scene();
    const removed = nextEvent(viewer, 'room:removed');
    await dropAndReturn(viewer, proxy, () => ok(hostSocket, 'mod:ban', { userId: user.id }).then(() => undefined), next());
    expect(await removed).toMatchObject({ reason: 'banned' });
    expect(await request(viewer, 'chat:send', { text: 'sneaky' })).toMatchObject({ ok: false, error: { code: 'NOT_IN_ROOM' } });
    expect(await ok(hostSocket, 'room:stats', {})).toMatchObject({ viewers: 0, staff: 1 });
  });

  it('is removed on return if the live ended while away', async () => {
    const { host, roomId, proxy, viewer } = await scene();
    const removed = nextEvent(viewer, 'room:removed');
    await dropAndReturn(
      viewer,
      proxy,
      async () => {
        expect((await http(nodeB.url, 'POST', `/api/rooms/${roomId}/end`, host.token)).status).toBe(200);
      },
      next(),
    );
    expect(await removed).toEqual({ roomId, reason: 'ended' });
    expect(await request(viewer, 'heart:tap', { count: 1 })).toMatchObject({ ok: false, error: { code: 'NOT_IN_ROOM' } });
  });
});
