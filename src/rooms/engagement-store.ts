/**
 * Hearts and the CES-style engagement score. Every tap is counted exactly with HINCRBY inside one
 * script that also applies the per-user rate limit; broadcasting the totals is throttled elsewhere.
 * Each script carries a deadline (redis-guard.ts): a tap that reaches a stalled Redis after its
 * sender was told UNAVAILABLE counts nothing, so the total stays what was acknowledged.
 */
import type { RedisClient } from '../core/redis-client.js';
import { ENGAGEMENT_WEIGHTS, roomFollowersKey, roomKey, roomStatsKey } from '../core/keys.js';
import { RATE_LIMIT_LUA } from '../core/rate-limit.js';
import { AppError, lateWrite } from '../core/errors.js';
import { DEADLINE_LUA, writeDeadline } from '../core/redis-guard.js';
import { EngagementCounter } from '../core/engagement-counter.js';

// KEYS: stats, rate-limit key. ARGV: count, weight, rlMax, rlWindowMs, deadline
const HEART_SCRIPT = `
local deadline = tonumber(ARGV[5])
${DEADLINE_LUA}
local rlKey, rlMax, rlWindowMs = KEYS[2], tonumber(ARGV[3]), tonumber(ARGV[4])
${RATE_LIMIT_LUA}
local total = redis.call('HINCRBY', KEYS[1], 'hearts', ARGV[1])
redis.call('HINCRBY', KEYS[1], 'engagement', tonumber(ARGV[1]) * tonumber(ARGV[2]))
return {'OK', total}
`;

// KEYS: stats, rate-limit key. ARGV: weight, rlMax, rlWindowMs, deadline
const RATED_SCRIPT = `
local deadline = tonumber(ARGV[4])
${DEADLINE_LUA}
local rlKey, rlMax, rlWindowMs = KEYS[2], tonumber(ARGV[2]), tonumber(ARGV[3])
${RATE_LIMIT_LUA}
return {'OK', redis.call('HINCRBY', KEYS[1], 'engagement', ARGV[1])}
`;

interface EngagementCommands {
  heartTap(stats: string, rl: string, count: number, weight: number, max: number, windowMs: number, deadline: number): Promise<[string, string | number]>;
  engageRated(stats: string, rl: string, weight: number, max: number, windowMs: number, deadline: number): Promise<[string, string | number]>;
}

export class EngagementStore {
  private readonly cmd: EngagementCommands;

  constructor(
    private readonly redis: RedisClient,
    private readonly heartsPerSecond: number,
  ) {
    redis.defineCommand('heartTap', { numberOfKeys: 2, lua: HEART_SCRIPT });
    redis.defineCommand('engageRated', { numberOfKeys: 2, lua: RATED_SCRIPT });
    this.cmd = redis as unknown as EngagementCommands;
    this.counter = new EngagementCounter(redis);
  }

  private readonly counter: EngagementCounter;

  /** Count `count` taps; returns the room's new heart total. */
  async tapHearts(roomId: string, userId: string, count: number): Promise<number> {
    const [status, value] = await this.cmd.heartTap(
      roomStatsKey(roomId),
      roomKey(roomId, `rl:heart:${userId}`),
      count,
      ENGAGEMENT_WEIGHTS.heart,
      this.heartsPerSecond,
      1000,
      writeDeadline(this.redis),
    );
    if (value === 'LATE') throw lateWrite();
    if (status !== 'OK') throw new AppError('RATE_LIMITED', `at most ${this.heartsPerSecond} heart events per second`);
    return Number(value);
  }

  /** Follows count once per user; returns the score and whether it was already counted. */
  async follow(roomId: string, userId: string): Promise<{ engagement: number; already: boolean }> {
    return this.counter.once(roomId, roomFollowersKey(roomId), userId, ENGAGEMENT_WEIGHTS.follow);
  }

  /** Shares count at most once per user per 10 s, so a share button can't be farmed. */
  async share(roomId: string, userId: string): Promise<number> {
    const [status, value] = await this.cmd.engageRated(
      roomStatsKey(roomId),
      roomKey(roomId, `rl:share:${userId}`),
      ENGAGEMENT_WEIGHTS.share,
      1,
      10_000,
      writeDeadline(this.redis),
    );
    if (value === 'LATE') throw lateWrite();
    if (status !== 'OK') throw new AppError('RATE_LIMITED', 'one share per 10 seconds');
    return Number(value);
  }

  async totals(roomId: string): Promise<{ hearts: number; engagement: number; chatMessages: number; peak: number }> {
    const [hearts, engagement, chat, peak] = await this.redis.hmget(roomStatsKey(roomId), 'hearts', 'engagement', 'chatMessages', 'peak');
    return { hearts: Number(hearts ?? 0), engagement: Number(engagement ?? 0), chatMessages: Number(chat ?? 0), peak: Number(peak ?? 0) };
  }
}
