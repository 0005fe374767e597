/**
 * A real WebRTC peer in Node for the media tests: @roamhq/wrtc (libwebrtc) driven by
 * mediasoup-client's Chrome111 handler, signaling over the test's socket.io-client connection.
 * Also: a synthetic camera (I420 frames pushed into an RTCVideoSource), ffmpeg as an RTP sender
 * for the ingest, and a condition poller for numbers that have no event (RTP statistics).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { Device, type types as msc } from 'mediasoup-client';
import type { IngestInfo, MediaConsumerParams } from '../../src/protocol/index.js';
import { ok, request, type TestSocket } from './clients.js';

type Wrtc = typeof import('@roamhq/wrtc');
const wrtc = createRequire(import.meta.url)('@roamhq/wrtc') as Wrtc;

// mediasoup-client's handler uses the browser globals; wrtc provides them.
Object.assign(globalThis, {
  RTCPeerConnection: wrtc.RTCPeerConnection,
  RTCSessionDescription: wrtc.RTCSessionDescription,
  RTCIceCandidate: wrtc.RTCIceCandidate,
  MediaStream: wrtc.MediaStream,
  MediaStreamTrack: wrtc.MediaStreamTrack,
});

/** Polls `check` until it returns a truthy value. For numbers that change without an event
 * (RTP counters); everything with an event uses nextEvent instead. */
export async function waitUntil<T>(what: string, check: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A moving test pattern at 15 fps, as a camera track. */
export function syntheticCamera(width = 320, height = 240) {
  const source = new wrtc.nonstandard.RTCVideoSource();
  const track = source.createTrack();
  const data = new Uint8ClampedArray((width * height * 3) / 2);
  let frame = 0;
  const timer = setInterval(() => {
    frame++;
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[y * width + x] = (x + y + frame * 4) & 0xff;
    data.fill(128, width * height); // neutral chroma
    source.onFrame({ width, height, data: data as unknown as Uint8Array });
  }, 1000 / 15);
  return {
    track,
    stop() {
      clearInterval(timer);
      track.stop();
    },
  };
}

export interface InboundStats {
  packetsReceived: number;
  bytesReceived: number;
  keyFramesDecoded: number;
  framesDecoded: number;
  /** Width of the last decoded frame (0 before the first). */
  frameWidth: number;
}

/** A mediasoup-client Device on one socket: a send and/or a receive transport. */
export class MediaPeer {
  readonly device = new Device({ handlerName: 'Chrome111' });
  sendTransport: msc.Transport | null = null;
  recvTransport: msc.Transport | null = null;
  private readonly cleanups: (() => void)[] = [];

  constructor(readonly socket: TestSocket) {}

  async load(): Promise<this> {
    const { routerRtpCapabilities } = await ok(this.socket, 'media:capabilities', {});
    if (!this.device.loaded) await this.device.load({ routerRtpCapabilities: routerRtpCapabilities as msc.RtpCapabilities });
    return this;
  }

  async createTransport(direction: 'send' | 'recv'): Promise<msc.Transport> {
    const params = await ok(this.socket, 'media:create-transport', { direction });
    const options = params as unknown as msc.TransportOptions;
    const transport = direction === 'send' ? this.device.createSendTransport(options) : this.device.createRecvTransport(options);
    transport.on('connect', ({ dtlsParameters }, done, fail) => {
      void request(this.socket, 'media:connect-transport', { transportId: transport.id, dtlsParameters }).then((res) =>
        res.ok ? done() : fail(new Error(`${res.error.code}: ${res.error.message}`)),
      );
    });
    if (direction === 'send') {
      transport.on('produce', ({ kind, rtpParameters, appData }, done, fail) => {
        void request(this.socket, 'media:produce', {
          transportId: transport.id,
          kind,
          rtpParameters: rtpParameters as never,
          appData: appData as Record<string, string>,
        }).then((res) => (res.ok ? done({ id: res.data.id }) : fail(new Error(`${res.error.code}: ${res.error.message}`))));
      });
      this.sendTransport = transport;
    } else {
      this.recvTransport = transport;
    }
    this.cleanups.push(() => transport.close());
    return transport;
  }

  /** Publish the synthetic camera; resolves with the producer (its id is the server's).
   * `simulcast`: two layers (half and full resolution of 640x480). */
  async publishCamera(opts: { simulcast?: boolean } = {}): Promise<msc.Producer> {
    const transport = this.sendTransport ?? (await this.createTransport('send'));
    const camera = opts.simulcast ? syntheticCamera(640, 480) : syntheticCamera();
    this.cleanups.push(() => camera.stop());
    const encodings = opts.simulcast
      ? [
          { rid: 'r0', scaleResolutionDownBy: 2, maxBitrate: 150_000 },
          { rid: 'r1', scaleResolutionDownBy: 1, maxBitrate: 500_000 },
        ]
      : undefined;
    return transport.produce({ track: camera.track as never, appData: { source: 'camera' }, ...(encodings ? { encodings } : {}) });
  }

  /** Ask the server for a paused consumer, wire it up, then resume it (the documented order). */
  async consume(producerId: string): Promise<{ consumer: msc.Consumer; params: MediaConsumerParams }> {
    const transport = this.recvTransport ?? (await this.createTransport('recv'));
    const params = await ok(this.socket, 'media:consume', {
      producerId,
      transportId: transport.id,
      rtpCapabilities: this.device.recvRtpCapabilities as never,
    });
    const consumer = await transport.consume({
      id: params.id,
      producerId: params.producerId,
      kind: params.kind,
      rtpParameters: params.rtpParameters as unknown as msc.RtpParameters,
      appData: { transport },
    });
    await ok(this.socket, 'media:resume-consumer', { consumerId: consumer.id });
    return { consumer, params };
  }

  /** After media:reset: drop the local side of transports the server no longer has. */
  forget(transportIds: string[] | 'all'): void {
    for (const t of [this.sendTransport, this.recvTransport]) {
      if (t && (transportIds === 'all' || transportIds.includes(t.id))) t.close();
    }
    if (this.sendTransport?.closed) this.sendTransport = null;
    if (this.recvTransport?.closed) this.recvTransport = null;
  }

  close(): void {
    for (const c of this.cleanups.splice(0).reverse()) c();
  }
}

/** The receiver's own view (libwebrtc's inbound-rtp statistics) of a consumer's stream. wrtc
 * has no per-receiver getStats, so the transport's report is filtered by the consumer's SSRC. */
export async function inboundStats(consumer: msc.Consumer): Promise<InboundStats> {
  const transport = (consumer.appData as { transport?: msc.Transport }).transport;
  if (!transport) throw new Error('consumer was not created by MediaPeer.consume');
  const ssrc = consumer.rtpParameters.encodings?.[0]?.ssrc;
  const report = await transport.getStats();
  const total: InboundStats = { packetsReceived: 0, bytesReceived: 0, keyFramesDecoded: 0, framesDecoded: 0, frameWidth: 0 };
  report.forEach((s: Record<string, unknown>) => {
    if (s.type !== 'inbound-rtp' || s.ssrc !== ssrc) return;
    total.packetsReceived += Number(s.packetsReceived ?? 0);
    total.bytesReceived += Number(s.bytesReceived ?? 0);
    total.keyFramesDecoded += Number(s.keyFramesDecoded ?? 0);
    total.framesDecoded += Number(s.framesDecoded ?? 0);
    total.frameWidth = Number(s.frameWidth ?? 0);
  });
  return total;
}

/** Waits until the receiver got media: packets and bytes growing, at least one key frame
 * decoded (video). Returns the last reading. */
export async function expectMediaFlowing(consumer: msc.Consumer, opts: { keyFrame: boolean } = { keyFrame: true }): Promise<InboundStats> {
  const first = await waitUntil('the first packets arrive', async () => {
    const s = await inboundStats(consumer);
    return s.packetsReceived > 0 ? s : null;
  });
  return waitUntil('packets and bytes keep growing' + (opts.keyFrame ? ' and a key frame is decoded' : ''), async () => {
    const s = await inboundStats(consumer);
    const growing = s.packetsReceived > first.packetsReceived && s.bytesReceived > first.bytesReceived;
    return growing && (!opts.keyFrame || s.keyFramesDecoded > 0) ? s : null;
  });
}

/** ffmpeg arguments that stream a test pattern (and a tone) into an ingest, as in the README. */
export function ffmpegIngestArgs(info: IngestInfo): string[] {
  const v = info.video;
  const videoCodec =
    v.mimeType === 'video/H264'
      ? ['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-profile:v', 'baseline', '-level', '3.1']
      : ['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '300k'];
  const args = ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=15'];
  if (info.audio) args.push('-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000');
  args.push('-map', '0:v:0', ...videoCodec, '-g', '15', '-pix_fmt', 'yuv420p');
  const rtp = (s: IngestInfo['video']) => `rtp://${s.ip}:${s.port}?rtcpport=${s.rtcpPort}&pkt_size=1200`;
  if (!info.audio) return [...args, '-f', 'rtp', '-ssrc', String(v.ssrc), '-payload_type', String(v.payloadType), rtp(v)];
  const a = info.audio;
  args.push('-map', '1:a:0', '-c:a', 'libopus', '-ac', '2', '-ar', '48000', '-b:a', '64k');
  const tee = [
    `[select=v:f=rtp:ssrc=${v.ssrc}:payload_type=${v.payloadType}]${rtp(v)}`,
    `[select=a:f=rtp:ssrc=${a.ssrc}:payload_type=${a.payloadType}]${rtp(a)}`,
  ].join('|');
  return [...args, '-f', 'tee', tee];
}

const children = new Set<ChildProcess>();

/** Start ffmpeg streaming into an ingest; killed by killFfmpeg() (call it in afterEach/afterAll). */
export function startFfmpeg(info: IngestInfo): ChildProcess {
  const child = spawn('ffmpeg', ffmpegIngestArgs(info), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
  child.once('exit', (code, signal) => {
    children.delete(child);
    if (code && signal === null) console.error(`ffmpeg exited with ${code}:\n${stderr}`);
  });
  children.add(child);
  return child;
}

export async function killFfmpeg(): Promise<void> {
  await Promise.all(
    [...children].map(
      (child) =>
        new Promise<void>((done) => {
          if (child.exitCode !== null || child.signalCode !== null) return done();
          child.once('exit', () => done());
          child.kill('SIGKILL');
        }),
    ),
  );
}
