/**
 * RTP ingest end to end: ffmpeg streams a test pattern and a tone to the addresses the ingest
 * route answered with; a viewer receives them over a real WebRTC transport in a libwebrtc peer.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import type { IngestInfo } from '../src/protocol/index.js';
import { connect, devUser, http, liveRoom, ok } from './helpers/clients.js';
import { expectMediaFlowing, killFfmpeg, startFfmpeg, waitUntil } from './helpers/media-peer.js';
import { isH264KeyFrame, parseRtp } from './helpers/rtp.js';
import { useMediaStack } from './helpers/media-stack.js';

const harness = useMediaStack({ MEDIA_WORKERS: '1' });
const mediaDomain = harness.mediaDomain;
const peerIn = harness.peerIn;
const sockets: UdpSocket[] = [];
afterEach(async () => {
  await killFfmpeg();
  for (const s of sockets.splice(0)) s.close();
});
const viewerIn = async (roomId: string) => peerIn(roomId, await devUser(harness.stack.url, 'Viewer'));

describe('RTP ingest (ffmpeg)', () => {
  it('VP8 + Opus from ffmpeg reach a WebRTC viewer, key frames included', async () => {
    const { host, roomId } = await liveRoom(harness.stack.url, 'Fern');
    const res = await http(harness.stack.url, 'POST', `/api/rooms/${roomId}/ingest`, host.token, { video: 'VP8', audio: true });
    expect(res.status).toBe(201);
    const info = res.body as IngestInfo;
    startFfmpeg(info);

    const viewer = await viewerIn(roomId);
    const video = await viewer.consume(info.video.producerId);
    const audio = await viewer.consume(info.audio!.producerId);
    const videoStats = await expectMediaFlowing(video.consumer);
    expect(videoStats.keyFramesDecoded).toBeGreaterThan(0);
    expect(videoStats.framesDecoded).toBeGreaterThan(0);
    await expectMediaFlowing(audio.consumer, { keyFrame: false });
  });

  it('H264 from ffmpeg reaches the SFU and is forwarded with its key frames', async () => {
    const { host, roomId } = await liveRoom(harness.stack.url, 'Hugo');
    const res = await http(harness.stack.url, 'POST', `/api/rooms/${roomId}/ingest`, host.token, { video: 'H264', audio: false });
    expect(res.status).toBe(201);
    const info = res.body as IngestInfo;
    expect(info.audio).toBeNull();
    startFfmpeg(info);

    const hostSocket = await connect(harness.stack.url, host);
    await ok(hostSocket, 'room:join', { roomId });
    await waitUntil('H264 bitrate arrives at the SFU', async () => (await ok(hostSocket, 'media:stats', {})).room.bitrateIn > 0);

    // libwebrtc in Node has no H264 decoder, so the receiving end here is a plain RTP consumer
    // placed like a viewer; it must see H264 packets and an IDR (key frame) among them.
    const receiver = createSocket('udp4');
    sockets.push(receiver);
    await new Promise<void>((done) => receiver.bind(0, '127.0.0.1', done));
    const consumer = await mediaDomain().existingRoomMedia(roomId)!.plainConsumer(info.video.producerId, { ip: '127.0.0.1', port: receiver.address().port });
    const codec = consumer.rtpParameters.codecs[0]!;
    expect(codec.mimeType).toBe('video/H264');
    let packets = 0;
    await new Promise<void>((done, fail) => {
      const timer = setTimeout(() => fail(new Error(`no H264 key frame in ${packets} packets`)), 15_000);
      receiver.on('message', (buf) => {
        const rtp = parseRtp(buf);
        if (rtp?.payloadType !== codec.payloadType) return;
        packets++;
        if (packets >= 10 && isH264KeyFrame(rtp.payload)) {
          clearTimeout(timer);
          done();
        }
      });
    });
  });
});
