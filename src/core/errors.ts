import type { Ack, ErrorBody, ErrorCode } from '../protocol/index.js';

/**
 * An error meant for the client: its code and message are sent as-is. Refusals are routine
 * (SOLD_OUT for thousands of buyers at once), and V8 captures a stack trace on every Error, so an
 * AppError is built without one: it is an answer, not a bug to trace.
 */
export class AppError extends Error {
  private answer: Ack<never> | undefined;

  constructor(
    readonly code: ErrorCode,
    message: string,
    /** RATE_LIMITED, SLOW_MODE, MUTED: when to try again, sent to the client as `retryAfterMs`. */
    readonly retryAfterMs?: number,
  ) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
    this.name = 'AppError';
  }

  /** The client's answer to this refusal, built once and frozen: an error kept for a common
   * refusal (sold out) is thrown to thousands of buyers and answers them all with one object. */
  ack(): Ack<never> {
    this.answer ??= Object.freeze({ ok: false, error: Object.freeze(toErrorBody(this)) }) as Ack<never>;
    return this.answer;
  }
}

const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  BANNED: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  ROOM_ENDED: 409,
  ROOM_NOT_LIVE: 409,
  SALE_NOT_STARTED: 409,
  SALE_ENDED: 409,
  SOLD_OUT: 409,
  LIMIT_EXCEEDED: 409,
  HOLD_EXPIRED: 410,
  AUCTION_ENDED: 409,
  BID_TOO_LOW: 409,
  ALREADY_LEADING: 409,
  GIVEAWAY_CLOSED: 409,
  NOT_ELIGIBLE: 403,
  VOUCHER_NOT_FOUND: 404,
  VOUCHER_CLOSED: 409,
  VOUCHER_CLAIMED_OUT: 409,
  ALREADY_CLAIMED: 409,
  VOUCHER_EXPIRED: 410,
  VOUCHER_USED: 409,
  VOUCHER_IN_USE: 409,
  VOUCHER_MIN_SPEND: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  OFFER_NOT_ACCEPTABLE: 422,
  PRECONDITION_FAILED: 412,
  RATE_LIMITED: 429,
  UNAVAILABLE: 503,
  INTERNAL: 500,
};

export const httpStatusOf = (code: ErrorCode): number => HTTP_STATUS[code] ?? 400;

/** Is this error Redis being unreachable (connection refused, closed, command timed out)? */
export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  // The last three are a Redis Cluster's: no node reachable, or the cluster has lost slots.
  return /Connection is closed|ECONNREFUSED|ECONNRESET|Command timed out|Redis circuit open|max retries|Stream isn't writeable|enableOfflineQueue|CLUSTERDOWN|Too many Cluster redirections|Cluster is ended/i.test(
    err.message,
  );
}

/** Turn anything thrown into the error body a client gets; unknown errors never leak details. */
export function toErrorBody(err: unknown): ErrorBody {
  if (err instanceof AppError) {
    return err.retryAfterMs === undefined
      ? { code: err.code, message: err.message }
      : { code: err.code, message: err.message, retryAfterMs: err.retryAfterMs };
  }
  if (isRedisUnavailable(err)) return { code: 'UNAVAILABLE', message: 'storage is unreachable, try again' };
  return { code: 'INTERNAL', message: 'internal error' };
}

/** A write script found its deadline passed (Redis was stalled): it did nothing, as a timeout said. */
export const lateWrite = () => new AppError('UNAVAILABLE', 'storage was too slow to answer, nothing was done: try again');

export const notFound = (what: string) => new AppError('NOT_FOUND', `${what} not found`);
export const forbidden = (why: string) => new AppError('FORBIDDEN', why);

/** RATE_LIMITED with the wait in the message and in `retryAfterMs`. */
export const rateLimited = (what: string, retryAfterMs: number) =>
  new AppError('RATE_LIMITED', `${what}; retry in ${Math.ceil(retryAfterMs / 100) / 10} s`, Math.max(1, Math.ceil(retryAfterMs)));
