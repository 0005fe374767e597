/**
 * A WHIP client as an encoder runs it, in libwebrtc (@roamhq/wrtc): a sendonly video track (the
 * synthetic camera, VP8) and a sendonly audio track (a tone), one offer POSTed to the endpoint,
 * the answer applied. No trickle: mediasoup is ICE-lite, the client's checks find it.
 */
import { createRequire } from 'node:module';
import { syntheticCamera } from './media-peer.js';

type Wrtc = typeof import('@roamhq/wrtc');
const wrtc = createRequire(import.meta.url)('@roamhq/wrtc') as Wrtc;

export interface WhipResponse {
  status: number;
  headers: Headers;
  /** The SDP answer (201), or the error JSON's text. */
  text: string;
  json: { error?: { code: string; message: string } } | null;
}

/** A 440 Hz tone as a microphone track: 10 ms of 48 kHz mono per tick. */
function syntheticMicrophone() {
  const source = new wrtc.nonstandard.RTCAudioSource();
  const track = source.createTrack();
  const samples = new Int16Array(480);
  let t = 0;
  const timer = setInterval(() => {
    for (let i = 0; i < samples.length; i++, t++) samples[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * t) / 48000));
    source.onData({ samples, sampleRate: 48000, bitsPerSample: 16, channelCount: 1, numberOfFrames: samples.length });
  }, 10);
  return {
    track,
    stop() {
      clearInterval(timer);
      track.stop();
    },
  };
}

export async function whipRequest(url: string, method: string, token: string | null, body?: string, contentType = 'application/sdp', headers: Record<string, string> = {}): Promise<WhipResponse> {
  const h: Record<string, string> = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  if (body !== undefined) h['content-type'] = contentType;
  const res = await fetch(url, { method, headers: h, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  let json: WhipResponse['json'] = null;
  if (res.headers.get('content-type')?.startsWith('application/json')) json = JSON.parse(text);
  return { status: res.status, headers: res.headers, text, json };
}

export class WhipClient {
  readonly pc = new wrtc.RTCPeerConnection();
  private readonly sources: { stop(): void }[] = [];
  /** Absolute URL of the WHIP resource once published. */
  resourceUrl: string | null = null;

  constructor(opts: { video?: boolean; audio?: boolean } = {}) {
    if (opts.video ?? true) {
      const camera = syntheticCamera();
      this.sources.push(camera);
      this.pc.addTransceiver(camera.track, { direction: 'sendonly' });
    }
    if (opts.audio ?? true) {
      const mic = syntheticMicrophone();
      this.sources.push(mic);
      this.pc.addTransceiver(mic.track, { direction: 'sendonly' });
    }
  }

  /** The offer the client would POST (set as its local description). */
  async offer(): Promise<string> {
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    return this.pc.localDescription!.sdp;
  }

  /** POST the offer; on 201 apply the answer. `mangle` edits the offer text before it is sent. */
  async publish(endpoint: string, token: string | null, mangle: (sdp: string) => string = (s) => s): Promise<WhipResponse> {
    const res = await whipRequest(endpoint, 'POST', token, mangle(await this.offer()));
    if (res.status === 201) {
      this.resourceUrl = new URL(res.headers.get('location')!, endpoint).toString();
      await this.pc.setRemoteDescription({ type: 'answer', sdp: res.text });
    }
    return res;
  }

  /** Resolves once ICE and DTLS are up. */
  connected(timeoutMs = 10_000): Promise<void> {
    return new Promise((done, fail) => {
      const check = () => {
        if (this.pc.connectionState === 'connected') finish();
        else if (this.pc.connectionState === 'failed') finish(new Error('WHIP peer connection failed'));
      };
      const timer = setTimeout(() => finish(new Error(`WHIP peer not connected after ${timeoutMs} ms (${this.pc.connectionState})`)), timeoutMs);
      const finish = (err?: Error) => {
        clearTimeout(timer);
        this.pc.removeEventListener('connectionstatechange', check);
        if (err) fail(err);
        else done();
      };
      this.pc.addEventListener('connectionstatechange', check);
      check();
    });
  }

  close(): void {
    for (const s of this.sources.splice(0)) s.stop();
    this.pc.close();
  }
}
