/**
 * Room micro-batching (src/core/room-batching.ts) through real clients on real servers and Redis:
 * a burst of room events reaches viewers in fewer frames than events and in emission order, a
 * quiet room's event is not held past BATCH_MAX_DELAY_MS, a non-batchable event stays behind the
 * batched ones emitted before it, batches cross nodes in order, and a viewer that drops gets the
 * batched events it missed replayed by connection state recovery.
 *
 * Frames are counted with onAny, which sees each frame once (a `room:batch` is one frame);
 * the per-event listeners see the unpacked events (test/helpers/clients.ts installs
 * unpackRoomBatch on every test socket).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage, PinState } from '../src/protocol/index.js';
import type { RunningServer } from '../src/server.js';
import { closeAllSockets, connect, devUser, liveRoom, nextEvent, ok, requestRaw, type TestSocket } from './helpers/clients.js';
import { startStack, type Stack } from './helpers/stack.js';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js';

/** Wide enough that a burst surely shares frames, and that a lost flush would show as a timeout. */
const MAX_DELAY_MS = 200;
/** Generous: the machine is shared; what matters is that nothing waits for a later event. */
const SLACK_MS = 300;
const BURST = 24;

let stack: Stack;
let nodeA: RunningServer;
let nodeB: RunningServer;
const proxies: TcpProxy[] = [];

beforeAll(async () => {
  stack = await startStack({
    nodes: 2,
    // One host sends each burst: lift its chat rate and in-flight caps out of the way.
    config: { BATCH_MAX_DELAY_MS: String(MAX_DELAY_MS), CHAT_RATE_PER_10S: '1000', SOCKET_MAX_IN_FLIGHT: '100' },
  });
  [nodeA, nodeB] = stack.servers as [RunningServer, RunningServer];
});
afterEach(async () => {
  closeAllSockets();
  for (const p of proxies.splice(0)) await p.close();
});
afterAll(async () => {
  await stack.stop();
});

/** Every frame a socket receives, by event name (a room:batch counts once). */
function frameLog(socket: TestSocket): string[] {
  const frames: string[] = [];
  socket.onAny((event: string) => frames.push(event));
  return frames;
}

/** Resolves with the first `n` chat messages the socket gets, in arrival order. */
function chatMessages(socket: TestSocket, n: number, timeoutMs = 10_000): Promise<ChatMessage[]> {
  return new Promise((resolve, reject) => {
    const got: ChatMessage[] = [];
    const timer = setTimeout(() => reject(new Error(`got ${got.length} of ${n} chat messages`)), timeoutMs);
    const onMessage = (m: ChatMessage) => {
      got.push(m);
      if (got.length < n) return;
      clearTimeout(timer);
      socket.off('chat:message', onMessage);
      resolve(got);
    };
    socket.on('chat:message', onMessage);
  });
}

/** A live room with its host joined on `hostNode` and a viewer joined on `viewerNode`. */
async function scene(hostNode: RunningServer, viewerNode: RunningServer) {
  const { host, roomId, productId } = await liveRoom(hostNode.url, 'Batcher');
  const hostSocket = await connect(hostNode.url, host);
  await ok(hostSocket, 'room:join', { roomId });
  const viewer = await connect(viewerNode.url, await devUser(viewerNode.url, 'Watcher'));
  await ok(viewer, 'room:join', { roomId });
  return { roomId, productId, hostSocket, viewer };
}

/** Sends `n` chat lines at once (no ack awaited before the next): a burst. Resolves with their acks. */
const burst = (socket: TestSocket, n: number, label: string) =>
  Promise.all(Array.from({ length: n }, (_, i) => ok(socket, 'chat:send', { text: `${label} ${i}` })));

/** Chat ids are Redis Stream ids, assigned in the order the messages were stored (and emitted). */
const byStreamOrder = (a: string, b: string) => {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
};

describe('room batching', () => {
  it('delivers a burst in fewer frames than events, in emission order, as room:batch frames', async () => {
    const { hostSocket, viewer } = await scene(nodeA, nodeA);
    const frames = frameLog(viewer);
    const arriving = chatMessages(viewer, BURST);
    const sent = await burst(hostSocket, BURST, 'burst');
    const got = await arriving;

    const ids = got.map((m) => m.id);
    expect(new Set(ids)).toEqual(new Set(sent.map((m) => m.id)));
    expect(ids).toEqual([...ids].sort(byStreamOrder));
    expect(frames).toContain('room:batch');
    expect(frames.length).toBeLessThan(BURST);
  });

  it('refuses room:batch sent by a client (it is server → client only), and relays nothing', async () => {
    const { hostSocket, viewer } = await scene(nodeA, nodeA);
    const frames = frameLog(viewer);
    const res = await requestRaw(hostSocket, 'room:batch', [['chat:message', { id: '1-0', user: { id: 'x', name: 'Forged' }, text: 'forged', at: 0 }]]);
    expect(res).toMatchObject({ ok: false, error: { code: 'UNKNOWN_EVENT' } });
    // A real line afterwards arrives alone: nothing forged went before it.
    const seen = chatMessages(viewer, 1);
    await ok(hostSocket, 'chat:send', { text: 'genuine' });
    expect((await seen).map((m) => m.text)).toEqual(['genuine']);
    expect(frames).toHaveLength(1);
  });

  it("sends a quiet room's single event within the delay bound, and the next one within a window", async () => {
    const { hostSocket, viewer } = await scene(nodeA, nodeA);
    for (const text of ['first in a quiet room', 'second, inside the window']) {
      const started = performance.now();
      const seen = nextEvent(viewer, 'chat:message', (m) => m.text === text);
      await ok(hostSocket, 'chat:send', { text });
      await seen;
      // From before the send: includes the Redis write and both socket hops, so it bounds the wait.
      expect(performance.now() - started).toBeLessThan(MAX_DELAY_MS + SLACK_MS);
    }
  });

  it('delivers a non-batchable event after the batched ones emitted before it', async () => {
    const { hostSocket, viewer, productId } = await scene(nodeA, nodeA);
    const order: string[] = [];
    viewer.on('chat:message', (m) => order.push(m.text));
    const pinned = new Promise<PinState>((resolve) =>
      viewer.on('pin:changed', (p) => {
        order.push('pin');
        resolve(p);
      }),
    );
    // The first line goes out at once; the rest wait for the end of the window, and the pin,
    // emitted before that, must flush them first.
    await burst(hostSocket, 5, 'before pin');
    await ok(hostSocket, 'pin:set', { productId });
    expect((await pinned).product?.id).toBe(productId);
    expect(order).toHaveLength(6);
    expect(order.at(-1)).toBe('pin');
    expect(new Set(order.slice(0, 5))).toEqual(new Set([0, 1, 2, 3, 4].map((i) => `before pin ${i}`)));
  });

  it("gives a viewer on node B node A's batched messages, in order", async () => {
    const { hostSocket, viewer } = await scene(nodeA, nodeB);
    const frames = frameLog(viewer);
    const arriving = chatMessages(viewer, BURST);
    const sent = await burst(hostSocket, BURST, 'across');
    const ids = (await arriving).map((m) => m.id);
    expect(ids).toEqual(sent.map((m) => m.id).sort(byStreamOrder));
    expect(frames.length).toBeLessThan(BURST);
  });

  it('replays the batched events a dropped viewer missed when it recovers', async () => {
    const { host, roomId } = await liveRoom(nodeA.url, 'Replayer');
    const hostSocket = await connect(nodeA.url, host);
    await ok(hostSocket, 'room:join', { roomId });
    const proxy = await startTcpProxy(nodeA.url);
    proxies.push(proxy);
    const viewer = await connect(proxy.url, await devUser(nodeA.url, 'Dropper'), { reconnection: true });
    await ok(viewer, 'room:join', { roomId });
    // Something heard first, so the client holds a recovery offset.
    const heard = nextEvent(viewer, 'chat:message');
    await ok(hostSocket, 'chat:send', { text: 'hello' });
    await heard;

    const serverSide = nodeA.io.of('/').sockets.get(viewer.id!);
    const gone = Promise.all([new Promise((r) => serverSide!.once('disconnect', r)), new Promise((r) => viewer.once('disconnect', r))]);
    proxy.hold();
    proxy.cut();
    await gone;
    const missed = await burst(hostSocket, 10, 'missed');
    expect(viewer.connected).toBe(false);

    const frames = frameLog(viewer);
    const replayed = chatMessages(viewer, 10);
    const back = new Promise<void>((r) => viewer.once('connect', () => r()));
    proxy.target(nodeB.url); // and back on the other node, through the Streams adapter
    proxy.release();
    await back;
    expect(viewer.recovered).toBe(true);
    expect((await replayed).map((m) => m.id)).toEqual(missed.map((m) => m.id).sort(byStreamOrder));
    expect(frames).toContain('room:batch');
  });
});
