/**
 * WHIP offer/answer negotiation on real offers: libwebrtc's (@roamhq/wrtc) own createOffer, then
 * edited with sdp-transform for the cases it cannot produce (H264, which this libwebrtc build
 * lacks; an encoder's session-level attributes; simulcast). The answers must be accepted by the
 * same libwebrtc (setRemoteDescription). No server needed: the negotiation is pure.
 */
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as sdpTransform from 'sdp-transform';
import { AppError } from '../src/core/errors.js';
import type { types as ms } from 'mediasoup';
import { MEDIA_CODECS } from '../src/media/room-routers.js';
import { buildAnswer, type LocalTransport } from '../src/media/whip-answer.js';
import { ingestCapabilities, isConstrainedBaseline, negotiate, parseOffer } from '../src/media/whip-sdp.js';
import { WhipClient } from './helpers/whip-client.js';

const caps = ingestCapabilities(MEDIA_CODECS);
const clients: WhipClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

async function wrtcOffer(opts: { video?: boolean; audio?: boolean } = {}) {
  const client = new WhipClient(opts);
  clients.push(client);
  return { client, sdp: await client.offer() };
}

/** What a WebRtcTransport would give: fixed ICE credentials, one UDP and one TCP candidate. */
const local: LocalTransport = {
  iceParameters: { usernameFragment: 'srvufrag0123456', password: 'srvpassword0123456789012', iceLite: true },
  iceCandidates: [
    { foundation: 'udpcandidate', priority: 1076302079, ip: '127.0.0.1', address: '127.0.0.1', protocol: 'udp', port: 40000, type: 'host' },
    { foundation: 'tcpcandidate', priority: 1076276479, ip: '127.0.0.1', address: '127.0.0.1', protocol: 'tcp', port: 40000, type: 'host', tcpType: 'passive' },
  ],
  dtlsParameters: {
    role: 'auto',
    fingerprints: [{ algorithm: 'sha-256', value: 'AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99' }],
  },
};

/** The offer with its media sections edited by `edit` (sdp-transform object model). */
function edited(sdp: string, edit: (s: sdpTransform.SessionDescription) => void): string {
  const s = sdpTransform.parse(sdp);
  edit(s);
  return sdpTransform.write(s);
}

/** The video section's codecs replaced by H264 (+RTX) with `fmtp`. */
const asH264 = (fmtp: string) => (s: sdpTransform.SessionDescription) => {
  const video = s.media.find((m) => m.type === 'video')!;
  video.payloads = '102 103';
  video.rtp = [
    { payload: 102, codec: 'H264', rate: 90000 },
    { payload: 103, codec: 'rtx', rate: 90000 },
  ];
  video.fmtp = [
    { payload: 102, config: fmtp },
    { payload: 103, config: 'apt=102' },
  ];
  video.rtcpFb = ['nack', 'nack pli', 'ccm fir', 'goog-remb', 'transport-cc'].map((fb) => {
    const [type, subtype] = fb.split(' ');
    return { payload: 102, type: type!, ...(subtype ? { subtype } : {}) };
  });
};

const produced = (plan: ReturnType<typeof negotiate>) => new Map<string, ms.RtpParameters>(plan.accepted.map((s) => [s.mid, s.rtpParameters]));

describe('WHIP SDP negotiation', () => {
  it('a libwebrtc offer (VP8 + Opus) gets a bundled ICE-lite answer libwebrtc accepts', async () => {
    const { client, sdp } = await wrtcOffer();
    const plan = negotiate(parseOffer(sdp), caps, 4);
    const [video, audio] = plan.accepted;
    expect(video!.kind).toBe('video');
    expect(video!.rtpParameters.codecs.map((c) => c.mimeType)).toEqual(['video/VP8', 'video/rtx']);
    expect(video!.rtpParameters.encodings![0]).toMatchObject({ ssrc: expect.any(Number), rtx: { ssrc: expect.any(Number) } });
    // Key-frame requests must be able to reach the encoder.
    expect(video!.rtpParameters.codecs[0]!.rtcpFeedback).toEqual(expect.arrayContaining([{ type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }]));
    expect(audio!.rtpParameters.codecs.map((c) => c.mimeType)).toEqual(['audio/opus']);
    expect(plan.remoteDtls.role).toBe('client');
    expect(plan.localSetup).toBe('passive');

    const answer = buildAnswer(plan, local, produced(plan));
    const parsed = sdpTransform.parse(answer);
    expect(parsed.icelite).toBe('ice-lite');
    expect(parsed.groups).toEqual([{ type: 'BUNDLE', mids: '0 1' }]);
    for (const m of parsed.media) {
      expect(m).toMatchObject({ direction: 'recvonly', setup: 'passive', iceUfrag: 'srvufrag0123456', endOfCandidates: 'end-of-candidates' });
      expect(m.candidates).toHaveLength(2);
    }
    await client.pc.setRemoteDescription({ type: 'answer', sdp: answer });
    expect(client.pc.signalingState).toBe('stable');
  });

  it('H264 Constrained Baseline (packetization-mode 1) is accepted; an H264 answer libwebrtc parses', async () => {
    const { sdp } = await wrtcOffer();
    const offer = edited(sdp, asH264('level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f'));
    const plan = negotiate(parseOffer(offer), caps, 4);
    const video = plan.accepted.find((s) => s.kind === 'video')!;
    expect(video.rtpParameters.codecs[0]).toMatchObject({ mimeType: 'video/H264', payloadType: 102, parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f' } });
    expect(video.rtpParameters.codecs[1]).toMatchObject({ mimeType: 'video/rtx', parameters: { apt: 102 } });
    const answer = sdpTransform.parse(buildAnswer(plan, local, produced(plan)));
    const v = answer.media.find((m) => m.type === 'video')!;
    expect(v.rtp.map((r) => r.codec)).toEqual(['H264', 'rtx']);
    expect(sdpTransform.parseParams(v.fmtp.find((f) => f.payload === 102)!.config)).toMatchObject({ 'packetization-mode': 1, 'profile-level-id': '42e01f' });
  });

  it('the first acceptable codec in the client\'s order wins: H264 High is skipped for a later Constrained Baseline', async () => {
    const { sdp } = await wrtcOffer({ audio: false });
    const offer = edited(sdp, (s) => {
      const video = s.media[0]!;
      video.payloads = '100 102';
      video.rtp = [
        { payload: 100, codec: 'H264', rate: 90000 },
        { payload: 102, codec: 'H264', rate: 90000 },
      ];
      video.fmtp = [
        { payload: 100, config: 'packetization-mode=1;profile-level-id=640c1f' },
        { payload: 102, config: 'packetization-mode=1;profile-level-id=42e01f' },
      ];
      video.rtcpFb = [];
    });
    expect(negotiate(parseOffer(offer), caps, 4).accepted[0]!.rtpParameters.codecs[0]!.payloadType).toBe(102);
  });

  it('refuses what the routers cannot carry with 422 OFFER_NOT_ACCEPTABLE, naming the codecs', async () => {
    const { sdp } = await wrtcOffer();
    const high = edited(sdp, asH264('packetization-mode=1;profile-level-id=640c1f'));
    expect(() => negotiate(parseOffer(high), caps, 4)).toThrow(expect.objectContaining({ code: 'OFFER_NOT_ACCEPTABLE', message: expect.stringContaining('offered: H264') }));
    const mode0 = edited(sdp, asH264('profile-level-id=42e01f'));
    expect(() => negotiate(parseOffer(mode0), caps, 4)).toThrow(expect.objectContaining({ code: 'OFFER_NOT_ACCEPTABLE' }));
    const av1Only = edited(sdp, (s) => {
      const video = s.media[0]!;
      video.rtp = video.rtp.filter((r) => r.codec === 'AV1');
      video.payloads = video.rtp.map((r) => r.payload).join(' ');
    });
    expect(() => negotiate(parseOffer(av1Only), caps, 4)).toThrow(expect.objectContaining({ code: 'OFFER_NOT_ACCEPTABLE', message: expect.stringContaining('offered: AV1') }));
    const noBundle = edited(sdp, (s) => {
      s.groups = [];
    });
    expect(() => negotiate(parseOffer(noBundle), caps, 4)).toThrow(expect.objectContaining({ code: 'OFFER_NOT_ACCEPTABLE', message: expect.stringContaining('BUNDLE') }));
    const recvOnly = edited(sdp, (s) => {
      for (const m of s.media) m.direction = 'recvonly';
    });
    expect(() => negotiate(parseOffer(recvOnly), caps, 4)).toThrow(expect.objectContaining({ code: 'OFFER_NOT_ACCEPTABLE' }));
    expect(() => negotiate(parseOffer(sdp), caps, 1)).toThrow(expect.objectContaining({ code: 'OFFER_NOT_ACCEPTABLE' }));
  });

  it('refuses text that is not an SDP offer with 400 BAD_REQUEST', async () => {
    const { sdp } = await wrtcOffer();
    for (const bad of ['', 'hello', 'v=0\r\n', sdp.replace(/a=ice-ufrag:.*\r\n/g, ''), sdp.replace(/a=fingerprint:.*\r\n/g, ''), sdp.replace(/a=mid:.*\r\n/g, '')]) {
      expect(() => negotiate(parseOffer(bad), caps, 4), JSON.stringify(bad.slice(0, 40))).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }));
    }
  });

  it('an encoder-style offer (session-level ICE/DTLS, no header extensions, a data channel) is accepted and the data channel rejected', async () => {
    const { sdp } = await wrtcOffer();
    const offer = edited(sdp, (s) => {
      const first = s.media[0]!;
      Object.assign(s, { iceUfrag: first.iceUfrag, icePwd: first.icePwd, fingerprint: first.fingerprint, setup: 'actpass' });
      for (const m of s.media) {
        delete m.iceUfrag;
        delete m.icePwd;
        delete m.fingerprint;
        delete m.setup;
        delete m.ext;
      }
      s.media.push({ type: 'application', port: 9, protocol: 'UDP/DTLS/SCTP', payloads: 'webrtc-datachannel', mid: '2', rtp: [], fmtp: [] });
      s.groups = [{ type: 'BUNDLE', mids: '0 1 2' }];
    });
    const plan = negotiate(parseOffer(offer), caps, 4);
    expect(plan.accepted.map((s) => s.kind)).toEqual(['video', 'audio']);
    // No header extensions: the streams are told apart by their SSRCs.
    expect(plan.accepted[0]!.rtpParameters.headerExtensions).toEqual([]);
    const answer = sdpTransform.parse(buildAnswer(plan, local, produced(plan)));
    expect(answer.media.map((m) => [m.type, m.port])).toEqual([
      ['video', 9],
      ['audio', 9],
      ['application', 0],
    ]);
    expect(answer.groups).toEqual([{ type: 'BUNDLE', mids: '0 1' }]);
  });

  it('rid simulcast becomes one producer with an encoding per rid, answered with a=simulcast:recv', async () => {
    const { sdp } = await wrtcOffer({ audio: false });
    const offer = edited(sdp, (s) => {
      const video = s.media[0]!;
      delete video.ssrcs;
      delete video.ssrcGroups;
      video.rids = [
        { id: 'h', direction: 'send', params: 'max-width=1280' },
        { id: 'l', direction: 'send', params: 'max-width=320' },
      ];
      video.simulcast = { dir1: 'send', list1: 'h;l' };
    });
    const plan = negotiate(parseOffer(offer), caps, 4);
    // Lowest resolution first, as mediasoup wants.
    expect(plan.accepted[0]!.rtpParameters.encodings).toEqual([{ rid: 'l' }, { rid: 'h' }]);
    const v = sdpTransform.parse(buildAnswer(plan, local, produced(plan))).media[0]!;
    expect(v.simulcast).toMatchObject({ dir1: 'recv', list1: 'h;l' });
    expect(v.rids).toEqual([
      { id: 'h', direction: 'recv' },
      { id: 'l', direction: 'recv' },
    ]);
  });

  it('knows Constrained Baseline profile-level-ids (RFC 6184)', () => {
    expect(['42e01f', '42c01f', '4de01f', '42e034', '58c01f'].every(isConstrainedBaseline)).toBe(true);
    expect(['42001f', '4d001f', '640c1f', '64001f', undefined, 'zzzzzz', '42e11f'].some(isConstrainedBaseline)).toBe(false);
  });

  it('any edit of a real offer is answered or refused with BAD_REQUEST / OFFER_NOT_ACCEPTABLE, never a crash', async () => {
    const { sdp } = await wrtcOffer();
    const lines = sdp.split('\r\n').filter(Boolean);
    const junk = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.constantFrom('a=mid:', 'a=rtpmap:96 VP8', 'a=fmtp:96 apt=', 'a=ssrc-group:FID 1', 'a=simulcast:send ;;', 'a=rid:x send', 'm=video 0 RTP/AVP 96', 'a=ice-ufrag:', 'a=fingerprint:md5 00', 'a=setup:holdconn', 'a=extmap:300 x', 'a=rtcp-fb:* nack', 'a=group:BUNDLE'),
    );
    const edit = fc.oneof(
      fc.record({ op: fc.constant('drop' as const), at: fc.nat() }),
      fc.record({ op: fc.constant('dup' as const), at: fc.nat() }),
      fc.record({ op: fc.constant('insert' as const), at: fc.nat(), line: junk }),
      fc.record({ op: fc.constant('replace' as const), at: fc.nat(), line: junk }),
    );
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 6 }), (edits) => {
        const out = [...lines];
        for (const e of edits) {
          const at = e.at % (out.length + 1);
          if (e.op === 'drop') out.splice(at, 1);
          else if (e.op === 'dup') out.splice(at, 0, out[at] ?? '');
          else if (e.op === 'insert') out.splice(at, 0, e.line);
          else out.splice(at, 1, e.line);
        }
        try {
          const plan = negotiate(parseOffer(out.join('\r\n') + '\r\n'), caps, 4);
          sdpTransform.parse(buildAnswer(plan, local, produced(plan)));
        } catch (err) {
          if (!(err instanceof AppError) || !['BAD_REQUEST', 'OFFER_NOT_ACCEPTABLE'].includes(err.code)) throw err;
        }
      }),
      { numRuns: 500 },
    );
  });
});
