/**
 * WHIP from a real browser: Chromium (fake camera and microphone) on a page of another origin,
 * listed in CORS_ORIGINS, publishes with fetch() as a browser WHIP client does — preflight,
 * POST, the Location header read through CORS, DELETE. VP8 is decoded by a WebRTC viewer (also
 * as rid simulcast, whose layers the viewer switches between); H264
 * (Chromium encodes it, libwebrtc in Node cannot decode it) is checked at the RTP level: H264
 * packets with key frames leave the SFU towards a consumer placed like a viewer.
 */
import { createServer, type Server } from 'node:http';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { MediaDomain } from '../../src/media/media-domain.js';
import type { MediaProducerInfo } from '../../src/protocol/index.js';
import { closeAllSockets, connect, devUser, liveRoom, nextEvent, ok } from '../helpers/clients.js';
import { expectMediaFlowing, inboundStats, MediaPeer, waitUntil } from '../helpers/media-peer.js';
import { isH264KeyFrame, parseRtp } from '../helpers/rtp.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { launchChromium } from './browser.js';

let stack: Stack;
let browser: Browser;
let pageServer: Server;
let pageOrigin: string;
const peers: MediaPeer[] = [];
const udp: UdpSocket[] = [];

beforeAll(async () => {
  // The page that publishes lives on another origin than the WHIP endpoint.
  pageServer = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>encoder</title>'));
  await new Promise<void>((done) => pageServer.listen(0, '127.0.0.1', done));
  pageOrigin = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}`;
  stack = await startStack({ config: { MEDIA_ENABLED: 'true', MEDIA_WORKERS: '1', CORS_ORIGINS: pageOrigin } });
  browser = await launchChromium();
});
afterEach(() => {
  for (const p of peers.splice(0)) p.close();
  for (const s of udp.splice(0)) s.close();
});
afterAll(async () => {
  closeAllSockets();
  await browser?.close();
  await stack?.stop();
  pageServer?.close();
});

const mediaDomain = () => stack.servers[0]!.domains.find((d) => d.name === 'media') as MediaDomain;

/** The few browser APIs the page scripts use (this project's tsconfig has no DOM types). */
interface PagePeer {
  connectionState: string;
  onconnectionstatechange: (() => void) | null;
  localDescription: { sdp: string } | null;
  addTransceiver(track: unknown, init: { direction: 'sendonly'; sendEncodings?: unknown[] }): { setCodecPreferences(codecs: unknown[]): void };
  createOffer(): Promise<{ type: string; sdp: string }>;
  setLocalDescription(d: { type: string; sdp: string }): Promise<void>;
  setRemoteDescription(d: { type: 'answer'; sdp: string }): Promise<void>;
  close(): void;
}
interface PageGlobals {
  navigator: { mediaDevices: { getUserMedia(c: unknown): Promise<{ getTracks(): { kind: string }[] }> } };
  RTCPeerConnection: new () => PagePeer;
  RTCRtpSender: { getCapabilities(kind: 'video'): { codecs: { mimeType: string; sdpFmtpLine?: string }[] } };
  whip?: { pc: PagePeer; url: string; token: string };
}

interface PublishResult {
  status: number;
  location: string | null;
  etag: string | null;
  body: string;
}

/** In the page: camera + microphone, sendonly, `codec` preferred, offer POSTed with fetch. */
async function publishFromPage(page: Page, endpoint: string, token: string, codec: 'VP8' | 'H264', simulcast = false): Promise<PublishResult> {
  return page.evaluate(
    async ({ endpoint, token, codec, simulcast }) => {
      const { navigator, RTCPeerConnection, RTCRtpSender } = globalThis as unknown as PageGlobals;
      const size = simulcast ? { width: 640, height: 480 } : { width: 320, height: 240 };
      const stream = await navigator.mediaDevices.getUserMedia({ video: size, audio: true });
      const pc = new RTCPeerConnection();
      for (const track of stream.getTracks()) {
        // Simulcast: two rid layers, listed from the lowest resolution up.
        const sendEncodings = simulcast && track.kind === 'video' ? [{ rid: 'q', scaleResolutionDownBy: 2 }, { rid: 'f' }] : undefined;
        const transceiver = pc.addTransceiver(track, { direction: 'sendonly', ...(sendEncodings ? { sendEncodings } : {}) });
        if (track.kind !== 'video') continue;
        const all = RTCRtpSender.getCapabilities('video').codecs;
        const wanted = all.filter((c) =>
          codec === 'H264'
            ? c.mimeType === 'video/H264' && /packetization-mode=1/.test(c.sdpFmtpLine ?? '') && /profile-level-id=42e01f/.test(c.sdpFmtpLine ?? '')
            : c.mimeType === 'video/VP8',
        );
        transceiver.setCodecPreferences([...wanted, ...all.filter((c) => c.mimeType === 'video/rtx')]);
      }
      await pc.setLocalDescription(await pc.createOffer());
      const res = await fetch(endpoint, {
        method: 'POST',
        headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${token}` },
        body: pc.localDescription!.sdp,
      });
      const body = await res.text();
      const location = res.headers.get('Location');
      const result = { status: res.status, location, etag: res.headers.get('ETag'), body };
      if (res.status !== 201 || !location) return result;
      await pc.setRemoteDescription({ type: 'answer', sdp: body });
      await new Promise<void>((done, fail) => {
        const timer = setTimeout(() => fail(new Error(`not connected: ${pc.connectionState}`)), 10_000);
        const check = () => {
          if (pc.connectionState === 'connected') {
            clearTimeout(timer);
            done();
          } else if (pc.connectionState === 'failed') fail(new Error('peer connection failed'));
        };
        pc.onconnectionstatechange = check;
        check();
      });
      (globalThis as unknown as PageGlobals).whip = { pc, url: new URL(location, endpoint).href, token };
      return result;
    },
    { endpoint, token, codec, simulcast },
  );
}

/** In the page: DELETE the resource, as a browser WHIP client stops. */
function deleteFromPage(page: Page): Promise<number> {
  return page.evaluate(async () => {
    const { pc, url, token } = (globalThis as unknown as PageGlobals).whip!;
    const res = await fetch(url, { method: 'DELETE', headers: { Authorization: `Bearer ${token}` } });
    pc.close();
    return res.status;
  });
}

async function encoderPage(): Promise<Page> {
  const context = await browser.newContext({ permissions: ['camera', 'microphone'] });
  const page = await context.newPage();
  await page.goto(pageOrigin);
  return page;
}

async function viewerIn(roomId: string): Promise<MediaPeer> {
  const socket = await connect(stack.url, await devUser(stack.url, 'Viewer'));
  await ok(socket, 'room:join', { roomId });
  const peer = await new MediaPeer(socket).load();
  peers.push(peer);
  return peer;
}

describe('WHIP from Chromium on another origin', () => {
  it('VP8: CORS exposes Location, a WebRTC viewer decodes the camera, DELETE from the page stops it', async () => {
    const { host, roomId } = await liveRoom(stack.url, 'Bria');
    const viewer = await viewerIn(roomId);
    const videoAdded = nextEvent(viewer.socket, 'media:producer-added', (p) => p.kind === 'video');
    const page = await encoderPage();
    const res = await publishFromPage(page, `${stack.url}/whip/rooms/${roomId}`, host.token, 'VP8');
    expect(res.status, res.body).toBe(201);
    expect(res.location).toMatch(new RegExp(`^/whip/rooms/${roomId}/resources/`));
    expect(res.etag).toMatch(/^".+"$/);

    const video: MediaProducerInfo = await videoAdded;
    const { consumer } = await viewer.consume(video.id);
    const stats = await expectMediaFlowing(consumer);
    expect(stats.keyFramesDecoded).toBeGreaterThan(0);
    expect(stats.framesDecoded).toBeGreaterThan(0);

    const closed = nextEvent(viewer.socket, 'media:consumer-closed', (p) => p.consumerId === consumer.id);
    expect(await deleteFromPage(page)).toBe(200);
    await closed;
    await page.context().close();
  });

  it('rid simulcast: one simulcast producer; the viewer switches between the 320 and 640 px layers', async () => {
    const { host, roomId } = await liveRoom(stack.url, 'Sima');
    const viewer = await viewerIn(roomId);
    const videoAdded = nextEvent(viewer.socket, 'media:producer-added', (p) => p.kind === 'video');
    const page = await encoderPage();
    const res = await publishFromPage(page, `${stack.url}/whip/rooms/${roomId}`, host.token, 'VP8', true);
    expect(res.status, res.body).toBe(201);
    expect(res.body).toContain('a=simulcast:recv q;f');
    const video = await videoAdded;
    const { consumer, params } = await viewer.consume(video.id);
    expect(params.type).toBe('simulcast');
    await expectMediaFlowing(consumer);
    await ok(viewer.socket, 'media:set-layers', { consumerId: consumer.id, spatialLayer: 1 });
    await waitUntil('the 640 px layer arrives', async () => (await inboundStats(consumer)).frameWidth === 640);
    await ok(viewer.socket, 'media:set-layers', { consumerId: consumer.id, spatialLayer: 0 });
    await waitUntil('the 320 px layer arrives', async () => (await inboundStats(consumer)).frameWidth === 320);
    expect(await deleteFromPage(page)).toBe(200);
    await page.context().close();
  });

  it('H264: Chromium\'s Constrained Baseline stream reaches a consumer with its key frames', async () => {
    const { host, roomId } = await liveRoom(stack.url, 'Hal');
    const page = await encoderPage();
    const res = await publishFromPage(page, `${stack.url}/whip/rooms/${roomId}`, host.token, 'H264');
    expect(res.status, res.body).toBe(201);
    expect(res.body).toMatch(/a=rtpmap:\d+ H264\/90000/);

    const media = mediaDomain().existingRoomMedia(roomId)!;
    const video = media.producerInfos().find((p) => p.kind === 'video')!;
    expect(media.producer(video.id).rtpParameters.codecs[0]!.mimeType).toBe('video/H264');
    const receiver = createSocket('udp4');
    udp.push(receiver);
    await new Promise<void>((done) => receiver.bind(0, '127.0.0.1', done));
    const consumer = await media.plainConsumer(video.id, { ip: '127.0.0.1', port: receiver.address().port });
    const pt = consumer.rtpParameters.codecs[0]!.payloadType;
    let packets = 0;
    await new Promise<void>((done, fail) => {
      const timer = setTimeout(() => fail(new Error(`no H264 key frame in ${packets} packets`)), 15_000);
      receiver.on('message', (buf) => {
        const rtp = parseRtp(buf);
        if (rtp?.payloadType !== pt) return;
        packets++;
        // The consumer's key-frame request reached Chromium's encoder through the SFU (PLI).
        if (isH264KeyFrame(rtp.payload)) {
          clearTimeout(timer);
          done();
        }
      });
    });
    expect(await deleteFromPage(page)).toBe(200);
    await page.context().close();
  });
});
