/** HTTP boundary helpers: zod-validated bodies and the JSON error format `{ error: { code, message } }`. */
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import type { z } from 'zod';
import { AppError, httpStatusOf, toErrorBody } from './errors.js';
import type { UserRef } from '../protocol/index.js';
import type { Logger } from './logger.js';
import { formatZodError } from './socket-kit.js';
import { ERROR_CODE_LOCAL } from './http-metrics.js';

declare module 'express-serve-static-core' {
  interface Request {
    /** Set by the auth middleware: the signed-in user, or null for a guest. */
    user?: UserRef | null;
  }
}

export function requireHttpUser(req: Request): UserRef {
  if (!req.user) throw new AppError('UNAUTHORIZED', 'sign in (Authorization: Bearer <token>)');
  return req.user;
}

export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const parsed = schema.safeParse(body ?? {});
  if (!parsed.success) throw new AppError('BAD_REQUEST', formatZodError(parsed.error));
  return parsed.data;
}

/** Express 5 forwards rejected promises to the error handler; this only types the handler. */
export type AsyncHandler = (req: Request, res: Response, next: NextFunction) => Promise<void>;
export const handle = (fn: AsyncHandler): RequestHandler => fn;

export function jsonErrors(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    // body-parser errors: malformed JSON, too large
    const e = err as { type?: string; status?: number; message?: string };
    if (e?.type === 'entity.too.large') {
      res.status(413).json({ error: { code: 'PAYLOAD_TOO_LARGE', message: 'request body too large' } });
      return;
    }
    if (e?.type === 'entity.parse.failed') {
      res.status(400).json({ error: { code: 'BAD_REQUEST', message: 'malformed JSON body' } });
      return;
    }
    // Other client errors that express and body-parser raise with a 4xx status (a path with bad
    // percent-encoding, an unsupported charset or content-encoding, an aborted body) are the
    // client's fault: answer that status, not a 500 and an error log line.
    if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
      const exposed = (err as { expose?: boolean }).expose === true && e.message;
      res.status(e.status).json({ error: { code: 'BAD_REQUEST', message: exposed || 'malformed request' } });
      return;
    }
    const body = toErrorBody(err);
    res.locals[ERROR_CODE_LOCAL] = body.code; // for the refusal log (http-metrics.ts)
    if (body.code === 'INTERNAL') (req.log ?? log).error({ err }, 'http handler failed');
    if (body.retryAfterMs !== undefined) res.set('Retry-After', String(Math.ceil(body.retryAfterMs / 1000)));
    res.status(httpStatusOf(body.code)).json({ error: body });
  };
}

export const notFoundRoute: RequestHandler = (_req, res) => {
  res.status(404).json({ error: { code: 'NOT_FOUND', message: 'no such route' } });
};

/** Listen on port/host (0: a free port) and give back the URL to reach it (0.0.0.0 → 127.0.0.1). */
export async function listenAt(server: HttpServer, port: number, host: string): Promise<{ url: string; port: number }> {
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => ok());
  });
  const bound = (server.address() as AddressInfo).port;
  return { url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${bound}`, port: bound };
}
