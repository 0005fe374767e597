/**
 * WHIP ingest (RFC 9725): the HTTP media types and limits, and the shape an SDP offer must have
 * once parsed (sdp-transform's object model). The schema is the boundary check: anything it lets
 * through has bounded sizes and the types the negotiation reads; whether the offer can be accepted
 * (codecs, BUNDLE, rtcp-mux) is decided by the server's negotiation (src/media/whip-sdp.ts).
 */
import { z } from 'zod';
import { idSchema } from './live-events.js';

export const WHIP_SDP_TYPE = 'application/sdp';
/** RFC 8840 SDP fragment, the body of a WHIP PATCH (trickle ICE, ICE restart). */
export const WHIP_SDPFRAG_TYPE = 'application/trickle-ice-sdpfrag';
/** A browser offer with simulcast is ~10 KB; an encoder's is ~2 KB. */
export const WHIP_MAX_SDP_BYTES = 32 * 1024;
/** Media sections an offer may carry (accepted or not). */
export const WHIP_MAX_SECTIONS = 8;

const payloadType = z.number().int().min(0).max(127);
/** sdp-transform turns every all-digit value into a number (`a=mid:0` gives 0), so text fields
 * accept both and come out as strings. */
const short = (max: number) => z.union([z.string(), z.number()]).transform(String).pipe(z.string().max(max));

/** a=ice-ufrag / a=ice-pwd lengths of RFC 8839 (ufrag 4-256, pwd 22-256 characters). */
const iceUfrag = short(256).pipe(z.string().min(4));
const icePwd = short(256).pipe(z.string().min(22));
const fingerprint = z.object({ type: short(16), hash: short(256) });

/** What the session and each media section may carry at either level (RFC 8843 BUNDLE puts
 * ICE and DTLS attributes in every section, encoders often at the session level only). */
const transportAttributes = {
  iceUfrag: iceUfrag.optional(),
  icePwd: icePwd.optional(),
  fingerprint: fingerprint.optional(),
  setup: z.enum(['actpass', 'active', 'passive', 'holdconn']).optional(),
};

export const sdpMediaSectionSchema = z.object({
  type: short(32),
  port: z.number().int().min(0).max(65535),
  protocol: short(64),
  payloads: short(512).optional(),
  mid: short(32).optional(),
  direction: z.enum(['sendrecv', 'recvonly', 'sendonly', 'inactive']).optional(),
  rtp: z
    .array(z.object({ payload: payloadType, codec: short(64), rate: z.number().int().positive().optional(), encoding: z.number().int().min(1).max(255).optional() }))
    .max(64)
    .default([]),
  fmtp: z.array(z.object({ payload: payloadType, config: short(1024) })).max(64).default([]),
  rtcpFb: z.array(z.object({ payload: z.union([payloadType, z.literal('*')]), type: short(32), subtype: short(32).optional() })).max(256).optional(),
  ext: z.array(z.object({ value: z.number().int().min(1).max(255), direction: short(16).optional(), uri: short(256) })).max(32).optional(),
  ssrcs: z.array(z.object({ id: z.number().int().min(0).max(0xffffffff), attribute: short(64), value: short(256).optional() })).max(64).optional(),
  ssrcGroups: z.array(z.object({ semantics: short(16), ssrcs: short(128) })).max(8).optional(),
  rids: z.array(z.object({ id: short(16).pipe(z.string().min(1)), direction: short(8), params: short(256).optional() })).max(8).optional(),
  simulcast: z.object({ dir1: z.enum(['send', 'recv']), list1: short(256) }).optional(),
  rtcpMux: z.literal('rtcp-mux').optional(),
  rtcpRsize: z.literal('rtcp-rsize').optional(),
  ...transportAttributes,
});

export const sdpOfferSchema = z.object({
  version: z.literal(0),
  groups: z.array(z.object({ type: short(16), mids: short(256) })).max(8).optional(),
  media: z.array(sdpMediaSectionSchema).min(1, 'the offer has no media section').max(WHIP_MAX_SECTIONS),
  ...transportAttributes,
});

export type SdpOffer = z.output<typeof sdpOfferSchema>;
export type SdpMediaSection = z.output<typeof sdpMediaSectionSchema>;

/** Body of a PATCH (RFC 8840 fragment): the client's ICE credentials and candidates. */
export const sdpFragmentSchema = z.object({
  iceUfrag: iceUfrag.optional(),
  icePwd: icePwd.optional(),
  media: z.array(z.object({ mid: short(32).optional(), iceUfrag: iceUfrag.optional(), icePwd: icePwd.optional() })).max(WHIP_MAX_SECTIONS).default([]),
});

/** Path of a WHIP resource: /whip/rooms/:roomId/resources/:resourceId. */
export const whipResourceParams = z.object({ roomId: idSchema, resourceId: idSchema });
