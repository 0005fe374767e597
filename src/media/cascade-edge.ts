/**
 * The edge side of the cascade (cascade.ts): producers of other nodes piped into this one for its
 * viewers. The first viewer of a producer here makes the edge ask its origin for a pipe; the
 * origin's end starts when a viewer here is ready (viewerReady → pipe-start); pause and resume
 * at the origin arrive as notes; the origin closing its end closes ours. A pipe that stops
 * carrying RTP while its producer is not paused (a stalled origin) is logged and counted.
 */
import type { Counter } from 'prom-client';
import type { types as ms } from 'mediasoup';
import { AppError, notFound } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { pipeAnswer, pipeRef, pipeState, type PipeAnswer } from './cascade-messages.js';
import type { NodeBus } from './node-bus.js';
import { pipeEnd, pipeTransportOptions, type PipeListen } from './pipe-transports.js';
import type { ProducerRegistry } from './producer-registry.js';
import type { RoomMedia } from './room-media.js';

export interface CascadeEdgeOptions {
  listen: PipeListen;
  /** A pipe request the origin does not answer within this fails. */
  requestTimeoutMs: number;
  /** An unpaused pipe that carried no RTP for this long is stalled. */
  stallAfterMs: number;
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

const STALL_CHECK_MS = 1000;

export class CascadeEdge {
  private readonly incoming = new Map<string, IncomingPipe>();
  private stallTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly bus: NodeBus,
    private readonly registry: ProducerRegistry,
    /** Nodes taken for dead are no origin to pipe from. */
    private readonly isDead: (node: string) => boolean,
    private readonly opts: CascadeEdgeOptions,
    private readonly log: Logger,
    private readonly stalls: Counter,
  ) {}

  /** Hear the origins' notes and watch for stalls. */
  serve(): void {
    this.bus.onNote('pipe-closed', (params) => this.onPipeClosed(pipeRef.parse(params).pipeKey));
    this.bus.onNote('pipe-state', (params) => this.onPipeState(pipeState.parse(params)));
    this.stallTimer = setInterval(() => void this.checkStalls(), STALL_CHECK_MS);
    this.stallTimer.unref();
  }

  stop(): void {
    if (this.stallTimer) clearInterval(this.stallTimer);
    this.stallTimer = null;
  }

  /** Pipes into this node. */
  get pipeCount(): number {
    return this.incoming.size;
  }

  get stalledCount(): number {
    return [...this.incoming.values()].filter((p) => p.stalled).length;
  }

  async pipeIn(media: RoomMedia, producerId: string): Promise<void> {
    const roomId = media.roomId;
    const entry = await this.registry.get(roomId, producerId);
    if (!entry || entry.node === this.bus.nodeId || this.isDead(entry.node)) throw notFound('producer');
    const origin = entry.node;
    const router = await media.originRouter();
    const transport = await router.createPipeTransport(pipeTransportOptions(this.opts.listen, { roomId, producerId, origin }));
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
        await this.bus.request(origin, 'pipe', { roomId, producerId, pipeKey, ...pipeEnd(this.opts.listen, transport) }, this.opts.requestTimeoutMs),
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
      // The last viewer here went (PipedProducers.release closes the producer): so does the pipe.
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

  /** The origin died: close its pipes. Returns the rooms they served. */
  dropOrigin(node: string): Set<string> {
    const rooms = new Set<string>();
    for (const pipe of [...this.incoming.values()]) {
      if (pipe.origin !== node) continue;
      rooms.add(pipe.roomId);
      pipe.quiet = true;
      pipe.transport.close();
    }
    return rooms;
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
}
