/**
 * Presence for this node's sockets: records joins, leaves and role changes (PresenceNode keeps
 * the node's share in Redis exact and reaps dead nodes), and broadcasts counts at most every 2 s
 * per room (cluster-wide, via ClusterThrottle).
 */
import type { RedisClient } from '../core/redis-client.js';
import type { PresenceCounts } from '../protocol/index.js';
import { roomChannel, roomKey } from '../core/keys.js';
import type { Logger } from '../core/logger.js';
import type { LiveServer, LiveSocket } from '../core/socket-kit.js';
import { ClusterThrottle } from '../core/throttle.js';
import { PresenceNode } from './presence-node.js';
import { PresenceStore } from './presence-store.js';
import { clientIp } from '../core/client-ip.js';

export const PRESENCE_BROADCAST_MS = 2000;

export class Presence {
  readonly store: PresenceStore;
  readonly node: PresenceNode;
  private readonly throttle: ClusterThrottle;

  constructor(
    private readonly io: LiveServer,
    redis: RedisClient,
    log: Logger,
    heartbeatMs: number,
    /** GUESTS_PER_IP_COUNTED: see presence-store.ts. */
    guestsPerIp = 3,
    /** TRUST_PROXY_HOPS: a guest's address is the client's, not the proxy's (client-ip.ts). */
    private readonly proxyHops = 0,
  ) {
    this.store = new PresenceStore(redis, guestsPerIp);
    this.throttle = new ClusterThrottle(
      redis,
      (roomId) => roomKey(roomId, 'throttle:presence'),
      PRESENCE_BROADCAST_MS,
      (roomId) => this.broadcast(roomId),
      log,
    );
    this.node = new PresenceNode(this.store, heartbeatMs, log, (roomIds) => {
      for (const roomId of roomIds) this.throttle.mark(roomId);
    });
  }

  /** Signed-in users count once however many tabs; guests are keyed by address, and one address's
   * guest connections count as at most GUESTS_PER_IP_COUNTED viewers (presence-store.ts). */
  userKeyOf(socket: LiveSocket): string {
    if (socket.data.user) return `u:${socket.data.user.id}`;
    return `ip:${clientIp(socket.handshake.address, socket.handshake.headers['x-forwarded-for'], this.proxyHops)}`;
  }

  /** `staff`: the host or a moderator of the room (counted apart from viewers). */
  async enter(socket: LiveSocket, roomId: string, staff: boolean): Promise<void> {
    await this.node.enter(socket.id, roomId, this.userKeyOf(socket), staff);
    this.throttle.mark(roomId);
  }

  async exit(socket: LiveSocket, roomId: string): Promise<void> {
    await this.node.exit(socket.id);
    this.throttle.mark(roomId);
  }

  /** The socket's role in its room changed mid-live: move it between viewers and staff. */
  async setStaff(socket: LiveSocket, roomId: string, staff: boolean): Promise<void> {
    if (socket.data.roomId !== roomId) return;
    if (await this.node.setStaff(socket.id, this.userKeyOf(socket), staff)) this.throttle.mark(roomId);
  }

  count(roomId: string): Promise<PresenceCounts> {
    return this.store.count(roomId);
  }

  /** Stops the heartbeat and takes this node's connections out of the counts. */
  async close(): Promise<void> {
    const rooms = await this.node.close();
    this.throttle.close();
    // Tell the rooms at once: no other node knows our share just left.
    await Promise.all(rooms.map((r) => this.broadcast(r).catch(() => undefined)));
  }

  private async broadcast(roomId: string): Promise<void> {
    const counts = await this.store.count(roomId);
    this.io.to(roomChannel(roomId)).emit('presence:update', counts);
  }
}
