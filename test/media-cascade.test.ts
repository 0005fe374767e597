/**
 * Origin → edge cascade with real processes and real WebRTC: two server processes on one Redis,
 * each with its own mediasoup worker. A host (libwebrtc in Node via @roamhq/wrtc +
 * mediasoup-client) publishes on node A; viewers on node B and on node A decode the video. B pipes
 * the producer from A once for all its viewers, closes the pipe when the last one leaves, follows
 * pause/resume/close at the origin; a stalled origin worker (SIGSTOP) is reported; kill -9 of an
 * edge frees the origin's pipe; kill -9 of A gives B's viewers media:reset within 3 s, and the
 * host publishing again on B brings the video back.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { closeAllSockets, connect, devUser, liveRoom, nextEvent, ok, request, type TestUser } from './helpers/clients.js';
import { expectMediaFlowing, inboundStats, MediaPeer, waitUntil } from './helpers/media-peer.js';
import { spawnServerProcess, type ServerProcess } from './helpers/stack.js';
import { startTestRedis, type TestRedis } from './helpers/test-redis.js';
import { WhipClient, whipRequest } from './helpers/whip-client.js';
import type { MediaProducerInfo } from '../src/protocol/index.js';

const METRICS_TOKEN = 'metrics-token-for-the-cascade-test';
let redis: TestRedis;
let nodeA: ServerProcess;
let nodeB: ServerProcess;
const peers: MediaPeer[] = [];

const mediaEnv = (pipePorts: string) => ({
  MEDIA_ENABLED: 'true',
  MEDIA_WORKERS: '1',
  MEDIA_PORT_BASE: '0',
  MEDIA_RTC_MIN_PORT: '20000',
  MEDIA_RTC_MAX_PORT: '32000',
  MEDIA_PIPE_MIN_PORT: pipePorts.split('-')[0]!,
  MEDIA_PIPE_MAX_PORT: pipePorts.split('-')[1]!,
  METRICS_TOKEN,
  MEDIA_PIPE_STALL_MS: '1500',
});

beforeAll(async () => {
  redis = await startTestRedis();
  [nodeA, nodeB] = await Promise.all([spawnServerProcess(redis, mediaEnv('33000-33499')), spawnServerProcess(redis, mediaEnv('33500-33999'))]);
}, 60_000);

// Each test starts with no pipe left from the one before: its viewers and hosts leave.
afterEach(async () => {
  for (const p of peers.splice(0)) p.close();
  closeAllSockets();
  if (nodeB.child.exitCode !== null || nodeA.child.signalCode !== null) return;
  await waitUntil('no pipes left between the nodes', async () => (await gauge(nodeB.url, 'media_pipes_in')) + (await gauge(nodeA.url, 'media_pipes_out')) === 0);
});

afterAll(async () => {
  closeAllSockets();
  // A was killed by the last test (stop() waits for an exit that already happened).
  const alive = (n?: ServerProcess) => n && n.child.exitCode === null && n.child.signalCode === null;
  await Promise.all([alive(nodeA) && nodeA.stop(), alive(nodeB) && nodeB.stop()]);
  await redis?.stop();
});

async function peerOn(url: string, roomId: string, user: TestUser): Promise<MediaPeer> {
  const socket = await connect(url, user);
  await ok(socket, 'room:join', { roomId });
  const peer = await new MediaPeer(socket).load();
  peers.push(peer);
  return peer;
}

/** A gauge of a node's /metrics (real Prometheus text). */
async function gauge(url: string, name: string): Promise<number> {
  const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  const text = await res.text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  if (!m) throw new Error(`${name} not in /metrics of ${url}`);
  return Number(m[1]);
}

async function framesGrow(consumer: Parameters<typeof inboundStats>[0]): Promise<void> {
  const before = (await inboundStats(consumer)).framesDecoded;
  await waitUntil('more frames are decoded', async () => (await inboundStats(consumer)).framesDecoded > before + 5);
}

describe('origin → edge cascade', () => {
  it('viewers on the edge and on the origin decode the host video; one pipe per producer per edge, closed by the last viewer', async () => {
    const { host, roomId } = await liveRoom(nodeA.url, 'Orla');
    const hostPeer = await peerOn(nodeA.url, roomId, host);
    const [b1, b2, a1] = await Promise.all(['Bea', 'Bob', 'Abe'].map((n) => devUser(nodeA.url, n)));
    const viewerB1 = await peerOn(nodeB.url, roomId, b1!);
    const viewerB2 = await peerOn(nodeB.url, roomId, b2!);
    const viewerA = await peerOn(nodeA.url, roomId, a1!);

    const heard = nextEvent(viewerB1.socket, 'media:producer-added');
    const producer = await hostPeer.publishCamera();
    expect((await heard).id).toBe(producer.id);

    // A late joiner on B finds the producer in its join snapshot, though it lives on A.
    const late = await connect(nodeB.url, await devUser(nodeB.url, 'Lee'));
    const snap = await ok(late, 'room:join', { roomId });
    expect((snap.media as { producers: { id: string }[] }).producers.map((p) => p.id)).toEqual([producer.id]);

    const fromB1 = await viewerB1.consume(producer.id);
    const fromB2 = await viewerB2.consume(producer.id);
    const fromA = await viewerA.consume(producer.id);
    for (const c of [fromB1, fromB2, fromA]) {
      const stats = await expectMediaFlowing(c.consumer);
      expect(stats.keyFramesDecoded).toBeGreaterThan(0);
      await framesGrow(c.consumer);
    }
    // Two viewers on B share one pipe; A serves it.
    expect(await gauge(nodeB.url, 'media_pipes_in')).toBe(1);
    expect(await gauge(nodeA.url, 'media_pipes_out')).toBe(1);

    // One B viewer leaves: the pipe stays for the other, whose video goes on.
    viewerB1.socket.disconnect();
    await framesGrow(fromB2.consumer);
    expect(await gauge(nodeB.url, 'media_pipes_in')).toBe(1);
    // The last one leaves: both ends of the pipe close; A's own viewer keeps watching.
    viewerB2.socket.disconnect();
    await waitUntil('B closed its pipe', async () => (await gauge(nodeB.url, 'media_pipes_in')) === 0);
    await waitUntil('A closed its end', async () => (await gauge(nodeA.url, 'media_pipes_out')) === 0);
    await framesGrow(fromA.consumer);

    // A new viewer on B gets a new pipe.
    const again = await peerOn(nodeB.url, roomId, await devUser(nodeB.url, 'Ann'));
    const fromAgain = await again.consume(producer.id);
    await expectMediaFlowing(fromAgain.consumer);
    expect(await gauge(nodeB.url, 'media_pipes_in')).toBe(1);
  });

  it('pause, resume and close at the origin reach the edge', async () => {
    const { host, roomId } = await liveRoom(nodeA.url, 'Pia');
    const hostPeer = await peerOn(nodeA.url, roomId, host);
    const producer = await hostPeer.publishCamera();
    const viewer = await peerOn(nodeB.url, roomId, await devUser(nodeB.url, 'Val'));
    const { consumer } = await viewer.consume(producer.id);
    await expectMediaFlowing(consumer);

    const paused = nextEvent(viewer.socket, 'media:producer-updated', (p) => p.paused);
    await ok(hostPeer.socket, 'media:pause-producer', { producerId: producer.id });
    await paused;
    // The edge's piped producer is paused too: a consumer made on B now says so.
    const second = await peerOn(nodeB.url, roomId, await devUser(nodeB.url, 'Sam'));
    await waitUntil('the piped producer on B is paused', async () => {
      const res = await request(second.socket, 'media:consume', {
        producerId: producer.id,
        rtpCapabilities: second.device.recvRtpCapabilities as never,
        transportId: (second.recvTransport ?? (await second.createTransport('recv'))).id,
      });
      return res.ok && res.data.producerPaused;
    });

    // The host, connected to B, resumes it there: the request travels to A.
    const hostOnB = await peerOn(nodeB.url, roomId, host);
    await ok(hostOnB.socket, 'media:resume-producer', { producerId: producer.id });
    await framesGrow(consumer);

    // Closed at the origin: B's viewer is told its consumer closed, and B's pipe goes.
    const closed = nextEvent(viewer.socket, 'media:consumer-closed');
    const removed = nextEvent(viewer.socket, 'media:producer-removed');
    await ok(hostPeer.socket, 'media:close-producer', { producerId: producer.id });
    expect(await closed).toEqual({ consumerId: consumer.id, producerId: producer.id });
    expect(await removed).toEqual({ producerId: producer.id, kind: 'video' });
    await waitUntil('B closed its pipe', async () => (await gauge(nodeB.url, 'media_pipes_in')) === 0);
    // Consuming a producer that is gone: NOT_FOUND, nothing piped.
    const res = await request(viewer.socket, 'media:consume', {
      producerId: producer.id,
      rtpCapabilities: viewer.device.recvRtpCapabilities as never,
    });
    expect(res).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
  });

  it('WHIP: an encoder publishing on A is watched from B; DELETE on A ends it for B too', async () => {
    const { host, roomId } = await liveRoom(nodeA.url, 'Wes');
    const viewer = await peerOn(nodeB.url, roomId, await devUser(nodeB.url, 'Wyn'));
    const announced: MediaProducerInfo[] = [];
    viewer.socket.on('media:producer-added', (p) => void announced.push(p));

    const client = new WhipClient({ audio: false });
    try {
      const res = await client.publish(`${nodeA.url}/whip/rooms/${roomId}`, host.token);
      expect(res.status, res.text).toBe(201);
      await waitUntil('B heard of the WHIP video producer', async () => announced.some((p) => p.kind === 'video'));
      const video = announced.find((p) => p.kind === 'video')!;
      const { consumer } = await viewer.consume(video.id);
      const stats = await expectMediaFlowing(consumer);
      expect(stats.keyFramesDecoded).toBeGreaterThan(0);
      expect(await gauge(nodeB.url, 'media_pipes_in')).toBe(1);

      const removed = nextEvent(viewer.socket, 'media:producer-removed', (p) => p.producerId === video.id);
      const del = await whipRequest(`${nodeA.url}${res.headers.get('location')}`, 'DELETE', host.token);
      expect(del.status).toBe(200);
      await removed;
      await waitUntil('B closed its pipe', async () => (await gauge(nodeB.url, 'media_pipes_in')) === 0);
    } finally {
      client.close();
    }
  });

  it('an origin whose worker stalls: the edge reports the pipe stalled, and recovered when RTP flows again', async () => {
    const { host, roomId } = await liveRoom(nodeA.url, 'Sia');
    const hostPeer = await peerOn(nodeA.url, roomId, host);
    const producer = await hostPeer.publishCamera();
    const viewer = await peerOn(nodeB.url, roomId, await devUser(nodeB.url, 'Stu'));
    const { consumer } = await viewer.consume(producer.id);
    await expectMediaFlowing(consumer);
    const [worker] = (await ok(hostPeer.socket, 'media:stats', {})).workers;
    const stallsBefore = await gauge(nodeB.url, 'media_pipe_stalls_total');

    process.kill(worker!.pid, 'SIGSTOP'); // A's node process beats on: only its RTP stops
    try {
      await waitUntil('B reports the pipe stalled', async () => (await gauge(nodeB.url, 'media_pipes_stalled')) === 1, 10_000);
      expect(await gauge(nodeB.url, 'media_pipe_stalls_total')).toBe(stallsBefore + 1);
    } finally {
      process.kill(worker!.pid, 'SIGCONT');
    }
    await waitUntil('the pipe carries RTP again', async () => (await gauge(nodeB.url, 'media_pipes_stalled')) === 0, 10_000);
    await framesGrow(consumer);
  });

  it('kill -9 of an edge: the origin frees its pipe to it, and the edge viewer watches again from another node', async () => {
    const nodeC = await spawnServerProcess(redis, mediaEnv('34000-34499'));
    const { host, roomId } = await liveRoom(nodeA.url, 'Eda');
    const hostPeer = await peerOn(nodeA.url, roomId, host);
    const producer = await hostPeer.publishCamera();
    const user = await devUser(nodeC.url, 'Cam');
    const onC = await peerOn(nodeC.url, roomId, user);
    await expectMediaFlowing((await onC.consume(producer.id)).consumer);
    expect(await gauge(nodeA.url, 'media_pipes_out')).toBe(1);

    nodeC.child.kill('SIGKILL');
    await waitUntil('A freed the pipe to the dead edge', async () => (await gauge(nodeA.url, 'media_pipes_out')) === 0, 5000);
    // The viewer's client reconnects to a live node and consumes again.
    const again = await peerOn(nodeB.url, roomId, user);
    await expectMediaFlowing((await again.consume(producer.id)).consumer);
  });

  it('a registration whose node is not alive is not listed, even by a node that never saw that node die', async () => {
    const { host, roomId } = await liveRoom(nodeA.url, 'Lee');
    const client = redis.client();
    try {
      // One registration per node in the liveness set (A, B, and any killed earlier in this file
      // whose entry is not forgotten yet) and one from a node that never beat (as a dead origin's
      // entry looks to a node started after its death): B's is listed, the ghost's never.
      const known = await client.zrange('media:nodes', 0, -1);
      const entry = (node: string, id: string) =>
        JSON.stringify({ node, info: { id, kind: 'video', userId: host.id, source: 'ingest', paused: false, appData: {} } });
      const fields = known.flatMap((node, i) => [`p-known-${i}`, entry(node, `p-known-${i}`)]);
      await client.hset(`{room:${roomId}}:media:producers`, ...fields, 'p-ghost', entry('ghost-node:1:x', 'p-ghost'));
      const viewer = await connect(nodeA.url, await devUser(nodeA.url, 'Mo'));
      const listed = ((await ok(viewer, 'room:join', { roomId })).media as { producers: MediaProducerInfo[] }).producers.map((p) => p.id);
      // A's own entry is not read from the registry (A lists its producers from memory), B's is.
      expect(listed.filter((id) => id.startsWith('p-known-'))).toHaveLength(1);
      expect(listed).not.toContain('p-ghost');
    } finally {
      client.disconnect();
    }
  });

  it('kill -9 of the origin: edge viewers get media:reset within 3 s, and see video again when the host publishes on B', async () => {
    const { host, roomId } = await liveRoom(nodeA.url, 'Kai');
    const hostPeer = await peerOn(nodeA.url, roomId, host);
    const producer = await hostPeer.publishCamera();
    const viewer = await peerOn(nodeB.url, roomId, await devUser(nodeB.url, 'Ned'));
    const idle = await peerOn(nodeB.url, roomId, await devUser(nodeB.url, 'Ida')); // never consumed
    const { consumer } = await viewer.consume(producer.id);
    await expectMediaFlowing(consumer);

    const resets = [viewer, idle].map((p) => nextEvent(p.socket, 'media:reset', (r) => r.reason === 'origin-lost', 10_000));
    const removed = nextEvent(viewer.socket, 'media:producer-removed', (p) => p.producerId === producer.id, 10_000);
    const killedAt = Date.now();
    nodeA.child.kill('SIGKILL');
    for (const r of await Promise.all(resets)) expect(r).toEqual({ reason: 'origin-lost', transportIds: [] });
    const resetAfterMs = Date.now() - killedAt;
    expect(resetAfterMs).toBeLessThan(3000);
    await removed;
    await waitUntil('B closed the dead pipe', async () => (await gauge(nodeB.url, 'media_pipes_in')) === 0);

    // The snapshot no longer lists the dead node's producer.
    const late = await connect(nodeB.url, await devUser(nodeB.url, 'Liv'));
    expect(((await ok(late, 'room:join', { roomId })).media as { producers: unknown[] }).producers).toEqual([]);

    // The host comes back on B and publishes again: the viewer's transport still works.
    const hostOnB = await peerOn(nodeB.url, roomId, host);
    const added = nextEvent(viewer.socket, 'media:producer-added');
    const republished = await hostOnB.publishCamera();
    expect((await added).id).toBe(republished.id);
    const back = await viewer.consume(republished.id);
    await expectMediaFlowing(back.consumer);
    await framesGrow(back.consumer);
  });
});
