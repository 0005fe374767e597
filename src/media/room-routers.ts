/**
 * The routers of one room: an origin router that carries the host's producers and, once it
 * serves MEDIA_CONSUMERS_PER_ROUTER consumers, edge routers on other workers that receive every
 * producer through pipeToRouter and take the next viewers. So one room can use every core.
 */
import type { types as ms } from 'mediasoup';
import { AppError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
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

/** Runs async steps one after another. */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

export class RoomRouters {
  private origin: RouterEntry | null = null;
  private readonly edges: RouterEntry[] = [];
  /** Router creation, piping and publishing never interleave: an edge created while a producer
   * is being published cannot miss it. */
  private readonly routing = new Serial();
  private closed = false;

  constructor(
    private readonly roomId: string,
    private readonly pool: WorkerPool,
    private readonly consumersPerRouter: number,
    /** The room's current producers: a new edge gets each of them piped in. */
    private readonly producerIds: () => string[],
    /** A router closed under us (its worker died). Losing the origin closes the edges too. */
    private readonly onLost: (entry: RouterEntry) => void,
    private readonly log: Logger,
  ) {}

  /** Every router of the room, origin first. */
  entries(): RouterEntry[] {
    return this.origin ? [this.origin, ...this.edges] : [...this.edges];
  }

  async originEntry(): Promise<RouterEntry> {
    if (this.origin) return this.origin;
    return this.routing.run(() => this.originLocked());
  }

  /** The router a new viewer's receive transport goes on, with a place reserved on it (release
   * it by decrementing recvTransports when the transport closes or fails). Routers fill in order;
   * when all are full, a new edge router on a worker this room does not use yet gets every
   * producer piped in. When every worker already serves the room, the least loaded router takes
   * the viewer: the threshold spreads load, it does not refuse viewers. */
  placeReceiver(): Promise<RouterEntry> {
    return this.routing.run(async () => {
      const origin = await this.originLocked();
      const routers = [origin, ...this.edges];
      const perViewer = Math.max(1, this.producerIds().length);
      const load = (e: RouterEntry) => Math.max(e.consumers, e.recvTransports * perViewer);
      let chosen = routers.find((e) => load(e) + perViewer <= this.consumersPerRouter);
      if (!chosen) {
        const slot = this.pool.leastLoaded(new Set(routers.map((e) => e.slot)));
        chosen = slot ? await this.newEdge(origin, slot) : routers.reduce((a, b) => (load(b) < load(a) ? b : a));
      }
      chosen.recvTransports++;
      return chosen;
    });
  }

  /** Pipe a new producer to every edge, then `register` it, in one routing step. */
  publish(producer: ms.Producer, register: () => void): Promise<void> {
    return this.routing.run(async () => {
      if (this.origin) {
        for (const edge of this.edges) {
          await this.origin.router.pipeToRouter({ producerId: producer.id, router: edge.router }).catch((err: unknown) => {
            this.log.warn({ err, roomId: this.roomId, producerId: producer.id }, 'pipe to edge router failed');
          });
        }
      }
      if (!producer.closed) register();
    });
  }

  close(): void {
    this.closed = true;
    for (const e of this.entries()) this.retire(e);
    this.origin = null;
    this.edges.length = 0;
  }

  private assertOpen(): void {
    if (this.closed) throw new AppError('ROOM_ENDED', 'the room media is closed');
  }

  private async originLocked(): Promise<RouterEntry> {
    this.assertOpen();
    if (!this.origin) this.origin = await this.newRouter(this.pool.leastLoaded()!, 'origin');
    return this.origin;
  }

  private async newEdge(origin: RouterEntry, slot: WorkerSlot): Promise<RouterEntry> {
    const edge = await this.newRouter(slot, 'edge');
    try {
      for (const producerId of this.producerIds()) await origin.router.pipeToRouter({ producerId, router: edge.router });
    } catch (err) {
      this.retire(edge);
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
      this.retire(entry);
      this.assertOpen();
    }
    router.observer.on('newtransport', (transport) => {
      if (transport.type === 'pipe') return;
      transport.observer.on('newconsumer', (consumer) => {
        entry.consumers++;
        consumer.observer.once('close', () => entry.consumers--);
      });
    });
    router.observer.once('close', () => this.lost(entry));
    return entry;
  }

  private retire(entry: RouterEntry): void {
    entry.retired = true;
    entry.router.close();
  }

  /** Losing the origin loses every producer, so the edges (fed from it) go too; losing an edge
   * loses only its viewers' transports. */
  private lost(entry: RouterEntry): void {
    if (this.closed || entry.retired) return;
    entry.retired = true;
    this.log.warn({ roomId: this.roomId, role: entry.role, worker: entry.slot.index }, 'room lost a router with its worker');
    if (entry === this.origin) {
      this.origin = null;
      for (const e of this.edges) this.retire(e);
      this.edges.length = 0;
    } else {
      this.edges.splice(this.edges.indexOf(entry), 1);
    }
    this.onLost(entry);
  }
}
