/**
 * Media signaling events: the host's camera (or an RTP ingest) reaches every viewer through the
 * mediasoup SFU. index.ts merges this with the other domains' event files into the one protocol.
 *
 * RTP/DTLS structures are validated loosely but bounded: every field the server reads is typed,
 * every array and string is capped, unknown fields pass through (mediasoup validates the
 * semantics deeply and its complaints come back as MEDIA_ERROR).
 */
import { z } from 'zod';
import type { types as ms } from 'mediasoup';
import { idSchema } from './live-events.js';

const kind = z.enum(['audio', 'video']);
const mimeType = z.string().max(64).regex(/^(audio|video)\/[A-Za-z0-9._-]+$/, 'expected type/subtype');
const payloadType = z.number().int().min(0).max(127);
const ssrc = z.number().int().min(0).max(0xffffffff);

/** `{ key: scalar }` maps such as codec parameters; a handful of keys at most. */
const scalarMap = z
  .record(z.string().max(64), z.union([z.string().max(256), z.number(), z.boolean()]))
  .refine((m) => Object.keys(m).length <= 32, 'too many parameters');

const rtcpFeedback = z.array(z.looseObject({ type: z.string().max(32), parameter: z.string().max(32).optional() })).max(16);

const rtpCodecParameters = z.looseObject({
  mimeType,
  payloadType,
  clockRate: z.number().int().min(1).max(1_000_000),
  channels: z.number().int().min(1).max(8).optional(),
  parameters: scalarMap.optional(),
  rtcpFeedback: rtcpFeedback.optional(),
});

const rtpEncoding = z.looseObject({
  ssrc: ssrc.optional(),
  rid: z.string().max(32).optional(),
  codecPayloadType: payloadType.optional(),
  rtx: z.looseObject({ ssrc }).optional(),
  dtx: z.boolean().optional(),
  scalabilityMode: z.string().max(16).optional(),
  maxBitrate: z.number().min(0).max(1e9).optional(),
  scaleResolutionDownBy: z.number().min(1).max(64).optional(),
  active: z.boolean().optional(),
});

const rtpParameters = z.looseObject({
  mid: z.string().max(32).optional(),
  codecs: z.array(rtpCodecParameters).min(1).max(16),
  headerExtensions: z
    .array(z.looseObject({ uri: z.string().max(256), id: z.number().int().min(1).max(255), encrypt: z.boolean().optional() }))
    .max(24)
    .optional(),
  // Simulcast: one encoding per layer; three is what browsers send.
  encodings: z.array(rtpEncoding).max(8).optional(),
  rtcp: z.looseObject({ cname: z.string().max(256).optional(), reducedSize: z.boolean().optional() }).optional(),
});

const rtpCapabilities = z.looseObject({
  codecs: z
    .array(
      z.looseObject({
        kind,
        mimeType,
        preferredPayloadType: payloadType.optional(),
        clockRate: z.number().int().min(1).max(1_000_000),
        channels: z.number().int().min(1).max(8).optional(),
        parameters: scalarMap.optional(),
        rtcpFeedback: rtcpFeedback.optional(),
      }),
    )
    .max(48)
    .optional(),
  headerExtensions: z
    .array(
      z.looseObject({
        kind: kind.optional(),
        uri: z.string().max(256),
        preferredId: z.number().int().min(1).max(255),
        preferredEncrypt: z.boolean().optional(),
        direction: z.enum(['sendrecv', 'sendonly', 'recvonly', 'inactive']).optional(),
      }),
    )
    .max(32)
    .optional(),
});

const dtlsParameters = z.object({
  role: z.enum(['auto', 'client', 'server']).optional(),
  fingerprints: z
    .array(
      z.object({
        algorithm: z.enum(['sha-1', 'sha-224', 'sha-256', 'sha-384', 'sha-512']),
        value: z.string().max(200).regex(/^[0-9A-Fa-f:]+$/, 'hex fingerprint'),
      }),
    )
    .min(1)
    .max(8),
});

/** Small labels a producer carries to viewers, e.g. `{ source: 'camera' }`. */
const appData = z
  .record(z.string().max(32), z.union([z.string().max(128), z.number(), z.boolean()]))
  .refine((m) => Object.keys(m).length <= 8, 'at most 8 appData keys');

const empty = z.object({}).strict().optional().default({});
const producerRef = z.object({ producerId: idSchema }).strict();
const consumerRef = z.object({ consumerId: idSchema }).strict();

/** Client → server media events, each with the schema of its payload. */
export const mediaEventSchemas = {
  'media:capabilities': empty,
  'media:create-transport': z.object({ direction: z.enum(['send', 'recv']) }).strict(),
  'media:connect-transport': z.object({ transportId: idSchema, dtlsParameters }).strict(),
  'media:produce': z
    .object({ transportId: idSchema, kind, rtpParameters, appData: appData.optional().default({}) })
    .strict(),
  'media:consume': z
    .object({ producerId: idSchema, rtpCapabilities, transportId: idSchema.optional() })
    .strict(),
  'media:resume-consumer': consumerRef,
  'media:pause-producer': producerRef,
  'media:resume-producer': producerRef,
  'media:close-producer': producerRef,
  'media:set-layers': z
    .object({
      consumerId: idSchema,
      spatialLayer: z.number().int().min(0).max(3),
      temporalLayer: z.number().int().min(0).max(3).optional(),
    })
    .strict(),
  'media:stats': empty,
} satisfies Record<string, z.ZodType>;

export type MediaKind = z.infer<typeof kind>;

/** A producer viewers can consume: the host's WebRTC camera/mic or an RTP ingest. */
export interface MediaProducerInfo {
  id: string;
  kind: MediaKind;
  userId: string;
  source: 'webrtc' | 'ingest';
  paused: boolean;
  appData: Record<string, string | number | boolean>;
}

export interface MediaTransportParams {
  id: string;
  direction: 'send' | 'recv';
  iceParameters: ms.IceParameters;
  iceCandidates: ms.IceCandidate[];
  dtlsParameters: ms.DtlsParameters;
}

export interface MediaConsumerParams {
  id: string;
  producerId: string;
  kind: MediaKind;
  rtpParameters: ms.RtpParameters;
  type: ms.ConsumerType;
  producerPaused: boolean;
  /** Always true: the consumer starts paused so no key frame is lost before the client is ready;
   * send media:resume-consumer once the track is wired up. */
  paused: true;
}

export interface MediaWorkerStats {
  index: number;
  pid: number;
  cpuPercent: number;
  memoryBytes: number;
  routers: number;
  consumers: number;
}

export interface MediaRoomStats {
  roomId: string;
  producers: number;
  consumers: number;
  /** Bits per second arriving from the host (WebRTC send transports and ingest). */
  bitrateIn: number;
  /** Bits per second leaving towards viewers. */
  bitrateOut: number;
  routers: { workerIndex: number; workerPid: number; consumers: number }[];
}

export interface MediaStats {
  room: MediaRoomStats;
  workers: MediaWorkerStats[];
}

/** What each media event's ack carries on success. */
export interface MediaEventResults {
  'media:capabilities': { routerRtpCapabilities: ms.RtpCapabilities };
  'media:create-transport': MediaTransportParams;
  'media:connect-transport': { connected: true };
  'media:produce': { id: string };
  'media:consume': MediaConsumerParams;
  'media:resume-consumer': { consumerId: string };
  'media:pause-producer': { producerId: string; paused: true };
  'media:resume-producer': { producerId: string; paused: false };
  'media:close-producer': { producerId: string };
  'media:set-layers': { consumerId: string };
  'media:stats': MediaStats;
}

/** Server → client media events. */
export interface MediaServerEvents {
  /** The room gained a producer (host started a camera/mic or an ingest). */
  'media:producer-added': (p: MediaProducerInfo) => void;
  /** The producer is gone; its consumers are closed too. */
  'media:producer-removed': (p: { producerId: string; kind: MediaKind }) => void;
  'media:producer-updated': (p: { producerId: string; paused: boolean }) => void;
  /** To one peer: the server closed one of its consumers (producer gone, router gone). */
  'media:consumer-closed': (p: { consumerId: string; producerId: string }) => void;
  /** To one peer: these transports of yours are gone, with their producers and consumers (the
   * media worker under them died and was replaced: the listed ones; the connection dropped and
   * was recovered: 'all'). Create them again (media:create-transport), produce/consume again.
   * 'origin-lost' (to everyone in the room on a node): the server where the room's producers lived
   * died; their producer-removed came first, no transport of yours is gone (`[]`): consume again
   * when the host publishes again (media:producer-added). */
  'media:reset': (p: { reason: 'worker-died' | 'reconnected' | 'origin-lost'; transportIds: string[] | 'all' }) => void;
}

/** Body of POST /api/rooms/:roomId/ingest. */
export const ingestBody = z
  .object({
    video: z.enum(['VP8', 'H264']).default('VP8'),
    audio: z.boolean().default(true),
  })
  .strict();

export interface IngestStream {
  producerId: string;
  kind: MediaKind;
  mimeType: string;
  clockRate: number;
  channels?: number;
  payloadType: number;
  ssrc: number;
  /** Where the sender sends RTP and RTCP (no rtcp-mux). */
  ip: string;
  port: number;
  rtcpPort: number;
}

/** Answer of POST /api/rooms/:roomId/ingest: everything an RTP sender (ffmpeg, OBS, GStreamer) needs. */
export interface IngestInfo {
  roomId: string;
  video: IngestStream;
  audio: IngestStream | null;
}
