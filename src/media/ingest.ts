/**
 * RTP ingest for hosts who stream from OBS, ffmpeg or GStreamer instead of a browser: one
 * PlainTransport per stream, each with a producer whose payload type and SSRC we choose and hand
 * to the sender. comedia: the transport learns the sender's address from its first packet (the
 * sender may sit behind NAT); no rtcp-mux, because that is what ffmpeg's RTP muxer does.
 */
import { randomInt } from 'node:crypto';
import type { types as ms } from 'mediasoup';
import type { IngestInfo, IngestStream, MediaKind } from '../protocol/index.js';

export type IngestVideoCodec = 'VP8' | 'H264';

export interface IngestListen {
  listenIp: string;
  announcedAddress?: string;
  rtcMinPort: number;
  rtcMaxPort: number;
}

interface StreamSpec {
  kind: MediaKind;
  codec: ms.RtpCodecParameters;
}

// Fixed payload types: any value works as long as the sender uses the one we announce.
const SPECS: Record<IngestVideoCodec | 'opus', StreamSpec> = {
  VP8: { kind: 'video', codec: { mimeType: 'video/VP8', payloadType: 101, clockRate: 90000 } },
  H264: {
    kind: 'video',
    codec: {
      mimeType: 'video/H264',
      payloadType: 102,
      clockRate: 90000,
      // Constrained Baseline 3.1: what every browser decodes; the sender must encode it
      // (ffmpeg: -profile:v baseline -level 3.1).
      parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
    },
  },
  opus: {
    kind: 'audio',
    codec: { mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2, parameters: { 'sprop-stereo': 1 } },
  },
};

export interface Ingest {
  readonly transports: ms.PlainTransport[];
  readonly producers: ms.Producer[];
  readonly info: IngestInfo;
  close(): void;
}

/** Create the transports and producers of one ingest on `router`. Nothing is left behind if a
 * step fails. */
export async function createIngest(
  roomId: string,
  router: ms.Router,
  listen: IngestListen,
  opts: { video: IngestVideoCodec; audio: boolean },
  onProducer: (producer: ms.Producer) => Promise<void>,
): Promise<Ingest> {
  const transports: ms.PlainTransport[] = [];
  const producers: ms.Producer[] = [];
  const close = () => {
    for (const t of transports) t.close();
  };
  try {
    const streams: IngestStream[] = [];
    for (const spec of opts.audio ? [SPECS[opts.video], SPECS.opus] : [SPECS[opts.video]]) {
      const transport = await router.createPlainTransport({
        listenInfo: {
          protocol: 'udp',
          ip: listen.listenIp,
          ...(listen.announcedAddress ? { announcedAddress: listen.announcedAddress } : {}),
          portRange: { min: listen.rtcMinPort, max: listen.rtcMaxPort },
        },
        rtcpMux: false,
        comedia: true,
        appData: { roomId, ingest: true },
      });
      transports.push(transport);
      // Below 2^31: ffmpeg's -ssrc option is a signed 32-bit integer.
      const ssrc = randomInt(1, 0x7fffffff);
      const producer = await transport.produce({
        kind: spec.kind,
        rtpParameters: { codecs: [spec.codec], encodings: [{ ssrc }] },
        appData: { source: 'ingest' },
      });
      producers.push(producer);
      await onProducer(producer);
      streams.push({
        producerId: producer.id,
        kind: spec.kind,
        mimeType: spec.codec.mimeType,
        clockRate: spec.codec.clockRate,
        ...(spec.codec.channels ? { channels: spec.codec.channels } : {}),
        payloadType: spec.codec.payloadType,
        ssrc,
        ip: transport.tuple.localAddress,
        port: transport.tuple.localPort,
        rtcpPort: transport.rtcpTuple?.localPort ?? transport.tuple.localPort,
      });
    }
    const [video, audio] = streams;
    return { transports, producers, info: { roomId, video: video!, audio: audio ?? null }, close };
  } catch (err) {
    close();
    throw err;
  }
}
