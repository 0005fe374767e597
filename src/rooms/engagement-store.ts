/**
 * Hearts and the CES-style engagement score. Every tap is counted exactly with HINCRBY inside one
 * script that also applies the per-user rate limit; the taps of a room that arrive in the same
 * event-loop turn go to Redis as one call (heart-tap-batcher.ts); broadcasting the totals is
 * throttled elsewhere. Each script carries a deadline (redis-guard.ts): a tap that reaches a
 * stalled Redis after its sender was told UNAVAILABLE counts nothing, so the total stays what was
 * acknowledged.
 */
import type { RedisClient } from '../core/redis-client.js';
import { ENGAGEMENT_WEIGHTS, roomFollowersKey, roomKey, roomStatsKey } from '../core/keys.js';
import { RATE_LIMIT_LUA } from '../core/rate-limit.js';
import { AppError, lateWrite } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { DEADLINE_LUA, writeDeadline } from '../core/redis-guard.js';
import { EngagementCounter } from '../core/engagement-counter.js';
import { HeartTapBatcher } from './heart-tap-batcher.js';

/** What a counted tap is answered with (the heart:tap ack). */
export type HeartsCounted = { readonly counted: number };

/** One frozen answer per count (1–20 by the protocol): a rush of taps answers with shared objects. */
const countedAnswers: HeartsCounted[] = [];
const countedAnswer = (count: number): HeartsCounted => (countedAnswers[count] ??= Object.freeze({ counted: count }));

export interface EngagementStoreOptions {
  /** Hearts were counted in the room (once per batch of taps): broadcast the total, count them. */
  onHearts?: (roomId: string, hearts: number) => void;
  log?: Logger;
}

// KEYS: stats, rate-limit key. ARGV: weight, rlMax, rlWindowMs, deadline
const RATED_SCRIPT = `
local deadline = tonumber(ARGV[4])
${DEADLINE_LUA}
local rlKey, rlMax, rlWindowMs = KEYS[2], tonumber(ARGV[2]), tonumber(ARGV[3])
${RATE_LIMIT_LUA}
return {'OK', redis.call('HINCRBY', KEYS[1], 'engagement', ARGV[1])}
`;

interface EngagementCommands {
  engageRated(stats: string, rl: string, weight: number, max: number, windowMs: number, deadline: number): Promise<[string, string | number]>;
}

export class EngagementStore {
  private readonly cmd: EngagementCommands;
  private readonly counter: EngagementCounter;
  private readonly hearts: HeartTapBatcher<HeartsCounted>;

  constructor(
    private readonly redis: RedisClient,
    heartsPerSecond: number,
    opts: EngagementStoreOptions = {},
  ) {
    redis.defineCommand('engageRated', { numberOfKeys: 2, lua: RATED_SCRIPT });
    this.cmd = redis as unknown as EngagementCommands;
    this.counter = new EngagementCounter(redis);
    this.hearts = new HeartTapBatcher(redis, countedAnswer, {
      rlMax: heartsPerSecond,
      weight: ENGAGEMENT_WEIGHTS.heart,
      rateLimited: new AppError('RATE_LIMITED', `at most ${heartsPerSecond} heart events per second`),
      onCounted: opts.onHearts,
      log: opts.log,
    });
  }

  /**
   * Count `count` hearts (one tap), decided with the room's other taps of this event-loop turn.
   * Resolves with the tap's ack, straight from the batch's answer; rejects RATE_LIMITED, or
   * UNAVAILABLE when Redis is too slow (then nothing was counted, or will be).
   */
  tapHearts(roomId: string, userId: string, count: number): Promise<HeartsCounted> {
    return this.hearts.tap(roomId, userId, count);
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

  /** Closes the heart batcher's connection. */
  close(): void {
    this.hearts.close();
  }

  async totals(roomId: string): Promise<{ hearts: number; engagement: number; chatMessages: number; peak: number }> {
    const [hearts, engagement, chat, peak] = await this.redis.hmget(roomStatsKey(roomId), 'hearts', 'engagement', 'chatMessages', 'peak');
    return { hearts: Number(hearts ?? 0), engagement: Number(engagement ?? 0), chatMessages: Number(chat ?? 0), peak: Number(peak ?? 0) };
  }
}
