/**
 * Per-IP and per-user rate limits on every HTTP API route, counted in the shared Redis so the
 * limit holds across nodes. A fixed 10 s window per key; each key is hash-tagged on its own
 * (`{rl:ip:<ip>}`, `{rl:user:<id>}`) so every call stays in one Cluster slot. Over the limit:
 * 429 RATE_LIMITED with Retry-After (seconds until the window ends).
 */
import type { Request, RequestHandler } from 'express';
import type { RedisClient } from './redis-client.js';
import type { Logger } from './logger.js';

export const HTTP_RATE_WINDOW_MS = 10_000;

// KEYS: counter. ARGV: window ms. Returns {count in this window, ms until it ends}.
const HIT_SCRIPT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}`;

interface HitCommand {
  httpRateHit(key: string, windowMs: number): Promise<[number, number]>;
}

export interface HttpRateLimits {
  perIp: number;
  perUser: number;
}

/** The address a request came from (express's `trust proxy` setting decides whether forwarded headers count). */
export const requestIp = (req: Request): string => req.ip ?? req.socket.remoteAddress ?? 'unknown';

export function httpRateLimit(redis: RedisClient, limits: HttpRateLimits, log: Logger): RequestHandler {
  redis.defineCommand('httpRateHit', { numberOfKeys: 1, lua: HIT_SCRIPT });
  const cmd = redis as unknown as HitCommand;
  return async (req, res, next) => {
    const checks: [string, number][] = [[`{rl:ip:${requestIp(req)}}:http`, limits.perIp]];
    if (req.user) checks.push([`{rl:user:${req.user.id}}:http`, limits.perUser]);
    let hits: [number, number][];
    try {
      hits = await Promise.all(checks.map(([key]) => cmd.httpRateHit(key, HTTP_RATE_WINDOW_MS)));
    } catch (err) {
      // A limiter that cannot count lets the request through: the route itself answers
      // UNAVAILABLE if Redis is really gone, and routes that need no Redis keep working.
      log.debug({ err }, 'http rate limit not checked');
      next();
      return;
    }
    const over = hits.findIndex(([count], i) => count > checks[i]![1]);
    if (over < 0) {
      next();
      return;
    }
    const retryAfterMs = hits[over]![1];
    const who = over === 0 ? 'this address' : 'this user';
    res.setHeader('Retry-After', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
    res.status(429).json({
      error: { code: 'RATE_LIMITED', message: `too many requests from ${who} (at most ${checks[over]![1]} per 10 s)`, retryAfterMs },
    });
  };
}
