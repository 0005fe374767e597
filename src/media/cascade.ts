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
 * reuses the piped producer (PipedProducers.hold); the last one leaving closes the pipe, which
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
 *
 * The origin side lives in cascade-origin.ts, the edge side in cascade-edge.ts; this module wires
 * them to the node bus and to node liveness, and answers what needs the whole room (its producers
 * on every node, the host's control of a producer on another node, a node's death).
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { types as ms } from 'mediasoup';
import type { MediaProducerInfo, MediaServerEvents } from '../protocol/index.js';
import { notFound } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { RedisClient } from '../core/redis-client.js';
import type { ProducerAction } from './cascade-messages.js';
import { CascadeEdge } from './cascade-edge.js';
import { CascadeOrigin } from './cascade-origin.js';
import { NodeBus } from './node-bus.js';
import { NodeLiveness } from './node-liveness.js';
import type { PipeListen } from './pipe-transports.js';
import { ProducerRegistry } from './producer-registry.js';
import type { MediaCascadeHooks, RoomMedia } from './room-media.js';

type MediaEvent = keyof MediaServerEvents;
type MediaPayload<E extends MediaEvent> = Parameters<MediaServerEvents[E]>[0];

export interface CascadeOptions extends PipeListen {
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

/** Dead nodes are remembered this long (ids are per process, never reused). */
const DEAD_MEMORY_MS = 10 * 60_000;

export class MediaCascade implements MediaCascadeHooks {
  private readonly liveness: NodeLiveness;
  /** Also carries WHIP requests forwarded to the node holding the session (whip-sessions.ts). */
  readonly bus: NodeBus;
  private readonly registry: ProducerRegistry;
  private readonly origin: CascadeOrigin;
  private readonly edge: CascadeEdge;
  private readonly dead = new Map<string, number>();

  constructor(
    redis: RedisClient,
    private readonly rooms: CascadeRooms,
    private readonly opts: CascadeOptions,
    private readonly log: Logger,
    metrics: Registry,
  ) {
    this.liveness = new NodeLiveness(redis, opts.nodeDeadAfterMs, log, (node) => this.onNodeDead(node), () => this.origin.registerAgain());
    this.bus = new NodeBus(redis, this.liveness.nodeId, log);
    this.registry = new ProducerRegistry(redis);
    const { listenIp, announcedAddress, minPort, maxPort } = opts;
    const listen: PipeListen = { listenIp, ...(announcedAddress ? { announcedAddress } : {}), minPort, maxPort };
    this.origin = new CascadeOrigin(this.bus, this.registry, rooms, listen, log);
    const gauge = (name: string, help: string, value: () => number) =>
      new Gauge({
        name,
        help,
        registers: [metrics],
        collect() {
          this.set(value());
        },
      });
    gauge('media_pipes_in', 'Producers piped into this node from their origin node', () => this.edge.pipeCount);
    gauge('media_pipes_out', 'Pipes from producers of this node to edge nodes', () => this.origin.pipeCount);
    gauge('media_pipes_stalled', 'Pipes into this node carrying no RTP although their producer is not paused', () => this.edge.stalledCount);
    const stalls = new Counter({ name: 'media_pipe_stalls_total', help: 'Pipes into this node that stopped carrying RTP', registers: [metrics] });
    const { requestTimeoutMs, stallAfterMs } = opts;
    this.edge = new CascadeEdge(this.bus, this.registry, (node) => this.dead.has(node), { listen, requestTimeoutMs, stallAfterMs }, log, stalls);
  }

  get nodeId(): string {
    return this.liveness.nodeId;
  }

  /** How long a request to another node may wait for its answer. */
  get requestTimeoutMs(): number {
    return this.opts.requestTimeoutMs;
  }

  /** Whether `node` is alive: not taken for dead here, and still beating. */
  async nodeAlive(node: string): Promise<boolean> {
    return !this.dead.has(node) && (await this.liveness.isAlive(node));
  }

  async start(): Promise<void> {
    this.origin.serve();
    this.edge.serve();
    await this.bus.start();
    await this.liveness.start();
  }

  async close(): Promise<void> {
    this.edge.stop();
    await this.liveness.stop();
    await this.bus.close();
  }

  register(media: RoomMedia, producer: ms.Producer, info: MediaProducerInfo): Promise<void> {
    return this.origin.register(media, producer, info);
  }

  pipeIn(media: RoomMedia, producerId: string): Promise<void> {
    return this.edge.pipeIn(media, producerId);
  }

  viewerReady(media: RoomMedia, producerId: string): void {
    this.edge.viewerReady(media, producerId);
  }

  /** The room's producers on every live node: this node's (`local`) and the registry's others.
   * Entries of a node that is not alive are left out even when this node never saw it die (it
   * started later, or nobody here was in the room): a dead origin's registrations are cleaned only
   * by the survivors that were in the room, and would otherwise be listed until they expire. */
  async roomProducers(roomId: string, local: MediaProducerInfo[]): Promise<MediaProducerInfo[]> {
    try {
      const entries = (await this.registry.all(roomId)).filter((e) => e.node !== this.nodeId && !this.dead.has(e.node));
      const alive = await this.liveness.aliveOf([...new Set(entries.map((e) => e.node))]);
      return [...local, ...entries.filter((e) => alive.has(e.node)).map((e) => e.info)];
    } catch (err) {
      this.log.warn({ err, roomId }, 'media registry read failed; listing this node\'s producers only');
      return local;
    }
  }

  /** The host, connected to this node, acts on a producer of another node. */
  async control(roomId: string, producerId: string, action: ProducerAction): Promise<{ paused: boolean }> {
    const entry = await this.registry.get(roomId, producerId);
    if (!entry || entry.node === this.nodeId || this.dead.has(entry.node)) throw notFound('producer');
    const answer = (await this.bus.request(entry.node, 'control', { roomId, producerId, action }, this.opts.requestTimeoutMs)) as { paused?: unknown };
    return { paused: answer?.paused === true };
  }

  private onNodeDead(node: string): void {
    const now = Date.now();
    this.dead.set(node, now);
    for (const [n, at] of this.dead) if (now - at > DEAD_MEMORY_MS) this.dead.delete(n);
    this.origin.dropEdge(node);
    void this.forgetOrigin(node, this.edge.dropOrigin(node));
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
}
