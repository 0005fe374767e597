/**
 * The rooms domain: room records, join/leave with the assembled snapshot, presence, hearts and
 * engagement. It owns membership, so it also implements eviction (bans, room end) for the others.
 */
import type { Router } from 'express';
import type { RedisClient } from '../core/redis-client.js';
import type { JoinSnapshot, Role, RoleUpdate, Room, SocketData, UserRef } from '../protocol/index.js';
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
import { RoomSweeper } from './room-sweeper.js';
import type { Config } from '../config.js';
import { registerRoomEvents } from './rooms-socket.js';
import { registerRoomRoutes } from './rooms-http.js';
import type { RoomsMetrics } from './rooms-metrics.js';

export const HEARTS_BROADCAST_MS = 250;

/** A room's or a room's staff channel (of any room). */
const isRoomChannel = (channel: string): boolean => channel.startsWith(roomChannel('')) || channel.startsWith(staffChannel(''));

type EvictMessage = Parameters<InterServerEvents['evict']>[0];

export class RoomsDomain implements Domain, RoomMembership {
  readonly name = 'rooms';
  readonly store: RoomStore;
  readonly presence: Presence;
  readonly engagement: EngagementStore;
  readonly heartsThrottle: ClusterThrottle;
  /** The other domains, consulted on every join. Set by the composition root. */
  peers: Domain[] = [];
  sweeper: RoomSweeper | null = null;
  /** Each connection's queue of membership changes (see serial). */
  private readonly queues = new WeakMap<LiveSocket, Promise<unknown>>();

  constructor(
    readonly io: LiveServer,
    readonly redis: RedisClient,
    readonly log: Logger,
    heartsPerSecond: number,
    presenceHeartbeatMs: number,
    readonly metrics: RoomsMetrics,
    /** The caps and sweeps (ROOMS_PER_USER, ROOM_MODERATORS_MAX, GUESTS_PER_IP_COUNTED, ROOM_SCHEDULED_STALE_MS). */
    readonly limits: Pick<Config, 'ROOMS_PER_USER' | 'ROOM_MODERATORS_MAX' | 'GUESTS_PER_IP_COUNTED' | 'ROOM_SCHEDULED_STALE_MS' | 'ROOM_SWEEP_MS' | 'TRUST_PROXY_HOPS'>,
  ) {
    this.store = new RoomStore(redis);
    this.presence = new Presence(io, redis, log, presenceHeartbeatMs, limits.GUESTS_PER_IP_COUNTED, limits.TRUST_PROXY_HOPS);
    this.engagement = new EngagementStore(redis, heartsPerSecond, {
      onHearts: (roomId, hearts) => {
        this.heartsThrottle.mark(roomId);
        metrics.hearts.inc(hearts);
      },
      log,
    });
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
    io.on('role', (msg) => void this.roleChangedLocal(msg));
  }

  async start(): Promise<void> {
    this.sweeper = new RoomSweeper(
      this.redis,
      this.store,
      { staleAfterMs: this.limits.ROOM_SCHEDULED_STALE_MS, periodMs: this.limits.ROOM_SWEEP_MS },
      this.log,
      (room) => this.endLive(room),
    );
  }

  registerEvents(router: EventRouter): void {
    registerRoomEvents(router, this);
  }

  registerHttp(router: Router): void {
    registerRoomRoutes(router, this);
  }

  /**
   * Membership changes of one connection (join, leave, recovery, eviction, role change) run one
   * at a time in the order they were asked for: two joins sent at once would otherwise interleave
   * their awaits and leave the connection subscribed to both rooms.
   */
  private serial<T>(socket: LiveSocket, task: () => Promise<T>): Promise<T> {
    const run = (this.queues.get(socket) ?? Promise.resolve()).then(task);
    this.queues.set(socket, run.catch(() => undefined));
    return run;
  }

  join(socket: LiveSocket, roomId: string): Promise<JoinSnapshot> {
    return this.serial(socket, () => this.joinNow(socket, roomId));
  }

  leave(socket: LiveSocket): Promise<boolean> {
    return this.serial(socket, () => this.leaveNow(socket));
  }

  /** A connection restored by connection state recovery: see resumeNow. */
  resume(socket: LiveSocket): Promise<void> {
    return this.serial(socket, () => this.resumeNow(socket));
  }

  private async joinNow(socket: LiveSocket, roomId: string): Promise<JoinSnapshot> {
    const user = socket.data.user;
    const admitted = await this.requireJoinable(roomId, user).catch(async (err: unknown) => {
      // Refused on a rejoin (banned meanwhile): the connection must not stay in the room.
      if (socket.data.roomId === roomId) await this.leaveNow(socket);
      throw err;
    });
    if (socket.data.roomId && socket.data.roomId !== roomId) await this.leaveNow(socket);
    socket.data.roomId = roomId;
    try {
      // Subscribe before reading the snapshot so nothing that happens in between is missed.
      await this.applyRole(socket, admitted);
      // Evictions and role changes find connections by socket.data.roomId, so from here on they
      // reach this one (queued behind this join). One that came earlier missed it; reading the
      // room and the bans again now sees whatever it was about.
      const [room] = await Promise.all([this.requireJoinable(roomId, user), this.presence.enter(socket, roomId, atLeast(roleOf(admitted, user), 'moderator'))]);
      const role = await this.applyRole(socket, room);
      const [presence, totals, parts] = await Promise.all([
        this.presence.count(roomId),
        this.engagement.totals(roomId),
        Promise.all(this.peers.map((p) => p.snapshotPart?.(room, user, role) ?? Promise.resolve({}))),
      ]);
      for (const peer of this.peers) await peer.onJoined?.(socket, room);
      await this.seedRecoveryOffset(socket, roomId);
      return Object.assign(
        { room, role, you: user, presence, hearts: totals.hearts, engagement: totals.engagement },
        ...parts,
      ) as JoinSnapshot;
    } catch (err) {
      // Failed after subscribing: take back everything this join did.
      await this.leaveNow(socket).catch((e: unknown) => this.log.warn({ err: e }, 'join rollback failed'));
      throw err;
    }
  }

  /**
   * Socket.IO clients learn a recovery offset only from broadcast events, and only an offset lets
   * them recover after a drop. A client that has heard nothing since joining would come back as a
   * stranger, so the joiner gets one event through the adapter (which stamps it with its stream
   * offset). Awaiting the adapter puts it on the wire before the ack, so a client holding its join
   * ack holds an offset. A dedicated event rather than a presence:update: the room's own presence
   * broadcast reaches the joiner too, and it should get that once.
   */
  private async seedRecoveryOffset(socket: LiveSocket, roomId: string): Promise<void> {
    const packet = { type: 2 /* socket.io-parser EVENT */, data: ['room:joined', { roomId }] };
    const opts = { rooms: new Set([socket.id]), except: new Set<string>(), flags: {} };
    // The cluster adapter's broadcast resolves once published and written locally (typed void).
    await (this.io.of('/').adapter.broadcast(packet, opts) as unknown as Promise<void> | undefined);
  }

  private async leaveNow(socket: LiveSocket): Promise<boolean> {
    const roomId = socket.data.roomId;
    if (!roomId) return false;
    socket.data.roomId = null;
    delete socket.data.role;
    await Promise.all([socket.leave(roomChannel(roomId)), socket.leave(staffChannel(roomId))]);
    await this.presence.exit(socket, roomId);
    for (const peer of this.peers) await peer.onLeft?.(socket, roomId);
    return true;
  }

  /**
   * A recovered connection comes back with the rooms and data it had, but its role, a ban or the
   * end of the live may have changed meanwhile: re-derive its channels from the room as it is now.
   */
  private async resumeNow(socket: LiveSocket): Promise<void> {
    const roomId = socket.data.roomId;
    // What the client was last told (its channels may already have been cut by recoverableChannels).
    const knownRole = socket.data.role;
    // Channels of any other room (a join cut short by the drop) go.
    for (const channel of [...socket.rooms]) {
      if (roomId && (channel === roomChannel(roomId) || channel === staffChannel(roomId))) continue;
      if (isRoomChannel(channel)) await socket.leave(channel);
    }
    if (!roomId) return;
    const user = socket.data.user;
    try {
      const room = await this.requireJoinable(roomId, user);
      const role = await this.applyRole(socket, room);
      await this.presence.enter(socket, roomId, atLeast(role, 'moderator'));
      for (const peer of this.peers) await peer.onJoined?.(socket, room);
      if (role !== knownRole) socket.emit('room:role', await this.roleUpdate(room, user, role));
    } catch (err) {
      await this.leaveNow(socket).catch((e: unknown) => this.log.warn({ err: e }, 'resume leave failed'));
      // Say why: banned is not the end of the live.
      const reason = err instanceof AppError && err.code === 'BANNED' ? 'banned' : 'ended';
      socket.emit('room:removed', { roomId, reason });
    }
  }

  /**
   * Vets a session that connection state recovery is about to restore, before the adapter replays
   * what it missed (see core/vetted-recovery.ts): of the session's room and staff channels, those
   * its user may still listen on now. Banned (or no longer allowed in) → neither, so no room
   * traffic sent since is replayed; no longer staff → not the staff channel. Other channels (its
   * own id, its user channel) stay. resumeNow then finishes the job on the live connection.
   * A Redis error throws: recovery is refused rather than replaying unvetted.
   */
  async recoverableChannels({ rooms, data }: { rooms: readonly string[]; data: unknown }): Promise<string[]> {
    const { user, roomId } = (data ?? {}) as Partial<SocketData>;
    const allowed = new Set<string>();
    const room = roomId ? await this.store.get(roomId) : null;
    if (room && (await this.mayEnter(room, user ?? null))) {
      // An ended room keeps its channel: what was said before the end was theirs to hear, and
      // resumeNow tells them it ended.
      allowed.add(roomChannel(room.id));
      if (atLeast(roleOf(room, user ?? null), 'moderator')) allowed.add(staffChannel(room.id));
    }
    return rooms.filter((channel) => allowed.has(channel) || !isRoomChannel(channel));
  }

  /** checkAccess as a yes/no; errors other than a refusal (Redis) propagate. */
  private async mayEnter(room: Room, user: UserRef | null): Promise<boolean> {
    try {
      await this.checkAccess(room, user);
      return true;
    } catch (err) {
      if (err instanceof AppError && (err.code === 'BANNED' || err.code === 'UNAUTHORIZED' || err.code === 'FORBIDDEN')) return false;
      throw err;
    }
  }

  /** The room, if `user` may read it; used by HTTP reads. */
  async requireReadable(roomId: string, user: UserRef | null): Promise<Room> {
    const room = await this.store.require(roomId);
    await this.checkAccess(room, user);
    return room;
  }

  private async requireJoinable(roomId: string, user: UserRef | null): Promise<Room> {
    const room = await this.store.require(roomId);
    if (room.status === 'ended') throw new AppError('ROOM_ENDED', 'this live has ended');
    await this.checkAccess(room, user);
    return room;
  }

  private async checkAccess(room: Room, user: UserRef | null): Promise<void> {
    if (!canWatch(room, user)) throw new AppError('UNAUTHORIZED', 'sign in to watch this room');
    for (const peer of this.peers) await peer.joinGuard?.(room, user);
  }

  /**
   * The one place a connection's role in its room takes effect: the channels it listens on.
   * Joins, recoveries and role changes all come through here.
   */
  private async applyRole(socket: LiveSocket, room: Room): Promise<Role> {
    const role = roleOf(room, socket.data.user);
    socket.data.role = role;
    if (atLeast(role, 'moderator')) await socket.join([roomChannel(room.id), staffChannel(room.id)]);
    else await Promise.all([socket.join(roomChannel(room.id)), socket.leave(staffChannel(room.id))]);
    // Counted as staff or as a viewer accordingly (a no-op until the connection is counted).
    await this.presence.setStaff(socket, room.id, atLeast(role, 'moderator'));
    return role;
  }

  private async roleUpdate(room: Room, user: UserRef | null, role: Role): Promise<RoleUpdate> {
    const parts = await Promise.all(this.peers.map((p) => p.rolePart?.(room, user, role) ?? Promise.resolve({})));
    return Object.assign({ roomId: room.id, role }, ...parts) as RoleUpdate;
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
    await Promise.all(
      this.localMembers(roomId, userId).map((socket) =>
        this.serial(socket, async () => {
          if (socket.data.roomId !== roomId) return; // left, or its join failed, meanwhile
          if (room) socket.emit('room:status', { room });
          socket.emit('room:removed', { roomId, reason });
          await this.leaveNow(socket);
        }).catch((err: unknown) => this.log.warn({ err }, 'evict leave failed')),
      ),
    );
  }

  /** A moderator was appointed or removed: their connections on every node change at once. */
  async roleChanged(roomId: string, userId: string): Promise<void> {
    const msg = { roomId, userId };
    this.io.serverSideEmit('role', msg);
    await this.roleChangedLocal(msg);
  }

  private async roleChangedLocal({ roomId, userId }: Parameters<InterServerEvents['role']>[0]): Promise<void> {
    await Promise.all(
      this.localMembers(roomId, userId).map((socket) =>
        this.serial(socket, async () => {
          if (socket.data.roomId !== roomId) return;
          // Read now, not from the message: changes in quick succession may arrive out of order.
          const room = await this.store.require(roomId);
          const role = await this.applyRole(socket, room);
          socket.emit('room:role', await this.roleUpdate(room, socket.data.user, role));
        }).catch((err: unknown) => this.log.warn({ err }, 'role change failed')),
      ),
    );
  }

  /** This node's connections in the room (of one user, or everyone's when userId is null). */
  private localMembers(roomId: string, userId: string | null): LiveSocket[] {
    return [...this.io.of('/').sockets.values()].filter(
      (s) => s.data.roomId === roomId && (userId === null || (s.data.user !== null && s.data.user.id === userId)),
    );
  }

  async roleIn(roomId: string, user: UserRef | null): Promise<{ room: Room; role: Role }> {
    const room = await this.store.require(roomId);
    return { room, role: roleOf(room, user) };
  }

  async close(): Promise<void> {
    this.sweeper?.close();
    await this.presence.close();
    this.heartsThrottle.close();
    this.engagement.close();
  }
}
