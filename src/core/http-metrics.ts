/**
 * HTTP requests by route pattern, method and status, and the log line for each refused privileged
 * request (401/403 from role checks, sign-in or bans). The route label is express's pattern
 * (`/api/rooms/:roomId`), never the path, so ids stay out of the labels.
 */
import type { NextFunction, Request, Response } from 'express';
import type { Registry } from 'prom-client';
import type { ErrorCode } from '../protocol/index.js';
import { histogram, LATENCY_BUCKETS } from './metrics.js';
import { PRIVILEGE_CODES, type RefusalLog } from './request-context.js';

/** Set by the JSON error handler so the refusal log knows which refusal it was. */
export const ERROR_CODE_LOCAL = 'errorCode';

export function httpMetrics(registry: Registry, refusals: RefusalLog) {
  const duration = histogram(
    registry,
    'http_request_duration_seconds',
    'HTTP requests by route pattern ("unmatched" for static files and 404s), method and status',
    ['route', 'method', 'status'],
    LATENCY_BUCKETS,
  );
  return (req: Request, res: Response, next: NextFunction) => {
    const started = performance.now();
    res.on('finish', () => {
      const route = req.route ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
      duration.observe({ route, method: req.method, status: String(res.statusCode) }, (performance.now() - started) / 1000);
      const code = res.locals[ERROR_CODE_LOCAL] as ErrorCode | undefined;
      if (code && PRIVILEGE_CODES.has(code)) {
        refusals.refused({ reqId: res.getHeader('X-Request-Id'), userId: req.user?.id ?? null, method: req.method, route, code });
      }
    });
    next();
  };
}
