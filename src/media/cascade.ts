/**
 * Origin → edge cascade: any node serves any room's video.
 *
 * The node where a producer is created is its origin: it registers the producer in the room's
 * Redis registry (producer-registry.ts) before announcing it. A viewer on another node (an edge)
 * who consumes it makes the edge ask the origin over the node bus (node-bus.ts) to pipe it: two
 * PipeTransports, one per server, each connected to the other's address, with SRTP and RTX/NACK
 * on; the origin consumes the producer on its end (a pipe consumer) and the edge produces on its
 * end with the consumer's RTP parameters and the same producer id. The origin's end starts
 * paused and is started when the edge's first viewer resumes its consumer, so the key frame the
 * start asks for reaches a viewer ready for it. Every later viewer of that producer on the edge
 * reuses the piped producer (RoomMedia.holdPiped); the last one leaving closes the pipe, which
 * tells the origin to close its end. Key-frame requests of new viewers travel back through the
 * pipe as RTCP, so the origin's producer honours them.
 *
 * Pause and resume at the origin reach the piped producer as notes (viewers hear of them from
 * the room's own broadcast); a closed producer closes the pipe. A node that dies is noticed by
 * every other node (node-liveness.ts): an origin frees pipes to a dead edge (whose viewers
 * reconnect elsewhere and resubscribe); an edge closes pipes from a dead origin, drops its
 * producers from the registry and tells its own viewers (producer-removed, then media:reset
 * 'origin-lost'), who consume again when the host publishes again on any node. A pipe that stops
 * carrying RTP while its producer is not paused (a stalled origin) is logged and counted.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { types as ms } from 'mediasoup';
import type { MediaProducerInfo, MediaServerEvents } from '../protocol/index.js';
import { AppError, notFound } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { RedisClient } from '../core/redis-client.js';
import { pipeAnswer, pipeRef, pipeRequest, pipeState, producerControl, type PipeAnswer, type ProducerAction } from './cascade-messages.js';
import { NodeBus } from './node-bus.js';
import { NodeLiveness } from './node-liveness.js';
import { ProducerRegistry } from './producer-registry.js';
import type { MediaCascadeHooks, RoomMedia } from './room-media.js';

type MediaEvent = keyof MediaServerEvents;
type MediaPayload<E extends MediaEvent> = Parameters<MediaServerEvents[E]>[0];

export interface CascadeOptions {
  /** Where pipe transports listen, and the address other nodes reach them at. */
  listenIp: string;
  announcedAddress?: string;
  minPort: number;
  maxPort: number;
  /** A pipe request (or control request) the origin does not answer within this fails. */
  requestTimeoutMs: number;
  /** A node without a heartbeat for this long is dead. */
  nodeDeadAfterMs: number;
  /** An unpaused pipe that carried no RTP for this long is stalled. */
  stallAfterMs: number;
}

/** What the cascade needs of the media domain. */
export interface CascadeRooms {
  existing(roomId: string): RoomMedia | undefined;
  /** Rooms with connections on this node. */
  localRoomIds(): string[];
  /** Emit to this node's connections in the room only (every node handles its own). */
  toLocalRoom<E extends MediaEvent>(roomId: string, event: E, payload: MediaPayload<E>): void;
}

/** The origin's end of a pipe to an edge. */
interface OutgoingPipe {
  edge: string;
  transport: ms.PipeTransport;
  /** Created paused; resumed when the edge's first viewer is (see viewerReady). */
  consumer: ms.Consumer | null;
  /** Closed at the edge's request (or the edge died): no note back. */
  quiet: boolean;
}

/** The edge's end of a pipe from an origin. */
interface IncomingPipe {
  origin: string;
  roomId: string;
  transport: ms.PipeTransport;
  producer: ms.Producer | null;
  /** Pause state announced before the producer existed. */
  pendingPaused: boolean | null;
  /** Closed by the origin (or it died): no unpipe note back. */
  quiet: boolean;
  /** The origin was asked to start sending (a viewer here resumed). */
  started: boolean;
  bytes: number;
  lastRtpAt: number;
  stalled: boolean;
}

/** How long pipe keys closed before their pipe was made are remembered (see unpipe). */
const TOMBSTONE_MS = 60_000;
/** Dead nodes are remembered this long (ids are per process, never reused). */
const DEAD_MEMORY_MS = 10 * 60_000;
const STALL_CHECK_MS = 1000;
export class MediaCascade implements MediaCascadeHooks {
  private readonly liveness: NodeLiveness;
  private readonly bus: NodeBus;
  private readonly registry: ProducerRegistry;
  private readonly outgoing = new Map<string, OutgoingPipe>();
  private readonly incoming = new Map<string, IncomingPipe>();
  /** Pipe keys an edge gave up on before the origin had finished making the pipe. */
  private readonly tombstones = new Map<string, number>();
  private readonly dead = new Map<string, number>();
  /** This node's producers, to register again after a silence. */
  private readonly local = new Map<string, { roomId: string; producer: ms.Producer; info: MediaProducerInfo }>();
  private stallTimer: NodeJS.Timeout | null = null;
  private readonly stalls: Counter;

  constructor(
    redis: RedisClient,
    private readonly rooms: CascadeRooms,
    private readonly opts: CascadeOptions,
    private readonly log: Logger,
    metrics: Registry,
  ) {
    this.liveness = new NodeLiveness(redis, opts.nodeDeadAfterMs, log, (node) => this.onNodeDead(node), () => this.registerAgain());
    this.bus = new NodeBus(redis, this.liveness.nodeId, log);
    this.registry = new ProducerRegistry(redis);
    const gauge = (name: string, help: string, value: () => number) =>
      new Gauge({
        name,
        help,
        registers: [metrics],
        collect() {
          this.set(value());
        },
      });
    gauge('media_pipes_in', 'Producers piped into this node from their origin node', () => this.incoming.size);
    gauge('media_pipes_out', 'Pipes from producers of this node to edge nodes', () => this.outgoing.size);
    gauge('media_pipes_stalled', 'Pipes into this node carrying no RTP although their producer is not paused', () =>
      [...this.incoming.values()].filter((p) => p.stalled).length,
    );
    this.stalls = new Counter({ name: 'media_pipe_stalls_total', help: 'Pipes into this node that stopped carrying RTP', registers: [metrics] });
  }

  get nodeId(): string {
    return this.liveness.nodeId;
  }

  async start(): Promise<void> {
    this.bus.handle('pipe', (params, from) => this.servePipe(pipeRequest.parse(params), from));
    this.bus.handle('control', (params) => this.serveControl(producerControl.parse(params)));
    this.bus.onNote('unpipe', (params) => this.onUnpipe(pipeRef.parse(params).pipeKey));
    this.bus.onNote('pipe-start', (params) => this.onPipeStart(pipeRef.parse(params).pipeKey));
    this.bus.onNote('pipe-closed', (params) => this.onPipeClosed(pipeRef.parse(params).pipeKey));
    this.bus.onNote('pipe-state', (params) => this.onPipeState(pipeState.parse(params)));
    await this.bus.start();
    await this.liveness.start();
    this.stallTimer = setInterval(() => void this.checkStalls(), STALL_CHECK_MS);
    this.stallTimer.unref();
  }

  async close(): Promise<void> {
    if (this.stallTimer) clearInterval(this.stallTimer);
    await this.liveness.stop();
    await this.bus.close();
  }

  // ---- origin side -------------------------------------------------------------------------

  async register(media: RoomMedia, producer: ms.Producer, info: MediaProducerInfo): Promise<void> {
    const roomId = media.roomId;
    const put = () => this.registry.put(roomId, this.nodeId, { ...info, paused: producer.paused });
    const warn = (err: unknown) => this.log.warn({ err, roomId, producerId: producer.id }, 'media registry write failed');
    this.local.set(producer.id, { roomId, producer, info });
    producer.observer.on('pause', () => void put().catch(warn));
    producer.observer.on('resume', () => void put().catch(warn));
    producer.observer.once('close', () => {
      this.local.delete(producer.id);
      void this.registry.remove(roomId, [producer.id]).catch(warn);
    });
    // A failed write leaves the producer to this node's viewers (others get NOT_FOUND); it is
    // written again when this node's heartbeat comes back from a silence.
    await put().catch(warn);
    if (producer.closed) await this.registry.remove(roomId, [producer.id]).catch(warn);
  }

  private registerAgain(): void {
    for (const { roomId, producer, info } of this.local.values()) {
      if (producer.closed) continue;
      void this.registry.put(roomId, this.nodeId, { ...info, paused: producer.paused }).catch((err: unknown) => this.log.warn({ err }, 'media registry write failed'));
    }
  }

  private async servePipe(req: ReturnType<typeof pipeRequest.parse>, edge: string): Promise<PipeAnswer> {
    const media = this.rooms.existing(req.roomId);
    if (!media?.hasLocalProducer(req.producerId)) throw notFound('producer');
    const router = await media.originRouter();
    const transport = await router.createPipeTransport(this.pipeOptions({ roomId: req.roomId, producerId: req.producerId, edge }));
    const pipe: OutgoingPipe = { edge, transport, consumer: null, quiet: false };
    this.outgoing.set(req.pipeKey, pipe);
    transport.observer.once('close', () => {
      if (this.outgoing.get(req.pipeKey) === pipe) this.outgoing.delete(req.pipeKey);
      if (!pipe.quiet) this.bus.notify(edge, 'pipe-closed', { pipeKey: req.pipeKey });
    });
    try {
      // Paused until a viewer on the edge is ready (pipe-start). A pipe consumer asks for a key
      // frame when it starts; started at once, that key frame would pass before the viewer is
      // ready, and the host's encoder ignores another request for a while after sending one
      // (libwebrtc: ~300 ms), which mediasoup then retries only after a second: the edge's first
      // viewer saw its first frame ~1 s later than viewers on the origin.
      // (A pipe consumer cannot be created paused: it is paused before its transport connects,
      // which is when it would ask.)
      const consumer = await transport.consume({ producerId: req.producerId });
      pipe.consumer = consumer;
      await consumer.pause();
      await transport.connect({ ip: req.ip, port: req.port, srtpParameters: req.srtpParameters as ms.SrtpParameters });
      const producer = media.producer(req.producerId);
      const onPause = () => this.bus.notify(edge, 'pipe-state', { pipeKey: req.pipeKey, paused: true });
      const onResume = () => this.bus.notify(edge, 'pipe-state', { pipeKey: req.pipeKey, paused: false });
      producer.observer.on('pause', onPause);
      producer.observer.on('resume', onResume);
      consumer.observer.once('close', () => {
        producer.observer.off('pause', onPause);
        producer.observer.off('resume', onResume);
        // The producer closed: so does the pipe (the edge hears pipe-closed).
        transport.close();
      });
      if (this.tombstones.has(req.pipeKey)) throw new AppError('MEDIA_ERROR', 'the edge gave up on this pipe');
      return { ...this.pipeEnd(transport), kind: consumer.kind, rtpParameters: consumer.rtpParameters, paused: consumer.producerPaused };
    } catch (err) {
      pipe.quiet = true;
      transport.close();
      throw err;
    }
  }

  private onUnpipe(pipeKey: string): void {
    const pipe = this.outgoing.get(pipeKey);
    if (!pipe) {
      // Not made yet (the edge timed out first): servePipe refuses it when it gets there.
      this.tombstones.set(pipeKey, Date.now());
      for (const [k, at] of this.tombstones) if (Date.now() - at > TOMBSTONE_MS) this.tombstones.delete(k);
      return;
    }
    pipe.quiet = true;
    pipe.transport.close();
  }

  private async onPipeStart(pipeKey: string): Promise<void> {
    await this.outgoing.get(pipeKey)?.consumer?.resume();
  }

  private async serveControl({ roomId, producerId, action }: ReturnType<typeof producerControl.parse>): Promise<{ paused: boolean }> {
    const media = this.rooms.existing(roomId);
    if (!media?.hasLocalProducer(producerId)) throw notFound('producer');
    const producer = media.producer(producerId);
    if (action === 'pause') await producer.pause();
    else if (action === 'resume') await producer.resume();
    else producer.close();
    return { paused: producer.paused };
  }

  // ---- edge side ---------------------------------------------------------------------------

  /** The room's producers on every live node: this node's (`local`) and the registry's others. */
  async roomProducers(roomId: string, local: MediaProducerInfo[]): Promise<MediaProducerInfo[]> {
    const entries = await this.registry.all(roomId).catch((err: unknown) => {
      this.log.warn({ err, roomId }, 'media registry read failed; listing this node\'s producers only');
      return [];
    });
    const others = entries.filter((e) => e.node !== this.nodeId && !this.dead.has(e.node)).map((e) => e.info);
    return [...local, ...others];
  }

  /** The host, connected to this node, acts on a producer of another node. */
  async control(roomId: string, producerId: string, action: ProducerAction): Promise<{ paused: boolean }> {
    const entry = await this.registry.get(roomId, producerId);
    if (!entry || entry.node === this.nodeId || this.dead.has(entry.node)) throw notFound('producer');
    const answer = (await this.bus.request(entry.node, 'control', { roomId, producerId, action }, this.opts.requestTimeoutMs)) as { paused?: unknown };
    return { paused: answer?.paused === true };
  }

  async pipeIn(media: RoomMedia, producerId: string): Promise<void> {
    const roomId = media.roomId;
    const entry = await this.registry.get(roomId, producerId);
    if (!entry || entry.node === this.nodeId || this.dead.has(entry.node)) throw notFound('producer');
    const origin = entry.node;
    const router = await media.originRouter();
    const transport = await router.createPipeTransport(this.pipeOptions({ roomId, producerId, origin }));
    const pipeKey = transport.id;
    const pipe: IncomingPipe = {
      origin,
      roomId,
      transport,
      producer: null,
      pendingPaused: null,
      quiet: false,
      started: false,
      bytes: 0,
      lastRtpAt: Date.now(),
      stalled: false,
    };
    this.incoming.set(pipeKey, pipe);
    transport.observer.once('close', () => {
      this.incoming.delete(pipeKey);
      if (!pipe.quiet) this.bus.notify(origin, 'unpipe', { pipeKey });
    });
    try {
      const answer = pipeAnswer.parse(
        await this.bus.request(origin, 'pipe', { roomId, producerId, pipeKey, ...this.pipeEnd(transport) }, this.opts.requestTimeoutMs),
      ) as PipeAnswer;
      await transport.connect({ ip: answer.ip, port: answer.port, srtpParameters: answer.srtpParameters });
      const producer = await transport.produce({
        id: producerId,
        kind: answer.kind,
        rtpParameters: answer.rtpParameters,
        paused: pipe.pendingPaused ?? answer.paused,
        appData: { roomId, origin, piped: true },
      });
      pipe.producer = producer;
      // The last viewer here went (RoomMedia.releasePiped closes the producer): so does the pipe.
      producer.observer.once('close', () => transport.close());
      if (pipe.pendingPaused !== null && pipe.pendingPaused !== producer.paused) await (pipe.pendingPaused ? producer.pause() : producer.resume());
      await media.adoptPiped(producer, origin);
      this.log.info({ roomId, producerId, origin }, 'producer piped in from its origin node');
    } catch (err) {
      transport.close();
      if (err instanceof AppError && err.code === 'NOT_FOUND') throw err;
      this.log.warn({ err, roomId, producerId, origin }, 'piping a producer from its origin failed');
      throw err instanceof AppError ? err : new AppError('MEDIA_ERROR', 'the video could not be brought to this server; try again');
    }
  }

  /** A viewer here resumed a consumer of a piped producer: the origin starts the pipe if it has
   * not yet (its key frame then reaches a viewer who is ready for it). */
  viewerReady(media: RoomMedia, producerId: string): void {
    for (const [pipeKey, pipe] of this.incoming) {
      if (pipe.started || pipe.roomId !== media.roomId || pipe.producer?.id !== producerId) continue;
      pipe.started = true;
      pipe.lastRtpAt = Date.now();
      this.bus.notify(pipe.origin, 'pipe-start', { pipeKey });
    }
  }

  private onPipeClosed(pipeKey: string): void {
    const pipe = this.incoming.get(pipeKey);
    if (!pipe) return;
    pipe.quiet = true;
    pipe.transport.close();
  }

  private onPipeState({ pipeKey, paused }: { pipeKey: string; paused: boolean }): void {
    const pipe = this.incoming.get(pipeKey);
    if (!pipe) return;
    if (!pipe.producer) {
      pipe.pendingPaused = paused;
      return;
    }
    pipe.lastRtpAt = Date.now();
    void (paused ? pipe.producer.pause() : pipe.producer.resume()).catch(() => undefined);
  }

  /** RTP stopped on a pipe whose producer is not paused: the origin (or the path) stalled. */
  private async checkStalls(): Promise<void> {
    const now = Date.now();
    for (const [pipeKey, pipe] of this.incoming) {
      const producer = pipe.producer;
      if (!producer || producer.closed || !pipe.started) continue;
      if (producer.paused) {
        pipe.lastRtpAt = now;
        continue;
      }
      const stats = (await producer.getStats().catch(() => [])) as { byteCount?: number }[];
      const bytes = stats.reduce((n, s) => n + (s.byteCount ?? 0), 0);
      if (bytes !== pipe.bytes) {
        pipe.bytes = bytes;
        pipe.lastRtpAt = now;
        if (pipe.stalled) this.log.info({ roomId: pipe.roomId, producerId: producer.id, origin: pipe.origin }, 'media pipe carries RTP again');
        pipe.stalled = false;
      } else if (!pipe.stalled && now - pipe.lastRtpAt >= this.opts.stallAfterMs) {
        pipe.stalled = true;
        this.stalls.inc();
        this.log.warn({ roomId: pipe.roomId, producerId: producer.id, origin: pipe.origin, pipeKey, silentMs: now - pipe.lastRtpAt }, 'media pipe stalled: no RTP from the origin');
      }
    }
  }

  // ---- both ----------------------------------------------------------------------------------

  private onNodeDead(node: string): void {
    const now = Date.now();
    this.dead.set(node, now);
    for (const [n, at] of this.dead) if (now - at > DEAD_MEMORY_MS) this.dead.delete(n);
    // Origin side: the edge's viewers reconnect elsewhere; free what we sent it.
    for (const pipe of [...this.outgoing.values()]) {
      if (pipe.edge !== node) continue;
      pipe.quiet = true;
      pipe.transport.close();
    }
    // Edge side: the origin's producers are gone.
    const rooms = new Set<string>();
    for (const pipe of [...this.incoming.values()]) {
      if (pipe.origin !== node) continue;
      rooms.add(pipe.roomId);
      pipe.quiet = true;
      pipe.transport.close();
    }
    void this.forgetOrigin(node, rooms);
  }

  /** Tell this node's viewers of every room the dead node was an origin of. */
  private async forgetOrigin(node: string, piped: Set<string>): Promise<void> {
    const roomIds = [...new Set([...piped, ...this.rooms.localRoomIds()])];
    await Promise.all(
      roomIds.map(async (roomId) => {
        let lost: { id: string; kind: MediaProducerInfo['kind'] }[] = [];
        try {
          lost = (await this.registry.all(roomId)).filter((e) => e.node === node).map((e) => e.info);
          await this.registry.remove(roomId, lost.map((p) => p.id));
        } catch (err) {
          this.log.warn({ err, roomId, node }, 'media registry cleanup after a dead origin failed');
        }
        if (lost.length === 0 && !piped.has(roomId)) return;
        for (const p of lost) this.rooms.toLocalRoom(roomId, 'media:producer-removed', { producerId: p.id, kind: p.kind });
        this.rooms.toLocalRoom(roomId, 'media:reset', { reason: 'origin-lost', transportIds: [] });
        this.log.warn({ roomId, node, producers: lost.length }, 'room lost its media origin node');
      }),
    );
  }

  private pipeOptions(appData: Record<string, string>): ms.PipeTransportOptions {
    const { listenIp, announcedAddress, minPort, maxPort } = this.opts;
    return {
      listenInfo: { protocol: 'udp', ip: listenIp, ...(announcedAddress ? { announcedAddress } : {}), portRange: { min: minPort, max: maxPort } },
      enableSrtp: true,
      enableRtx: true,
      appData,
    };
  }

  private pipeEnd(transport: ms.PipeTransport): { ip: string; port: number; srtpParameters: ms.SrtpParameters } {
    return {
      ip: this.opts.announcedAddress ?? transport.tuple.localAddress,
      port: transport.tuple.localPort,
      srtpParameters: transport.srtpParameters!,
    };
  }
}
