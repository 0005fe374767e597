/**
 * Media signaling against a real server with a real mediasoup worker: who may publish, what bad
 * payloads get, the ingest route's permissions, and the producer announcements. Media flow itself
 * is in media-webrtc / media-ingest tests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JoinSnapshot, MediaProducerInfo } from '../src/protocol/index.js';
import { closeAllSockets, connect, devUser, http, liveRoom, nextEvent, ok, request, requestRaw } from './helpers/clients.js';
import { startStack, type Stack } from './helpers/stack.js';

const METRICS_TOKEN = 'media-metrics-token-0123';
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ config: { MEDIA_ENABLED: 'true', MEDIA_WORKERS: '1', METRICS_TOKEN: METRICS_TOKEN } });
});
afterAll(async () => {
  closeAllSockets();
  await stack.stop();
});

/** RTP parameters as a browser would send them for one VP8 stream, without the browser. */
const vp8Parameters = (ssrc: number) => ({
  mid: '0',
  codecs: [{ mimeType: 'video/VP8', payloadType: 101, clockRate: 90000, rtcpFeedback: [{ type: 'nack' }] }],
  headerExtensions: [],
  encodings: [{ ssrc }],
  rtcp: { cname: 'test' },
});

const mediaOf = (snap: JoinSnapshot) => snap.media as { producers: MediaProducerInfo[] };

describe('media signaling', () => {
  it('viewers and guests watch but may not publish; a host of another room may not publish here', async () => {
    const { host, roomId } = await liveRoom(stack.url, 'Hana');
    const other = await liveRoom(stack.url, 'Omar');
    const viewer = await devUser(stack.url, 'Vic');

    const hostSocket = await connect(stack.url, host);
    await ok(hostSocket, 'room:join', { roomId });
    const v = await connect(stack.url, viewer);
    await ok(v, 'room:join', { roomId });
    const guest = await connect(stack.url, null);
    await ok(guest, 'room:join', { roomId });

    // Everyone who may watch gets the router's capabilities and a receive transport.
    for (const s of [v, guest, hostSocket]) {
      const caps = await ok(s, 'media:capabilities', {});
      expect(caps.routerRtpCapabilities.codecs?.map((c) => c.mimeType)).toEqual(expect.arrayContaining(['audio/opus', 'video/VP8', 'video/H264']));
      const recv = await ok(s, 'media:create-transport', { direction: 'recv' });
      expect(recv.iceCandidates.length).toBeGreaterThan(0);
      expect(recv.dtlsParameters.fingerprints.length).toBeGreaterThan(0);
    }

    // Only the host gets a send transport.
    expect(await request(v, 'media:create-transport', { direction: 'send' })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(await request(guest, 'media:create-transport', { direction: 'send' })).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
    const send = await ok(hostSocket, 'media:create-transport', { direction: 'send' });

    // A viewer producing, even naming the host's send transport, is refused.
    const viewerProduce = await request(v, 'media:produce', { transportId: send.id, kind: 'video', rtpParameters: vp8Parameters(1111) });
    expect(viewerProduce).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });

    // The host of another room, joined here as a viewer, with a send transport of their own room.
    const otherHome = await connect(stack.url, other.host);
    await ok(otherHome, 'room:join', { roomId: other.roomId });
    const otherSend = await ok(otherHome, 'media:create-transport', { direction: 'send' });
    const otherHere = await connect(stack.url, other.host);
    await ok(otherHere, 'room:join', { roomId });
    for (const transportId of [otherSend.id, send.id]) {
      const res = await request(otherHere, 'media:produce', { transportId, kind: 'video', rtpParameters: vp8Parameters(2222) });
      expect(res).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    }
    expect(await request(otherHere, 'media:create-transport', { direction: 'send' })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });

    // No producer came out of any of that.
    const late = await connect(stack.url, await devUser(stack.url, 'Late'));
    expect(mediaOf(await ok(late, 'room:join', { roomId })).producers).toEqual([]);

    // The host publishes; the room hears about it; late joiners see it in the snapshot.
    const announced = [nextEvent(v, 'media:producer-added'), nextEvent(guest, 'media:producer-added')];
    const produced = await ok(hostSocket, 'media:produce', { transportId: send.id, kind: 'video', rtpParameters: vp8Parameters(3333), appData: { source: 'camera' } });
    for (const p of await Promise.all(announced)) {
      expect(p).toEqual({ id: produced.id, kind: 'video', userId: host.id, source: 'webrtc', paused: false, appData: { source: 'camera' } });
    }
    const late2 = await connect(stack.url, await devUser(stack.url, 'Later'));
    expect(mediaOf(await ok(late2, 'room:join', { roomId })).producers.map((p) => p.id)).toEqual([produced.id]);

    // Pausing is the host's; viewers hear about it.
    expect(await request(v, 'media:pause-producer', { producerId: produced.id })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    const paused = nextEvent(v, 'media:producer-updated');
    await ok(hostSocket, 'media:pause-producer', { producerId: produced.id });
    expect(await paused).toEqual({ producerId: produced.id, paused: true });
    const resumed = nextEvent(v, 'media:producer-updated');
    await ok(hostSocket, 'media:resume-producer', { producerId: produced.id });
    expect(await resumed).toEqual({ producerId: produced.id, paused: false });

    // Dashboard numbers: host and moderators only.
    expect(await request(v, 'media:stats', {})).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    const stats = await ok(hostSocket, 'media:stats', {});
    expect(stats.room).toMatchObject({ roomId, producers: 1 });
    expect(stats.workers).toHaveLength(1);
    expect(stats.workers[0]!.pid).toBeGreaterThan(0);
    expect(stats.workers[0]!.memoryBytes).toBeGreaterThan(0);

    // Stopping is announced too.
    const removed = nextEvent(v, 'media:producer-removed');
    await ok(hostSocket, 'media:close-producer', { producerId: produced.id });
    expect(await removed).toEqual({ producerId: produced.id, kind: 'video' });
  });

  it('bad signaling payloads get error acks and leave the connection usable', async () => {
    const { host, roomId } = await liveRoom(stack.url, 'Bea');
    const h = await connect(stack.url, host);

    expect(await request(h, 'media:capabilities', {})).toMatchObject({ ok: false, error: { code: 'NOT_IN_ROOM' } });
    await ok(h, 'room:join', { roomId });

    const bad: [string, unknown, string][] = [
      ['media:create-transport', {}, 'BAD_REQUEST'],
      ['media:create-transport', { direction: 'sideways' }, 'BAD_REQUEST'],
      ['media:create-transport', 'send', 'BAD_REQUEST'],
      ['media:connect-transport', { transportId: 't', dtlsParameters: { fingerprints: [] } }, 'BAD_REQUEST'],
      ['media:connect-transport', { transportId: 't', dtlsParameters: { fingerprints: [{ algorithm: 'md5', value: 'AB' }] } }, 'BAD_REQUEST'],
      ['media:connect-transport', { transportId: 'nope', dtlsParameters: { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: 'AB:CD' }] } }, 'NOT_FOUND'],
      ['media:produce', { transportId: 'nope', kind: 'video', rtpParameters: { codecs: [] } }, 'BAD_REQUEST'],
      ['media:produce', { transportId: 'nope', kind: 'screen', rtpParameters: vp8Parameters(1) }, 'BAD_REQUEST'],
      ['media:produce', { transportId: 'nope', kind: 'video', rtpParameters: { ...vp8Parameters(1), encodings: new Array(9).fill({ ssrc: 1 }) } }, 'BAD_REQUEST'],
      ['media:produce', { transportId: 'nope', kind: 'video', rtpParameters: { codecs: new Array(400).fill(vp8Parameters(1).codecs[0]) } }, 'PAYLOAD_TOO_LARGE'],
      ['media:produce', { transportId: 'nope', kind: 'video', rtpParameters: vp8Parameters(1) }, 'NOT_FOUND'],
      ['media:consume', { producerId: 'nope', rtpCapabilities: {} }, 'NOT_FOUND'],
      ['media:consume', { producerId: 'p', rtpCapabilities: { codecs: 'all' } }, 'BAD_REQUEST'],
      ['media:resume-consumer', { consumerId: 'nope' }, 'NOT_FOUND'],
      ['media:set-layers', { consumerId: 'nope', spatialLayer: 9 }, 'BAD_REQUEST'],
      ['media:pause-producer', { producerId: 'nope' }, 'NOT_FOUND'],
      ['media:close-producer', {}, 'BAD_REQUEST'],
    ];
    for (const [event, payload, code] of bad) {
      const res = await requestRaw(h, event, payload);
      expect(res, `${event} ${JSON.stringify(payload).slice(0, 80)}`).toMatchObject({ ok: false, error: { code } });
    }

    // Well-formed but wrong for mediasoup: its own validation answers as MEDIA_ERROR.
    const send = await ok(h, 'media:create-transport', { direction: 'send' });
    const h265 = { ...vp8Parameters(5), codecs: [{ mimeType: 'video/H265', payloadType: 101, clockRate: 90000 }] };
    expect(await request(h, 'media:produce', { transportId: send.id, kind: 'video', rtpParameters: h265 })).toMatchObject({
      ok: false,
      error: { code: 'MEDIA_ERROR' },
    });
    const produced = await ok(h, 'media:produce', { transportId: send.id, kind: 'video', rtpParameters: vp8Parameters(6) });
    const recv = await ok(h, 'media:create-transport', { direction: 'recv' });
    const noCodecs = await request(h, 'media:consume', { producerId: produced.id, transportId: recv.id, rtpCapabilities: { codecs: [] } });
    expect(noCodecs).toMatchObject({ ok: false, error: { code: 'MEDIA_ERROR' } });
    // A send transport is not a place to consume.
    const { routerRtpCapabilities } = await ok(h, 'media:capabilities', {});
    const onSend = await request(h, 'media:consume', { producerId: produced.id, transportId: send.id, rtpCapabilities: routerRtpCapabilities as never });
    expect(onSend).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    // A plain (non-simulcast) consumer has no layers to choose.
    const consumer = await ok(h, 'media:consume', { producerId: produced.id, rtpCapabilities: routerRtpCapabilities as never });
    expect(consumer).toMatchObject({ producerId: produced.id, kind: 'video', paused: true, type: 'simple' });
    expect(await request(h, 'media:set-layers', { consumerId: consumer.id, spatialLayer: 1 })).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    await ok(h, 'media:resume-consumer', { consumerId: consumer.id });

    // Still a working connection.
    expect((await ok(h, 'media:capabilities', {})).routerRtpCapabilities.codecs?.length).toBeGreaterThan(0);
  });

  it('ingest is for the host only, validates its body, and announces its producers', async () => {
    const { host, roomId } = await liveRoom(stack.url, 'Ines');
    const viewer = await devUser(stack.url, 'Val');
    const v = await connect(stack.url, viewer);
    await ok(v, 'room:join', { roomId });

    const path = `/api/rooms/${roomId}/ingest`;
    expect((await http(stack.url, 'POST', path, null, {})).status).toBe(401);
    expect((await http(stack.url, 'POST', path, viewer.token, {})).status).toBe(403);
    for (const body of [{ video: 'AV1' }, { audio: 'yes' }, { video: 'VP8', extra: 1 }, '{not json']) {
      const res = await http(stack.url, 'POST', path, host.token, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('BAD_REQUEST');
    }
    expect((await http(stack.url, 'POST', '/api/rooms/no-such-room/ingest', host.token, {})).status).toBe(404);

    const added: MediaProducerInfo[] = [];
    v.on('media:producer-added', (p) => added.push(p));
    const twoAnnounced = nextEvent(v, 'media:producer-added', () => added.length === 2);
    const res = await http(stack.url, 'POST', path, host.token, { video: 'H264' });
    expect(res.status).toBe(201);
    const info = res.body;
    expect(info.video).toMatchObject({ kind: 'video', mimeType: 'video/H264', ip: '127.0.0.1', payloadType: 102 });
    expect(info.audio).toMatchObject({ kind: 'audio', mimeType: 'audio/opus', payloadType: 100, channels: 2 });
    for (const s of [info.video, info.audio]) {
      expect(s.port).toBeGreaterThan(0);
      expect(s.rtcpPort).toBeGreaterThan(0);
      expect(s.rtcpPort).not.toBe(s.port);
      expect(s.ssrc).toBeGreaterThan(0);
    }
    await twoAnnounced;
    expect(added.map((p) => [p.id, p.source, p.userId]).sort()).toEqual(
      [
        [info.video.producerId, 'ingest', host.id],
        [info.audio.producerId, 'ingest', host.id],
      ].sort(),
    );

    expect((await http(stack.url, 'DELETE', path, viewer.token)).status).toBe(403);
    const gone = nextEvent(v, 'media:producer-removed', (p) => p.producerId === info.video.producerId);
    expect((await http(stack.url, 'DELETE', path, host.token)).status).toBe(204);
    await gone;
    expect((await http(stack.url, 'DELETE', path, host.token)).status).toBe(404);
  });

  it('GET /metrics serves the media gauges, without room ids', async () => {
    const res = await fetch(`${stack.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/^media_worker_cpu_percent\{worker="0"\} [\d.]+$/m);
    expect(text).toMatch(/^media_worker_max_rss_bytes\{worker="0"\} [1-9]\d*$/m);
    expect(text).toMatch(/^media_rooms \d+$/m);
    expect(text).toMatch(/^media_consumers \d+$/m);
    expect(text).not.toMatch(/room="/);
  });
});
