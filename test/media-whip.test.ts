/**
 * WHIP ingest (RFC 9725) end to end: a libwebrtc WHIP client (@roamhq/wrtc: a VP8 camera and an
 * Opus tone, sendonly) POSTs its offer with the host's token to a real server with a real
 * mediasoup worker; a WebRTC viewer (mediasoup-client) in the room decodes its frames. DELETE,
 * or the client hanging up, ends it and frees everything. Every refusal answers its documented
 * error and leaves nothing allocated in the workers.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as sdpTransform from 'sdp-transform';
import type { MediaProducerInfo } from '../src/protocol/index.js';
import { devUser, http, liveRoom, nextEvent, ok, type TestSocket } from './helpers/clients.js';
import { expectMediaFlowing, waitUntil } from './helpers/media-peer.js';
import { useMediaStack } from './helpers/media-stack.js';
import { MEDIA_CODECS } from '../src/media/room-routers.js';
import { WhipIngest } from '../src/media/whip-ingest.js';
import { ingestCapabilities, negotiate, parseOffer } from '../src/media/whip-sdp.js';
import { WhipClient, whipRequest } from './helpers/whip-client.js';

const harness = useMediaStack({ MEDIA_WORKERS: '1' });
const mediaDomain = harness.mediaDomain;
const clients: WhipClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});
const newClient = (opts?: { video?: boolean; audio?: boolean }) => {
  const c = new WhipClient(opts);
  clients.push(c);
  return c;
};
const endpoint = (roomId: string) => `${harness.stack.url}/whip/rooms/${roomId}`;

/** The next `count` producers announced to `socket`. */
function producersAdded(socket: TestSocket, count: number): Promise<MediaProducerInfo[]> {
  const seen: MediaProducerInfo[] = [];
  return new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`only ${seen.length} of ${count} producers announced`)), 10_000);
    socket.on('media:producer-added', (p) => {
      seen.push(p);
      if (seen.length === count) {
        clearTimeout(timer);
        done(seen);
      }
    });
  });
}

/** Every router in the worker processes, and the transports of `roomId`'s routers: what
 * "nothing allocated" compares before and after a refused request. */
async function workerState(roomId: string): Promise<{ routers: string[]; transports: string[] }> {
  const routers: string[] = [];
  for (const slot of mediaDomain().pool.all) routers.push(...(await slot.worker.dump()).routerIds);
  const transports: string[] = [];
  for (const entry of mediaDomain().existingRoomMedia(roomId)?.routerEntries() ?? []) transports.push(...(await entry.router.dump()).transportIds);
  return { routers: routers.sort(), transports: transports.sort() };
}

describe('WHIP ingest', () => {
  it('publishes VP8 + Opus that a WebRTC viewer decodes; DELETE ends it and frees the transport', async () => {
    const { host, roomId } = await liveRoom(harness.stack.url, 'Whitney');
    const viewer = await harness.peerIn(roomId, await devUser(harness.stack.url, 'Vic'));
    const announced = producersAdded(viewer.socket, 2);

    const client = newClient();
    const res = await client.publish(endpoint(roomId), host.token);
    expect(res.status, res.text).toBe(201);
    expect(res.headers.get('content-type')).toBe('application/sdp');
    expect(res.headers.get('location')).toMatch(new RegExp(`^/whip/rooms/${roomId}/resources/whip_[A-Za-z0-9_-]+$`));
    expect(res.headers.get('etag')).toMatch(/^".+"$/);
    expect(sdpTransform.parse(res.text).icelite).toBe('ice-lite');
    await client.connected();

    // The producers look like any other to viewers: announced, then consumed the usual way.
    const producers = await announced;
    expect(producers.map((p) => p.kind).sort()).toEqual(['audio', 'video']);
    for (const p of producers) expect(p).toMatchObject({ userId: host.id, source: 'ingest', appData: { source: 'whip' }, paused: false });
    const video = await viewer.consume(producers.find((p) => p.kind === 'video')!.id);
    const audio = await viewer.consume(producers.find((p) => p.kind === 'audio')!.id);
    const stats = await expectMediaFlowing(video.consumer);
    expect(stats.keyFramesDecoded).toBeGreaterThan(0);
    expect(stats.framesDecoded).toBeGreaterThan(0);
    expect(stats.frameWidth).toBe(320);
    await expectMediaFlowing(audio.consumer, { keyFrame: false });

    // The WHIP transport is on the room's origin router, next to the viewer's.
    const { router } = mediaDomain().existingRoomMedia(roomId)!.routerEntries()[0]!;
    const viewerTransport = viewer.recvTransport!.id;
    expect((await router.dump()).transportIds).toHaveLength(2);

    const removed = nextEvent(viewer.socket, 'media:producer-removed', (p) => p.kind === 'video');
    const closed = nextEvent(viewer.socket, 'media:consumer-closed', (p) => p.consumerId === video.consumer.id);
    const del = await whipRequest(client.resourceUrl!, 'DELETE', host.token);
    expect(del.status).toBe(200);
    await removed;
    await closed;
    expect((await router.dump()).transportIds).toEqual([viewerTransport]);
    // Gone: a second DELETE, and a PATCH, find nothing.
    expect((await whipRequest(client.resourceUrl!, 'DELETE', host.token)).json?.error?.code).toBe('NOT_FOUND');
    const patch = await whipRequest(client.resourceUrl!, 'PATCH', host.token, 'a=ice-ufrag:abcd\r\n', 'application/trickle-ice-sdpfrag');
    expect(patch.status).toBe(404);
  });

  it('one live publisher per room: 409 CONFLICT while a WHIP session runs; a new one works after DELETE', async () => {
    const { host, roomId } = await liveRoom(harness.stack.url, 'Conrad');
    const first = newClient();
    expect((await first.publish(endpoint(roomId), host.token)).status).toBe(201);
    const before = await workerState(roomId);
    expect(before.transports).toHaveLength(1);
    const second = await newClient().publish(endpoint(roomId), host.token);
    expect(second.status).toBe(409);
    expect(second.json?.error?.code).toBe('CONFLICT');
    expect(await workerState(roomId)).toEqual(before);

    expect((await whipRequest(first.resourceUrl!, 'DELETE', host.token)).status).toBe(200);
    const third = newClient();
    expect((await third.publish(endpoint(roomId), host.token)).status).toBe(201);
    await third.connected();
  });

  it('409 CONFLICT while the host publishes from a browser connection; fine once the camera stops', async () => {
    const { host, roomId } = await liveRoom(harness.stack.url, 'Cam');
    const hostPeer = await harness.peerIn(roomId, host);
    const camera = await hostPeer.publishCamera();
    const refused = await newClient({ audio: false }).publish(endpoint(roomId), host.token);
    expect([refused.status, refused.json?.error?.code]).toEqual([409, 'CONFLICT']);
    const removed = nextEvent(hostPeer.socket, 'media:producer-removed', (p) => p.producerId === camera.id);
    await ok(hostPeer.socket, 'media:close-producer', { producerId: camera.id });
    await removed;
    expect((await newClient({ audio: false }).publish(endpoint(roomId), host.token)).status).toBe(201);
  });

  it('ends the session when the client hangs up without DELETE', async () => {
    const { host, roomId } = await liveRoom(harness.stack.url, 'Hank');
    const viewer = await harness.peerIn(roomId, await devUser(harness.stack.url, 'Val'));
    const client = newClient({ audio: false });
    const announced = producersAdded(viewer.socket, 1);
    expect((await client.publish(endpoint(roomId), host.token)).status).toBe(201);
    await client.connected();
    const [producer] = await announced;
    const removed = nextEvent(viewer.socket, 'media:producer-removed', (p) => p.producerId === producer!.id, 15_000);
    client.close(); // DTLS close_notify: mediasoup sees the DTLS state "closed"
    await removed;
    await waitUntil('the resource is gone', async () => (await whipRequest(client.resourceUrl!, 'DELETE', host.token)).status === 404);
  });

  it('a session whose client never connects ends by itself (connect timeout), freeing its transport', async () => {
    // Through the same path as the route, with a short timeout: POSTed offers whose answer is
    // never used must not hold a room's publisher slot.
    const { host, roomId } = await liveRoom(harness.stack.url, 'Gwen');
    const plan = negotiate(parseOffer(await newClient({ audio: false }).offer()), ingestCapabilities(MEDIA_CODECS), 4);
    const media = mediaDomain().roomMedia(roomId);
    const ingest = await media.startExclusiveIngest(host.id, { source: 'whip' }, (origin, publish) => WhipIngest.create(roomId, host.id, origin, plan, publish, 300));
    const { router } = media.routerEntries()[0]!;
    expect((await router.dump()).transportIds).toEqual([ingest.transport.id]);
    expect(await new Promise((done) => ingest.onClose(done))).toBe('never-connected');
    expect((await router.dump()).transportIds).toEqual([]);
    expect(media.producerInfos()).toEqual([]);
    // The slot is free again: a real client can publish.
    const client = newClient({ audio: false });
    expect((await client.publish(endpoint(roomId), host.token)).status).toBe(201);
    await client.connected();
  });

  it('PATCH: trickled candidates 204, a stale If-Match 412, an ICE restart 200 with new credentials, wrong type 415', async () => {
    const { host, roomId } = await liveRoom(harness.stack.url, 'Pat');
    const client = newClient({ audio: false });
    const res = await client.publish(endpoint(roomId), host.token);
    expect(res.status).toBe(201);
    const etag = res.headers.get('etag')!;
    const offer = sdpTransform.parse(client.pc.localDescription!.sdp);
    const ufrag = String(offer.media[0]!.iceUfrag);
    const pwd = String(offer.media[0]!.icePwd);
    const url = client.resourceUrl!;
    const frag = (u: string, p: string) => `a=ice-ufrag:${u}\r\na=ice-pwd:${p}\r\nm=video 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\na=candidate:1 1 udp 2113937151 192.0.2.1 5000 typ host\r\n`;
    const patch = (body: string, headers: Record<string, string> = {}, type = 'application/trickle-ice-sdpfrag') => whipRequest(url, 'PATCH', host.token, body, type, headers);

    expect((await patch(frag(ufrag, pwd), { 'if-match': etag })).status).toBe(204);
    const stale = await patch(frag(ufrag, pwd), { 'if-match': '"not-this-one"' });
    expect([stale.status, stale.json?.error?.code]).toEqual([412, 'PRECONDITION_FAILED']);
    const wrongType = await patch(frag(ufrag, pwd), {}, 'application/sdp');
    expect([wrongType.status, wrongType.json?.error?.code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);

    const restart = await patch(frag('newufrag', 'newpassword0123456789xyz'), { 'if-match': '*' });
    expect(restart.status, restart.text).toBe(200);
    expect(restart.headers.get('content-type')).toBe('application/trickle-ice-sdpfrag');
    expect(restart.headers.get('etag')).not.toBe(etag);
    const answer = sdpTransform.parse(restart.text);
    const oldUfrag = sdpTransform.parse(res.text).media[0]!.iceUfrag;
    expect(answer.iceUfrag).toBeDefined();
    expect(answer.iceUfrag).not.toBe(oldUfrag);
    expect(answer.media[0]!.candidates!.length).toBeGreaterThan(0);
  });

  it('an H264 (Constrained Baseline) offer is answered with H264 and produces an H264 producer', async () => {
    // This libwebrtc build has no H264 encoder: the offer is its own, with the video codecs
    // replaced by H264 + RTX as OBS sends them; the answer is checked, not applied.
    const { host, roomId } = await liveRoom(harness.stack.url, 'Hazel');
    const h264 = (sdp: string) => {
      const s = sdpTransform.parse(sdp);
      const video = s.media.find((m) => m.type === 'video')!;
      video.payloads = '96 97';
      video.rtp = [
        { payload: 96, codec: 'H264', rate: 90000 },
        { payload: 97, codec: 'rtx', rate: 90000 },
      ];
      video.fmtp = [
        { payload: 96, config: 'profile-level-id=42e01f;packetization-mode=1;level-asymmetry-allowed=1' },
        { payload: 97, config: 'apt=96' },
      ];
      video.rtcpFb = [
        { payload: 96, type: 'nack' },
        { payload: 96, type: 'nack', subtype: 'pli' },
      ];
      return sdpTransform.write(s);
    };
    const client = newClient();
    const res = await whipRequest(endpoint(roomId), 'POST', host.token, h264(await client.offer()));
    expect(res.status, res.text).toBe(201);
    const video = sdpTransform.parse(res.text).media.find((m) => m.type === 'video')!;
    expect(video.rtp.map((r) => `${r.payload} ${r.codec}`)).toEqual(['96 H264', '97 rtx']);
    expect(video.rtcpFb).toEqual([
      { payload: 96, type: 'nack' },
      { payload: 96, type: 'nack', subtype: 'pli' },
    ]);
    const [producer] = mediaDomain().existingRoomMedia(roomId)!.producerInfos().filter((p) => p.kind === 'video');
    const params = mediaDomain().existingRoomMedia(roomId)!.producer(producer!.id).rtpParameters;
    expect(params.codecs.map((c) => c.mimeType)).toEqual(['video/H264', 'video/rtx']);
    const url = new URL(res.headers.get('location')!, endpoint(roomId)).toString();
    expect((await whipRequest(url, 'DELETE', host.token)).status).toBe(200);
    expect(mediaDomain().existingRoomMedia(roomId)).toBeUndefined();
  });

  it('counts WHIP sessions against MEDIA_INGESTS_PER_USER (2): a third room is refused with 409 LIMIT_EXCEEDED', async () => {
    const { host, roomId } = await liveRoom(harness.stack.url, 'Lima');
    const more = [];
    for (const title of ['Second', 'Third']) more.push((await http(harness.stack.url, 'POST', '/api/rooms', host.token, { title })).body.room.id as string);
    expect((await newClient({ audio: false }).publish(endpoint(roomId), host.token)).status).toBe(201);
    expect((await newClient({ audio: false }).publish(endpoint(more[0]!), host.token)).status).toBe(201);
    const third = await newClient({ audio: false }).publish(endpoint(more[1]!), host.token);
    expect([third.status, third.json?.error?.code]).toEqual([409, 'LIMIT_EXCEEDED']);
    expect(mediaDomain().existingRoomMedia(more[1]!)).toBeUndefined();
  });

  describe('refusals answer their documented error and leave nothing allocated', () => {
    it('token, role, room, content type, size, SDP and codecs', async () => {
      const { host, roomId } = await liveRoom(harness.stack.url, 'Rita');
      const other = await devUser(harness.stack.url, 'Otto');
      const offer = await newClient().offer();
      const noVideoCodec = offer.replace(/a=rtpmap:96 VP8\/90000\r\n/, 'a=rtpmap:96 H265/90000\r\n').replace(/(m=video 9 UDP\/TLS\/RTP\/SAVPF) [0-9 ]+/, '$1 96 97');
      const before = await workerState(roomId);
      expect(before.transports).toEqual([]);
      const cases: [string, Promise<Awaited<ReturnType<typeof whipRequest>>>, number, string][] = [
        ['no token', whipRequest(endpoint(roomId), 'POST', null, offer), 401, 'UNAUTHORIZED'],
        ['a forged token', whipRequest(endpoint(roomId), 'POST', host.token.slice(0, -4) + 'AAAA', offer), 401, 'UNAUTHORIZED'],
        ['not the host', whipRequest(endpoint(roomId), 'POST', other.token, offer), 403, 'FORBIDDEN'],
        ['an unknown room', whipRequest(endpoint('r_nosuchroom'), 'POST', host.token, offer), 404, 'NOT_FOUND'],
        ['JSON instead of SDP', whipRequest(endpoint(roomId), 'POST', host.token, JSON.stringify({ sdp: offer }), 'application/json'), 415, 'UNSUPPORTED_MEDIA_TYPE'],
        ['no body', whipRequest(endpoint(roomId), 'POST', host.token), 415, 'UNSUPPORTED_MEDIA_TYPE'],
        ['an offer over 32 KB', whipRequest(endpoint(roomId), 'POST', host.token, offer + 'a=x-pad:' + 'x'.repeat(40_000) + '\r\n'), 413, 'PAYLOAD_TOO_LARGE'],
        ['not SDP', whipRequest(endpoint(roomId), 'POST', host.token, 'hello, WHIP'), 400, 'BAD_REQUEST'],
        ['SDP without ICE credentials', whipRequest(endpoint(roomId), 'POST', host.token, offer.replace(/a=ice-(ufrag|pwd):.*\r\n/g, '')), 400, 'BAD_REQUEST'],
        ['no supported video codec', whipRequest(endpoint(roomId), 'POST', host.token, noVideoCodec), 422, 'OFFER_NOT_ACCEPTABLE'],
        ['DELETE of an unknown resource', whipRequest(`${endpoint(roomId)}/resources/whip_nosuch`, 'DELETE', host.token), 404, 'NOT_FOUND'],
      ];
      const ended = await liveRoom(harness.stack.url, 'Enid');
      await http(harness.stack.url, 'POST', `/api/rooms/${ended.roomId}/end`, ended.host.token);
      cases.push(['a room whose live ended', whipRequest(endpoint(ended.roomId), 'POST', ended.host.token, offer), 409, 'ROOM_ENDED']);
      for (const [what, pending, status, code] of cases) {
        const res = await pending;
        expect([res.status, res.json?.error?.code], what).toEqual([status, code]);
      }
      expect(await workerState(roomId)).toEqual(before);
      expect(mediaDomain().existingRoomMedia(roomId)).toBeUndefined();
      expect(mediaDomain().existingRoomMedia(ended.roomId)).toBeUndefined();
      // What the endpoint accepts, for clients that ask first.
      const options = await whipRequest(endpoint(roomId), 'OPTIONS', null);
      expect([options.status, options.headers.get('accept-post')]).toEqual([204, 'application/sdp']);
    });

    it('a DELETE or PATCH by someone other than the host is refused and the session keeps running', async () => {
      const { host, roomId } = await liveRoom(harness.stack.url, 'Dana');
      const other = await devUser(harness.stack.url, 'Olga');
      const client = newClient({ audio: false });
      expect((await client.publish(endpoint(roomId), host.token)).status).toBe(201);
      const url = client.resourceUrl!;
      expect((await whipRequest(url, 'DELETE', other.token)).status).toBe(403);
      expect((await whipRequest(url, 'DELETE', null)).status).toBe(401);
      expect((await whipRequest(url.replace(roomId, 'r_otherroom'), 'DELETE', host.token)).status).toBe(404);
      expect((await whipRequest(url, 'PATCH', other.token, 'a=ice-ufrag:abcd\r\n', 'application/trickle-ice-sdpfrag')).status).toBe(403);
      await client.connected();
      expect(mediaDomain().existingRoomMedia(roomId)!.producerInfos()).toHaveLength(1);
    });
  });
});
