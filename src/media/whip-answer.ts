/**
 * The SDP the server writes for WHIP, with sdp-transform: the answer to a POST (ICE-lite, every
 * candidate, the producers' RTP parameters) and the RFC 8840 fragments of PATCH (the client's
 * ICE credentials in, ours out after an ICE restart). mediasoup is ICE-lite: the answer carries
 * every candidate, and the client's are not needed (the server learns the client's address from
 * its connectivity checks).
 */
import { randomInt } from 'node:crypto';
import * as sdpTransform from 'sdp-transform';
import type { types as ms } from 'mediasoup';
import { sdpFragmentSchema } from '../protocol/index.js';
import { AppError } from '../core/errors.js';
import { formatZodError } from '../core/socket-kit.js';
import { isAccepted, type WhipPlan } from './whip-sdp.js';

/** What the answer needs from our WebRtcTransport. */
export interface LocalTransport {
  iceParameters: ms.IceParameters;
  iceCandidates: ms.IceCandidate[];
  dtlsParameters: ms.DtlsParameters;
}

const candidatesOf = (local: LocalTransport) =>
  local.iceCandidates.map((c) => ({
    foundation: c.foundation,
    component: 1,
    transport: c.protocol,
    priority: c.priority,
    ip: c.address,
    port: c.port,
    type: c.type,
    ...(c.tcpType ? { tcptype: c.tcpType } : {}),
  }));

/**
 * The SDP answer: session-level ice-lite, then per offered section either the accepted stream
 * (recvonly, the producer's codecs, feedback and header extensions, every candidate) or a
 * rejection (port 0). `produced` maps each accepted mid to its producer's RTP parameters.
 */
export function buildAnswer(plan: WhipPlan, local: LocalTransport, produced: Map<string, ms.RtpParameters>): string {
  const fingerprint = local.dtlsParameters.fingerprints.find((f) => f.algorithm === 'sha-256') ?? local.dtlsParameters.fingerprints[0]!;
  const media: sdpTransform.MediaDescription[] = plan.sections.map((s) => {
    if (!isAccepted(s)) {
      return { type: s.type, port: 0, protocol: s.protocol, payloads: s.payloads, ...(s.mid !== undefined ? { mid: s.mid } : {}), direction: 'inactive', rtp: [], fmtp: [] };
    }
    const params = produced.get(s.mid) ?? s.rtpParameters;
    return {
      type: s.kind,
      port: 9,
      protocol: s.protocol,
      payloads: params.codecs.map((c) => c.payloadType).join(' '),
      connection: { version: 4, ip: '0.0.0.0' },
      mid: s.mid,
      direction: 'recvonly',
      iceUfrag: local.iceParameters.usernameFragment,
      icePwd: local.iceParameters.password,
      fingerprint: { type: fingerprint.algorithm, hash: fingerprint.value },
      setup: plan.localSetup,
      candidates: candidatesOf(local),
      endOfCandidates: 'end-of-candidates',
      rtcpMux: 'rtcp-mux',
      ...(s.rtcpReducedSize ? { rtcpRsize: 'rtcp-rsize' as const } : {}),
      rtp: params.codecs.map((c) => ({
        payload: c.payloadType,
        codec: c.mimeType.split('/')[1]!,
        rate: c.clockRate,
        ...(c.channels && c.channels > 1 ? { encoding: c.channels } : {}),
      })),
      fmtp: params.codecs
        .filter((c) => c.parameters && Object.keys(c.parameters).length > 0)
        .map((c) => ({ payload: c.payloadType, config: Object.entries(c.parameters!).map(([k, v]) => `${k}=${v}`).join(';') })),
      rtcpFb: params.codecs.flatMap((c) => (c.rtcpFeedback ?? []).map((f) => ({ payload: c.payloadType, type: f.type, ...(f.parameter ? { subtype: f.parameter } : {}) }))),
      ext: (params.headerExtensions ?? []).map((e) => ({ value: e.id, uri: e.uri })),
      ...(s.rids
        ? { rids: s.rids.map((id) => ({ id, direction: 'recv' })), simulcast: { dir1: 'recv' as const, list1: s.rids.join(';') } }
        : {}),
    };
  });
  return sdpTransform.write({
    version: 0,
    origin: { username: 'live-commerce', sessionId: String(randomInt(1, 2 ** 47)), sessionVersion: 1, netType: 'IN', ipVer: 4, address: '127.0.0.1' },
    name: '-',
    timing: { start: 0, stop: 0 },
    icelite: 'ice-lite',
    groups: [{ type: 'BUNDLE', mids: plan.accepted.map((s) => s.mid).join(' ') }],
    media,
  });
}

/** A PATCH body's ICE credentials (RFC 8840 fragment): session level, or the first section's. */
export function parseFragment(text: string): { ufrag: string | undefined; pwd: string | undefined } {
  let raw: unknown;
  try {
    raw = sdpTransform.parse(text);
  } catch {
    throw new AppError('BAD_REQUEST', 'unparseable SDP fragment');
  }
  const parsed = sdpFragmentSchema.safeParse(raw);
  if (!parsed.success) throw new AppError('BAD_REQUEST', `invalid SDP fragment: ${formatZodError(parsed.error)}`);
  const f = parsed.data;
  return { ufrag: f.iceUfrag ?? f.media[0]?.iceUfrag, pwd: f.icePwd ?? f.media[0]?.icePwd };
}

/** The answer to an ICE restart (RFC 8840 fragment): our new credentials and every candidate,
 * under the first bundled section. */
export function buildRestartFragment(plan: WhipPlan, local: LocalTransport): string {
  const first = plan.accepted[0]!;
  return sdpTransform.write({
    icelite: 'ice-lite',
    iceUfrag: local.iceParameters.usernameFragment,
    icePwd: local.iceParameters.password,
    media: [
      {
        type: first.kind,
        port: 9,
        protocol: first.protocol,
        payloads: String(first.rtpParameters.codecs[0]!.payloadType),
        mid: first.mid,
        candidates: candidatesOf(local),
        endOfCandidates: 'end-of-candidates',
        rtp: [],
        fmtp: [],
      },
    ],
  } as unknown as sdpTransform.SessionDescription);
}
