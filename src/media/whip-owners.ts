/**
 * Which node holds each WHIP session, in Redis, so a resource URL works on any node: behind a
 * load balancer an encoder's DELETE or PATCH reaches any node, which forwards it to the holder
 * (whip-sessions.ts). One key per resource, `{room:<id>}:media:whip:<resourceId>` → node id, in
 * the room's slot. It expires TTL_MS after its last write; the holder writes it again every
 * REFRESH_MS while the session lives and deletes it when the session ends, so a dead node's
 * sessions are forgotten within a minute (and taken for gone at once: the node is checked for
 * life before a request is forwarded to it).
 */
import { roomKey } from '../core/keys.js';
import type { RedisClient } from '../core/redis-client.js';

export const WHIP_OWNER_TTL_MS = 60_000;
export const WHIP_OWNER_REFRESH_MS = 20_000;

const ownerKey = (roomId: string, resourceId: string) => roomKey(roomId, `media:whip:${resourceId}`);

export class WhipOwners {
  constructor(private readonly redis: RedisClient) {}

  /** `node` holds the session (written at its start and again while it lives). */
  async put(roomId: string, resourceId: string, node: string): Promise<void> {
    await this.redis.set(ownerKey(roomId, resourceId), node, 'PX', WHIP_OWNER_TTL_MS);
  }

  /** The node holding the session, or null when there is none (ended, or its node long dead). */
  owner(roomId: string, resourceId: string): Promise<string | null> {
    return this.redis.get(ownerKey(roomId, resourceId));
  }

  async remove(roomId: string, resourceId: string): Promise<void> {
    await this.redis.del(ownerKey(roomId, resourceId));
  }
}
