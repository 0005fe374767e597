/**
 * Presence on this node: records joins and leaves, keeps this node's connections alive in Redis,
 * and broadcasts viewer counts at most every 2 s per room (cluster-wide, via ClusterThrottle).
 */
import type { RedisClient } from '../core/redis-client.js';
import type { PresenceCounts } from '../protocol/index.js';
import { roomChannel, roomKey } from '../core/keys.js';
import type { Logger } from '../core/logger.js';
import type { LiveServer, LiveSocket } from '../core/socket-kit.js';
import { ClusterThrottle } from '../core/throttle.js';
import { PRESENCE_TTL_MS, PresenceStore, presenceMember } from './presence-store.js';

export const PRESENCE_BROADCAST_MS = 2000;

export class Presence {
  readonly store: PresenceStore;
  private readonly throttle: ClusterThrottle;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(
    private readonly io: LiveServer,
    redis: RedisClient,
    log: Logger,
  ) {
    this.store = new PresenceStore(redis);
    this.throttle = new ClusterThrottle(
      redis,
      (roomId) => roomKey(roomId, 'throttle:presence'),
      PRESENCE_BROADCAST_MS,
      (roomId) => this.broadcast(roomId),
      log,
    );
    this.heartbeat = setInterval(() => void this.refreshLocal().catch((err) => log.warn({ err }, 'presence refresh failed')), PRESENCE_TTL_MS / 3);
    this.heartbeat.unref();
  }

  static memberOf(socket: LiveSocket): string {
    return presenceMember(socket.data.user?.id ?? `guest:${socket.id}`, socket.id);
  }

  async enter(socket: LiveSocket, roomId: string): Promise<void> {
    await this.store.enter(roomId, Presence.memberOf(socket));
    this.throttle.mark(roomId);
  }

  async exit(socket: LiveSocket, roomId: string): Promise<void> {
    await this.store.exit(roomId, Presence.memberOf(socket));
    this.throttle.mark(roomId);
  }

  count(roomId: string): Promise<PresenceCounts> {
    return this.store.count(roomId);
  }

  close(): void {
    clearInterval(this.heartbeat);
    this.throttle.close();
  }

  private async broadcast(roomId: string): Promise<void> {
    // Only called after a join or leave somewhere, so there is something to tell.
    const counts = await this.store.count(roomId);
    this.io.to(roomChannel(roomId)).emit('presence:update', counts);
  }

  /** Keep this node's connections from expiring. */
  private async refreshLocal(): Promise<void> {
    const entries: { roomId: string; member: string }[] = [];
    for (const socket of this.io.of('/').sockets.values()) {
      const roomId = socket.data.roomId;
      if (roomId) entries.push({ roomId, member: Presence.memberOf(socket) });
    }
    await this.store.refresh(entries);
  }
}
