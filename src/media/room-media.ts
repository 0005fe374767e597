/**
 * The media of one live room on this node, after mediasoup-demo's Room: its routers
 * (RoomRouters: origin plus edges on other workers), its producers (host WebRTC and ingest), the
 * peers' transports and consumers (PeerMedia), and the announcements to clients. Producers piped
 * in from other nodes are kept by PipedProducers (piped-producers.ts), the room's one ingest by
 * RoomIngestSlot (room-ingest-slot.ts).
 */
import type { types as ms } from 'mediasoup';
import type { MediaKind, MediaProducerInfo, MediaServerEvents } from '../protocol/index.js';
import { AppError, notFound } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { createIngest, type IngestListen, type IngestVideoCodec } from './ingest.js';
import { MAX_PRODUCERS_PER_PEER, PeerMedia, type Direction } from './peer-media.js';
import { PipedProducers } from './piped-producers.js';
import { RoomIngestSlot, type RoomIngest } from './room-ingest-slot.js';
import { RoomRouters, type RouterEntry } from './room-routers.js';
import type { WorkerPool } from './worker-pool.js';

export type { RouterEntry } from './room-routers.js';
export type { RoomIngest } from './room-ingest-slot.js';

/** A room's producers at most (hosts may publish from several connections, plus an ingest). */
const MAX_PRODUCERS_PER_ROOM = 16;
/**
 * Key-frame requests to a browser host go out at most this often (mediasoup's
 * keyFrameRequestDelay; the first one at once, later ones within the window merged and sent at its
 * end). libwebrtc's encoder ignores a request that comes within 300 ms of its last key frame, and
 * mediasoup then waits a full second before asking again: a viewer joining just after another
 * waited ~1.1 s for a picture (bench:media joins back to back); spaced out, ~0.4 s at most.
 */
const KEY_FRAME_REQUEST_SPACING_MS = 400;
/** Upper bound of what one host connection may push into the SFU. */
const MAX_INCOMING_BITRATE = 8_000_000;

type MediaEvent = keyof MediaServerEvents;
type MediaPayload<E extends MediaEvent> = Parameters<MediaServerEvents[E]>[0];

/** How RoomMedia talks to clients; the domain implements it over Socket.IO. */
export interface MediaNotifier {
  toRoom<E extends MediaEvent>(roomId: string, event: E, payload: MediaPayload<E>): void;
  toPeer<E extends MediaEvent>(peerId: string, event: E, payload: MediaPayload<E>): void;
}

export interface RoomMediaOptions {
  consumersPerRouter: number;
  ingest: IngestListen;
  /** Across nodes (cascade.ts); without it the room's media is this node's alone (benchmarks). */
  cascade?: MediaCascadeHooks;
}

/** How a room's media reaches other nodes: this node's producers are registered for edges to
 * find, and a producer of another node is piped in when a viewer here first consumes it. */
export interface MediaCascadeHooks {
  /** Make a new producer of this node findable by the others; resolves before it is announced. */
  register(media: RoomMedia, producer: ms.Producer, info: MediaProducerInfo): Promise<void>;
  /** Pipe another node's producer into this room (adoptPiped); NOT_FOUND when there is none. */
  pipeIn(media: RoomMedia, producerId: string): Promise<void>;
  /** A viewer here resumed a consumer of a piped producer. */
  viewerReady(media: RoomMedia, producerId: string): void;
}

export class RoomMedia {
  private readonly routers: RoomRouters;
  private readonly producers = new Map<string, { producer: ms.Producer; info: MediaProducerInfo }>();
  private readonly piped: PipedProducers;
  private readonly peers = new Map<string, PeerMedia>();
  private readonly plainReceivers = new Set<ms.PlainTransport>();
  private readonly ingest = new RoomIngestSlot();
  closed = false;

  constructor(
    readonly roomId: string,
    pool: WorkerPool,
    private readonly opts: RoomMediaOptions,
    private readonly notify: MediaNotifier,
    log: Logger,
  ) {
    const hooks = opts.cascade;
    this.piped = new PipedProducers(hooks ? (producerId) => hooks.pipeIn(this, producerId) : null);
    const producerIds = () => [...this.producers.keys(), ...this.piped.ids()];
    this.routers = new RoomRouters(roomId, pool, opts.consumersPerRouter, producerIds, (e) => this.onRouterLost(e), log);
  }

  /** This connection's media state, created on first use. */
  peer(peerId: string, userId: string | null): PeerMedia {
    this.assertOpen();
    let peer = this.peers.get(peerId);
    if (!peer) {
      peer = new PeerMedia(peerId, userId);
      this.peers.set(peerId, peer);
    }
    return peer;
  }

  removePeer(peerId: string): void {
    this.peers.get(peerId)?.close();
    this.peers.delete(peerId);
  }

  /** Nothing here any more: the routers can go. */
  get idle(): boolean {
    return this.peers.size === 0 && !this.ingest.taken && this.producers.size === 0 && this.piped.size === 0 && this.plainReceivers.size === 0;
  }

  /** The router that carries the room's producers on this node (and the pipes of the cascade). */
  async originRouter(): Promise<ms.Router> {
    return (await this.routers.originEntry()).router;
  }

  async rtpCapabilities(): Promise<ms.RtpCapabilities> {
    return (await this.routers.originEntry()).router.rtpCapabilities;
  }

  async createTransport(peer: PeerMedia, direction: Direction): Promise<ms.WebRtcTransport> {
    const entry = direction === 'send' ? await this.routers.originEntry() : await this.routers.placeReceiver();
    let transport: ms.WebRtcTransport;
    try {
      transport = await entry.router.createWebRtcTransport({
        webRtcServer: entry.slot.webRtcServer,
        enableUdp: true,
        enableTcp: true,
        preferUdp: true,
        initialAvailableOutgoingBitrate: 1_000_000,
        appData: { roomId: this.roomId, peerId: peer.id, direction },
      });
    } catch (err) {
      if (direction === 'recv') entry.recvTransports--;
      throw err;
    }
    if (direction === 'recv') transport.observer.once('close', () => entry.recvTransports--);
    peer.addTransport(transport, direction, entry);
    if (direction === 'send') await transport.setMaxIncomingBitrate(MAX_INCOMING_BITRATE);
    return transport;
  }

  async produce(
    peer: PeerMedia,
    transportId: string,
    kind: MediaKind,
    rtpParameters: ms.RtpParameters,
    appData: MediaProducerInfo['appData'],
  ): Promise<ms.Producer> {
    const { transport } = peer.transport(transportId, 'send');
    if (peer.producers.size >= MAX_PRODUCERS_PER_PEER) {
      throw new AppError('LIMIT_EXCEEDED', `at most ${MAX_PRODUCERS_PER_PEER} producers per connection`);
    }
    if (this.producers.size >= MAX_PRODUCERS_PER_ROOM) throw new AppError('LIMIT_EXCEEDED', 'this room has too many producers');
    const producer = await transport.produce({ kind, rtpParameters, appData, keyFrameRequestDelay: KEY_FRAME_REQUEST_SPACING_MS });
    peer.addProducer(producer);
    await this.publish(producer, { userId: peer.userId ?? '', source: 'webrtc', appData });
    return producer;
  }

  async consume(peer: PeerMedia, producerId: string, rtpCapabilities: ms.RtpCapabilities, transportId?: string): Promise<ms.Consumer> {
    // Another node's producer: piped in (or the pipe reused) and held until this consumer goes.
    const piped = this.producers.has(producerId) ? null : await this.piped.hold(producerId);
    let consumer: ms.Consumer;
    try {
      const { transport, entry } = peer.recvTransport(transportId);
      if (!entry.router.canConsume({ producerId, rtpCapabilities })) {
        throw new AppError('MEDIA_ERROR', 'these RTP capabilities cannot receive this producer');
      }
      // Paused until the client has wired the track: the key frame requested on resume is not lost.
      consumer = await transport.consume({ producerId, rtpCapabilities, paused: true, appData: { peerId: peer.id } });
    } catch (err) {
      if (piped) this.piped.release(piped);
      throw err;
    }
    if (piped) consumer.observer.once('close', () => this.piped.release(piped));
    peer.addConsumer(consumer);
    consumer.once('producerclose', () => this.notify.toPeer(peer.id, 'media:consumer-closed', { consumerId: consumer.id, producerId }));
    return consumer;
  }

  /** The client wired the consumer's track: media may flow (and a key frame is requested). */
  async resumeConsumer(peer: PeerMedia, consumerId: string): Promise<void> {
    const consumer = peer.consumer(consumerId);
    await consumer.resume();
    const hooks = this.opts.cascade;
    if (!hooks || !this.piped.has(consumer.producerId)) return;
    // The pipe's first key frame must find the viewer able to receive it: after DTLS is up.
    const ready = () => hooks.viewerReady(this, consumer.producerId);
    const transport = peer.allTransports().find((t) => t.direction === 'recv')?.transport;
    if (!transport || transport.dtlsState === 'connected') return ready();
    const onState = (state: ms.DtlsState) => {
      if (state === 'connecting' || state === 'new') return;
      transport.off('dtlsstatechange', onState);
      if (state === 'connected') ready();
    };
    transport.on('dtlsstatechange', onState);
    consumer.observer.once('close', () => transport.off('dtlsstatechange', onState));
  }

  /** A consumer that sends plain RTP to `remote` (a recorder, a gateway, the media benchmark),
   * placed on the routers like a viewer. Closing the consumer closes its transport. */
  async plainConsumer(producerId: string, remote: { ip: string; port: number }): Promise<ms.Consumer> {
    this.producer(producerId);
    const entry = await this.routers.placeReceiver();
    let transport: ms.PlainTransport;
    try {
      const { listenIp, rtcMinPort, rtcMaxPort } = this.opts.ingest;
      transport = await entry.router.createPlainTransport({
        listenInfo: { protocol: 'udp', ip: listenIp, portRange: { min: rtcMinPort, max: rtcMaxPort } },
        rtcpMux: true,
        comedia: false,
      });
    } catch (err) {
      entry.recvTransports--;
      throw err;
    }
    this.plainReceivers.add(transport);
    transport.observer.once('close', () => {
      entry.recvTransports--;
      this.plainReceivers.delete(transport);
    });
    try {
      await transport.connect(remote);
      const consumer = await transport.consume({ producerId, rtpCapabilities: entry.router.rtpCapabilities });
      consumer.observer.once('close', () => transport.close());
      return consumer;
    } catch (err) {
      transport.close();
      throw err;
    }
  }

  /** A producer of this node (not one piped in from another). */
  producer(producerId: string): ms.Producer {
    const p = this.producers.get(producerId);
    if (!p) throw notFound('producer');
    return p.producer;
  }

  hasLocalProducer(producerId: string): boolean {
    return this.producers.has(producerId);
  }

  /**
   * Take in a producer piped from `origin`: it reaches this node's other routers like a local
   * one, but is neither listed nor announced here (its origin does that for the whole room).
   */
  async adoptPiped(producer: ms.Producer, origin: string): Promise<void> {
    this.assertOpen();
    await this.routers.publish(producer, () => this.piped.add(producer, origin));
    if (producer.closed || !this.piped.has(producer.id)) throw notFound('producer');
  }

  /** The piped producer of this id, if one is here. */
  pipedProducer(producerId: string): ms.Producer | undefined {
    return this.piped.get(producerId);
  }

  /** Producers piped in from `origin`. */
  pipedFrom(origin: string): ms.Producer[] {
    return this.piped.from(origin);
  }

  producerInfos(): MediaProducerInfo[] {
    return [...this.producers.values()].map((p) => ({ ...p.info, paused: p.producer.paused }));
  }

  /** Start (or restart) the RTP ingest: a new one replaces the old, whose sender must stop. */
  startIngest(userId: string, opts: { video: IngestVideoCodec; audio: boolean }) {
    return this.ingest.run(async () => {
      const origin = await this.routers.originEntry();
      this.ingest.close();
      const ingest = await createIngest(this.roomId, origin.router, this.opts.ingest, opts, (producer) =>
        this.publish(producer, { userId, source: 'ingest', appData: { source: 'ingest' } }),
      );
      this.ingest.adopt(ingest, userId, this.closed);
      return ingest.info;
    });
  }

  /** Start an ingest that replaces nothing (WHIP): CONFLICT while the room has an ingest or a
   * host publishing from a connection. `create` builds it on the origin router and hands each
   * producer to `publish`, which makes it visible to viewers like a browser host's. */
  startExclusiveIngest<T extends RoomIngest>(
    userId: string,
    appData: MediaProducerInfo['appData'],
    create: (origin: RouterEntry, publish: (producer: ms.Producer) => Promise<void>) => Promise<T>,
  ): Promise<T> {
    return this.ingest.run(async () => {
      if (this.ingest.taken || this.producers.size > 0) {
        throw new AppError('CONFLICT', 'this room already has a live ingest or publisher: stop it first (DELETE the WHIP resource, stop the RTP ingest or the camera)');
      }
      const origin = await this.routers.originEntry();
      const ingest = await create(origin, (producer) => this.publish(producer, { userId, source: 'ingest', appData }));
      this.ingest.adopt(ingest, userId, this.closed);
      return ingest;
    });
  }

  /** The user whose ingest (RTP or WHIP) runs here, if one does. */
  get ingestUserId(): string | null {
    return this.ingest.userId;
  }

  stopIngest(): Promise<boolean> {
    return this.ingest.run(async () => this.ingest.close());
  }

  /** Every router of the room, origin first. */
  routerEntries(): RouterEntry[] {
    return this.routers.entries();
  }

  /** Transports carrying media into the SFU (host send transports, ingest) and out of it. */
  transportsByDirection(): { inbound: ms.Transport[]; outbound: ms.Transport[] } {
    const inbound: ms.Transport[] = [...this.ingest.transports];
    const outbound: ms.Transport[] = [...this.plainReceivers];
    for (const peer of this.peers.values()) {
      for (const t of peer.allTransports()) (t.direction === 'send' ? inbound : outbound).push(t.transport);
    }
    return { inbound, outbound };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ingest.close();
    for (const peer of this.peers.values()) peer.close();
    this.peers.clear();
    this.routers.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new AppError('ROOM_ENDED', 'the room media is closed');
  }

  /** A router died with its worker: its transports are gone; tell each peer which of its own to
   * create again. With the origin, the ingest went too (its producers announce their removal). */
  private onRouterLost(entry: RouterEntry): void {
    if (this.closed) return;
    if (entry.role === 'origin') this.ingest.lost();
    for (const peer of this.peers.values()) {
      const transportIds = peer.takeLostTransports();
      if (transportIds.length) this.notify.toPeer(peer.id, 'media:reset', { reason: 'worker-died', transportIds });
    }
  }

  /** Make a new producer visible: piped to every edge, listed, announced. */
  private async publish(producer: ms.Producer, owner: Omit<MediaProducerInfo, 'id' | 'kind' | 'paused'>): Promise<void> {
    const announce = <E extends MediaEvent>(event: E, payload: MediaPayload<E>) => this.notify.toRoom(this.roomId, event, payload);
    const made: { info?: MediaProducerInfo } = {};
    await this.routers.publish(producer, () => {
      const info: MediaProducerInfo = { id: producer.id, kind: producer.kind, paused: producer.paused, ...owner };
      made.info = info;
      this.producers.set(producer.id, { producer, info });
      producer.observer.once('close', () => {
        this.producers.delete(producer.id);
        announce('media:producer-removed', { producerId: producer.id, kind: producer.kind });
      });
      producer.observer.on('pause', () => announce('media:producer-updated', { producerId: producer.id, paused: true }));
      producer.observer.on('resume', () => announce('media:producer-updated', { producerId: producer.id, paused: false }));
    });
    const info = made.info;
    if (!info) return; // closed while being piped to this node's routers
    // Registered before it is announced: a viewer on another node who hears of it must find it.
    await this.opts.cascade?.register(this, producer, info);
    if (!producer.closed) announce('media:producer-added', { ...info, paused: producer.paused });
  }
}
