/**
 * Pure rules of flash sales: what a new sale looks like, how a stored sale reads back, what each
 * answer of the Lua scripts means, and how a buyer's name is shown. No I/O here, so every rule
 * can be tested without Redis.
 */
import type { z } from 'zod';
import type {
  ErrorCode,
  FlashSale,
  Product,
  SaleEndReason,
  SaleHold,
  SaleOrder,
  SaleStatus,
  saleStartSchema,
} from '../../protocol/index.js';
import { AppError } from '../../core/errors.js';

export type SaleStartInput = z.output<typeof saleStartSchema>;

/** After a sale is over and its last hold is gone, its keys live this much longer (ledger,
 * idempotent replays), then Redis drops them. */
export const SALE_RETENTION_MS = 7 * 24 * 3600_000;
/** Expired holds one script call gives back at most, so no call blocks Redis for long. */
export const SWEEP_BATCH = 500;

// The due index (sale-index-scripts.ts): what bounds the sweeper's work and keeps it on time.
/** Sales one node sweeps per tick at most, however many exist or are due. */
export const SWEEP_CLAIM_MAX = 100;
/** A new sale's index entry is due this long after it is written, unless its real first due time
 * replaces it: long enough that no sweeper sees the entry before the sale hash exists. */
export const INDEX_CREATE_GRACE_MS = 30_000;
/** No hold expires sooner than this after its reserve (holdSec ≥ 1). */
export const INDEX_GUARD_MS = 1000;
/** A claimed entry is the claimer's for this long; if it dies mid-sweep, another node sweeps again. */
export const INDEX_LEASE_MS = 15_000;
/** A claimer sets the next due time only this long before its lease ends: a reserve's guard,
 * written within INDEX_GUARD_MS of the lease end, could otherwise sit above it (plus clock
 * differences between Redis Cluster masters). */
export const INDEX_SAFETY_MS = INDEX_GUARD_MS + 2000;

/** Static fields written once when the sale is created (the counters start beside them). */
export function saleFields(saleId: string, roomId: string, product: Product, input: SaleStartInput, by: string): Record<string, string | number> {
  return {
    id: saleId,
    roomId,
    productId: product.id,
    title: product.title,
    imageUrl: product.imageUrl ?? '',
    listPrice: product.price,
    price: input.price,
    currency: product.currency,
    initial: input.quantity,
    limit: input.perUserLimit,
    holdMs: input.holdSec * 1000,
    createdBy: by,
  };
}

/** When the sale opens and closes, as offsets the create script applies to Redis's clock. */
export function saleWindow(input: SaleStartInput): { startInMs: number; durationMs: number | null; endsAt: number | null } {
  return {
    startInMs: input.startInSec * 1000,
    durationMs: input.durationSec !== undefined ? input.durationSec * 1000 : null,
    endsAt: input.endsAt ?? null,
  };
}

export function saleStatus(now: number, startsAt: number, endsAt: number): SaleStatus {
  if (now >= endsAt) return 'ended';
  return now < startsAt ? 'scheduled' : 'live';
}

const num = (v: string | undefined): number => (v === undefined || v === '' ? 0 : Number(v));

/** A sale's Redis hash as the client sees it; null when the hash is empty (no such sale). */
export function saleFromHash(h: Record<string, string>, now: number): FlashSale | null {
  if (!h.id) return null;
  const startsAt = num(h.startsAt);
  const endsAt = num(h.endsAt);
  return {
    id: h.id,
    roomId: h.roomId ?? '',
    productId: h.productId ?? '',
    title: h.title ?? '',
    imageUrl: h.imageUrl || null,
    listPrice: num(h.listPrice),
    price: num(h.price),
    currency: h.currency ?? '',
    initial: num(h.initial),
    added: num(h.added),
    available: num(h.available),
    // Clients see a waitlist offer as a hold, so their sum stays initial + added.
    held: num(h.held) + num(h.offered),
    sold: num(h.sold),
    perUserLimit: num(h.limit),
    startsAt,
    endsAt,
    holdSeconds: num(h.holdMs) / 1000,
    status: saleStatus(now, startsAt, endsAt),
    endReason: (h.endReason || null) as SaleEndReason | null,
    createdAt: num(h.createdAt),
    saleId: h.id,
  };
}

/** Hold ids carry their sale (`<saleId>.<random>`), so checkout and release need only the hold. */
export const holdIdFor = (saleId: string, random: string): string => `${saleId}.${random}`;

/** Order ids name their room (`o_<roomId>.<unique>`), so an order is found by its id alone. */
export const orderIdFor = (roomId: string, unique: string): string => `o_${roomId}.${unique}`;

/** The room of an order id (protocol's orderIdSchema already checked its form). */
export function roomOfOrderId(orderId: string): string | null {
  const dot = orderId.lastIndexOf('.');
  return orderId.startsWith('o_') && dot > 2 && dot < orderId.length - 1 ? orderId.slice(2, dot) : null;
}

export function saleIdOfHold(holdId: string): string {
  const dot = holdId.lastIndexOf('.');
  if (dot <= 0 || dot === holdId.length - 1) throw new AppError('NOT_FOUND', 'hold not found');
  return holdId.slice(0, dot);
}

/**
 * "Alice" → "A***e": enough for the room to feel the rush, not enough to identify a buyer.
 * Counts code points so emoji and CJK names are not cut in half.
 */
export function shortenName(name: string): string {
  const chars = Array.from(name.trim());
  if (chars.length === 0) return '***';
  if (chars.length === 1) return `${chars[0]}***`;
  return `${chars[0]}***${chars[chars.length - 1]}`;
}

// ---- Answers of the scripts -------------------------------------------------------------
// A script's first answer to a request is stored as one string and replayed verbatim for a
// repeated requestId, so the parsing below is the one place that knows the formats.

export type Refusal = { ok: false; code: ErrorCode; available: number };

export type ReserveAnswer = ({ ok: true; remaining: number } & SaleHold) | Refusal;

/** `OK|holdId|qty|expiresAt|remaining` or `ERR|CODE|available`. */
export function parseReserveAnswer(saleId: string, answer: string): ReserveAnswer {
  const p = answer.split('|');
  if (p[0] === 'OK') {
    return { ok: true, holdId: p[1]!, saleId, qty: Number(p[2]), expiresAt: Number(p[3]), remaining: Number(p[4]) };
  }
  return refusal(p);
}

const refusals = new Map<string, Refusal>();
const REFUSALS_MAX = 1024;

/** The refusal `ERR|CODE|available` as a shared, frozen object: thousands of taps of a rush get
 * the same few (SOLD_OUT with 0 left, LIMIT_EXCEEDED, ...), and so the same client error
 * (refusalError), built once. */
export function reserveRefusal(text: string): Refusal {
  let r = refusals.get(text);
  if (!r) {
    r = Object.freeze(refusal(text.split('|')));
    if (refusals.size >= REFUSALS_MAX) refusals.clear();
    refusals.set(text, r);
  }
  return r;
}

export type CheckoutAnswer = ({ ok: true } & SaleOrder) | Refusal;

/**
 * `OK|orderId|holdId|qty|unitPrice|amount|createdAt|productId|currency|voucherId|discount|paid` or
 * `ERR|CODE|available`. Answers stored before vouchers end at currency: no voucher, paid = amount.
 */
export function parseCheckoutAnswer(saleId: string, answer: string): CheckoutAnswer {
  const p = answer.split('|');
  if (p[0] === 'OK') {
    const amount = Number(p[5]);
    return {
      ok: true,
      orderId: p[1]!,
      saleId,
      holdId: p[2]!,
      qty: Number(p[3]),
      unitPrice: Number(p[4]),
      amount,
      voucherId: p[9] || null,
      discount: Number(p[10] ?? 0),
      paid: p[11] === undefined ? amount : Number(p[11]),
      createdAt: Number(p[6]),
      productId: p[7]!,
      currency: p[8]!,
    };
  }
  return refusal(p);
}

/** A release either gives the units back (released: false when it already had) or is refused. */
export type ReleaseAnswer = { ok: true; released: boolean; remaining: number } | Refusal;

function refusal(p: string[]): Refusal {
  return { ok: false, code: (p[1] ?? 'INTERNAL') as ErrorCode, available: Number(p[2] ?? 0) };
}

const MESSAGES: Partial<Record<ErrorCode, (available: number) => string>> = {
  SALE_NOT_STARTED: () => 'the sale has not started yet',
  SALE_ENDED: () => 'the sale has ended',
  SOLD_OUT: (n) => (n > 0 ? `only ${n} left` : 'sold out'),
  LIMIT_EXCEEDED: () => 'that would exceed the per-person limit of this sale',
  HOLD_EXPIRED: () => 'the hold expired and its units went back to stock; reserve again',
  RATE_LIMITED: () => 'too many attempts; slow down',
  CONFLICT: () => 'this hold was already checked out',
  BANNED: () => 'you are banned from this room',
  VOUCHER_NOT_FOUND: () => 'you have no such voucher: claim it first',
  VOUCHER_USED: () => 'this voucher was already used by an order',
  VOUCHER_IN_USE: () => 'this voucher is applied to another of your holds: check that one out, release it, or apply the voucher here',
  VOUCHER_EXPIRED: () => 'this voucher has expired',
  VOUCHER_MIN_SPEND: () => 'this order is below the voucher’s minimum spend',
};

/** Errors already made for shared refusals (reserveRefusal), by what a NOT_FOUND is about. */
const refusalErrors = new WeakMap<Refusal, Partial<Record<'sale' | 'hold', AppError>>>();

/** The client-facing error of a refusal (AppError carries no stack trace: cheap in a rush). A
 * frozen (shared) refusal always gets the same error, so its ack is built once too. */
export function refusalError(r: Refusal, notFoundWhat: 'sale' | 'hold'): AppError {
  const shared = Object.isFrozen(r);
  const known = shared ? refusalErrors.get(r)?.[notFoundWhat] : undefined;
  if (known) return known;
  const message =
    r.code === 'NOT_FOUND' ? `${notFoundWhat} not found` : (MESSAGES[r.code]?.(r.available) ?? r.code.toLowerCase().replace(/_/g, ' '));
  const err = new AppError(r.code, message);
  if (shared) refusalErrors.set(r, { ...refusalErrors.get(r), [notFoundWhat]: err });
  return err;
}

/** Conversion as a ratio with 4 decimals; 0 when there is no audience to divide by. */
export const conversionOf = (buyers: number, viewers: number): number =>
  viewers > 0 ? Math.round((buyers / viewers) * 10_000) / 10_000 : 0;

/** offered: a waitlist offer (a one-unit hold the scripts made for the waitlist's head). */
export type HoldState = 'held' | 'offered' | 'sold' | 'released' | 'expired';

export interface HoldRecord {
  state: HoldState;
  userId: string;
  qty: number;
  expiresAt: number;
  orderId: string;
}

/** A hold as the scripts store it: `state|userId|qty|expiresAt|orderId|at`. */
export function parseHoldRecord(raw: string): HoldRecord | null {
  const p = raw.split('|');
  if (p.length !== 6) return null;
  return { state: p[0] as HoldState, userId: p[1]!, qty: Number(p[2]), expiresAt: Number(p[3]), orderId: p[4]! };
}
