/**
 * The media of one live room on this node, after mediasoup-demo's Room: an origin router that
 * carries the host's producers, and, once the origin serves MEDIA_CONSUMERS_PER_ROUTER consumers,
 * edge routers on other workers that receive every producer through pipeToRouter and serve the
 * next viewers. So one room can use every core. Peers' transports, producers and consumers live
 * in PeerMedia; the RTP ingest in Ingest.
 */
import type { types as ms } from 'mediasoup';
import type { MediaKind, MediaProducerInfo, MediaServerEvents } from '../protocol/index.js';
import { AppError, notFound } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { createIngest, type Ingest, type IngestListen, type IngestVideoCodec } from './ingest.js';
import { MAX_PRODUCERS_PER_PEER, PeerMedia, type Direction } from './peer-media.js';
import type { WorkerPool, WorkerSlot } from './worker-pool.js';

/** Codecs every router offers: Opus, VP8 (browsers, OBS/ffmpeg) and H264 Constrained Baseline. */
export const MEDIA_CODECS: ms.RouterRtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90000, parameters: { 'x-google-start-bitrate': 1000 } },
  {
    kind: 'video',
    mimeType: 'video/H264',
    clockRate: 90000,
    parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
  },
];

/** A room's producers at most (hosts may publish from several connections, plus an ingest). */
const MAX_PRODUCERS_PER_ROOM = 16;
/** Upper bound of what one host connection may push into the SFU. */
const MAX_INCOMING_BITRATE = 8_000_000;

export interface RouterEntry {
  router: ms.Router;
  slot: WorkerSlot;
  role: 'origin' | 'edge';
  /** Consumers on this router's WebRTC/plain transports (pipe consumers excluded). */
  consumers: number;
  /** Receive transports placed here, counted from placement on, so a burst of joining viewers
   * spreads out before any of them has consumed. */
  recvTransports: number;
  /** Closed on purpose by us: its close must not be treated as a lost worker. */
  retired: boolean;
}

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
}

/** Runs async steps one after another (router creation and piping must not interleave). */
class Serial {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

export class RoomMedia {
  private origin: RouterEntry | null = null;
  private readonly edges: RouterEntry[] = [];
  private readonly producers = new Map<string, { producer: ms.Producer; info: MediaProducerInfo }>();
  private readonly peers = new Map<string, PeerMedia>();
  private readonly plainReceivers = new Set<ms.PlainTransport>();
  private ingest: Ingest | null = null;
  private readonly routing = new Serial();
  private readonly ingesting = new Serial();
  closed = false;

  constructor(
    readonly roomId: string,
    private readonly pool: WorkerPool,
    private readonly opts: RoomMediaOptions,
    private readonly notify: MediaNotifier,
    private readonly log: Logger,
  ) {}

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
    return this.peers.size === 0 && this.ingest === null && this.producers.size === 0 && this.plainReceivers.size === 0;
  }

  async rtpCapabilities(): Promise<ms.RtpCapabilities> {
    return (await this.originEntry()).router.rtpCapabilities;
  }

  async createTransport(peer: PeerMedia, direction: Direction): Promise<ms.WebRtcTransport> {
    const entry = direction === 'send' ? await this.originEntry() : await this.placeReceiver();
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
    const producer = await transport.produce({ kind, rtpParameters, appData });
    peer.addProducer(producer);
    await this.publish(producer, { userId: peer.userId ?? '', source: 'webrtc', appData });
    return producer;
  }

  async consume(peer: PeerMedia, producerId: string, rtpCapabilities: ms.RtpCapabilities, transportId?: string): Promise<ms.Consumer> {
    if (!this.producers.has(producerId)) throw notFound('producer');
    const { transport, entry } = peer.recvTransport(transportId);
    if (!entry.router.canConsume({ producerId, rtpCapabilities })) {
      throw new AppError('MEDIA_ERROR', 'these RTP capabilities cannot receive this producer');
    }
    // Paused until the client has wired the track: the key frame requested on resume is not lost.
    const consumer = await transport.consume({ producerId, rtpCapabilities, paused: true, appData: { peerId: peer.id } });
    peer.addConsumer(consumer);
    consumer.once('producerclose', () => this.notify.toPeer(peer.id, 'media:consumer-closed', { consumerId: consumer.id, producerId }));
    return consumer;
  }

  /** A consumer that sends plain RTP to `remote` (a recorder, a gateway, the media benchmark),
   * placed on the routers like a viewer. Closing the consumer closes its transport. */
  async plainConsumer(producerId: string, remote: { ip: string; port: number }): Promise<ms.Consumer> {
    this.producer(producerId);
    const entry = await this.placeReceiver();
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

  producer(producerId: string): ms.Producer {
    const p = this.producers.get(producerId);
    if (!p) throw notFound('producer');
    return p.producer;
  }

  producerInfos(): MediaProducerInfo[] {
    return [...this.producers.values()].map((p) => ({ ...p.info, paused: p.producer.paused }));
  }

  /** Start (or restart) the RTP ingest: a new one replaces the old, whose sender must stop. */
  startIngest(userId: string, opts: { video: IngestVideoCodec; audio: boolean }) {
    return this.ingesting.run(async () => {
      const origin = await this.originEntry();
      this.ingest?.close();
      this.ingest = null;
      const ingest = await createIngest(this.roomId, origin.router, this.opts.ingest, opts, (producer) =>
        this.publish(producer, { userId, source: 'ingest', appData: { source: 'ingest' } }),
      );
      if (this.closed) {
        ingest.close();
        throw new AppError('ROOM_ENDED', 'the room closed meanwhile');
      }
      this.ingest = ingest;
      return ingest.info;
    });
  }

  stopIngest(): Promise<boolean> {
    return this.ingesting.run(async () => {
      if (!this.ingest) return false;
      this.ingest.close();
      this.ingest = null;
      return true;
    });
  }

  /** Every router of the room, origin first. */
  routerEntries(): RouterEntry[] {
    return this.origin ? [this.origin, ...this.edges] : [...this.edges];
  }

  /** Transports carrying media into the SFU (host send transports, ingest) and out of it. */
  transportsByDirection(): { inbound: ms.Transport[]; outbound: ms.Transport[] } {
    const inbound: ms.Transport[] = [...(this.ingest?.transports ?? [])];
    const outbound: ms.Transport[] = [...this.plainReceivers];
    for (const peer of this.peers.values()) {
      for (const t of peer.allTransports()) (t.direction === 'send' ? inbound : outbound).push(t.transport);
    }
    return { inbound, outbound };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ingest?.close();
    this.ingest = null;
    for (const peer of this.peers.values()) peer.close();
    this.peers.clear();
    for (const e of this.routerEntries()) {
      e.retired = true;
      e.router.close();
    }
    this.origin = null;
    this.edges.length = 0;
  }

  // ---- routers ------------------------------------------------------------------------------

  private assertOpen(): void {
    if (this.closed) throw new AppError('ROOM_ENDED', 'the room media is closed');
  }

  private async originEntry(): Promise<RouterEntry> {
    if (this.origin) return this.origin;
    return this.routing.run(() => this.originLocked());
  }

  private async originLocked(): Promise<RouterEntry> {
    this.assertOpen();
    if (!this.origin) this.origin = await this.newRouter(this.pool.leastLoaded()!, 'origin');
    return this.origin;
  }

  /** The router a new viewer's receive transport goes on, with a place reserved on it. Routers
   * fill in order; when all are full, a new edge router on a worker this room does not use yet
   * gets every producer piped in. When every worker already serves the room, the least loaded
   * router takes the viewer (the threshold is a spreading rule, not a cap). */
  private placeReceiver(): Promise<RouterEntry> {
    return this.routing.run(async () => {
      const origin = await this.originLocked();
      const routers = [origin, ...this.edges];
      const perViewer = Math.max(1, this.producers.size);
      const load = (e: RouterEntry) => Math.max(e.consumers, e.recvTransports * perViewer);
      let chosen = routers.find((e) => load(e) + perViewer <= this.opts.consumersPerRouter);
      if (!chosen) {
        const slot = this.pool.leastLoaded(new Set(routers.map((e) => e.slot)));
        chosen = slot ? await this.newEdge(origin, slot) : routers.reduce((a, b) => (load(b) < load(a) ? b : a));
      }
      chosen.recvTransports++;
      return chosen;
    });
  }

  private async newEdge(origin: RouterEntry, slot: WorkerSlot): Promise<RouterEntry> {
    const edge = await this.newRouter(slot, 'edge');
    try {
      for (const { producer } of this.producers.values()) {
        await origin.router.pipeToRouter({ producerId: producer.id, router: edge.router });
      }
    } catch (err) {
      edge.retired = true;
      edge.router.close();
      throw err;
    }
    this.edges.push(edge);
    this.log.info({ roomId: this.roomId, worker: slot.index, edges: this.edges.length }, 'room piped to another worker');
    return edge;
  }

  private async newRouter(slot: WorkerSlot, role: RouterEntry['role']): Promise<RouterEntry> {
    const router = await slot.worker.createRouter({ mediaCodecs: MEDIA_CODECS, appData: { roomId: this.roomId, role } });
    const entry: RouterEntry = { router, slot, role, consumers: 0, recvTransports: 0, retired: false };
    if (this.closed) {
      entry.retired = true;
      router.close();
      this.assertOpen();
    }
    router.observer.on('newtransport', (transport) => {
      if (transport.type === 'pipe') return;
      transport.observer.on('newconsumer', (consumer) => {
        entry.consumers++;
        consumer.observer.once('close', () => entry.consumers--);
      });
    });
    router.observer.once('close', () => this.onRouterLost(entry));
    return entry;
  }

  /** A router closed under us: its worker died. Losing the origin loses every producer, so the
   * edges (fed from it) go too; losing an edge loses only its viewers' transports. Either way,
   * each peer is told which of its transports to create again. */
  private onRouterLost(entry: RouterEntry): void {
    if (this.closed || entry.retired) return;
    entry.retired = true;
    this.log.warn({ roomId: this.roomId, role: entry.role, worker: entry.slot.index }, 'room lost a router with its worker');
    if (entry === this.origin) {
      this.origin = null;
      for (const e of this.edges) {
        e.retired = true;
        e.router.close();
      }
      this.edges.length = 0;
      this.ingest = null; // its transports died with the origin router
    } else {
      this.edges.splice(this.edges.indexOf(entry), 1);
    }
    for (const peer of this.peers.values()) {
      const transportIds = peer.takeLostTransports();
      if (transportIds.length) this.notify.toPeer(peer.id, 'media:reset', { reason: 'worker-died', transportIds });
    }
  }

  // ---- producers ----------------------------------------------------------------------------

  /** Make a new producer visible: pipe it to every edge, list it, announce it. Inside the routing
   * queue, so an edge created meanwhile cannot miss it. */
  private async publish(producer: ms.Producer, owner: Omit<MediaProducerInfo, 'id' | 'kind' | 'paused'>): Promise<void> {
    await this.routing.run(async () => {
      if (this.origin) {
        for (const edge of this.edges) {
          await this.origin.router.pipeToRouter({ producerId: producer.id, router: edge.router }).catch((err: unknown) => {
            this.log.warn({ err, roomId: this.roomId, producerId: producer.id }, 'pipe to edge router failed');
          });
        }
      }
      if (producer.closed) return;
      const info: MediaProducerInfo = { id: producer.id, kind: producer.kind, paused: producer.paused, ...owner };
      this.producers.set(producer.id, { producer, info });
      producer.observer.once('close', () => {
        this.producers.delete(producer.id);
        this.notify.toRoom(this.roomId, 'media:producer-removed', { producerId: producer.id, kind: producer.kind });
      });
      producer.observer.on('pause', () => this.notify.toRoom(this.roomId, 'media:producer-updated', { producerId: producer.id, paused: true }));
      producer.observer.on('resume', () => this.notify.toRoom(this.roomId, 'media:producer-updated', { producerId: producer.id, paused: false }));
      this.notify.toRoom(this.roomId, 'media:producer-added', { ...info });
    });
  }
}
