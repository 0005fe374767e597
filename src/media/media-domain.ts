/**
 * The media domain: the worker pool, one RoomMedia per room with media on this node, the cascade
 * that makes any node serve any room (a producer's origin node pipes it to the edge nodes whose
 * viewers consume it, cascade.ts), and the glue to the rest of the server (join snapshot, leaving,
 * metrics).
 */
import { existsSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import type { Router } from 'express';
import { workerBin } from 'mediasoup';
import type { Role, Room } from '../protocol/index.js';
import type { Domain, DomainDeps } from '../core/domain.js';
import { AppError, isRedisUnavailable } from '../core/errors.js';
import { roomChannel } from '../core/keys.js';
import { roleOf } from '../core/roles.js';
import type { Logger } from '../core/logger.js';
import { joinedRoom, type EventRouter, type LiveSocket } from '../core/socket-kit.js';
import { MediaCascade } from './cascade.js';
import { registerMediaRoutes } from './media-http.js';
import { registerWhipRoutes } from './whip-http.js';
import { registerMediaMetrics } from './media-metrics.js';
import { registerMediaEvents } from './media-socket.js';
import type { PeerMedia } from './peer-media.js';
import { RoomMedia, type MediaNotifier } from './room-media.js';
import { WhipOwners } from './whip-owners.js';
import { WhipSessions } from './whip-sessions.js';
import { WorkerPool } from './worker-pool.js';

/** How often rooms whose live ended (or that nobody uses) are checked for media to free. An
 * ingest outlives every socket, so leaving alone cannot always tell. */
const SWEEP_MS = 30_000;

export interface MediaContext {
  room: Room;
  role: Role;
  media: RoomMedia;
  peer: PeerMedia;
}

/**
 * Anything mediasoup throws becomes MEDIA_ERROR; our own errors and an unreachable Redis keep
 * their codes. Only mediasoup's verdicts on what the client sent (TypeError: bad parameters,
 * UnsupportedError: a codec the room can't take) are passed on; anything else (no free port, a
 * closed worker, a closed transport) is the server's business: the client gets a generic message
 * and the details go to the log.
 */
export function asMediaError(err: unknown, log?: Logger): unknown {
  if (err instanceof AppError || isRedisUnavailable(err)) return err;
  if (err instanceof TypeError || (err instanceof Error && err.name === 'UnsupportedError')) {
    return new AppError('MEDIA_ERROR', `invalid media parameters: ${err.message.slice(0, 200)}`);
  }
  log?.warn({ err }, 'media operation failed');
  return new AppError('MEDIA_ERROR', 'the media server could not do this right now; try again later');
}

export async function mediaCall<T>(fn: () => Promise<T>, log?: Logger): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw asMediaError(err, log);
  }
}

export class MediaDomain implements Domain {
  readonly name = 'media';
  private poolRef: WorkerPool | null = null;
  private cascadeRef: MediaCascade | null = null;
  private whipRef: WhipSessions | null = null;
  private readonly rooms = new Map<string, RoomMedia>();
  /** Ingests being started, per user (see startIngest). */
  private readonly pendingIngests = new Map<string, Set<string>>();
  private readonly notifier: MediaNotifier;
  private sweeper: NodeJS.Timeout | null = null;

  constructor(readonly deps: DomainDeps) {
    // The notifier's signature already ties each event to its payload type; Socket.IO's emit
    // typing cannot follow a generic event name, hence the widened call.
    const emitTo = (channel: string, event: string, payload: unknown) =>
      (deps.io.to(channel).emit as (e: string, p: unknown) => boolean)(event, payload);
    this.notifier = {
      toRoom: (roomId, event, payload) => emitTo(roomChannel(roomId), event, payload),
      // Every socket is in a Socket.IO room named by its id.
      toPeer: (peerId, event, payload) => emitTo(peerId, event, payload),
    };
  }

  async start(): Promise<void> {
    const c = this.deps.config;
    if (!existsSync(workerBin)) {
      throw new Error(
        `mediasoup worker binary not found at ${workerBin}: build it with scripts/build-mediasoup-worker.sh ` +
          '(or set MEDIASOUP_WORKER_BIN, or run without video: MEDIA_ENABLED=false)',
      );
    }
    const pool = await WorkerPool.start(
      {
        workers: c.MEDIA_WORKERS,
        listenIp: c.MEDIA_LISTEN_IP,
        ...(c.MEDIA_ANNOUNCED_ADDRESS ? { announcedAddress: c.MEDIA_ANNOUNCED_ADDRESS } : {}),
        portBase: c.MEDIA_PORT_BASE,
        rtcMinPort: c.MEDIA_RTC_MIN_PORT,
        rtcMaxPort: c.MEDIA_RTC_MAX_PORT,
      },
      this.deps.log,
    );
    pool.on('replaced', (slot, oldPid) => this.deps.log.warn({ index: slot.index, oldPid, pid: slot.worker.pid }, 'mediasoup worker replaced'));
    this.poolRef = pool;
    registerMediaMetrics(this.deps.metrics, pool, () => this.rooms.values());
    const cascade = new MediaCascade(
      this.deps.redis,
      {
        existing: (roomId) => this.rooms.get(roomId),
        localRoomIds: () => this.localRoomIds(),
        toLocalRoom: (roomId, event, payload) =>
          (this.deps.io.local.to(roomChannel(roomId)).emit as (e: string, p: unknown) => boolean)(event, payload),
      },
      {
        listenIp: c.MEDIA_PIPE_LISTEN_IP ?? c.MEDIA_LISTEN_IP,
        announcedAddress: pipeAnnouncedAddress(c),
        minPort: c.MEDIA_PIPE_MIN_PORT,
        maxPort: c.MEDIA_PIPE_MAX_PORT,
        requestTimeoutMs: c.MEDIA_PIPE_TIMEOUT_MS,
        nodeDeadAfterMs: c.MEDIA_NODE_DEAD_MS,
        stallAfterMs: c.MEDIA_PIPE_STALL_MS,
      },
      this.deps.log,
      this.deps.metrics,
    );
    await cascade.start();
    this.cascadeRef = cascade;
    this.whipRef = new WhipSessions(new WhipOwners(this.deps.redis), cascade, this.deps.log);
    this.whipRef.start();
    this.sweeper = setInterval(() => void this.sweep(), SWEEP_MS);
    this.sweeper.unref();
  }

  get pool(): WorkerPool {
    if (!this.poolRef) throw new AppError('UNAVAILABLE', 'media is not started');
    return this.poolRef;
  }

  /** The room's media on this node, created on first use. */
  roomMedia(roomId: string): RoomMedia {
    let media = this.rooms.get(roomId);
    if (!media) {
      const c = this.deps.config;
      media = new RoomMedia(
        roomId,
        this.pool,
        {
          consumersPerRouter: c.MEDIA_CONSUMERS_PER_ROUTER,
          ingest: {
            listenIp: c.MEDIA_LISTEN_IP,
            ...(c.MEDIA_ANNOUNCED_ADDRESS ? { announcedAddress: c.MEDIA_ANNOUNCED_ADDRESS } : {}),
            rtcMinPort: c.MEDIA_RTC_MIN_PORT,
            rtcMaxPort: c.MEDIA_RTC_MAX_PORT,
          },
          ...(this.cascadeRef ? { cascade: this.cascadeRef } : {}),
        },
        this.notifier,
        this.deps.log,
      );
      this.rooms.set(roomId, media);
    }
    return media;
  }

  /**
   * Start (`start`: RTP, replacing; or WHIP) a room's ingest for `userId`, who may run at most
   * MEDIA_INGESTS_PER_USER on this node at once: an RTP ingest holds 2-4 UDP ports of the RTC
   * range, which one user could otherwise exhaust for everyone, and each is an encoder's worth of
   * bitrate into the node. Replacing the ingest of a room already counted is always fine.
   */
  async startIngest<T>(roomId: string, userId: string, start: (media: RoomMedia) => Promise<T>): Promise<T> {
    const max = this.deps.config.MEDIA_INGESTS_PER_USER;
    const mine = new Set(this.pendingIngests.get(userId));
    for (const [id, media] of this.rooms) if (media.ingestUserId === userId) mine.add(id);
    if (!mine.has(roomId) && mine.size >= max) {
      throw new AppError('LIMIT_EXCEEDED', `at most ${max} ingests (RTP or WHIP) per user at once; stop one first`);
    }
    // Counted from now on, so parallel requests for other rooms see it while it starts.
    const pending = this.pendingIngests.get(userId) ?? new Set<string>();
    this.pendingIngests.set(userId, pending.add(roomId));
    try {
      return await mediaCall(() => start(this.roomMedia(roomId)), this.deps.log);
    } finally {
      pending.delete(roomId);
      if (pending.size === 0 && this.pendingIngests.get(userId) === pending) this.pendingIngests.delete(userId);
    }
  }

  existingRoomMedia(roomId: string): RoomMedia | undefined {
    return this.rooms.get(roomId);
  }

  /** The WHIP sessions of every node: this node's, and the way to the others'. */
  get whip(): WhipSessions {
    if (!this.whipRef) throw new AppError('UNAVAILABLE', 'media is not started');
    return this.whipRef;
  }

  get cascade(): MediaCascade {
    if (!this.cascadeRef) throw new AppError('UNAVAILABLE', 'media is not started');
    return this.cascadeRef;
  }

  /** Rooms with connections on this node (their Socket.IO channels). */
  private localRoomIds(): string[] {
    const prefix = roomChannel('');
    const ids: string[] = [];
    for (const name of this.deps.io.of('/').adapter.rooms.keys()) if (name.startsWith(prefix)) ids.push(name.slice(prefix.length));
    return ids;
  }

  /** The socket's room, its role there and its media state. Checked again after the Redis read:
   * a socket that left or dropped meanwhile must not get media state that would outlive it. */
  async context(socket: LiveSocket): Promise<MediaContext> {
    const roomId = joinedRoom(socket);
    const room = await this.deps.rooms.require(roomId);
    if (room.status === 'ended') throw new AppError('ROOM_ENDED', 'this live has ended');
    if (!socket.connected || socket.data.roomId !== roomId) throw new AppError('NOT_IN_ROOM', 'join a room first');
    const media = this.roomMedia(roomId);
    return { room, role: roleOf(room, socket.data.user), media, peer: media.peer(socket.id, socket.data.user?.id ?? null) };
  }

  registerEvents(router: EventRouter): void {
    registerMediaEvents(router, this);
  }

  registerHttp(router: Router): void {
    registerMediaRoutes(router, this);
    registerWhipRoutes(router, this);
  }

  /** Every producer of the room, on whichever node it lives. */
  async snapshotPart(room: Room): Promise<Record<string, unknown>> {
    const local = this.rooms.get(room.id)?.producerInfos() ?? [];
    return { media: { producers: this.cascadeRef ? await this.cascadeRef.roomProducers(room.id, local) : local } };
  }

  async onJoined(socket: LiveSocket): Promise<void> {
    // A recovered connection kept its room but its media was closed at the disconnect.
    if (socket.recovered) socket.emit('media:reset', { reason: 'reconnected', transportIds: 'all' });
  }

  async onLeft(socket: LiveSocket, roomId: string): Promise<void> {
    const media = this.rooms.get(roomId);
    if (!media) return;
    media.removePeer(socket.id);
    await this.releaseIfUnused(roomId);
  }

  /** Close a room's media when nothing uses it or its live has ended. */
  async releaseIfUnused(roomId: string): Promise<void> {
    const media = this.rooms.get(roomId);
    if (!media) return;
    let ended = false;
    if (!media.idle) {
      const room = await this.deps.rooms.get(roomId);
      ended = room === null || room.status === 'ended';
    }
    if ((media.idle || ended) && this.rooms.get(roomId) === media) {
      media.close();
      this.rooms.delete(roomId);
    }
  }

  private async sweep(): Promise<void> {
    for (const roomId of [...this.rooms.keys()]) {
      await this.releaseIfUnused(roomId).catch((err) => this.deps.log.warn({ err, roomId }, 'media sweep failed'));
    }
  }

  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    this.whipRef?.stop();
    for (const media of this.rooms.values()) media.close();
    this.rooms.clear();
    await this.cascadeRef?.close();
    this.poolRef?.close();
  }
}

/** Where other nodes send pipe RTP: the explicit setting, else the bind address, else (a wildcard
 * bind) the announced media address or this host's first non-internal address. */
function pipeAnnouncedAddress(c: DomainDeps['config']): string | undefined {
  if (c.MEDIA_PIPE_ANNOUNCED_ADDRESS) return c.MEDIA_PIPE_ANNOUNCED_ADDRESS;
  const ip = c.MEDIA_PIPE_LISTEN_IP ?? c.MEDIA_LISTEN_IP;
  if (ip !== '0.0.0.0' && ip !== '::') return undefined;
  if (c.MEDIA_ANNOUNCED_ADDRESS) return c.MEDIA_ANNOUNCED_ADDRESS;
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (!a.internal && a.family === (ip === '::' ? 'IPv6' : 'IPv4')) return a.address;
  }
  return undefined;
}
