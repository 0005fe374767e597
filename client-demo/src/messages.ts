/**
 * What people read when the server (or our own check) says no: every error code of the protocol
 * mapped to one short sentence. The server's message is written for developers ("join a room
 * first", an ISO time); a viewer gets "This live has ended." and a local clock time instead.
 * A Record over ErrorCode, so a code added to the protocol fails to compile here until it has words.
 */
import type { ErrorCode } from '../../src/protocol/index.js';

export interface ErrorLike {
  code?: string;
  message?: string;
  retryAfterMs?: number;
}

export type ToastKind = 'info' | 'success' | 'error';

const clock = (at: number) => new Date(at).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/** The field a local validation complained about ("price: Too small…" → "price"). */
const field = (message = '') => /^([a-zA-Z][\w.]*): /.exec(message)?.[1];

const SENTENCES: Record<ErrorCode, (e: ErrorLike) => string> = {
  BAD_REQUEST: (e) => (field(e.message) ? `Please check the ${field(e.message)?.split('.').pop()}.` : 'Please check what you entered.'),
  UNAUTHORIZED: () => 'Please sign in first.',
  FORBIDDEN: (e) => (/looks like/.test(e.message ?? '') ? 'Your name looks like the host’s. Please sign in with another name.' : 'You can’t do that here.'),
  NOT_FOUND: () => 'That isn’t here any more.',
  CONFLICT: () => 'That has already been done.',
  // "join a room first": in the demo this only happens once the live has ended under us.
  NOT_IN_ROOM: () => 'This live has ended.',
  ROOM_ENDED: () => 'This live has ended.',
  ROOM_NOT_LIVE: () => 'The live hasn’t started yet.',
  BANNED: () => 'You can’t take part in this live.',
  MUTED: (e) => (e.retryAfterMs !== undefined ? `You’re muted until ${clock(Date.now() + e.retryAfterMs)}.` : 'You’re muted for now.'),
  SLOW_MODE: (e) => `Slow mode is on: you can send again in ${seconds(e.retryAfterMs ?? 1000)} s.`,
  BLOCKED_WORD: (e) => {
    const word = /"(.+)"/.exec(e.message ?? '')?.[1];
    return word ? `This room doesn’t allow the word “${word}”.` : 'This room doesn’t allow a word in that message.';
  },
  RATE_LIMITED: (e) => (e.retryAfterMs ? `You’re going a bit fast. Try again in ${seconds(e.retryAfterMs)} s.` : 'You’re going a bit fast. Try again in a moment.'),
  PAYLOAD_TOO_LARGE: () => 'That’s too long.',
  UNKNOWN_EVENT: () => 'This page is out of date. Please reload it.',
  SALE_NOT_STARTED: () => 'The sale hasn’t started yet.',
  SALE_ENDED: () => 'This sale has ended.',
  SOLD_OUT: () => 'Sold out: every unit is taken.',
  LIMIT_EXCEEDED: () => 'You’ve reached the limit for this.',
  HOLD_EXPIRED: () => 'Your reservation ran out, so the units went back on sale.',
  WAITLIST_NOT_SOLD_OUT: () => 'There are units left: reserve one instead of joining the waitlist.',
  WAITLIST_FULL: () => 'The waitlist is full.',
  AUCTION_ENDED: () => 'Bidding has closed on this lot.',
  BID_TOO_LOW: () => 'Someone bid that already: try the next amount.',
  ALREADY_LEADING: () => 'You’re already the highest bidder.',
  GIVEAWAY_CLOSED: () => 'This giveaway has closed.',
  // The server's message names the rule ("…for viewers who follow the host; anyone may enter free…"),
  // or says the voucher is for followers.
  NOT_ELIGIBLE: (e) => {
    const m = e.message ?? '';
    if (/voucher/.test(m)) return 'This voucher is for followers of the host: follow to claim it.';
    const who = /follow the host/.test(m) ? 'followers of the host' : /commented/.test(m) ? 'viewers who commented' : /bought/.test(m) ? 'viewers who bought in this live' : 'some viewers';
    return `This giveaway is for ${who} — you can still enter free: no purchase necessary.`;
  },
  VOUCHER_NOT_FOUND: () => 'You don’t have that voucher: claim it first.',
  VOUCHER_CLOSED: () => 'This voucher can’t be claimed any more.',
  VOUCHER_CLAIMED_OUT: () => 'All the vouchers have been claimed.',
  ALREADY_CLAIMED: () => 'You’ve already claimed this voucher.',
  VOUCHER_EXPIRED: () => 'This voucher has expired.',
  VOUCHER_USED: () => 'This voucher has already been used.',
  VOUCHER_IN_USE: () => 'This voucher is on another item in your cart.',
  VOUCHER_MIN_SPEND: () => 'Spend a little more to use this voucher.',
  MEDIA_ERROR: () => 'The video couldn’t start. Please try again.',
  // WHIP ingest answers (HTTP only): a page meets them only if it publishes over WHIP.
  UNSUPPORTED_MEDIA_TYPE: () => 'That stream format isn’t supported.',
  OFFER_NOT_ACCEPTABLE: () => 'Your encoder’s video or audio codec isn’t supported: use VP8 or H.264 with Opus.',
  PRECONDITION_FAILED: () => 'The stream changed meanwhile. Please try again.',
  UNAVAILABLE: () => 'Connection trouble. Please try again in a moment.',
  INTERNAL: () => 'Something went wrong on our side. Please try again.',
};

/** Codes that are news, not mistakes: shown neutrally, never as a red error. */
const NEUTRAL = new Set<string>(['NOT_ELIGIBLE', 'GIVEAWAY_CLOSED', 'AUCTION_ENDED', 'ALREADY_LEADING', 'SOLD_OUT', 'SALE_ENDED', 'ROOM_ENDED', 'NOT_IN_ROOM', 'SLOW_MODE', 'ROOM_NOT_LIVE', 'SALE_NOT_STARTED']);

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(SENTENCES, code);
}

/** The sentence for an error from a request (RequestError, ApiError) or anything thrown. */
export function humanError(err: unknown): string {
  const e = (err ?? {}) as ErrorLike;
  if (isErrorCode(e.code)) return SENTENCES[e.code](e);
  return SENTENCES.INTERNAL(e);
}

export function errorKind(err: unknown): ToastKind {
  const code = (err as ErrorLike | null)?.code;
  return code && NEUTRAL.has(code) ? 'info' : 'error';
}
