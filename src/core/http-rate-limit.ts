/**
 * Per-user and per-client-IP limits on every HTTP API route (ingest included), cluster-wide: the
 * same fixed one-minute Redis windows as the socket limits (event-limits.ts), keys
 * `rl:{user:<id>}:http` and `rl:{ip:<ip>}:http`, each in its own Cluster slot. Over a limit:
 * 429 RATE_LIMITED with `retryAfterMs` and a Retry-After header (http-kit's jsonErrors).
 */
import type { RequestHandler } from 'express';
import type { Config } from '../config.js';
import { clientIp } from './client-ip.js';
import { rateLimited } from './errors.js';
import { WINDOW_LUA } from './event-limits.js';
import type { Logger } from './logger.js';
import type { RedisClient } from './redis-client.js';

const WINDOW_MS = 60_000;

interface WindowCommand {
  rateWindow(key: string, windowMs: number, max: number): Promise<number>;
}

type HttpLimitConfig = Pick<Config, 'HTTP_PER_MIN_USER' | 'HTTP_PER_MIN_IP' | 'TRUST_PROXY_HOPS'>;

export function httpRateLimit(redis: RedisClient, config: HttpLimitConfig, log: Logger): RequestHandler {
  // Same name and script as EventLimits defines: defining it twice is harmless.
  redis.defineCommand('rateWindow', { numberOfKeys: 1, lua: WINDOW_LUA });
  const cmd = redis as unknown as WindowCommand;
  const { HTTP_PER_MIN_USER: perUser, HTTP_PER_MIN_IP: perIp } = config;
  return async (req, _res, next) => {
    const userId = req.user?.id;
    const ip = clientIp(req.socket.remoteAddress, req.headers['x-forwarded-for'], config.TRUST_PROXY_HOPS);
    let byUser: number;
    let byIp: number;
    try {
      [byUser, byIp] = await Promise.all([
        userId && perUser > 0 ? cmd.rateWindow(`rl:{user:${userId}}:http`, WINDOW_MS, perUser) : 0,
        perIp > 0 ? cmd.rateWindow(`rl:{ip:${ip}}:http`, WINDOW_MS, perIp) : 0,
      ]);
    } catch (err) {
      // A limiter that cannot count lets the request through: the route answers UNAVAILABLE
      // itself if Redis is really gone, and routes that need no Redis keep working.
      log.debug({ err }, 'http rate limit not checked');
      next();
      return;
    }
    if (byUser > 0) next(rateLimited(`more than ${perUser} API requests per minute for this user`, byUser));
    else if (byIp > 0) next(rateLimited(`more than ${perIp} API requests per minute from this address`, byIp));
    else next();
  };
}
