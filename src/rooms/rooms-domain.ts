/**
 * The rooms domain: room records, join/leave with the assembled snapshot, presence, hearts and
 * engagement. It owns membership, so it also implements eviction (bans, room end) for the others.
 */
import type { Router } from 'express';
import type { RedisClient } from '../core/redis-client.js';
import type { JoinSnapshot, Role, Room, UserRef } from '../protocol/index.js';
import type { Domain, RoomMembership } from '../core/domain.js';
import { roomChannel, staffChannel } from '../core/keys.js';
import type { Logger } from '../core/logger.js';
import { atLeast, canWatch, roleOf } from '../core/roles.js';
import type { EventRouter, InterServerEvents, LiveServer, LiveSocket } from '../core/socket-kit.js';
import { AppError } from '../core/errors.js';
import { ClusterThrottle } from '../core/throttle.js';
import { roomKey, roomStatsKey } from '../core/keys.js';
import { EngagementStore } from './engagement-store.js';
import { Presence } from './presence.js';
import { RoomStore } from './room-store.js';
import { registerRoomEvents } from './rooms-socket.js';
import { registerRoomRoutes } from './rooms-http.js';

export const HEARTS_BROADCAST_MS = 250;

type EvictMessage = Parameters<InterServerEvents['evict']>[0];

export class RoomsDomain implements Domain, RoomMembership {
  readonly name = 'rooms';
  readonly store: RoomStore;
  readonly presence: Presence;
  readonly engagement: EngagementStore;
  readonly heartsThrottle: ClusterThrottle;
  /** The other domains, consulted on every join. Set by the composition root. */
  peers: Domain[] = [];

  constructor(
    readonly io: LiveServer,
    readonly redis: RedisClient,
    readonly log: Logger,
    heartsPerSecond: number,
  ) {
    this.store = new RoomStore(redis);
    this.presence = new Presence(io, redis, log);
    this.engagement = new EngagementStore(redis, heartsPerSecond);
    this.heartsThrottle = new ClusterThrottle(
      redis,
      (roomId) => roomKey(roomId, 'throttle:hearts'),
      HEARTS_BROADCAST_MS,
      async (roomId) => {
        const total = Number((await redis.hget(roomStatsKey(roomId), 'hearts')) ?? 0);
        io.to(roomChannel(roomId)).emit('hearts:update', { total });
      },
      log,
    );
    // Evictions requested on other nodes reach this node's sockets here.
    io.on('evict', (msg) => void this.evictLocal(msg));
    io.on('staff', (msg) => void this.setStaffLocal(msg));
  }

  registerEvents(router: EventRouter): void {
    registerRoomEvents(router, this);
  }

  registerHttp(router: Router): void {
    registerRoomRoutes(router, this);
  }

  async join(socket: LiveSocket, roomId: string): Promise<JoinSnapshot> {
    const user = socket.data.user;
    const room = await this.store.require(roomId);
    if (room.status === 'ended') throw new AppError('ROOM_ENDED', 'this live has ended');
    if (!canWatch(room, user)) throw new AppError('UNAUTHORIZED', 'sign in to watch this room');
    for (const peer of this.peers) await peer.joinGuard?.(room, user);

    if (socket.data.roomId && socket.data.roomId !== roomId) await this.leave(socket);
    const role = roleOf(room, user);
    // Subscribe before reading the snapshot so nothing that happens in between is missed.
    await socket.join(this.channelsFor(room, role));
    socket.data.roomId = roomId;
    await this.presence.enter(socket, roomId);

    const [presence, totals, parts] = await Promise.all([
      this.presence.count(roomId),
      this.engagement.totals(roomId),
      Promise.all(this.peers.map((p) => p.snapshotPart?.(room, user, role) ?? Promise.resolve({}))),
    ]);
    for (const peer of this.peers) await peer.onJoined?.(socket, room);
    // Connection state recovery resumes from the offset of the last broadcast a client received;
    // a viewer who has heard nothing since joining would have none and come back as a stranger.
    // One broadcast addressed to this socket gives it an offset from the start.
    this.io.to(socket.id).emit('presence:update', presence);
    return Object.assign(
      { room, role, you: user, presence, hearts: totals.hearts, engagement: totals.engagement },
      ...parts,
    ) as JoinSnapshot;
  }

  async leave(socket: LiveSocket): Promise<boolean> {
    const roomId = socket.data.roomId;
    if (!roomId) return false;
    socket.data.roomId = null;
    await Promise.all([socket.leave(roomChannel(roomId)), socket.leave(staffChannel(roomId))]);
    await this.presence.exit(socket, roomId);
    for (const peer of this.peers) await peer.onLeft?.(socket, roomId);
    return true;
  }

  async evict(roomId: string, userId: string | null, reason: 'banned' | 'ended'): Promise<void> {
    const msg: EvictMessage = { roomId, userId, reason };
    this.io.serverSideEmit('evict', msg);
    await this.evictLocal(msg);
  }

  /**
   * End of the live: every member on every node gets the final room:status, then room:removed.
   * The status goes with the eviction rather than as a room broadcast because the adapter
   * delivers a broadcast only after publishing it to Redis, by which time the eviction has
   * already taken this node's sockets out of the room (and on other nodes the two travel by
   * different channels, stream and pub/sub, so their order is not guaranteed either).
   */
  async endLive(room: Room): Promise<void> {
    for (const peer of this.peers) {
      await peer.onRoomEnded?.(room).catch((err: unknown) => this.log.error({ err, domain: peer.name }, 'room end hook failed'));
    }
    const msg: EvictMessage = { roomId: room.id, userId: null, reason: 'ended', room };
    this.io.serverSideEmit('evict', msg);
    await this.evictLocal(msg);
  }

  private async evictLocal({ roomId, userId, reason, room }: EvictMessage): Promise<void> {
    for (const socket of this.io.of('/').sockets.values()) {
      if (socket.data.roomId !== roomId) continue;
      if (userId !== null && socket.data.user?.id !== userId) continue;
      if (userId !== null && socket.data.user === null) continue;
      if (room) socket.emit('room:status', { room });
      socket.emit('room:removed', { roomId, reason });
      await this.leave(socket).catch((err) => this.log.warn({ err }, 'evict leave failed'));
    }
  }

  /** Appointed or removed mid-live: staff-only messages start or stop at once, on every node. */
  async setStaff(roomId: string, userId: string, isStaff: boolean): Promise<void> {
    const msg = { roomId, userId, isStaff };
    this.io.serverSideEmit('staff', msg);
    await this.setStaffLocal(msg);
  }

  private async setStaffLocal({ roomId, userId, isStaff }: Parameters<InterServerEvents['staff']>[0]): Promise<void> {
    for (const socket of this.io.of('/').sockets.values()) {
      if (socket.data.roomId !== roomId || socket.data.user?.id !== userId) continue;
      await (isStaff ? socket.join(staffChannel(roomId)) : socket.leave(staffChannel(roomId)));
    }
  }

  async roleIn(roomId: string, user: UserRef | null): Promise<{ room: Room; role: Role }> {
    const room = await this.store.require(roomId);
    return { room, role: roleOf(room, user) };
  }

  private channelsFor(room: Room, role: Role): string[] {
    return atLeast(role, 'moderator') ? [roomChannel(room.id), staffChannel(room.id)] : [roomChannel(room.id)];
  }

  async close(): Promise<void> {
    this.presence.close();
    this.heartsThrottle.close();
  }
}
