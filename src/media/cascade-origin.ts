/**
 * The origin side of the cascade (cascade.ts): this node's producers, registered in the room's
 * Redis registry for edges to find (and written again after a silence), and the pipes this node
 * sends them through to edges that asked. A pipe's origin end starts paused and is started when
 * the edge's first viewer is ready (pipe-start); the producer's pause and resume travel to the
 * edge as notes; a closed producer closes the pipe (the edge hears pipe-closed). The host,
 * connected to another node, may pause, resume or close a producer here (control).
 */
import type { types as ms } from 'mediasoup';
import type { MediaProducerInfo } from '../protocol/index.js';
import { AppError, notFound } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { pipeRef, pipeRequest, producerControl, type PipeAnswer } from './cascade-messages.js';
import type { CascadeRooms } from './cascade.js';
import type { NodeBus } from './node-bus.js';
import { pipeEnd, pipeTransportOptions, type PipeListen } from './pipe-transports.js';
import type { ProducerRegistry } from './producer-registry.js';
import type { RoomMedia } from './room-media.js';

/** The origin's end of a pipe to an edge. */
interface OutgoingPipe {
  edge: string;
  transport: ms.PipeTransport;
  /** Created paused; resumed when the edge's first viewer is (see viewerReady). */
  consumer: ms.Consumer | null;
  /** Closed at the edge's request (or the edge died): no note back. */
  quiet: boolean;
}

/** How long pipe keys closed before their pipe was made are remembered (see unpipe). */
const TOMBSTONE_MS = 60_000;

export class CascadeOrigin {
  private readonly outgoing = new Map<string, OutgoingPipe>();
  /** Pipe keys an edge gave up on before the origin had finished making the pipe. */
  private readonly tombstones = new Map<string, number>();
  /** This node's producers, to register again after a silence. */
  private readonly local = new Map<string, { roomId: string; producer: ms.Producer; info: MediaProducerInfo }>();

  constructor(
    private readonly bus: NodeBus,
    private readonly registry: ProducerRegistry,
    private readonly rooms: CascadeRooms,
    private readonly listen: PipeListen,
    private readonly log: Logger,
  ) {}

  /** Answer the edges' requests and notes. */
  serve(): void {
    this.bus.handle('pipe', (params, from) => this.servePipe(pipeRequest.parse(params), from));
    this.bus.handle('control', (params) => this.serveControl(producerControl.parse(params)));
    this.bus.onNote('unpipe', (params) => this.onUnpipe(pipeRef.parse(params).pipeKey));
    this.bus.onNote('pipe-start', (params) => this.onPipeStart(pipeRef.parse(params).pipeKey));
  }

  /** Pipes from this node's producers to edges. */
  get pipeCount(): number {
    return this.outgoing.size;
  }

  private get nodeId(): string {
    return this.bus.nodeId;
  }

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

  registerAgain(): void {
    for (const { roomId, producer, info } of this.local.values()) {
      if (producer.closed) continue;
      void this.registry.put(roomId, this.nodeId, { ...info, paused: producer.paused }).catch((err: unknown) => this.log.warn({ err }, 'media registry write failed'));
    }
  }

  /** The edge died: its viewers reconnect elsewhere; free what we sent it. */
  dropEdge(node: string): void {
    for (const pipe of [...this.outgoing.values()]) {
      if (pipe.edge !== node) continue;
      pipe.quiet = true;
      pipe.transport.close();
    }
  }

  private async servePipe(req: ReturnType<typeof pipeRequest.parse>, edge: string): Promise<PipeAnswer> {
    const media = this.rooms.existing(req.roomId);
    if (!media?.hasLocalProducer(req.producerId)) throw notFound('producer');
    const router = await media.originRouter();
    const transport = await router.createPipeTransport(pipeTransportOptions(this.listen, { roomId: req.roomId, producerId: req.producerId, edge }));
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
      return { ...pipeEnd(this.listen, transport), kind: consumer.kind, rtpParameters: consumer.rtpParameters, paused: consumer.producerPaused };
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
}
