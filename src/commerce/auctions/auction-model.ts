/**
 * Pure translation between a lot's Redis records and what clients see: the hash written at start,
 * a hash read back as a lot, the bid script's answers and history entries, and the refusals'
 * messages. The rules themselves are in auction-rules.ts.
 */
import type { z } from 'zod';
import type {
  AuctionBidEntry,
  AuctionBidResult,
  AuctionEndReason,
  AuctionLot,
  AuctionMode,
  AuctionState,
  AuctionStatus,
  auctionStartSchema,
  ErrorCode,
  Product,
} from '../../protocol/index.js';
import { AppError } from '../../core/errors.js';
import { decodeIncrements, defaultIncrements, encodeIncrements, incrementAt, type HistoryEntry, type LotRules } from './auction-rules.js';

export type AuctionStartInput = z.output<typeof auctionStartSchema>;

/** After a lot is settled its keys live this much longer (history, replays of old bids). */
export const LOT_RETENTION_MS = 7 * 24 * 3600_000;

/** The definition written once when the lot starts (its state starts beside it). */
export function lotFields(lotId: string, roomId: string, product: Product, input: AuctionStartInput, hostId: string): Record<string, string | number> {
  return {
    id: lotId,
    roomId,
    productId: product.id,
    title: product.title,
    imageUrl: product.imageUrl ?? '',
    currency: product.currency,
    listPrice: product.price,
    startPrice: input.startPrice,
    inc: encodeIncrements(input.increments ?? defaultIncrements()),
    mode: input.mode,
    extendMs: input.extendSec * 1000,
    durationMs: input.durationSec * 1000,
    holdMs: input.holdSec * 1000,
    hostId,
  };
}

/** What the server knows of a lot beyond what clients see. */
export interface LotRecord {
  lot: AuctionLot;
  rules: LotRules;
  hostId: string;
  leaderId: string | null;
  saleId: string | null;
  holdId: string | null;
  holdExpiresAt: number | null;
  orderId: string | null;
  /** The endsAt the lot started with (before any extension). */
  firstEndsAt: number;
}

const num = (v: string | undefined): number => (v === undefined || v === '' ? 0 : Number(v));

export function rulesOf(h: Record<string, string>): LotRules {
  return { startPrice: num(h.startPrice), increments: decodeIncrements(h.inc ?? '0:1'), mode: h.mode as AuctionMode, extendMs: num(h.extendMs) };
}

/** A lot's hash as the room sees it; null when the hash is empty (no such lot). */
export function lotFromHash(h: Record<string, string>, now: number): LotRecord | null {
  if (!h.id) return null;
  const rules = rulesOf(h);
  const leaderId = h.leader || null;
  const price = num(h.price);
  const endsAt = num(h.endsAt);
  // Past its end an open lot is over whether or not a closer has recorded it yet (ADVANCE_SCRIPT
  // will record exactly this).
  const overByClock = h.status === 'open' && now >= endsAt;
  const status = (overByClock ? (leaderId ? 'awaiting-payment' : 'unsold') : h.status) as AuctionStatus;
  const lot: AuctionLot = {
    lotId: h.id,
    roomId: h.roomId ?? '',
    productId: h.productId ?? '',
    title: h.title ?? '',
    imageUrl: h.imageUrl || null,
    currency: h.currency ?? '',
    listPrice: num(h.listPrice),
    startPrice: rules.startPrice,
    increments: rules.increments.map((b) => ({ ...b })),
    mode: rules.mode,
    extendSec: rules.extendMs / 1000,
    durationSec: num(h.durationMs) / 1000,
    holdSec: num(h.holdMs) / 1000,
    startedAt: num(h.startedAt),
    closedAt: h.closedAt ? num(h.closedAt) : overByClock ? endsAt : null,
    status,
    price,
    leader: leaderId ? h.leaderName || '***' : null,
    bidCount: num(h.bids),
    endsAt,
    nextMin: leaderId ? price + incrementAt(rules.increments, price) : rules.startPrice,
    extended: false,
    endReason: (h.endReason || (overByClock ? 'time' : null)) as AuctionEndReason | null,
    serverTime: now,
  };
  return {
    lot,
    rules,
    hostId: h.hostId ?? '',
    leaderId,
    saleId: h.saleId || null,
    holdId: h.holdId || null,
    holdExpiresAt: h.holdExpiresAt ? num(h.holdExpiresAt) : null,
    orderId: h.orderId || null,
    firstEndsAt: num(h.startedAt) + num(h.durationMs),
  };
}

/** The `auction:state` frame of a lot. */
export function stateOf(lot: AuctionLot, extended = false): AuctionState {
  const { lotId, status, price, leader, bidCount, endsAt, nextMin, endReason, serverTime } = lot;
  return { lotId, status, price, leader, bidCount, endsAt, nextMin, extended, endReason, serverTime };
}

export type BidAnswer =
  | ({ ok: true; now: number; previousLeader: string | null } & AuctionBidResult)
  | { ok: false; code: ErrorCode; min: number; now: number };

/** `OK|seq|amount|max|price|leading|endsAt|extended|bidCount|nextMin|now|previousLeader` or `ERR|CODE|min|now`. */
export function parseBidAnswer(lotId: string, text: string): BidAnswer {
  const p = text.split('|');
  if (p[0] !== 'OK') return { ok: false, code: p[1] as ErrorCode, min: Number(p[2]), now: Number(p[3]) };
  return {
    ok: true,
    lotId,
    seq: Number(p[1]),
    amount: Number(p[2]),
    max: p[3] === '1',
    price: Number(p[4]),
    leading: p[5] === '1',
    endsAt: Number(p[6]),
    extended: p[7] === '1',
    bidCount: Number(p[8]),
    nextMin: Number(p[9]),
    now: Number(p[10]),
    previousLeader: p[11] || null,
  };
}

/** `seq|user|amount|max|at|price|leader|name` (the name last: it is free text and may hold '|'). */
export function parseHistoryEntry(raw: string): HistoryEntry & { name: string } {
  const p = raw.split('|');
  return {
    seq: Number(p[0]),
    user: p[1]!,
    amount: Number(p[2]),
    max: p[3] === '1',
    at: Number(p[4]),
    price: Number(p[5]),
    leader: p[6]!,
    name: p.slice(7).join('|'),
  };
}

/** A history entry for staff: a maximum's amount stays secret even from the host. */
export function bidEntryOf(e: HistoryEntry & { name: string }): AuctionBidEntry {
  return { seq: e.seq, bidder: { id: e.user, name: e.name }, max: e.max, amount: e.max ? null : e.amount, price: e.price, leaderId: e.leader, at: e.at };
}

const money = (n: number) => n.toLocaleString('en-US');

/** The client-facing error of a refused bid. */
export function bidRefusal(code: ErrorCode, min: number): AppError {
  switch (code) {
    case 'BID_TOO_LOW':
      return new AppError(code, `bid at least ${money(min)}`);
    case 'ALREADY_LEADING':
      return new AppError(code, 'you are already the highest bidder (you may raise your maximum)');
    case 'AUCTION_ENDED':
      return new AppError(code, 'bidding on this lot has closed');
    case 'LIMIT_EXCEEDED':
      return new AppError(code, 'this lot has taken its maximum number of bids');
    case 'BANNED':
      return new AppError(code, 'you are banned from this room');
    case 'MUTED':
      return new AppError(code, 'muted users cannot bid');
    case 'FORBIDDEN':
      return new AppError(code, 'the host cannot bid on their own lot');
    case 'RATE_LIMITED':
      return new AppError(code, 'too many bids; slow down', 1000);
    case 'NOT_FOUND':
      return new AppError(code, 'lot not found');
    default:
      return new AppError(code, code.toLowerCase().replace(/_/g, ' '));
  }
}
