/**
 * One WHIP session (RFC 9725 "WHIP session"): a WebRtcTransport on the room's origin router (the
 * worker's WebRtcServer port, like a browser host's send transport) and one producer per accepted
 * media section, published through the room like a browser host's producers, so viewers consume
 * them the same way. It ends on DELETE, when the client goes away (DTLS closed or failed, ICE
 * consent lost) or when it never connects.
 */
import type { types as ms } from 'mediasoup';
import { AppError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { RouterEntry } from './room-routers.js';
import { buildAnswer, buildRestartFragment } from './whip-answer.js';
import type { WhipPlan } from './whip-sdp.js';

/** A client that has not completed ICE and DTLS this long after its POST is not coming. */
export const WHIP_CONNECT_TIMEOUT_MS = 20_000;
/** Same cap as a browser host's send transport. */
const MAX_INCOMING_BITRATE = 8_000_000;

/** Why a session ended, for the log. */
export type WhipEndReason = 'deleted' | 'dtls-closed' | 'dtls-failed' | 'ice-consent-lost' | 'never-connected' | 'router-closed' | 'replaced-or-room-closed' | 'failed-to-start';

export class WhipIngest {
  readonly id = newId('whip_');
  /** RFC 9725 entity tag of the ICE session: changes with each ICE restart. */
  etag = `"${newId()}"`;
  readonly producers: ms.Producer[] = [];
  private readonly closeListeners: ((reason: WhipEndReason) => void)[] = [];
  private connectTimer: NodeJS.Timeout | null = null;
  private endReason: WhipEndReason = 'replaced-or-room-closed';
  closed = false;

  private constructor(
    readonly roomId: string,
    readonly userId: string,
    readonly transport: ms.WebRtcTransport,
    private plan: WhipPlan,
  ) {}

  get transports(): ms.Transport[] {
    return [this.transport];
  }

  /**
   * Open the transport, connect it with the client's DTLS parameters and create the producers,
   * handing each to `publish` (RoomMedia's: piped to edges, listed, announced). Nothing is left
   * behind when a step fails.
   */
  static async create(
    roomId: string,
    userId: string,
    origin: RouterEntry,
    plan: WhipPlan,
    publish: (producer: ms.Producer) => Promise<void>,
    connectTimeoutMs = WHIP_CONNECT_TIMEOUT_MS,
  ): Promise<WhipIngest> {
    const transport = await origin.router.createWebRtcTransport({
      webRtcServer: origin.slot.webRtcServer,
      enableUdp: true,
      enableTcp: true,
      preferUdp: true,
      appData: { roomId, whip: true },
    });
    const ingest = new WhipIngest(roomId, userId, transport, plan);
    try {
      await transport.setMaxIncomingBitrate(MAX_INCOMING_BITRATE);
      await transport.connect({ dtlsParameters: plan.remoteDtls });
      for (const section of plan.accepted) {
        const { kind, rtpParameters, mid } = section;
        const producer = await transport.produce({ kind, rtpParameters, appData: { source: 'whip', mid } }).catch((err: unknown) => {
          // mediasoup's own verdict on parameters the negotiation let through.
          if (err instanceof Error && (err.name === 'UnsupportedError' || err instanceof TypeError)) {
            throw new AppError('OFFER_NOT_ACCEPTABLE', `the ${section.kind} section cannot be received: ${err.message.slice(0, 200)}`);
          }
          throw err;
        });
        ingest.producers.push(producer);
        await publish(producer);
      }
    } catch (err) {
      ingest.close('failed-to-start');
      throw err;
    }
    ingest.watch(connectTimeoutMs);
    return ingest;
  }

  /** The SDP answer for the POST. */
  answer(): string {
    const produced = new Map(this.producers.map((p) => [p.rtpParameters.mid!, p.rtpParameters]));
    return buildAnswer(this.plan, this.transport, produced);
  }

  get remoteIce(): WhipPlan['remoteIce'] {
    return this.plan.remoteIce;
  }

  /** ICE restart (RFC 9725 §4.3.2): new server credentials for the client's new ones; the DTLS
   * association and the producers stay. Returns the answer fragment. */
  async restartIce(ufrag: string, pwd: string): Promise<string> {
    await this.transport.restartIce();
    this.plan = { ...this.plan, remoteIce: { ufrag, pwd } };
    this.etag = `"${newId()}"`;
    return buildRestartFragment(this.plan, this.transport);
  }

  onClose(listener: (reason: WhipEndReason) => void): void {
    if (this.closed) listener(this.endReason);
    else this.closeListeners.push(listener);
  }

  /** End the session; without a reason it is the room's doing (RoomMedia closes its ingest when
   * an RTP ingest replaces it or the room's media closes). */
  close(reason: WhipEndReason = 'replaced-or-room-closed'): void {
    if (this.closed) return;
    this.closed = true;
    this.endReason = reason;
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.transport.close();
    for (const l of this.closeListeners.splice(0)) l(reason);
  }

  /** End the session when the client is gone: DTLS closed (it hung up) or failed, ICE consent
   * expired (mediasoup's 30 s consent timeout), the router closed, or no connection in time. */
  private watch(connectTimeoutMs: number): void {
    const t = this.transport;
    t.on('routerclose', () => this.close('router-closed'));
    t.on('listenserverclose', () => this.close('router-closed'));
    t.observer.once('close', () => this.close());
    t.on('dtlsstatechange', (state) => {
      if (state === 'failed' || state === 'closed') this.close(state === 'failed' ? 'dtls-failed' : 'dtls-closed');
    });
    t.on('icestatechange', (state) => {
      if (state === 'disconnected') this.close('ice-consent-lost');
    });
    this.connectTimer = setTimeout(() => {
      if (t.dtlsState !== 'connected') this.close('never-connected');
    }, connectTimeoutMs);
    this.connectTimer.unref();
  }
}
