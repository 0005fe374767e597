/**
 * WHIP resource URLs on any node: behind a load balancer an encoder's PATCH (trickle, ICE
 * restart) and DELETE (OBS "Stop streaming") reach any node. Real server processes on one Redis,
 * each with its own mediasoup worker; a libwebrtc WHIP client publishes on node A and a WebRTC
 * viewer on A decodes it. PATCH and DELETE on node B are forwarded to A (the holder), whose
 * status, ETag and body B answers with; a DELETE with another user's token is refused by B
 * itself; once the holder is killed, a DELETE on B answers 404.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as sdpTransform from 'sdp-transform';
import type { MediaProducerInfo } from '../src/protocol/index.js';
import type { RedisClient } from '../src/core/redis-client.js';
import { roomKey } from '../src/core/keys.js';
import { closeAllSockets, connect, devUser, liveRoom, nextEvent, ok, type TestSocket, type TestUser } from './helpers/clients.js';
import { expectMediaFlowing, MediaPeer } from './helpers/media-peer.js';
import { spawnServerProcess, type ServerProcess } from './helpers/stack.js';
import { startTestRedis, type TestRedis } from './helpers/test-redis.js';
import { WhipClient, whipRequest } from './helpers/whip-client.js';

let redisServer: TestRedis;
let redis: RedisClient;
let nodeA: ServerProcess;
let nodeB: ServerProcess;
const extra: ServerProcess[] = [];
const peers: MediaPeer[] = [];
const clients: WhipClient[] = [];

const mediaEnv = (pipePorts: string) => ({
  MEDIA_ENABLED: 'true',
  MEDIA_WORKERS: '1',
  MEDIA_PORT_BASE: '0',
  MEDIA_RTC_MIN_PORT: '20000',
  MEDIA_RTC_MAX_PORT: '32000',
  MEDIA_PIPE_MIN_PORT: pipePorts.split('-')[0]!,
  MEDIA_PIPE_MAX_PORT: pipePorts.split('-')[1]!,
});

beforeAll(async () => {
  redisServer = await startTestRedis();
  redis = redisServer.client();
  [nodeA, nodeB] = await Promise.all([spawnServerProcess(redisServer, mediaEnv('34500-34999')), spawnServerProcess(redisServer, mediaEnv('35000-35499'))]);
}, 60_000);

afterEach(() => {
  for (const c of clients.splice(0)) c.close();
  for (const p of peers.splice(0)) p.close();
  closeAllSockets();
});

afterAll(async () => {
  closeAllSockets();
  const running = [nodeA, nodeB, ...extra].filter((n) => n && n.child.exitCode === null && n.child.signalCode === null);
  await Promise.all(running.map((n) => n.stop()));
  redis?.disconnect();
  await redisServer?.stop();
});

async function peerOn(url: string, roomId: string, user: TestUser): Promise<MediaPeer> {
  const socket = await connect(url, user);
  await ok(socket, 'room:join', { roomId });
  const peer = await new MediaPeer(socket).load();
  peers.push(peer);
  return peer;
}

function newClient(): WhipClient {
  const c = new WhipClient({ audio: false });
  clients.push(c);
  return c;
}

/** The first video producer announced to `socket` from now on. */
const videoAdded = (socket: TestSocket): Promise<MediaProducerInfo> => nextEvent(socket, 'media:producer-added', (p) => p.kind === 'video');

const ownerKey = (roomId: string, resourceId: string) => roomKey(roomId, `media:whip:${resourceId}`);

describe('WHIP resource URLs on any node', () => {
  it('PATCH and DELETE on node B act on the session held by node A; a second DELETE is 404; another user is refused by B', async () => {
    const { host, roomId } = await liveRoom(nodeA.url, 'Wanda');
    const viewer = await peerOn(nodeA.url, roomId, await devUser(nodeA.url, 'Vera'));
    const announced = videoAdded(viewer.socket);
    const client = newClient();
    const res = await client.publish(`${nodeA.url}/whip/rooms/${roomId}`, host.token);
    expect(res.status, res.text).toBe(201);
    await client.connected();
    const location = res.headers.get('location')!;
    const resourceId = location.split('/').pop()!;
    const onB = `${nodeB.url}${location}`;
    const etag = res.headers.get('etag')!;

    // The holder is recorded for the other nodes, with an expiry.
    const holder = await redis.get(ownerKey(roomId, resourceId));
    expect(holder).toBeTruthy();
    expect(await redis.pttl(ownerKey(roomId, resourceId))).toBeGreaterThan(0);

    const video = await announced;
    const { consumer } = await viewer.consume(video.id);
    await expectMediaFlowing(consumer);

    // PATCH on B: trickle (204), a stale If-Match (A's 412), an ICE restart (A's 200, fragment and ETag).
    const offer = sdpTransform.parse(client.pc.localDescription!.sdp);
    const [ufrag, pwd] = [String(offer.media[0]!.iceUfrag), String(offer.media[0]!.icePwd)];
    const frag = (u: string, p: string) => `a=ice-ufrag:${u}\r\na=ice-pwd:${p}\r\nm=video 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\na=candidate:1 1 udp 2113937151 192.0.2.1 5000 typ host\r\n`;
    const patch = (body: string, headers: Record<string, string>) => whipRequest(onB, 'PATCH', host.token, body, 'application/trickle-ice-sdpfrag', headers);
    expect((await patch(frag(ufrag, pwd), { 'if-match': etag })).status).toBe(204);
    const stale = await patch(frag(ufrag, pwd), { 'if-match': '"not-this-one"' });
    expect([stale.status, stale.json?.error?.code]).toEqual([412, 'PRECONDITION_FAILED']);
    const restart = await patch(frag('newufrag', 'newpassword0123456789xyz'), { 'if-match': '*' });
    expect(restart.status, restart.text).toBe(200);
    expect(restart.headers.get('content-type')).toBe('application/trickle-ice-sdpfrag');
    const newEtag = restart.headers.get('etag');
    expect(newEtag).toMatch(/^".+"$/);
    expect(newEtag).not.toBe(etag);
    const answer = sdpTransform.parse(restart.text);
    expect(answer.iceUfrag).toBeTruthy();
    expect(answer.media[0]!.candidates?.length).toBeGreaterThan(0);
    // The holder now knows the new ETag: the old one is stale there.
    expect((await patch(frag('newufrag', 'newpassword0123456789xyz'), { 'if-match': etag })).status).toBe(412);
    expect((await patch(frag('newufrag', 'newpassword0123456789xyz'), { 'if-match': newEtag! })).status).toBe(204);

    // Another user's DELETE on B: refused there, and the session is untouched.
    const other = await devUser(nodeB.url, 'Otto');
    const refused = await whipRequest(onB, 'DELETE', other.token);
    expect([refused.status, refused.json?.error?.code]).toEqual([403, 'FORBIDDEN']);
    expect((await whipRequest(onB, 'DELETE', null)).status).toBe(401);
    // Named under another room (whose host asks): not found, though A holds it.
    const own = await liveRoom(nodeB.url, 'Wanda2');
    expect((await whipRequest(`${nodeB.url}/whip/rooms/${own.roomId}/resources/${resourceId}`, 'DELETE', own.host.token)).json?.error?.code).toBe('NOT_FOUND');
    expect(consumer.closed).toBe(false);
    expect((await patch(frag('newufrag', 'newpassword0123456789xyz'), {})).status).toBe(204);

    // The host's DELETE on B ends the ingest on A: its producer closes, the viewer hears it.
    const removed = nextEvent(viewer.socket, 'media:producer-removed', (p) => p.producerId === video.id);
    const closed = nextEvent(viewer.socket, 'media:consumer-closed', (p) => p.producerId === video.id);
    const del = await whipRequest(onB, 'DELETE', host.token);
    expect(del.status, del.text).toBe(200);
    await removed;
    await closed;
    // Gone everywhere.
    const again = await whipRequest(onB, 'DELETE', host.token);
    expect([again.status, again.json?.error?.code]).toEqual([404, 'NOT_FOUND']);
    expect((await whipRequest(`${nodeA.url}${location}`, 'DELETE', host.token)).status).toBe(404);
    expect((await patch(frag(ufrag, pwd), {})).status).toBe(404);
    expect(await redis.exists(ownerKey(roomId, resourceId))).toBe(0);

    // The room is free for a new session, posted on B this time.
    const next = newClient();
    expect((await next.publish(`${nodeB.url}/whip/rooms/${roomId}`, host.token)).status).toBe(201);
    expect((await whipRequest(`${nodeA.url}${new URL(next.resourceUrl!).pathname}`, 'DELETE', host.token)).status).toBe(200);
  });

  it('the holder killed: a DELETE on B answers 404 (never an error), and B forgets its producers', async () => {
    const nodeC = await spawnServerProcess(redisServer, mediaEnv('35500-35999'));
    extra.push(nodeC);
    const { host, roomId } = await liveRoom(nodeC.url, 'Kira');
    const viewer = await peerOn(nodeB.url, roomId, await devUser(nodeB.url, 'Kurt'));
    const announced = videoAdded(viewer.socket);
    const client = newClient();
    const res = await client.publish(`${nodeC.url}/whip/rooms/${roomId}`, host.token);
    expect(res.status, res.text).toBe(201);
    const video = await announced;
    const onB = `${nodeB.url}${res.headers.get('location')}`;

    const removed = nextEvent(viewer.socket, 'media:producer-removed', (p) => p.producerId === video.id);
    nodeC.child.kill('SIGKILL');
    // Until B can tell C is dead a forwarded request times out (503, try again); then 404.
    const answers: number[] = [];
    const deadline = Date.now() + 15_000;
    for (;;) {
      const del = await whipRequest(onB, 'DELETE', host.token);
      answers.push(del.status);
      if (del.status === 404) {
        expect(del.json?.error?.code).toBe('NOT_FOUND');
        break;
      }
      expect([del.status, del.json?.error?.code]).toEqual([503, 'UNAVAILABLE']);
      if (Date.now() > deadline) throw new Error(`DELETE answers: ${answers.join(', ')}`);
    }
    expect((await whipRequest(onB, 'DELETE', host.token)).status).toBe(404);
    // The dead node's producers leave the room (cascade.ts, every survivor with connections in it).
    await removed;
    const late = await connect(nodeB.url, await devUser(nodeB.url, 'Lara'));
    expect(((await ok(late, 'room:join', { roomId })).media as { producers: unknown[] }).producers).toEqual([]);
  });
});
