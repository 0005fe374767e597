/**
 * Who a log line is about: HTTP lines carry the request id (from X-Request-Id when the proxy sent
 * a sane one, else a fresh one, echoed back), socket lines the socket, user and room ids. And the
 * log line for each refused privileged action, under a budget so a client cannot flood the log.
 */
import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { ErrorCode } from '../protocol/index.js';
import { LogBudget } from './log-budget.js';
import type { Logger } from './logger.js';
import type { LiveSocket } from './socket-kit.js';

declare module 'express-serve-static-core' {
  interface Request {
    /** This request's logger: every line carries `reqId`. */
    log?: Logger;
  }
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** Gives each request an id and a child logger carrying it. */
export function requestIds(log: Logger) {
  return (req: Request, res: Response, next: NextFunction) => {
    const given = req.headers['x-request-id'];
    const reqId = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    res.setHeader('X-Request-Id', reqId);
    req.log = log.child({ reqId });
    next();
  };
}

/** The ids a socket's log lines carry; the room is read now, as it changes with joins. */
export const socketFields = (socket: LiveSocket) => ({
  socketId: socket.id,
  userId: socket.data.user?.id ?? null,
  roomId: socket.data.roomId ?? null,
});

/** Refusals of an action that needs a role, a sign-in or not being banned. */
export const PRIVILEGE_CODES: ReadonlySet<ErrorCode> = new Set(['FORBIDDEN', 'UNAUTHORIZED', 'BANNED']);

/**
 * One info line per refused privileged action, at most `perSecond` a second per node; what the
 * budget left out is counted in the next line that gets through (`suppressed`). The refusals
 * themselves are all counted by the metrics either way.
 */
export class RefusalLog {
  private readonly budget: LogBudget;

  constructor(log: Logger, perSecond = 10) {
    this.budget = new LogBudget(log, perSecond);
  }

  refused(fields: Record<string, unknown>): void {
    this.budget.info(fields, 'privileged action refused');
  }
}
