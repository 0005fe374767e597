/**
 * Every error the server can answer with. Clients switch on `code`; `message` is for humans.
 * One list for socket acks and HTTP bodies so a client needs one error handler.
 */
export const ERROR_CODES = [
  'BAD_REQUEST',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'NOT_FOUND',
  'CONFLICT',
  'NOT_IN_ROOM',
  'ROOM_ENDED',
  'ROOM_NOT_LIVE',
  'BANNED',
  'MUTED',
  'SLOW_MODE',
  'BLOCKED_WORD',
  'RATE_LIMITED',
  'PAYLOAD_TOO_LARGE',
  'UNKNOWN_EVENT',
  'SALE_NOT_STARTED',
  'SALE_ENDED',
  'SOLD_OUT',
  'LIMIT_EXCEEDED',
  'HOLD_EXPIRED',
  'WAITLIST_NOT_SOLD_OUT',
  'WAITLIST_FULL',
  'AUCTION_ENDED',
  'BID_TOO_LOW',
  'ALREADY_LEADING',
  'GIVEAWAY_CLOSED',
  'NOT_ELIGIBLE',
  'VOUCHER_NOT_FOUND',
  'VOUCHER_CLOSED',
  'VOUCHER_CLAIMED_OUT',
  'ALREADY_CLAIMED',
  'VOUCHER_EXPIRED',
  'VOUCHER_USED',
  'VOUCHER_IN_USE',
  'VOUCHER_MIN_SPEND',
  'MEDIA_ERROR',
  // WHIP (RFC 9725): an HTTP status each, as the RFC names them.
  'UNSUPPORTED_MEDIA_TYPE',
  'OFFER_NOT_ACCEPTABLE',
  'PRECONDITION_FAILED',
  'UNAVAILABLE',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  /** With RATE_LIMITED, SLOW_MODE and MUTED: how long to wait before the same request can succeed. */
  retryAfterMs?: number;
}

export type Ack<T> = { ok: true; data: T } | { ok: false; error: ErrorBody };
