/**
 * Adds to a room's engagement (CES) score once per member of a set — a follow per user, a save
 * per user and product — atomically, so double taps and retries never count twice.
 */
import type { RedisClient } from './redis-client.js';
import { roomStatsKey } from './keys.js';
import { lateWrite } from './errors.js';
import { DEADLINE_LUA, writeDeadline } from './redis-guard.js';

// KEYS: stats, dedupe set. ARGV: member, weight, deadline (redis-guard.ts).
// → {'OK', score, alreadyCounted} | {'ERR', 'LATE'}
const ONCE_SCRIPT = `
local deadline = tonumber(ARGV[3])
${DEADLINE_LUA}
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then
  return {'OK', tonumber(redis.call('HGET', KEYS[1], 'engagement') or '0'), 1}
end
return {'OK', redis.call('HINCRBY', KEYS[1], 'engagement', ARGV[2]), 0}
`;

interface OnceCommand {
  engageOnce(stats: string, set: string, member: string, weight: number, deadline: number): Promise<[string, number | string, number?]>;
}

export class EngagementCounter {
  constructor(private readonly redis: RedisClient) {
    redis.defineCommand('engageOnce', { numberOfKeys: 2, lua: ONCE_SCRIPT });
  }

  async once(roomId: string, setKey: string, member: string, weight: number): Promise<{ engagement: number; already: boolean }> {
    const [status, engagement, already] = await (this.redis as unknown as OnceCommand).engageOnce(
      roomStatsKey(roomId),
      setKey,
      member,
      weight,
      writeDeadline(this.redis),
    );
    if (status !== 'OK') throw lateWrite();
    return { engagement: Number(engagement), already: already === 1 };
  }
}
