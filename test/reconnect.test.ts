/**
 * Connection state recovery. A viewer's transport drops (a TCP proxy cuts it, the way a flaky
 * network would) and the client reconnects by itself; meanwhile the room carries on. The viewer
 * must come back recovered, get what it missed, still be in the room and counted — on the same
 * node or, through the Redis Streams adapter, on another one.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage } from '../src/protocol/index.js';
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
async function scene(opts: { heardSomething?: boolean } = {}) {
  const { host, roomId } = await liveRoom(nodeB.url, 'Rae');
  const hostSocket = await connect(nodeB.url, host);
  await ok(hostSocket, 'room:join', { roomId });
  const proxy = await startTcpProxy(nodeA.url);
  proxies.push(proxy);
  const user = await devUser(nodeA.url, 'Wanderer');
  const viewer = await connect(proxy.url, user, { reconnection: true });
  // Join sends the joiner a presence broadcast so it holds a recovery offset from the start.
  const joinBroadcast = nextEvent(viewer, 'presence:update');
  await ok(viewer, 'room:join', { roomId });
  await joinBroadcast;
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
    expect((await ok(hostSocket, 'room:stats', {})).viewers).toBe(2);
    expect((await http(nodeA.url, 'GET', `/api/rooms/${roomId}`, null)).body.presence.viewers).toBe(2);
  });

  it('recovers even when nothing was said in the room between joining and dropping', async () => {
    const { hostSocket, proxy, viewer } = await scene({ heardSomething: false });
    const missed = textsUntil(viewer, 'while you were out');
    await dropAndReturn(viewer, proxy, () => ok(hostSocket, 'chat:send', { text: 'while you were out' }).then(() => undefined), next());
    expect(viewer.recovered).toBe(true);
    expect(await missed).toEqual(['while you were out']);
  });

  it('is removed on return, with the reason, if banned while away', async () => {
    const { user, hostSocket, proxy, viewer } = await scene();
    const removed = nextEvent(viewer, 'room:removed');
    await dropAndReturn(viewer, proxy, () => ok(hostSocket, 'mod:ban', { userId: user.id }).then(() => undefined), next());
    expect(await removed).toMatchObject({ reason: 'banned' });
    expect(await request(viewer, 'chat:send', { text: 'sneaky' })).toMatchObject({ ok: false, error: { code: 'NOT_IN_ROOM' } });
    expect((await ok(hostSocket, 'room:stats', {})).viewers).toBe(1);
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
