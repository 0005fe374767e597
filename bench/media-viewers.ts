/**
 * One load-generator process of bench/media.ts's WebRTC modes. Real receivers: each viewer is a
 * libwebrtc peer (@roamhq/wrtc) driven by mediasoup-client over its own socket.io connection, so
 * the SFU does ICE, DTLS, SRTP and gets receiver reports, NACKs and PLIs as from a browser. Roles:
 *   host    publishes a synthetic camera (encoded by libwebrtc, which honours key-frame requests
 *           like a browser) on the first URL;
 *   viewers on `connect`, connects its share spread over the URLs, consumes the video and reports
 *           receiver-side counters (packets received/lost, frames decoded) on `sample`;
 *   joins   on `joins`, joins one viewer at a time mid-stream and measures room:join ack → first
 *           decoded frame (RTCVideoSink's first frame).
 * Every reply carries this process's CPU since the previous one, to tell a saturated generator.
 */
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { connect, devUser, ok, type TestSocket } from '../test/helpers/clients.js';
import { MediaPeer } from '../test/helpers/media-peer.js';
import type { types as msc } from 'mediasoup-client';

type Wrtc = typeof import('@roamhq/wrtc');
const wrtc = createRequire(import.meta.url)('@roamhq/wrtc') as Wrtc;

export interface ViewerGenConfig {
  index: number;
  role: 'host' | 'viewers' | 'joins';
  urls: string[];
  roomId: string;
  /** host: the host's token. */
  hostToken?: string;
  width: number;
  height: number;
  fps: number;
}

export type ToViewerGen = { type: 'connect'; count: number; offset: number } | { type: 'sample' } | { type: 'disconnect' } | { type: 'joins'; count: number };

export interface ReceiverCounters {
  packetsReceived: number;
  packetsLost: number;
  framesDecoded: number;
}

export type FromViewerGen =
  | { type: 'ready'; producerId?: string }
  | { type: 'connected'; count: number; failed: number; perNode: number[]; cpuPct: number }
  | ({ type: 'sample'; at: number; cpuPct: number; viewers: number } & ReceiverCounters)
  | { type: 'disconnected' }
  | { type: 'joins'; firstFrameMs: number[]; perNode: number[][]; failed: number; cpuPct: number }
  | { type: 'error'; message: string };

const cfg = JSON.parse(process.env.MEDIA_VIEWER_GEN ?? '{}') as ViewerGenConfig;
const send = (m: FromViewerGen) => process.send!(m);

let cpuMark = { cpu: process.cpuUsage(), at: performance.now() };
function cpuPct(): number {
  const now = performance.now();
  const d = process.cpuUsage(cpuMark.cpu);
  const pct = ((d.user + d.system) / 1000 / (now - cpuMark.at)) * 100;
  cpuMark = { cpu: process.cpuUsage(), at: now };
  return Math.round(pct);
}

/** A camera of the configured size: a moving gradient, as I420. */
function camera(): { track: unknown; stop(): void } {
  const { width, height, fps } = cfg;
  const source = new wrtc.nonstandard.RTCVideoSource();
  const track = source.createTrack();
  const data = new Uint8ClampedArray((width * height * 3) / 2);
  let frame = 0;
  const timer = setInterval(() => {
    frame++;
    for (let y = 0; y < height; y++) data.fill((y + frame * 3) & 0xff, y * width, y * width + width);
    for (let i = 0; i < 64; i++) data[((frame * 17 + i * 131) % height) * width + ((i * 37 + frame) % width)] = 255;
    data.fill(128, width * height);
    source.onFrame({ width, height, data: data as unknown as Uint8Array });
  }, 1000 / fps);
  return { track, stop: () => (clearInterval(timer), track.stop()) };
}

async function videoProducerId(socket: TestSocket): Promise<string> {
  const snap = await ok(socket, 'room:join', { roomId: cfg.roomId });
  const producers = (snap.media as { producers: { id: string; kind: string }[] }).producers;
  const video = producers.find((p) => p.kind === 'video');
  if (!video) throw new Error('no video producer in the room');
  return video.id;
}

interface Viewer {
  peer: MediaPeer;
  consumer: msc.Consumer;
  node: number;
}

const viewers: Viewer[] = [];

async function connectViewer(i: number): Promise<Viewer> {
  const node = i % cfg.urls.length;
  const url = cfg.urls[node]!;
  const socket = await connect(url, await devUser(url, `v${cfg.index}-${i}`));
  const producerId = await videoProducerId(socket);
  const peer = await new MediaPeer(socket).load();
  const { consumer } = await peer.consume(producerId);
  return { peer, consumer, node };
}

async function counters(v: Viewer): Promise<ReceiverCounters> {
  const report = await v.peer.recvTransport!.getStats();
  const c: ReceiverCounters = { packetsReceived: 0, packetsLost: 0, framesDecoded: 0 };
  // The consumer's own stream only: mediasoup's bandwidth probation packets come on SSRC 1234,
  // whose sequence numbers jump, and would count as lost.
  const ssrc = v.consumer.rtpParameters.encodings?.[0]?.ssrc;
  report.forEach((s: Record<string, unknown>) => {
    if (s.type !== 'inbound-rtp' || s.ssrc !== ssrc) return;
    c.packetsReceived += Number(s.packetsReceived ?? 0);
    c.packetsLost += Math.max(0, Number(s.packetsLost ?? 0));
    c.framesDecoded += Number(s.framesDecoded ?? 0);
  });
  return c;
}

/** room:join ack → first frame out of the decoder, for a fresh viewer on `url`. */
async function timeOneJoin(url: string, name: string): Promise<number> {
  const socket = await connect(url, await devUser(url, name));
  try {
    const snap = await ok(socket, 'room:join', { roomId: cfg.roomId });
    const t0 = performance.now();
    const producerId = (snap.media as { producers: { id: string; kind: string }[] }).producers.find((p) => p.kind === 'video')?.id;
    if (!producerId) throw new Error('no video producer');
    const peer = await new MediaPeer(socket).load();
    try {
      const transport = await peer.createTransport('recv');
      const params = await ok(socket, 'media:consume', { producerId, transportId: transport.id, rtpCapabilities: peer.device.recvRtpCapabilities as never });
      const consumer = await transport.consume({
        id: params.id,
        producerId: params.producerId,
        kind: params.kind,
        rtpParameters: params.rtpParameters as unknown as msc.RtpParameters,
      });
      const sink = new wrtc.nonstandard.RTCVideoSink(consumer.track as never);
      const firstFrame = new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no frame within 10 s')), 10_000);
        sink.onframe = () => {
          clearTimeout(timer);
          resolve(performance.now());
        };
      });
      await ok(socket, 'media:resume-consumer', { consumerId: consumer.id });
      const t1 = await firstFrame;
      sink.stop();
      return t1 - t0;
    } finally {
      peer.close();
    }
  } finally {
    socket.disconnect();
  }
}

async function onMessage(m: ToViewerGen): Promise<void> {
  if (m.type === 'connect') {
    cpuPct();
    let failed = 0;
    const batch = 4;
    for (let i = 0; i < m.count; i += batch) {
      const made = await Promise.allSettled(Array.from({ length: Math.min(batch, m.count - i) }, (_, k) => connectViewer(m.offset + i + k)));
      for (const r of made) {
        if (r.status === 'fulfilled') viewers.push(r.value);
        else {
          failed++;
          console.error(`generator ${cfg.index}: viewer failed: ${(r.reason as Error).message}`);
        }
      }
    }
    const perNode = cfg.urls.map((_, n) => viewers.filter((v) => v.node === n).length);
    send({ type: 'connected', count: viewers.length, failed, perNode, cpuPct: cpuPct() });
  } else if (m.type === 'sample') {
    const all = await Promise.all(viewers.map((v) => counters(v).catch(() => ({ packetsReceived: 0, packetsLost: 0, framesDecoded: 0 }))));
    const sum = all.reduce(
      (a, c) => ({ packetsReceived: a.packetsReceived + c.packetsReceived, packetsLost: a.packetsLost + c.packetsLost, framesDecoded: a.framesDecoded + c.framesDecoded }),
      { packetsReceived: 0, packetsLost: 0, framesDecoded: 0 },
    );
    send({ type: 'sample', at: performance.timeOrigin + performance.now(), cpuPct: cpuPct(), viewers: viewers.length, ...sum });
  } else if (m.type === 'disconnect') {
    for (const v of viewers.splice(0)) {
      v.peer.close();
      v.peer.socket.disconnect();
    }
    send({ type: 'disconnected' });
  } else if (m.type === 'joins') {
    cpuPct();
    const firstFrameMs: number[] = [];
    const perNode: number[][] = cfg.urls.map(() => []);
    let failed = 0;
    for (let i = 0; i < m.count; i++) {
      const node = i % cfg.urls.length;
      try {
        const ms = await timeOneJoin(cfg.urls[node]!, `j${cfg.index}-${i}-${Date.now()}`);
        firstFrameMs.push(ms);
        perNode[node]!.push(ms);
      } catch (err) {
        failed++;
        console.error(`join ${i} failed: ${(err as Error).message}`);
      }
    }
    send({ type: 'joins', firstFrameMs, perNode, failed, cpuPct: cpuPct() });
  }
}

async function main(): Promise<void> {
  if (cfg.role === 'host') {
    const url = cfg.urls[0]!;
    const socket = await connect(url, { id: 'host', name: 'host', token: cfg.hostToken! } as never);
    await ok(socket, 'room:join', { roomId: cfg.roomId });
    const peer = await new MediaPeer(socket).load();
    const transport = await peer.createTransport('send');
    const cam = camera();
    const producer = await transport.produce({ track: cam.track as never, appData: { source: 'camera' } });
    send({ type: 'ready', producerId: producer.id });
    return; // publishes until killed
  }
  process.on('message', (m: ToViewerGen) => {
    onMessage(m).catch((err: unknown) => send({ type: 'error', message: (err as Error).stack ?? String(err) }));
  });
  send({ type: 'ready' });
}

main().catch((err: unknown) => {
  send({ type: 'error', message: (err as Error).stack ?? String(err) });
  process.exit(1);
});
