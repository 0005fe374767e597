/**
 * The offer side of WHIP, pure functions over sdp-transform's object model: parse and check an
 * offer, and negotiate it against what the routers accept, deciding the producers' RTP
 * parameters before anything is allocated. The answer is written by whip-answer.ts.
 */
import * as sdpTransform from 'sdp-transform';
import { getSupportedRtpCapabilities, type types as ms } from 'mediasoup';
import { sdpOfferSchema, type MediaKind, type SdpMediaSection, type SdpOffer } from '../protocol/index.js';
import { AppError } from '../core/errors.js';
import { formatZodError } from '../core/socket-kit.js';

/** What the router takes from a publisher: its media codecs (with the RTCP feedback mediasoup
 * supports for each) and the header extensions it can receive. */
export interface IngestCapabilities {
  codecs: (ms.RouterRtpCodecCapability & { rtcpFeedback: ms.RtcpFeedback[] })[];
  headerExtensions: ms.RtpHeaderExtension[];
}

/** The capabilities of a router created with `mediaCodecs`, known without creating one. */
export function ingestCapabilities(mediaCodecs: ms.RouterRtpCodecCapability[]): IngestCapabilities {
  const supported = getSupportedRtpCapabilities();
  const codecs = mediaCodecs.map((codec) => {
    const known = supported.codecs?.find((s) => s.mimeType.toLowerCase() === codec.mimeType.toLowerCase() && s.clockRate === codec.clockRate);
    return { ...codec, parameters: codec.parameters ?? {}, rtcpFeedback: known?.rtcpFeedback ?? [] };
  });
  // Extensions the router can receive from a producer ('sendrecv' or 'recvonly' on its side).
  const headerExtensions = (supported.headerExtensions ?? []).filter((h) => h.direction === 'sendrecv' || h.direction === 'recvonly');
  return { codecs, headerExtensions };
}

const MID_URI = 'urn:ietf:params:rtp-hdrext:sdes:mid';
const RID_URI = 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id';
const RRID_URI = 'urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id';

/** A media section the answer accepts: one producer. */
export interface AcceptedSection {
  mid: string;
  kind: MediaKind;
  protocol: string;
  rtpParameters: ms.RtpParameters;
  /** rid simulcast: the rids in the offer's order (the answer lists them back), else null. */
  rids: string[] | null;
  rtcpReducedSize: boolean;
}

/** A section the answer rejects (port 0), e.g. a data channel: the client must not send there. */
export interface RejectedSection {
  mid: string | undefined;
  type: string;
  protocol: string;
  payloads: string;
  reason: string;
}

export interface WhipPlan {
  accepted: AcceptedSection[];
  /** Every section in the offer's order; the answer has one per offered section (RFC 3264). */
  sections: (AcceptedSection | RejectedSection)[];
  /** The client's DTLS parameters, for transport.connect(). */
  remoteDtls: ms.DtlsParameters;
  /** Our a=setup: the opposite of the client's role. */
  localSetup: 'active' | 'passive';
  /** The client's ICE credentials: a PATCH with others is an ICE restart. */
  remoteIce: { ufrag: string; pwd: string };
}

export const isAccepted = (s: AcceptedSection | RejectedSection): s is AcceptedSection => 'rtpParameters' in s;

const badSdp = (message: string) => new AppError('BAD_REQUEST', `invalid SDP offer: ${message}`);
const notAcceptable = (message: string) => new AppError('OFFER_NOT_ACCEPTABLE', message);

/** Parse and shape-check an offer (400 BAD_REQUEST when it is not an SDP offer). */
export function parseOffer(text: string): SdpOffer {
  if (!/^v=0\r?\n/.test(text)) throw badSdp('it must start with v=0');
  let raw: unknown;
  try {
    raw = sdpTransform.parse(text);
  } catch {
    throw badSdp('unparseable');
  }
  const parsed = sdpOfferSchema.safeParse(raw);
  if (!parsed.success) throw badSdp(formatZodError(parsed.error));
  return parsed.data;
}

const DTLS_ALGORITHMS = new Set<string>(['sha-1', 'sha-224', 'sha-256', 'sha-384', 'sha-512']);

/**
 * Decide what to accept: each audio/video section the client sends becomes one producer with
 * the first codec (in the client's order of preference) the router takes. A media section with
 * no acceptable codec fails the whole offer (422), rather than a silent stream without video.
 * Throws BAD_REQUEST for offers JSEP forbids, OFFER_NOT_ACCEPTABLE for valid ones we cannot take.
 */
export function negotiate(offer: SdpOffer, caps: IngestCapabilities, maxProducers: number): WhipPlan {
  const sections = offer.media.map((m) => negotiateSection(m, caps));
  const accepted = sections.filter(isAccepted);
  if (accepted.length === 0) throw notAcceptable('the offer sends no audio or video (sendonly media sections)');
  if (accepted.length > maxProducers) throw notAcceptable(`at most ${maxProducers} audio/video sections`);
  const mids = accepted.map((s) => s.mid);
  if (new Set(mids).size !== mids.length) throw badSdp('two media sections share a mid');
  // One transport demultiplexes by SSRC: a number used twice would make mediasoup refuse the
  // second producer after the first was created.
  const ssrcs = accepted.flatMap((s) => (s.rtpParameters.encodings ?? []).flatMap((e) => [e.ssrc, e.rtx?.ssrc])).filter((n) => n !== undefined);
  if (new Set(ssrcs).size !== ssrcs.length) throw badSdp('an SSRC is used twice');
  if (accepted.length > 1) {
    // One transport carries everything: the client must bundle (RFC 9725 requires BUNDLE support).
    const bundle = offer.groups?.find((g) => g.type === 'BUNDLE')?.mids.split(/\s+/) ?? [];
    if (!mids.every((mid) => bundle.includes(mid))) throw notAcceptable('the offer must BUNDLE all its media sections (a=group:BUNDLE)');
  }
  // In a BUNDLE group the ICE/DTLS attributes are the same in every section; the first accepted
  // section's (or the session's) are the ones that count.
  const first = offer.media.find((m) => m.mid === accepted[0]!.mid)!;
  const ufrag = first.iceUfrag ?? offer.iceUfrag;
  const pwd = first.icePwd ?? offer.icePwd;
  if (!ufrag || !pwd) throw badSdp('a=ice-ufrag and a=ice-pwd are required');
  const fingerprint = first.fingerprint ?? offer.fingerprint;
  if (!fingerprint) throw badSdp('a=fingerprint is required');
  const algorithm = fingerprint.type.toLowerCase();
  if (!DTLS_ALGORITHMS.has(algorithm)) throw notAcceptable(`unsupported DTLS fingerprint algorithm ${fingerprint.type}`);
  const setup = first.setup ?? offer.setup ?? 'actpass';
  if (setup === 'holdconn') throw notAcceptable('a=setup:holdconn: no DTLS connection to set up');
  // actpass or active: the client starts DTLS (it is the DTLS client), we answer passive.
  const remoteRole: ms.DtlsRole = setup === 'passive' ? 'server' : 'client';
  return {
    accepted,
    sections,
    remoteDtls: { role: remoteRole, fingerprints: [{ algorithm: algorithm as ms.FingerprintAlgorithm, value: fingerprint.hash.toUpperCase() }] },
    localSetup: remoteRole === 'client' ? 'passive' : 'active',
    remoteIce: { ufrag, pwd },
  };
}

function negotiateSection(m: SdpMediaSection, caps: IngestCapabilities): AcceptedSection | RejectedSection {
  const reject = (reason: string): RejectedSection => ({ mid: m.mid, type: m.type, protocol: m.protocol, payloads: m.payloads ?? '0', reason });
  if (m.port === 0) return reject('rejected by the offer');
  if (m.type !== 'audio' && m.type !== 'video') return reject(`${m.type} sections are not ingested`);
  const direction = m.direction ?? 'sendrecv';
  if (direction !== 'sendonly' && direction !== 'sendrecv') return reject(`a ${direction} section sends nothing`);
  const kind: MediaKind = m.type;
  if (m.mid === undefined || m.mid === '') throw badSdp(`the ${kind} section has no a=mid`);
  if (!/^(UDP|TCP)\/(TLS|DTLS)\/RTP\/SAVPF$/.test(m.protocol)) throw notAcceptable(`the ${kind} section's protocol ${m.protocol} is not WebRTC's (UDP/TLS/RTP/SAVPF)`);
  if (!m.rtcpMux) throw notAcceptable(`the ${kind} section must use a=rtcp-mux`);

  const codec = chooseCodec(m, kind, caps);
  const headerExtensions: ms.RtpHeaderExtensionParameters[] = (m.ext ?? [])
    .filter((e) => e.direction !== 'recvonly' && e.direction !== 'inactive')
    .filter((e) => caps.headerExtensions.some((h) => h.kind === kind && h.uri === e.uri))
    .map((e) => ({ uri: e.uri as ms.RtpHeaderExtensionUri, id: e.value, encrypt: false, parameters: {} }));
  const hasExt = (uri: string) => headerExtensions.some((e) => e.uri === uri);

  const { encodings, rids } = encodingsOf(m, kind, hasExt(RID_URI));
  if (!rids && encodings[0]!.ssrc === undefined && !hasExt(MID_URI)) {
    throw notAcceptable(`the ${kind} section has neither a=ssrc lines nor the sdes:mid header extension: its packets cannot be told apart`);
  }
  // RTX needs its stream identified: by an FID ssrc, or by repaired-rid under simulcast.
  const rtxUsable = rids ? hasExt(RRID_URI) : encodings[0]!.rtx !== undefined;
  const codecs = codec.rtx && rtxUsable ? [codec.media, codec.rtx] : [codec.media];
  if (!rtxUsable) for (const e of encodings) delete e.rtx;

  const cname = m.ssrcs?.find((s) => s.attribute === 'cname')?.value;
  return {
    mid: m.mid,
    kind,
    protocol: m.protocol,
    rtpParameters: { mid: m.mid, codecs, headerExtensions, encodings, rtcp: { ...(cname ? { cname } : {}), reducedSize: m.rtcpRsize !== undefined } },
    rids: rids?.map((r) => r.rid!) ?? null,
    rtcpReducedSize: m.rtcpRsize !== undefined,
  };
}

const fmtpOf = (m: SdpMediaSection, pt: number): Record<string, string | number> => {
  const config = m.fmtp.find((f) => f.payload === pt)?.config;
  if (!config) return {};
  const out: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(sdpTransform.parseParams(config))) if (v !== undefined && k) out[k] = v;
  return out;
};

/**
 * RFC 6184 profile-level-id: is it Constrained Baseline, the H264 profile the routers offer (every
 * browser decodes it)? profile_idc 0x42 with constraint_set1, 0x4D with constraint_set0 or 0x58
 * with both, and the last four constraint bits clear. Absent, the default is Baseline (not
 * constrained).
 */
export function isConstrainedBaseline(profileLevelId: string | number | undefined): boolean {
  const id = String(profileLevelId ?? '42000a');
  if (!/^[0-9a-f]{6}$/i.test(id)) return false;
  const idc = parseInt(id.slice(0, 2), 16);
  const iop = parseInt(id.slice(2, 4), 16);
  if ((iop & 0x0f) !== 0) return false;
  return (idc === 0x42 && (iop & 0x40) !== 0) || (idc === 0x4d && (iop & 0x80) !== 0) || (idc === 0x58 && (iop & 0xc0) === 0xc0);
}

function codecFits(offered: ms.RtpCodecParameters, cap: IngestCapabilities['codecs'][number]): boolean {
  if (offered.mimeType.toLowerCase() !== cap.mimeType.toLowerCase() || offered.clockRate !== cap.clockRate) return false;
  if (cap.kind === 'audio' && (offered.channels ?? 1) !== (cap.channels ?? 1)) return false;
  if (cap.mimeType.toLowerCase() === 'video/h264') {
    const mode = Number(offered.parameters?.['packetization-mode'] ?? 0);
    if (mode !== Number(cap.parameters?.['packetization-mode'] ?? 0)) return false;
    return isConstrainedBaseline(offered.parameters?.['profile-level-id'] as string | undefined);
  }
  return true;
}

const NOT_MEDIA = new Set(['rtx', 'red', 'ulpfec', 'flexfec-03', 'cn', 'telephone-event']);

function chooseCodec(m: SdpMediaSection, kind: MediaKind, caps: IngestCapabilities): { media: ms.RtpCodecParameters; rtx: ms.RtpCodecParameters | null } {
  const payloads = (m.payloads ?? '').split(/\s+/).filter(Boolean).map(Number);
  const offered: ms.RtpCodecParameters[] = [];
  for (const pt of payloads) {
    const rtp = m.rtp.find((r) => r.payload === pt);
    if (!rtp || NOT_MEDIA.has(rtp.codec.toLowerCase())) continue;
    offered.push({
      mimeType: `${kind}/${rtp.codec}`,
      payloadType: pt,
      clockRate: rtp.rate ?? 90000,
      ...(kind === 'audio' ? { channels: rtp.encoding ?? 1 } : {}),
      parameters: fmtpOf(m, pt),
      rtcpFeedback: [],
    });
  }
  for (const codec of offered) {
    const cap = caps.codecs.find((c) => c.kind === kind && codecFits(codec, c));
    if (!cap) continue;
    // The feedback both sides know: NACK, PLI and FIR matter most (a viewer's key-frame request
    // reaches the encoder only with PLI or FIR).
    const fb = (m.rtcpFb ?? []).filter((f) => f.payload === codec.payloadType || f.payload === '*');
    codec.rtcpFeedback = (cap.rtcpFeedback ?? []).filter((c) => fb.some((f) => f.type === c.type && (f.subtype ?? '') === (c.parameter ?? '')));
    const rtxRtp = kind === 'video' ? m.rtp.find((r) => r.codec.toLowerCase() === 'rtx' && Number(fmtpOf(m, r.payload).apt) === codec.payloadType) : undefined;
    const rtx: ms.RtpCodecParameters | null = rtxRtp
      ? { mimeType: 'video/rtx', payloadType: rtxRtp.payload, clockRate: rtxRtp.rate ?? codec.clockRate, parameters: { apt: codec.payloadType }, rtcpFeedback: [] }
      : null;
    return { media: codec, rtx };
  }
  const names = offered.map((c) => c.mimeType.split('/')[1]).join(', ') || 'none';
  const wanted = kind === 'video' ? 'VP8 or H264 (Constrained Baseline, packetization-mode=1)' : 'Opus (48 kHz, 2 channels)';
  throw notAcceptable(`no supported ${kind} codec offered (offered: ${names}; supported: ${wanted})`);
}

/** The streams the section sends: rid simulcast, or SSRCs (with RTX from an FID group), or
 * one stream known by its MID only. */
function encodingsOf(m: SdpMediaSection, kind: MediaKind, ridExt: boolean): { encodings: ms.RtpEncodingParameters[]; rids: ms.RtpEncodingParameters[] | null } {
  const sendRids = (m.rids ?? []).filter((r) => r.direction === 'send');
  if (kind === 'video' && sendRids.length > 0) {
    if (!ridExt) throw notAcceptable('rid simulcast needs the sdes:rtp-stream-id header extension');
    let order = sendRids.map((r) => r.id);
    if (m.simulcast?.dir1 === 'send') {
      // a=simulcast:send a;b;~c — each stream's first alternative; paused ones may start later.
      order = sdpTransform.parseSimulcastStreamList(m.simulcast.list1).map((alts) => String(alts[0]!.scid));
    }
    const known = new Set(sendRids.map((r) => r.id));
    const rids = [...new Set(order)].filter((rid) => known.has(rid)).map((rid) => ({ rid }));
    if (rids.length === 0) throw badSdp('a=simulcast names no declared a=rid');
    // mediasoup wants encodings from the lowest to the highest resolution; a=rid max-width
    // tells when the client states it, otherwise the client's order stands.
    const width = (rid: string) => Number(sdpTransform.parseParams(sendRids.find((r) => r.id === rid)?.params ?? '')['max-width'] ?? NaN);
    const sorted = rids.every((r) => Number.isFinite(width(r.rid))) ? [...rids].sort((a, b) => width(a.rid) - width(b.rid)) : rids;
    return { encodings: sorted, rids: rids };
  }
  const ssrcs = [...new Set((m.ssrcs ?? []).map((s) => s.id))];
  const fid = m.ssrcGroups?.find((g) => g.semantics === 'FID')?.ssrcs.split(/\s+/).map(Number);
  if (fid && fid.length === 2 && fid.every((n) => Number.isInteger(n))) return { encodings: [{ ssrc: fid[0]!, rtx: { ssrc: fid[1]! } }], rids: null };
  if (ssrcs.length > 0) return { encodings: [{ ssrc: ssrcs[0]! }], rids: null };
  return { encodings: [{}], rids: null };
}
