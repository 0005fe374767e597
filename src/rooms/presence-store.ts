/**
 * Who is in a room, across all nodes. Each connection is a member `<userKey>|<socketId>` of a
 * sorted set scored by its expiry; nodes refresh their own connections periodically, so a node
 * that dies stops counting within one TTL. Unique viewers = distinct userKeys.
 */
import type { RedisClient } from '../core/redis-client.js';
import type { PresenceCounts } from '../protocol/index.js';
import { roomKey, roomStatsKey } from '../core/keys.js';

// Prune expired connections, count distinct users, raise the peak; stores the count for listings.
const COUNT_SCRIPT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local seen, n = {}, 0
for _, m in ipairs(members) do
  local u = string.match(m, '^(.*)|[^|]*$') or m
  if not seen[u] then seen[u] = true; n = n + 1 end
end
local peak = tonumber(redis.call('HGET', KEYS[2], 'peak') or '0')
if n > peak then peak = n; redis.call('HSET', KEYS[2], 'peak', n) end
redis.call('HSET', KEYS[2], 'viewers', n)
return {n, peak}
`;

export const PRESENCE_TTL_MS = 30_000;

export class PresenceStore {
  constructor(private readonly redis: RedisClient) {
    redis.defineCommand('presenceCount', { numberOfKeys: 2, lua: COUNT_SCRIPT });
  }

  private key(roomId: string): string {
    return roomKey(roomId, 'presence');
  }

  async enter(roomId: string, member: string, now = Date.now()): Promise<void> {
    await this.redis.zadd(this.key(roomId), now + PRESENCE_TTL_MS, member);
  }

  async exit(roomId: string, member: string): Promise<void> {
    await this.redis.zrem(this.key(roomId), member);
  }

  /** Extend the expiry of many connections in one round trip. */
  async refresh(entries: { roomId: string; member: string }[], now = Date.now()): Promise<void> {
    if (entries.length === 0) return;
    const pipe = this.redis.pipeline();
    for (const e of entries) pipe.zadd(this.key(e.roomId), 'XX', now + PRESENCE_TTL_MS, e.member);
    await pipe.exec();
  }

  async count(roomId: string, now = Date.now()): Promise<PresenceCounts> {
    const [viewers, peak] = (await (this.redis as unknown as PresenceCommands).presenceCount(
      this.key(roomId),
      roomStatsKey(roomId),
      now,
    )) as [number, number];
    return { viewers, peak };
  }
}

interface PresenceCommands {
  presenceCount(presenceKey: string, statsKey: string, now: number): Promise<[number, number]>;
}

export const presenceMember = (userKey: string, socketId: string): string => `${userKey}|${socketId}`;
